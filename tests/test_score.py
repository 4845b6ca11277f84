"""`bench score`: predictions from any tool are validated first, then scored like a run."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from tasks.contract import read_image, write_image

runner = CliRunner()


@pytest.fixture
def perfect(smoke_thigh: Path, tmp_path: Path) -> Path:
    """A submission that predicts every case's reference exactly."""
    folder = tmp_path / "predictions"
    shutil.copytree(smoke_thigh / "labelsTr", folder)
    return folder


def score(data: Path, predictions: Path, db: Path, *extra: str):
    args = [
        "score",
        "--task",
        "nmd_thigh",
        "--data",
        str(data),
        "--predictions",
        str(predictions),
        "--name",
        "perfect",
        "--db",
        str(db),
    ]
    return runner.invoke(app, [*args, *extra], catch_exceptions=False)


def test_a_perfect_submission_scores_dice_one_on_every_structure(smoke_thigh, perfect, tmp_path):
    db = tmp_path / "s.duckdb"
    result = score(smoke_thigh, perfect, db)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select kind, model, status from runs").fetchall() == [
            ("scored", "perfect", "finished")
        ]
        dice = con.execute(
            "select min(value), max(value), count(*) from case_metrics where metric = 'dice'"
        ).fetchone()
        n_cases = con.execute("select count(distinct case_id) from case_metrics").fetchone()[0]
        n_folds = con.execute("select count(*) from folds").fetchone()[0]
    assert dice[:2] == (1.0, 1.0)
    assert n_cases == 14 and n_folds == 10  # all 12 site-A cases by fold + 2 external


def _rewrite(path: Path, change) -> None:
    array, grid = read_image(path, dtype=None)
    array = change(array.astype(np.float32))
    write_image(
        path,
        array,
        grid.spacing[: array.ndim] if array.shape != grid.shape else None,
        grid if array.shape == grid.shape else None,
    )


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            "grid",
            "s001v1.nii.gz: [prediction-grid] shape (6, 64, 63) differs from the reference shape (6, 64, 64)",
        ),
        ("label", "s001v1.nii.gz: [label-value] value(s) [42] not in the label map"),
        (
            "missing",
            "s001v1.nii.gz: [missing-prediction] case 's001v1' is evaluated but has no prediction file",
        ),
        ("nan", "s001v1.nii.gz: [non-finite] 1 voxel(s) are NaN or infinite"),
    ],
)
def test_a_broken_submission_is_rejected_naming_the_file_and_writes_nothing(
    smoke_thigh, perfect, tmp_path, breakage, expected
):
    path = perfect / "s001v1.nii.gz"
    if breakage == "grid":
        array, grid = read_image(path, dtype=None)
        write_image(path, array[:, :, :-1], grid.spacing)
    elif breakage == "label":
        _rewrite(path, lambda a: np.where(a == 3, 42, a).astype(np.uint8))
    elif breakage == "missing":
        path.unlink()
    else:

        def with_nan(a):
            a[0, 0, 0] = np.nan
            return a

        _rewrite(path, with_nan)
    db = tmp_path / "rejected.duckdb"
    result = score(smoke_thigh, perfect, db)
    assert result.exit_code == 2
    assert expected in result.output
    assert not db.exists()


def test_scores_csv_is_refused_for_a_task_without_classification_targets(
    smoke_thigh, perfect, tmp_path
):
    csv = tmp_path / "scores.csv"
    csv.write_text("case_id,target,score\ns001v1,abnormal,0.3\n")
    result = score(smoke_thigh, perfect, tmp_path / "x.duckdb", "--scores", str(csv))
    assert result.exit_code == 2
    assert (
        "scores.csv: [scores-csv] task nmd_thigh has no classification targets to score"
        in result.output
    )
