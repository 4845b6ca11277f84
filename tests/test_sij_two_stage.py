"""`sij_two_stage` (seed 004's axSpA classifier): stage 2's input is the image and the FM
map as two channels; every training map is out-of-fold and stage 2 never reads a reference
mask (fake segmenters on in-memory cases); a smoke run end to end stores an ``axspa`` score
for every test and external case."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mskbench.baselines import sij_two_stage as two_stage
from mskbench.harness.cli import app
from mskbench.harness.models.protocol import CaseSet, FitContext
from mskbench.harness.registry import UnknownNameError
from mskbench.tasks import get_task
from mskbench.tasks.case import Case, Prediction

runner = CliRunner()
TASK = "sij_axspa"


def test_stage_2_input_is_the_image_and_the_fm_map_as_two_channels():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 100, (18, 24, 24)).astype(np.float32)
    fm = np.zeros_like(image)
    fm[:, 5:9, 5:9] = 0.8
    x = two_stage.stage2_input(image, fm, slices=16)
    assert x.shape == (2, 16, 24, 24)
    same = two_stage.stage2_input(image, fm, slices=18)
    np.testing.assert_allclose(same[0], image / np.percentile(image, 99), rtol=1e-5)
    np.testing.assert_allclose(same[1], fm)
    assert x[1].max() == pytest.approx(0.8) and x[1][:, 12:, 12:].max() == 0
    logits = two_stage.SliceResNet(in_channels=2).eval()(torch.from_numpy(x[None]))
    assert logits.shape == (1, 1)
    with pytest.raises(ValueError):
        two_stage.stage2_input(image, fm[:-1], slices=16)


def test_stage_1_is_any_registered_network_segmenter_and_nothing_else():
    assert two_stage.segmenter_card("unet2d").name == "unet2d"
    assert two_stage.build_segmenter("resunet").get_params()["network"] == "resunet"
    with pytest.raises(ValueError, match="not a network segmenter"):
        two_stage.segmenter_card("sij_threshold")
    with pytest.raises(UnknownNameError):
        two_stage.segmenter_card("no_such_model")


# -- fake stage 1: records what it was fitted on and what it predicted -----------------------
class FakeSegmenter:
    log: ClassVar[list[tuple[int, str]]] = []  # (segmenter index, case id) of every prediction
    fitted: ClassVar[list[set[str]]] = []

    def fit(self, train, val, ctx):
        self.index = len(FakeSegmenter.fitted)
        FakeSegmenter.fitted.append(set(train.case_ids))
        from mskbench.harness.models.protocol import FitReport

        return FitReport(epochs=1, best_epoch=1)

    def predict_probabilities(self, case):
        FakeSegmenter.log.append((self.index, case.case_id))
        fm = (case.image[0] > 0.9 * case.image[0].max()).astype(np.float32) * 0.5
        return np.stack([1 - fm, fm])


class MemoryDataset:
    def __init__(self, cases: dict[str, Case]) -> None:
        self.cases = cases

    def load(self, case_id, with_maps=True):
        return self.cases[case_id]


def _case(i: int, rng: np.random.Generator, label: np.ndarray | None = "ref") -> Case:
    image = rng.uniform(0, 1, (1, 16, 32, 32)).astype(np.float32)
    reference = np.zeros((16, 32, 32), np.uint8)
    reference[4:8, 10:20, 10:20] = 1
    return Case(case_id=f"a{i:03d}", subject_id=f"a{i:03d}", site="A",
                images={"axial": image}, grids={}, primary="axial",
                label=reference if isinstance(label, str) else label,
                targets={"axspa": str(i % 2)})  # fmt: skip


@pytest.fixture()
def fitted(monkeypatch, tmp_path):
    FakeSegmenter.log, FakeSegmenter.fitted = [], []
    monkeypatch.setattr(two_stage, "build_segmenter", lambda name: FakeSegmenter())
    seen = []
    real = two_stage.stage2_input

    def recording(image, fm, slices):
        seen.append(fm.copy())
        return real(image, fm, slices)

    monkeypatch.setattr(two_stage, "stage2_input", recording)
    rng = np.random.default_rng(1)
    cases = {c.case_id: c for c in (_case(i, rng) for i in range(10))}
    dataset = MemoryDataset(cases)
    task = get_task(TASK)
    ctx = FitContext(task=task, profile=task.profile("smoke"), device="cpu", seed=0,
                     work_dir=tmp_path, max_epochs=1)  # fmt: skip
    model = two_stage.SijTwoStage(segmenter="unet2d", batch_size=4)
    train_ids = [f"a{i:03d}" for i in range(8)]
    model.fit(CaseSet(dataset, train_ids), CaseSet(dataset, ["a008", "a009"]), ctx)
    return model, ctx, cases, train_ids, seen


def test_training_maps_come_from_the_segmenter_fitted_on_the_other_half(fitted):
    _, _, cases, train_ids, seen = fitted
    assert len(FakeSegmenter.fitted) == 2
    a, b = FakeSegmenter.fitted
    assert a | b == set(train_ids) and not a & b
    by_case: dict[str, set[int]] = {}
    for index, case_id in FakeSegmenter.log:
        by_case.setdefault(case_id, set()).add(index)
    for case_id in train_ids:
        (index,) = by_case[case_id]  # one segmenter, never the one fitted on the case
        assert case_id not in FakeSegmenter.fitted[index]
    assert by_case["a008"] == by_case["a009"] == {0, 1}  # validation: both halves
    references = [cases[c].label.astype(np.float32) for c in train_ids]
    for fm in seen:  # stage 2 saw predicted maps, never a reference mask
        assert not any(np.array_equal(fm, ref) for ref in references)


def test_stage_2_never_reads_the_reference_mask_of_a_test_case(fitted):
    model, ctx, _, _, seen = fitted
    rng = np.random.default_rng(7)
    test = _case(42, rng)
    without = Case(**{**vars(test), "label": None})
    other = Case(**{**vars(test), "label": np.ones_like(test.label)})
    scores = []
    for case in (test, without, other):
        seen.clear()
        prediction = model.predict(case, ctx)
        assert isinstance(prediction, Prediction) and 0.0 <= prediction.scores["axspa"] <= 1.0
        (fm,) = seen
        assert not np.array_equal(fm, test.label.astype(np.float32))
        scores.append(prediction.scores["axspa"])
    assert scores[0] == scores[1] == scores[2]


@pytest.mark.slow
def test_a_smoke_run_stores_an_axspa_score_for_every_test_and_external_case(
    isolated_cache, tmp_path
):
    import json

    from mskbench.harness.store import Store
    from mskbench.tasks.phantoms import prepare_phantom

    root, _ = prepare_phantom(get_task(TASK), "smoke", seed=0)
    db = str(tmp_path / "r.duckdb")
    args = ["run", "--task", TASK, "--model", "sij_two_stage", "--profile", "smoke",
            "--db", db, "--device", "cpu"]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    splits = json.loads((root / "splits.json").read_text())
    expected = {*splits["folds"][0]["test"], *splits["external"]}
    rows = Store(db).query(
        "SELECT p.case_id, p.score FROM case_scores p JOIN runs r USING (run_id) "
        "WHERE r.model = 'sij_two_stage' AND p.target = 'axspa'"
    )
    assert set(rows["case_id"]) == expected
    assert rows["score"].between(0, 1).all()


def test_the_halves_are_stratified_disjoint_and_never_empty():
    ids = [f"a{i:03d}" for i in range(11)]
    labels = [1] * 8 + [0] * 3
    a, b = two_stage.halves(ids, labels, seed=0)
    assert sorted(a + b) == ids and abs(len(a) - len(b)) <= 1
    assert {sum(c in part for c in ids[8:]) for part in (a, b)} == {1, 2}
    assert all(two_stage.halves(["x", "y"], [0, 1], seed=s)[1] for s in range(5))
