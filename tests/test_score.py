"""`bench score`: predictions from any tool are validated first, then scored like a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.tasks.contract import read_image, write_image

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


# -- submissions with extra masks (lumbar_paraspinal's fat) --------------------------------
def score_lumbar(data: Path, predictions: Path, db: Path, name: str = "perfect"):
    args = ["score", "--task", "lumbar_paraspinal", "--data", str(data), "--predictions",
            str(predictions), "--name", name, "--db", str(db)]  # fmt: skip
    return runner.invoke(app, args, catch_exceptions=False)


def _fat_submission(smoke_lumbar: Path, folder: Path, labels: bool) -> Path:
    folder.mkdir()
    if labels:
        for path in (smoke_lumbar / "labelsTr").iterdir():
            shutil.copy(path, folder / path.name)
    for path in (smoke_lumbar / "masks").iterdir():
        shutil.copy(path, folder / path.name)  # <case>_fat.nii.gz
    return folder


def _test_case(data: Path) -> str:
    """The first internal test case of the holdout split (only test cases are scored)."""
    return json.loads((data / "splits.json").read_text())["folds"][0]["test"][0]


def _metric(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_perfect_submission_with_fat_masks_scores_every_fat_metric(smoke_lumbar, tmp_path):
    folder = _fat_submission(smoke_lumbar, tmp_path / "pred", labels=True)
    db = tmp_path / "l.duckdb"
    result = score_lumbar(smoke_lumbar, folder, db)
    assert result.exit_code == 0, result.output
    values = dict(
        _metric(
            db,
            "select metric, min(value) from case_metrics where metric in "
            "('dice', 'sensitivity', 'specificity', 'kappa', 'fi_ape', 'fi_refseg_ape', "
            "'rcsa_ape', 'instance_recall') group by metric",
        )
    )
    assert values == {"dice": 1.0, "sensitivity": 1.0, "specificity": 1.0, "kappa": 1.0,
                      "fi_ape": 0.0, "fi_refseg_ape": 0.0, "rcsa_ape": 0.0,
                      "instance_recall": 1.0}  # fmt: skip
    (n_cases,) = _metric(db, "select count(distinct case_id) from case_metrics")[0]
    assert n_cases == 15  # the 3 internal test + 2 external patients × 3 levels


def test_a_masks_only_submission_is_measured_on_the_reference_structures(smoke_lumbar, tmp_path):
    folder = _fat_submission(smoke_lumbar, tmp_path / "pred", labels=False)
    # a probability map instead of a binary mask for one case: mask = p >= 0.5, and an AUROC
    case = _test_case(smoke_lumbar)
    mask, grid = read_image(folder / f"{case}_fat.nii.gz")
    write_image(
        folder / f"{case}_fat.nii.gz", np.where(mask > 0, 0.9, 0.2).astype(np.float32), grid=grid
    )
    db = tmp_path / "m.duckdb"
    assert score_lumbar(smoke_lumbar, folder, db, "fat_only").exit_code == 0
    metrics = {m for (m,) in _metric(db, "select distinct metric from case_metrics")}
    assert "dice" not in metrics and "rcsa_ape" not in metrics
    assert {"sensitivity", "fi_pred", "fi_refseg", "fi_ape"} <= metrics
    ((auroc,),) = _metric(
        db, f"select value from case_metrics where case_id = '{case}' and metric = 'auroc'"
    )
    assert auroc == 1.0
    ((n_nan,),) = _metric(
        db,
        f"select count(*) from case_metrics where case_id != '{case}' and metric = 'auroc' and isnan(value)",
    )
    assert n_nan == 14  # binary masks carry no probability


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("value", "{case}_fat.nii.gz: [mask-value] 1 voxel(s) outside [0, 1]; a mask holds 0/1 or a probability"),
        ("missing", "{case}_fat.nii.gz: [missing-prediction] case '{case}' is evaluated but has no 'fat' mask file"),
        ("grid", "{case}_fat.nii.gz: [prediction-grid] shape (96, 95) differs from the reference shape (96, 96)"),
        ("nan", "{case}_fat.nii.gz: [non-finite] 1 voxel(s) are NaN or infinite"),
    ],
)  # fmt: skip
def test_a_broken_fat_mask_is_rejected_naming_the_file(smoke_lumbar, tmp_path, breakage, expected):
    folder = _fat_submission(smoke_lumbar, tmp_path / "pred", labels=True)
    case = _test_case(smoke_lumbar)
    path = folder / f"{case}_fat.nii.gz"
    mask, grid = read_image(path)
    if breakage == "missing":
        path.unlink()
    elif breakage == "grid":
        write_image(path, mask[:, :-1], grid.spacing)
    else:
        mask[5, 5] = 3.0 if breakage == "value" else np.nan
        write_image(path, mask, grid.spacing)
    db = tmp_path / "bad.duckdb"
    result = score_lumbar(smoke_lumbar, folder, db)
    assert result.exit_code == 2
    assert expected.format(case=case) in result.output
    assert not db.exists()


def test_a_predictions_folder_is_refused_for_a_task_without_label_map_or_masks(
    toy_binary, tmp_path
):
    folder = tmp_path / "p"
    folder.mkdir()
    args = ["score", "--task", "toy_binary", "--data", str(toy_binary), "--predictions"]
    result = runner.invoke(app, [*args, str(folder), "--name", "x", "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert "p: [unknown-case] task toy_binary has no label map or masks to predict" in result.output
