"""Seed 000's baselines: the region-of-interest crop, the training balance and augmentation
the seed describes, the threshold floor's features, a local ImageNet VGG-19, and smoke runs
of all three models end to end."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skimage.filters import threshold_otsu
from torchvision.models import vgg19
from typer.testing import CliRunner

from mskbench.baselines.shoulder.classifier import build_vgg19, load_imagenet
from mskbench.baselines.shoulder.crops import augment, balanced_order, bounding_box, crop
from mskbench.baselines.shoulder.threshold import ShoulderThreshold, fat_share
from mskbench.harness.cli import app
from mskbench.harness.store import Store
from mskbench.tasks import get_task

runner = CliRunner()


def test_the_crop_is_the_masks_box_with_a_margin_resized_and_z_scored():
    mask = np.zeros((60, 80), bool)
    mask[10:30, 20:60] = True
    rows, cols = bounding_box(mask, margin=0.1)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (8, 32, 16, 64)
    image = np.arange(60 * 80, dtype=np.float32).reshape(60, 80)
    out = crop(image, mask, 32)
    assert out.shape == (32, 32)
    assert abs(out.mean()) < 1e-5 and out.std() == pytest.approx(1, abs=1e-3)
    assert crop(image, np.zeros_like(mask), 32).shape == (32, 32)  # a missed muscle: whole image


def test_training_epochs_oversample_the_minority_class_to_about_one_to_one():
    labels = np.array([0] * 40 + [1] * 6)
    order = balanced_order(labels, np.random.default_rng(0))
    assert order.size == 80 and np.sum(labels[order] == 1) == 40
    assert set(order[labels[order] == 0]) == set(range(40))  # every majority case once


def test_augmentation_rotates_and_flips_deterministically():
    crops = np.random.default_rng(1).normal(size=(4, 24, 24)).astype(np.float32)
    a = augment(crops, np.random.default_rng(7))
    b = augment(crops, np.random.default_rng(7))
    assert a.shape == crops.shape and np.array_equal(a, b) and not np.allclose(a, crops)


def test_the_threshold_floor_measures_the_share_above_the_otsu_cut():
    image = np.full((20, 20), 100.0)
    image[:6] = 200.0  # 30 % bright (fat on T2)
    roi = np.ones_like(image, bool)
    assert fat_share(image, roi) == pytest.approx(0.3)
    noisy = image + np.random.default_rng(0).normal(0, 5, image.shape)
    assert fat_share(noisy, roi) == pytest.approx(np.mean(noisy > threshold_otsu(noisy)))
    assert fat_share(np.ones((4, 4)), np.ones((4, 4), bool)) == 0.0


def test_a_local_imagenet_vgg19_loads_all_but_its_last_layer_and_freezes_the_features(
    tmp_path,
):
    torch.manual_seed(0)
    imagenet = vgg19(weights=None)  # stands in for a user's local ImageNet file
    path = tmp_path / "vgg19.pth"
    torch.save(imagenet.state_dict(), path)
    network = build_vgg19("paper")
    load_imagenet(network, path)
    assert torch.equal(network.features[0].weight, imagenet.features[0].weight)
    assert network.classifier[6].out_features == 1
    assert not any(p.requires_grad for p in network.features.parameters())
    assert all(p.requires_grad for p in network.classifier.parameters())
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a torchvision VGG-19 state dict"):
        load_imagenet(build_vgg19("paper"), path)


def test_the_small_vgg19_keeps_sixteen_convolutions_and_five_pools():
    network = build_vgg19("small")
    convs = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in network.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert (len(convs), len(pools)) == (16, 5)
    assert network(torch.zeros(2, 3, 96, 96)).shape == (2, 1)


class _Cases:
    """Stand-in for a split: ROIs whose fat share rises with the grade, in the seed's
    imbalance (grade 0 the majority, grade 4 rare)."""

    def __init__(self, counts: tuple[int, ...], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.cases = {}
        for grade, count in enumerate(counts):
            for i in range(count):
                image = rng.normal(100.0, 3.0, (24, 24))
                bright = round(24 * min(0.9, 0.05 + 0.18 * grade + rng.normal(0, 0.04)))
                image[:bright] += 100.0  # fat above the Otsu cut
                case = SimpleNamespace(image=image[None], label=np.ones((24, 24), np.uint8),
                                       spacing=(1.0, 1.0), targets={"goutallier": str(grade)})  # fmt: skip
                self.cases[f"g{grade}_{i}"] = case
        self.case_ids = list(self.cases)
        self.dataset = self

    def load(self, case_id: str, with_maps: bool = True) -> SimpleNamespace:
        return self.cases[case_id]


def test_the_threshold_floor_grades_beyond_the_majority_class():
    """The floor's cut-offs are fitted on imbalanced grades (2:1 and worse): it must still
    call the fatty grades, not shrink to "always grade 0"."""
    task = get_task("shoulder_supraspinatus")
    ctx = SimpleNamespace(task=task)
    model = ShoulderThreshold()
    model.fit(_Cases((60, 20, 8, 4, 3), seed=0), _Cases((0,), seed=1), ctx)
    test = _Cases((10, 10, 10, 10, 10), seed=2)
    called = [
        max(p.items(), key=lambda kv: kv[1])[0]
        for p in (model.predict(test.load(c), ctx).scores["goutallier"] for c in test.case_ids)
    ]
    grades = [test.load(c).targets["goutallier"] for c in test.case_ids]
    assert np.mean(np.array(called) == np.array(grades)) > 0.5
    assert {"3", "4"} <= set(called)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("shoulder") / "results.duckdb"
    for model in ("shoulder_threshold", "shoulder_vgg19_refroi", "shoulder_unet_vgg19"):
        args = ["run", "--task", "shoulder_supraspinatus", "--model", model,
                "--profile", "smoke", "--db", str(path)]  # fmt: skip
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return str(path)


@pytest.mark.slow
def test_smoke_runs_of_the_three_baselines_store_what_each_predicts(db):
    store = Store(db)
    rows = store.query(
        "SELECT r.model, s.target, count(*) AS n FROM case_scores s JOIN runs r USING (run_id) "
        "GROUP BY ALL ORDER BY ALL"
    )
    targets = rows.groupby("model")["target"].apply(set).to_dict()
    assert targets["shoulder_threshold"] == {"goutallier", "risky", "grade_2_4", "grade_2"}
    assert targets["shoulder_vgg19_refroi"] == {"risky"}  # it does not grade
    assert targets["shoulder_unet_vgg19"] == {"risky"}
    dice = store.query(
        "SELECT r.model FROM case_metrics m JOIN runs r USING (run_id) "
        "WHERE m.metric = 'dice' GROUP BY ALL"
    )
    assert list(dice["model"]) == ["shoulder_unet_vgg19"]  # only the two-step segments
    assert (store.runs()["status"] == "finished").all()


@pytest.mark.slow
def test_the_leaderboard_shows_the_shoulder_task_with_per_grade_groups(db, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_leaderboard_app import APP, TIMEOUT_S, frame_with

    monkeypatch.setattr(sys, "argv", ["app.py", "--db", db])

    def page(name: str, **state: object) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        at.session_state["task"] = "shoulder_supraspinatus"
        at.session_state["page"] = name
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        assert not at.exception, at.exception
        return at

    overview = page("Overview")
    assert "shoulder_unet_vgg19" in set(frame_with(overview, "AUROC")["Model"])
    confusion = frame_with(overview, "positive")  # risky at the threshold, per grade
    assert list(confusion["reference"])[:5] == ["0", "1", "2", "3", "4"]  # grade 2 kept
    grouped = page("Per structure", **{"structure-by": "goutallier"})
    assert set(frame_with(grouped, "Goutallier")["Goutallier"]) <= {"0", "1", "2", "3", "4"}
