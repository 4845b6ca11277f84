"""The knee phantom: MRNet's label mix (the seed's test composition), exactly the MRNet
layout, deterministic, all-or-nothing, and anatomy whose findings mean what radiology
means (a meniscal tear reaches a surface, degeneration does not; a torn ACL is
discontinuous; a left knee is mirrored)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from mskbench.tasks import get_task
from mskbench.tasks.contract import validate_dataset
from mskbench.tasks.contract.mrnet import META_FILE
from mskbench.tasks.contract.mrnet_writer import write_mrnet
from mskbench.tasks.knee import phantom
from mskbench.tasks.knee.anatomy import Findings, MeniscalTear, Shape, Tissue, knee_volume
from mskbench.tasks.knee.cohort import RATES, SEED_TEST, label_groups, plan_exams
from mskbench.tasks.knee.phantom import generate
from mskbench.tasks.phantoms import prepare_phantom

TASK = get_task("knee_mrnet")
VOXEL = 1.25


@pytest.fixture(scope="module")
def smoke_knee(isolated_cache) -> Path:
    root, _ = prepare_phantom(TASK, "smoke", seed=0)
    return root


@pytest.fixture(scope="module")
def grid():
    x = ((np.arange(128) + 0.5) * VOXEL - 80).astype(np.float32)
    return np.meshgrid(x, x, x, indexing="ij")


def _labels(groups: dict[str, int]) -> dict[str, int]:
    return {
        "n": sum(groups.values()),
        "abnormal": sum(groups.values()) - groups["normal"],
        "acl": groups["acl_only"] + groups["both"],
        "meniscus": groups["meniscus_only"] + groups["both"],
    }


def test_the_test_set_has_the_seeds_composition():
    assert _labels(label_groups(120, test=True)) == SEED_TEST


def test_training_exams_follow_mrnets_rates():
    counts = _labels(label_groups(1130, test=False))
    for label in ("abnormal", "acl", "meniscus"):
        assert abs(counts[label] / 1130 - RATES[label]) < 1 / 1130 + 1e-9


def test_joint_fluid_overlaps_between_normal_and_abnormal_knees():
    """Physiological fluid in normal knees, modest findings in abnormal ones: the amount of
    fluid alone must not separate the labels (the floor read abnormal at AUROC 0.90 on the
    first phantom, where no normal knee held more than a small effusion)."""
    from sklearn.metrics import roc_auc_score

    plans = plan_exams(3000, test=False, rng=np.random.default_rng(1))
    effusion = np.array([p.findings.effusion for p in plans])
    abnormal = np.array([p.abnormal for p in plans])
    assert np.mean(effusion[abnormal == 0] > 0.3) > 0.1  # physiological effusions
    assert np.mean(effusion[abnormal == 1] < 0.25) > 0.3  # abnormal knees without one
    assert 0.6 < roc_auc_score(abnormal, effusion) < 0.85


def test_the_phantom_writes_exactly_the_mrnet_layout(smoke_knee):
    names = {p.name for p in smoke_knee.iterdir()}
    csvs = {f"{s}-{label}.csv" for s in ("train", "valid", "external")
            for label in ("abnormal", "acl", "meniscus")}  # fmt: skip
    assert names == {"train", "valid", "external", META_FILE} | csvs
    volumes = sorted(smoke_knee.glob("*/*/*.npy"))
    assert len(volumes) == 20 * 3
    for path in volumes[:9]:
        array = np.load(path, allow_pickle=False)
        assert array.dtype == np.uint8 and array.shape[1:] == (256, 256)
        assert 4 <= array.shape[0] <= 6
    assert (smoke_knee / "valid-acl.csv").read_text().splitlines()[0].split(",")[0] == "0012"
    assert validate_dataset(smoke_knee, TASK) == []


def test_the_phantom_is_deterministic_for_a_seed():
    def stacks(seed):
        return [c.image for c in generate(2, 1, 0, (3, 4), voxel_mm=2.5, seed=seed)]

    first, again, other = stacks(0), stacks(0), stacks(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other, strict=True)
    )


def test_a_failed_write_leaves_nothing(tmp_path):
    def broken():
        yield from generate(2, 0, 0, (3, 3), voxel_mm=2.5, seed=0)
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError):
        write_mrnet(tmp_path / "out", TASK, broken())
    assert list(tmp_path.iterdir()) == []


def test_a_torn_acl_is_discontinuous_and_an_intact_one_is_not(grid):
    intact = knee_volume(*grid, Shape(), Findings())
    torn = knee_volume(*grid, Shape(), Findings(acl_tear=True))
    assert (intact == Tissue.TORN_LIGAMENT).sum() == 0
    assert (torn == Tissue.TORN_LIGAMENT).sum() > 200


@pytest.mark.parametrize("surface", [-1, 1])
def test_a_meniscal_tear_reaches_an_articular_surface_on_two_slices(grid, surface):
    normal = knee_volume(*grid, Shape(), Findings())
    tear = MeniscalTear("medial", "posterior", surface, 0.3, 10.0)
    torn = knee_volume(*grid, Shape(), Findings(tears=(tear,)))
    line = (torn == Tissue.FLUID) & (normal == Tissue.MENISCUS)
    touches = ndimage.binary_dilation(line) & ~np.isin(torn, [Tissue.MENISCUS, Tissue.FLUID])
    assert touches.any()
    # sagittal slices are 3 mm thick with 0.5 mm gaps: the line spans at least two
    assert np.ptp(np.nonzero(line)[2]) * VOXEL >= 7.0


def test_intrasubstance_degeneration_never_reaches_a_surface(grid):
    volume = knee_volume(*grid, Shape(), Findings(degeneration=("medial", "lateral")))
    signal = volume == Tissue.DEGENERATION
    assert signal.sum() > 10
    around = ndimage.binary_dilation(signal) & ~signal
    assert set(np.unique(volume[around])) == {Tissue.MENISCUS}


def test_a_left_knee_is_mirrored(monkeypatch):
    axis = ((np.arange(64) + 0.5) * 2.5 - 80).astype(np.float32)
    unposed = np.meshgrid(axis, axis, axis, indexing="ij")
    monkeypatch.setattr(phantom, "posed_coordinates", lambda voxel_mm, rng: unposed)
    plan = plan_exams(1, test=False, rng=np.random.default_rng(3))[0]
    right = phantom.latent_tissues(dataclasses.replace(plan, left=False), 2.5, None)
    left = phantom.latent_tissues(dataclasses.replace(plan, left=True), 2.5, None)
    assert not np.array_equal(right, left)
    assert np.array_equal(left, right[:, :, ::-1])
