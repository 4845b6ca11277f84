"""``bench ensemble``: seed 004 predicted its external centre with the ensemble of the four
fold models. The vote is checked against scipy's mode, the stored ensemble's Dice against
medpy on the fold files voted by hand, and a source run that cannot be ensembled (a fold
missing, a stored path leading outside, the data changed) writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from medpy.metric.binary import dc
from scipy import stats
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.harness.ensemble import EnsembleError, ensemble_external, majority_vote
from mskbench.harness.store import Store
from mskbench.tasks import get_task
from mskbench.tasks.contract import read_image, write_image
from mskbench.tasks.phantoms import prepare_phantom

runner = CliRunner()
FM = "sij_fat_metaplasia"


def test_the_vote_is_the_per_voxel_mode_with_ties_to_the_lower_label():
    rng = np.random.default_rng(0)
    maps = [rng.integers(0, 3, size=(6, 7, 5)) for _ in range(4)]
    expected = stats.mode(np.stack(maps), axis=0, keepdims=False).mode  # smallest on ties
    np.testing.assert_array_equal(majority_vote(maps, 3), expected)
    two_two = [np.array([1]), np.array([1]), np.array([0]), np.array([0])]
    assert majority_vote(two_two, 2).tolist() == [0]


@pytest.fixture(scope="module")
def source(tmp_path_factory, isolated_cache) -> tuple[Path, Path]:
    """A private copy of the FM smoke phantom and a store holding a 4-fold threshold run."""
    folder = tmp_path_factory.mktemp("ensemble")
    root, _ = prepare_phantom(get_task(FM), "smoke", seed=0)
    data = Path(shutil.copytree(root, folder / "data"))
    db = folder / "r.duckdb"
    args = ["run", "--task", FM, "--model", "sij_threshold", "--profile", "smoke",
            "--data", str(data), "--folds", "0,1,2,3", "--db", str(db)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return data, db


def _copy(source: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the source store and its predictions (paths rewritten)."""
    _, db = source
    shutil.copytree(db.parent / "predictions", tmp_path / "predictions")
    copy = tmp_path / "r.duckdb"
    shutil.copy(db, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE predictions SET path = replace(path, ?, ?)",
                    [str(db.parent.resolve()), str(tmp_path.resolve())])  # fmt: skip
    return copy


def test_the_ensemble_is_stored_apart_and_its_dice_matches_medpy(source):
    data, db = source
    result = runner.invoke(app, ["ensemble", "--task", FM, "--model", "sij_threshold",
                                 "--db", str(db)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sij_threshold_ensemble" in result.output and "external split" in result.output
    store = Store(db)
    runs = store.runs(FM).set_index("model")
    ensemble = runs.loc["sij_threshold_ensemble"]
    assert ensemble["kind"] == "scored" and ensemble["status"] == "finished"
    assert ensemble["config"]["ensemble_of"] == runs.loc["sij_threshold", "run_id"]
    assert ensemble["config"]["folds"] == [0, 1, 2, 3]
    rows = store.query(
        "SELECT case_id, split, value FROM case_metrics WHERE run_id = ? AND metric = 'dice'",
        [ensemble["run_id"]],
    )
    assert set(rows["split"]) == {"external"}
    folds = store.query(
        "SELECT fold, case_id, path FROM predictions WHERE run_id = ? AND split = 'external'",
        [runs.loc["sij_threshold", "run_id"]],
    )
    for case_id, value in zip(rows["case_id"], rows["value"], strict=True):
        maps = [read_image(Path(p))[0] for p in folds[folds["case_id"] == case_id]["path"]]
        assert len(maps) == 4
        voted = np.stack(maps).sum(axis=0) >= 3  # binary: FM where 3 or 4 folds say FM
        reference = read_image(data / "labelsTr" / f"{case_id}.nii.gz")[0] == 1
        if voted.any() or reference.any():
            assert value == pytest.approx(dc(voted, reference), abs=1e-9)
    again = runner.invoke(app, ["ensemble", "--task", FM, "--model", "sij_threshold",
                                "--db", str(db)])  # fmt: skip
    assert again.exit_code == 0 and "already stored" in again.output
    assert len(store.runs(FM)) == len(runs)


def _n_runs(db: Path) -> int:
    return len(Store(db).runs(FM))


def test_a_run_without_every_fold_is_refused_and_nothing_is_written(source, tmp_path):
    data, _ = source
    db = tmp_path / "r.duckdb"
    args = ["run", "--task", FM, "--model", "sij_threshold", "--profile", "smoke",
            "--data", str(data), "--folds", "0", "--db", str(db)]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    before = _n_runs(db)
    result = runner.invoke(app, ["ensemble", "--task", FM, "--model", "sij_threshold",
                                 "--db", str(db)])  # fmt: skip
    assert result.exit_code == 2 and "no stored fold [1, 2, 3]" in result.output
    assert _n_runs(db) == before


def test_a_stored_path_leading_outside_the_runs_folder_is_refused(source, tmp_path):
    db = _copy(source, tmp_path)
    outside = tmp_path / "elsewhere.nii.gz"
    first = Store(db).query("SELECT path FROM predictions WHERE split = 'external' LIMIT 1")
    shutil.copy(first["path"].item(), outside)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE predictions SET path = ? WHERE path = ?",
                    [str(outside), first["path"].item()])  # fmt: skip
    before = _n_runs(db)
    with pytest.raises(EnsembleError, match="stored prediction"):
        ensemble_external(db, FM, model="sij_threshold")
    assert _n_runs(db) == before


def test_a_changed_dataset_is_refused(source, tmp_path):
    data, _ = source
    db = _copy(source, tmp_path)
    moved = Path(shutil.copytree(data, tmp_path / "data"))
    image = moved / "imagesTr" / "a001_0000.nii.gz"
    array, grid = read_image(image)
    write_image(image, array + 1.0, grid=grid)  # same grid, other voxels
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE runs SET data_root = ?", [str(moved)])
    with pytest.raises(EnsembleError, match="changed since run"):
        ensemble_external(db, FM, model="sij_threshold")
