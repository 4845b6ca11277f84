"""Data from outside is hostile until checked (docs/architecture.md, "Conventions"; issue 17).

Each test feeds the CLI one hostile input and asserts the exit code, the rule named in the
message, and that nothing was written: the hashes of every file under the test's folder
(dataset, predictions, results) and the DuckDB row counts are the same before and after.

Data side: tests ``test_data_*``. Store / CLI / CSV side: tests ``test_store_*`` and
``test_cli_*`` (a results file that is not mskbench's, read-only or of another schema
version; names and formula cells from outside; a command line that pipes), which also
compare modification times.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mskbench.harness.store.schema as schema
from mskbench.harness.cli import app
from mskbench.harness.csvsafe import FORMULA_START, neutralise_cell, to_csv
from mskbench.harness.report import render, render_tables, table1
from mskbench.harness.store import NotAStoreError, ReadOnlyStoreError, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import summarize_task
from mskbench.harness.textlayout import render_table
from mskbench.tasks import get_task, task_names
from mskbench.tasks.contract import read_image, write_image

data_runner = CliRunner()


# -- data side: helpers --------------------------------------------------------------------
def data_bench(*args: str):
    return data_runner.invoke(app, list(args), catch_exceptions=False)


def data_tree(*roots: Path) -> dict[str, str]:
    """Path → sha256 of every file under ``roots`` (links by their target, not followed)."""
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                out[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def data_row_counts(db: Path) -> dict[str, int] | None:
    """Rows per table of the results database, None when there is no database."""
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("show tables").fetchall()]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


def data_score(data: Path, predictions: Path, db: Path, *extra: str, task: str = "nmd_thigh"):
    return data_bench(
        "score", "--task", task, "--data", str(data), "--predictions", str(predictions),
        "--name", "hostile", "--db", str(db), *extra,
    )  # fmt: skip


def data_gz_nifti_header(path: Path, shape: tuple[int, ...], dtype=np.uint8, zeros: int = 0):
    """A gzip NIfTI whose header declares ``shape`` and whose body is ``zeros`` zero bytes,
    written as concatenated 1 MiB gzip members (a 1 GiB bomb is ~1 MB and takes ms)."""
    header = nib.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_data_shape(shape)
    header.set_sform(np.diag([-1.0, -1.0, 1.0, 1.0]), code=1)
    header["vox_offset"] = 352
    member = gzip.compress(b"\0" * 2**20, compresslevel=9, mtime=0)
    with path.open("wb") as fh:
        fh.write(gzip.compress(header.binaryblock + b"\0" * 4, compresslevel=9, mtime=0))
        for _ in range(zeros // 2**20):
            fh.write(member)


def _data_write_on_grid(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(array, affine), path)


def _data_case_files(root: Path, case_id: str) -> list[tuple[str, str]]:
    """(folder, file name) of every file of one nmd_thigh case."""
    return [("imagesTr", f"{case_id}_0000.nii.gz"), ("labelsTr", f"{case_id}.nii.gz")] + [
        ("maps", f"{case_id}_{m}.nii.gz") for m in ("ff", "mtr", "t2")
    ]


def _data_rename_case(root: Path, old: str, new: str) -> None:
    """Rename a case in cases.csv and splits.json (text replacement of the id)."""
    for name in ("cases.csv", "splits.json"):
        path = root / name
        text = path.read_text()
        if name == "splits.json":
            text = text.replace(f'"{old}"', json.dumps(new))
        else:
            text = text.replace(f"\n{old},", f"\n{new},")
        path.write_text(text)


# -- 1. case ids and paths -----------------------------------------------------------------
DATA_BAD_IDS = ["../../x", "ABS", "a/b", ".hidden", "c001\x00", "x" * 200]


@pytest.mark.parametrize(
    "bad_id", DATA_BAD_IDS, ids=["dotdot", "absolute", "slash", "hidden", "nul", "long"]
)
def test_data_case_id_in_cases_csv_is_rejected_and_never_becomes_a_path(
    tmp_path, smoke_thigh, bad_id
):
    root = Path(shutil.copytree(smoke_thigh, tmp_path / "deep" / "data"))
    if bad_id == "ABS":
        bad_id = str(tmp_path / "outside" / "x")
    _data_rename_case(root, "s001v1", bad_id)
    if "\x00" not in bad_id:  # place the files where a path built from the id would look
        for folder, name in _data_case_files(root, "s001v1"):
            target = root / folder / name.replace("s001v1", bad_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(root / folder / name, target)
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(root), "--task", "nmd_thigh")
    assert result.exit_code == 2, result.output
    assert "cases.csv: [case-id] line 2: case_id" in result.output
    assert data_tree(tmp_path) == before


def test_data_bench_run_and_score_refuse_a_traversing_case_id_and_write_nothing(
    tmp_path, smoke_thigh
):
    root = Path(shutil.copytree(smoke_thigh, tmp_path / "deep" / "data"))
    predictions = Path(shutil.copytree(root / "labelsTr", tmp_path / "predictions"))
    _data_rename_case(root, "s001v1", "../../x")
    for folder, name in _data_case_files(root, "s001v1"):  # ../../x from imagesTr: tmp_path/deep
        shutil.move(root / folder / name, root / folder / name.replace("s001v1", "../../x"))
    db = tmp_path / "results" / "r.duckdb"
    before = data_tree(tmp_path)
    result = data_bench(
        "run", "--task", "nmd_thigh", "--model", "unet2d", "--profile", "smoke",
        "--data", str(root), "--db", str(db), "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "[case-id]" in result.output
    result = data_score(root, predictions, db)
    assert result.exit_code == 2, result.output
    assert "[case-id]" in result.output
    assert data_tree(tmp_path) == before
    assert not db.parent.exists()


def test_data_dataset_refuses_to_load_an_unvalidated_bad_id(thigh_copy):
    from mskbench.tasks import get_task
    from mskbench.tasks.contract import Dataset, ValidationError

    _data_rename_case(thigh_copy, "s001v1", "../../x")
    with pytest.raises(ValidationError, match=r"\[case-id\]"):
        Dataset(thigh_copy, get_task("nmd_thigh"), validate=False)


def test_data_predictions_are_never_written_outside_the_predictions_folder(tmp_path, smoke_thigh):
    from mskbench.harness.runner import write_prediction
    from mskbench.tasks import get_task
    from mskbench.tasks.contract import Dataset
    from mskbench.tasks.contract.errors import UnsafePathError

    case = Dataset(smoke_thigh, get_task("nmd_thigh")).load("s001v1")
    root = tmp_path / "predictions"
    outside = tmp_path / "victim.nii.gz"
    outside.write_bytes(b"precious")
    case.case_id = "../../../victim"
    with pytest.raises(UnsafePathError, match=r"\[case-id\]"):
        write_prediction(root, "run", 0, case, case.label)
    case.case_id = "s001v1"  # a link planted where the prediction goes
    (root / "run" / "fold0").mkdir(parents=True, exist_ok=True)
    (root / "run" / "fold0" / "s001v1.nii.gz").symlink_to(outside)
    with pytest.raises(UnsafePathError, match=r"\[symlink\]"):
        write_prediction(root, "run", 0, case, case.label)
    assert outside.read_bytes() == b"precious"


def test_data_dataset_file_linking_outside_the_dataset_is_rejected(thigh_copy, tmp_path):
    label = thigh_copy / "labelsTr" / "s001v1.nii.gz"
    shutil.move(label, tmp_path / "elsewhere.nii.gz")
    label.symlink_to(tmp_path / "elsewhere.nii.gz")
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == 2
    assert "labelsTr/s001v1.nii.gz: [symlink] is a link to " in result.output
    assert data_tree(tmp_path) == before


@pytest.mark.parametrize("name", ["dataset.json", "cases.csv", "splits.json"])
def test_data_contract_file_linking_outside_the_dataset_is_rejected(thigh_copy, tmp_path, name):
    """The dataset's own files are read only where they lie: a link out of the folder (to a
    file someone else controls) is refused before it is read."""
    planted = tmp_path / f"elsewhere-{name}"
    shutil.move(thigh_copy / name, planted)
    (thigh_copy / name).symlink_to(planted)
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == 2
    assert f"{name}: [symlink] is a link to {planted}" in result.output
    atlas = f"{Path(__file__).parent / 'plugins' / 'atlas.py'}:Atlas"
    run = data_bench("run", "--task", "nmd_thigh", "--model", atlas, "--profile", "smoke",
                     "--data", str(thigh_copy), "--db", str(tmp_path / "r.duckdb"))  # fmt: skip
    assert run.exit_code == 2 and "[symlink]" in run.output
    assert data_tree(tmp_path) == before


def test_data_case_id_in_splits_json_is_rejected(thigh_copy, tmp_path):
    splits = json.loads((thigh_copy / "splits.json").read_text())
    splits["folds"][0]["test"].append("../../../etc/passwd")
    (thigh_copy / "splits.json").write_text(json.dumps(splits))
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == 2
    assert "splits.json: [case-id] names case id '../../../etc/passwd' is not a plain name" in (
        result.output
    )
    assert data_tree(tmp_path) == before


# -- 2. headers before voxels ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("dtype", "shape", "expected"),
    [
        (np.uint8, (1024, 1024, 1024), "declares 1,073,741,824 voxels, more than the limit"),
        (np.float32, (1024, 512, 512), "MiB on disk (ratio"),
    ],
    ids=["voxel-count", "ratio"],
)
def test_data_decompression_bomb_is_rejected_from_its_header(
    thigh_copy, tmp_path, dtype, shape, expected
):
    bomb = thigh_copy / "labelsTr" / "s001v1.nii.gz"
    data_gz_nifti_header(bomb, shape, dtype, zeros=2**30)  # 1 GiB of voxels in ~1 MB
    assert bomb.stat().st_size < 1.1e6
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == 2, result.output
    assert "labelsTr/s001v1.nii.gz: [too-large]" in result.output and expected in result.output
    assert data_tree(tmp_path) == before


def test_data_decompression_bomb_is_rejected_without_reading_its_voxels(thigh_copy):
    """Peak memory of a fresh `bench data validate` rejecting a 1 GiB bomb stays far below
    the 1 GiB it declares (it read only the header)."""
    data_gz_nifti_header(
        thigh_copy / "labelsTr" / "s001v1.nii.gz", (1024, 512, 512), np.float32, zeros=2**30
    )
    code = (
        "import resource, subprocess, sys; "
        "rc = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    bench = [sys.executable, "-m", "mskbench.harness.cli", "data", "validate", str(thigh_copy)]
    out = subprocess.run(
        [sys.executable, "-c", code, *bench, "--task", "nmd_thigh"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rc, peak_kib = map(int, out.stdout.split())
    assert rc == 2
    assert peak_kib * 1024 < 0.75 * 2**30, f"peak RSS {peak_kib / 1024:.0f} MiB"  # ~370 MiB


DATA_HUGE_SHAPE = (32767, 32767, 1000)


def test_data_huge_header_is_a_clean_too_large_error_for_validate_and_score(
    thigh_copy, tmp_path, smoke_thigh
):
    predictions = Path(shutil.copytree(smoke_thigh / "labelsTr", tmp_path / "predictions"))
    data_gz_nifti_header(predictions / "s001v1.nii.gz", DATA_HUGE_SHAPE)
    (predictions / "s002v1.nii.gz").unlink()  # the same claim as a NRRD header (SimpleITK)
    (predictions / "s002v1.nrrd").write_bytes(
        b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 32767 32767 1000\nencoding: raw\n\n"
    )
    shutil.copy(predictions / "s001v1.nii.gz", thigh_copy / "labelsTr" / "s001v1.nii.gz")
    assert (predictions / "s001v1.nii.gz").stat().st_size < 100
    db = tmp_path / "s.duckdb"
    before = data_tree(tmp_path)
    result = data_bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == 2
    assert "labelsTr/s001v1.nii.gz: [too-large] declares 1,073,676,289,000 voxels" in result.output
    result = data_score(smoke_thigh, predictions, db)
    assert result.exit_code == 2
    assert "s001v1.nii.gz: [too-large] declares 1,073,676,289,000 voxels" in result.output
    assert "s002v1.nrrd: [too-large] declares 1,073,676,289,000 voxels" in result.output
    assert ".cxx" not in result.output and "Traceback" not in result.output
    assert data_tree(tmp_path) == before and not db.exists()


def test_data_max_voxels_option_and_environment_set_the_limit(thigh_copy, monkeypatch):
    """The phantom's 6 × 64 × 64 = 24,576-voxel images pass the default, not a lower limit."""
    args = ("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert data_bench(*args).exit_code == 0
    result = data_bench(*args, "--max-voxels", "24575")
    assert result.exit_code == 2
    assert "[too-large] declares 24,576 voxels, more than the limit of 24,575" in result.output
    monkeypatch.setenv("MSKBENCH_MAX_VOXELS", "1000")
    assert "limit of 1,000" in data_bench(*args).output
    assert data_bench(*args, "--max-voxels", "24576").exit_code == 0


def test_data_memory_error_while_reading_is_a_too_large_error(tmp_path, monkeypatch):
    from mskbench.tasks.contract import imageio
    from mskbench.tasks.contract.errors import TooLargeError

    path = tmp_path / "x.nii.gz"
    imageio.write_image(path, np.zeros((2, 3, 4), np.uint8), (1.0, 1.0, 1.0))

    def no_memory(_path):
        raise MemoryError

    monkeypatch.setattr(imageio, "_read_voxels", no_memory)
    with pytest.raises(TooLargeError, match=r"x.nii.gz: \[too-large\] ran out of memory"):
        imageio.read_image(path)


def test_data_simpleitk_messages_lose_their_source_paths(tmp_path):
    from mskbench.tasks.contract import read_image

    path = tmp_path / "broken.nrrd"
    path.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 2\nsizes: 8 8\nencoding: raw\n\nab")
    with pytest.raises(OSError) as caught:
        read_image(path)
    message = str(caught.value)
    assert ".cxx" not in message and "ITK ERROR" not in message
    assert message.startswith(f"{path}: Read: Error reading") and "fread got only 2" in message


# -- 3. orientation: the full affine ----------------------------------------------------------
@pytest.fixture
def data_predictions(smoke_thigh: Path, tmp_path: Path) -> Path:
    """A perfect submission (the references), to be turned hostile."""
    return Path(shutil.copytree(smoke_thigh / "labelsTr", tmp_path / "predictions"))


def _data_load(path: Path) -> nib.Nifti1Image:
    image = nib.load(path)
    return nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "moved",
            "s001v1.nii.gz: [prediction-grid] origin differs by 50.0 mm from the reference origin",
        ),
        (
            "flipped",
            "s001v1.nii.gz: [prediction-grid] x flipped, but then its origin differs by 214.2 mm",
        ),
        (
            "rotated",
            "s001v1.nii.gz: [prediction-grid] direction differs: the reference's x axis is 5°",
        ),
    ],
)
def test_data_prediction_on_another_physical_grid_is_rejected(
    smoke_thigh, data_predictions, tmp_path, change, expected
):
    path = data_predictions / "s001v1.nii.gz"
    image = _data_load(path)
    affine = image.affine.copy()
    if change == "moved":
        affine[0, 3] += 50.0  # 50 mm along x; voxels unchanged
    elif change == "flipped":
        affine[0, 0] *= -1  # x axis reversed about the same origin: a mirrored grid
    else:  # turned 5° about z
        c, s = np.cos(np.radians(5)), np.sin(np.radians(5))
        affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ affine[:3, :3]
    _data_write_on_grid(path, np.asanyarray(image.dataobj), affine)
    db = tmp_path / "s.duckdb"
    before = data_tree(tmp_path)
    result = data_score(smoke_thigh, data_predictions, db)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert data_tree(tmp_path) == before and not db.exists()


def test_data_prediction_stored_in_another_axis_order_is_reoriented_and_scores_dice_one(
    smoke_thigh, data_predictions, tmp_path, caplog
):
    """Each reference stored as RAS (nibabel), or with its axes permuted: the same physical
    grid, so it is transposed/flipped onto the reference grid and scores Dice 1."""
    from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform

    files = sorted(data_predictions.iterdir())
    for i, path in enumerate(files):
        image = _data_load(path)  # stored LPS (SimpleITK's identity direction)
        codes = ("R", "A", "S") if i % 2 == 0 else ("S", "L", "P")
        turned = image.as_reoriented(
            ornt_transform(io_orientation(image.affine), axcodes2ornt(codes))
        )
        assert nib.aff2axcodes(turned.affine) == codes
        nib.save(turned, path)
    db = tmp_path / "s.duckdb"
    with caplog.at_level(logging.WARNING, logger="mskbench.harness.scoring"):
        result = data_score(smoke_thigh, data_predictions, db)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        dice = con.execute(
            "select min(value), max(value), count(distinct case_id) from case_metrics "
            "where metric = 'dice'"
        ).fetchone()
        model, config = con.execute("select model, config from runs").fetchone()
    assert dice == (1.0, 1.0, 14)
    assert model == "hostile"
    config = json.loads(config)
    assert config["reoriented"]["s001v1.nii.gz"] == "y, x flipped"
    assert config["reoriented"]["s002v1.nii.gz"] == "axes stored as (y, x, z)"
    assert "14 prediction file(s) on their reference's grid in another axis order were " in (
        caplog.text
    )
    assert "reoriented onto it: s001v1.nii.gz (y, x flipped), s002v1.nii.gz (axes" in caplog.text


# -- 4. the predictions folder ----------------------------------------------------------------
def test_data_symlinks_out_of_the_predictions_folder_are_rejected_unless_followed(
    smoke_thigh, data_predictions, tmp_path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(data_predictions / "s001v1.nii.gz", elsewhere / "s001v1.nii.gz")
    (data_predictions / "s001v1.nii.gz").symlink_to(elsewhere / "s001v1.nii.gz")
    (data_predictions / "notes.txt").symlink_to("/etc/passwd")
    db = tmp_path / "s.duckdb"
    before = data_tree(tmp_path)
    result = data_score(smoke_thigh, data_predictions, db)
    assert result.exit_code == 2
    assert "s001v1.nii.gz: [symlink] is a link to" in result.output
    assert "notes.txt: [symlink] is a link to /etc/passwd, outside the predictions" in result.output
    assert data_tree(tmp_path) == before and not db.exists()
    (data_predictions / "notes.txt").unlink()
    result = data_score(smoke_thigh, data_predictions, db, "--follow-symlinks")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("where", ["dataset", "prediction-of-a-training-case"])
def test_data_mask_value_two_is_rejected(smoke_lumbar, lumbar_copy, tmp_path, where):
    """A fat mask holding 2 was accepted when it belonged to a case the chosen folds do
    not score (lumbar's training cases): every file of a submission is now checked."""
    from mskbench.tasks.contract import read_image, write_image

    splits = json.loads((smoke_lumbar / "splits.json").read_text())
    case = splits["folds"][0]["train"][0]
    predictions = tmp_path / "predictions"
    shutil.copytree(smoke_lumbar / "masks", predictions)  # a masks-only submission
    folder = lumbar_copy / "masks" if where == "dataset" else predictions
    path = folder / f"{case}_fat.nii.gz"
    mask, grid = read_image(path, dtype=None)
    mask[5, 5] = 2
    write_image(path, mask, grid=grid)
    db = tmp_path / "s.duckdb"
    before = data_tree(tmp_path)
    if where == "dataset":
        result = data_bench("data", "validate", str(lumbar_copy), "--task", "lumbar_paraspinal")
        expected = f"masks/{case}_fat.nii.gz: [mask-value] value(s) [2] are not 0 or 1"
    else:
        result = data_score(smoke_lumbar, predictions, db, task="lumbar_paraspinal")
        expected = f"{case}_fat.nii.gz: [mask-value] 1 voxel(s) outside [0, 1]"
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert data_tree(tmp_path) == before and not db.exists()


@pytest.mark.parametrize(
    ("folds", "expected"),
    [
        ("99", "folds [99] do not exist"),
        ("0,99", "folds [99] do not exist"),
        ("", "no fold chosen"),
    ],
)
def test_data_score_folds_are_checked_like_run_folds(
    smoke_thigh, data_predictions, tmp_path, folds, expected
):
    db = tmp_path / "s.duckdb"
    assert data_score(smoke_thigh, data_predictions, db, "--folds", "0").exit_code == 0
    counts = data_row_counts(db)
    before = data_tree(tmp_path)
    result = data_score(smoke_thigh, data_predictions, db, "--folds", folds)
    assert result.exit_code == 2
    assert expected in result.output and "has folds [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in result.output
    assert data_tree(tmp_path) == before and data_row_counts(db) == counts


def test_data_run_with_no_fold_stores_no_run(smoke_thigh, tmp_path):
    db = tmp_path / "r.duckdb"
    atlas = str(Path(__file__).resolve().parent / "plugins" / "atlas.py") + ":Atlas"
    result = data_bench("run", "--task", "nmd_thigh", "--model", atlas, "--profile", "smoke",
                        "--data", smoke_thigh, "--folds", "", "--db", db)  # fmt: skip
    assert result.exit_code == 2
    assert "no fold to run" in result.output and "has folds [0, 1, 2" in result.output
    assert not db.exists()  # validated before anything is written


# -- store / CLI / CSV side ---------------------------------------------------------------
_cli_runner = CliRunner()
_ATLAS = str(Path(__file__).parent / "plugins" / "atlas.py") + ":Atlas"
_FORMULA = "=cmd|' /C calc'!A0"
_MSKBENCH_TABLES = {"runs", "folds", "case_metrics", "schema_version"}


def _cli(*args: str):
    """``bench ARGS`` in this process; an exception escaping the CLI fails the test."""
    return _cli_runner.invoke(app, list(args), catch_exceptions=False)


def _cli_files(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``folder``: sha256, modification time (ns) and mode."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            status = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(folder))] = (digest, status.st_mtime_ns, status.st_mode)
    return out


def _store_tables(path: Path) -> dict[str, int]:
    """Row count of every table of the DuckDB file ``path`` (read-only)."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _store_foreign(kind: str, path: Path) -> Path:
    """A file at ``path`` that is not an mskbench results database."""
    if kind == "text":
        path.write_text("model,dice\nunet,0.9\n")
    elif kind == "random-bytes":
        path.write_bytes(np.random.default_rng(0).bytes(20_000))
    elif kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "empty-duckdb":
        duckdb.connect(str(path)).close()
    elif kind == "other-program":
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
            con.execute("INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')")
            con.execute("CREATE VIEW names AS SELECT name FROM customers")
    return path


_FOREIGN_RULES = {
    "text": "[not-duckdb] not a DuckDB database file",
    "random-bytes": "[not-duckdb] not a DuckDB database file",
    "zero-bytes": "[not-duckdb] the file is empty (0 bytes)",
    "empty-duckdb": "[not-mskbench] an empty DuckDB database",
    "other-program": "[not-mskbench] a DuckDB database of another program (holding customers, names)",
}


def _cli_score(data: Path, predictions: Path, db: Path, name: str = "perfect"):
    return _cli(
        "score", "--task", "nmd_thigh", "--data", str(data), "--predictions", str(predictions),
        "--name", name, "--db", str(db),
    )  # fmt: skip


@pytest.fixture(scope="module")
def _store_scored(smoke_thigh: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results file holding one scored run (the references themselves, named "perfect")."""
    db = tmp_path_factory.mktemp("scored") / "scored.duckdb"
    result = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db)
    assert result.exit_code == 0, result.output
    assert "DSC" in result.output and "perfect" in result.output  # score prints the summary
    return db


@pytest.fixture
def _store_copy(_store_scored: Path, tmp_path: Path) -> Path:
    """A private copy of `_store_scored`, alone in its folder."""
    folder = tmp_path / "db"
    folder.mkdir()
    return Path(shutil.copy(_store_scored, folder / "results.duckdb"))


# -- results files that are not mskbench's -------------------------------------------------
@pytest.mark.parametrize("kind", list(_FOREIGN_RULES))
def test_store_results_refuses_a_file_that_is_not_an_mskbench_database(kind, tmp_path):
    path = _store_foreign(kind, tmp_path / "foreign.duckdb")
    before = _cli_files(tmp_path)
    for extra in ((), ("--format", "csv")):
        result = _cli("results", "--task", "nmd_thigh", "--db", str(path), *extra)
        assert result.exit_code == 2, result.output
        assert f"results database {path}: {_FOREIGN_RULES[kind]}" in result.output
        assert "Traceback" not in result.output
    assert _cli_files(tmp_path) == before  # no migration, no write-ahead log, nothing


@pytest.mark.parametrize("kind", ["text", "random-bytes", "zero-bytes", "other-program"])
def test_store_writers_refuse_a_foreign_file_and_leave_it_as_it_was(kind, tmp_path):
    path = _store_foreign(kind, tmp_path / "foreign.duckdb")
    before = _cli_files(tmp_path)
    with pytest.raises(NotAStoreError, match=str(path)):
        Store(path).begin_run(synthetic_run_record("key"))
    assert _cli_files(tmp_path) == before
    if kind == "other-program":
        assert _store_tables(path) == {"customers": 2}  # no mskbench table was added


def test_store_a_writer_fills_an_empty_duckdb_file(tmp_path):
    path = _store_foreign("empty-duckdb", tmp_path / "new.duckdb")
    Store(path).begin_run(synthetic_run_record("key"))
    assert set(_store_tables(path)) >= _MSKBENCH_TABLES


def test_cli_score_and_run_refuse_another_programs_database(smoke_thigh, tmp_path):
    path = _store_foreign("other-program", tmp_path / "theirs.duckdb")
    before = _cli_files(tmp_path)
    scored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", path)
    run = _cli(
        "run", "--task", "nmd_thigh", "--model", _ATLAS, "--profile", "smoke", "--db", str(path)
    )
    for result in (scored, run):
        assert result.exit_code == 2, result.output
        assert _FOREIGN_RULES["other-program"] in result.output
    assert _cli_files(tmp_path) == before
    assert _store_tables(path) == {"customers": 2}


def test_cli_leaderboard_refuses_a_file_that_is_not_an_mskbench_database(tmp_path):
    path = _store_foreign("text", tmp_path / "notes.duckdb")
    result = _cli("leaderboard", "--db", str(path))
    assert result.exit_code == 2 and "[not-duckdb]" in result.output and str(path) in result.output


# -- read-only files and other schema versions -----------------------------------------------
def test_store_a_read_only_database_is_read_and_never_written(smoke_thigh, _store_copy):
    folder = _store_copy.parent
    counts = _store_tables(_store_copy)
    _store_copy.chmod(0o444)
    before = _cli_files(folder)
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    assert shown.exit_code == 0, shown.output
    assert "perfect" in shown.output and "1.000 ± 0.000" in shown.output
    rescored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", _store_copy, name="again")
    assert rescored.exit_code == 2, rescored.output
    assert f"results database {_store_copy}: [read-only] the file is read-only (mode 0444)" in (
        rescored.output
    )
    assert _cli_files(folder) == before
    assert _store_tables(_store_copy) == counts
    with pytest.raises(ReadOnlyStoreError):
        Store(_store_copy).finish_run("any", "finished")


def test_store_a_newer_schema_is_refused_by_readers_and_writers(smoke_thigh, _store_copy):
    with duckdb.connect(str(_store_copy)) as con:
        con.execute("INSERT INTO schema_version VALUES (99, now())")
    counts, before = _store_tables(_store_copy), _cli_files(_store_copy.parent)
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    rescored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", _store_copy, name="again")
    for result in (shown, rescored):
        assert result.exit_code == 2, result.output
        assert f"results database {_store_copy} has schema version 99, newer than" in result.output
    assert _cli_files(_store_copy.parent) == before
    assert _store_tables(_store_copy) == counts


def test_store_an_older_schema_is_read_through_a_private_copy(_store_copy, monkeypatch):
    versions = [(m.version,) for m in schema.MIGRATIONS]  # those of the file
    newer = schema.Migration(
        len(versions) + 1, "test: a note on runs", ("ALTER TABLE runs ADD COLUMN note VARCHAR",)
    )
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, newer])
    _store_copy.chmod(0o444)  # even a read-only file: nothing is written to it
    before = _cli_files(_store_copy.parent)
    store = Store(_store_copy)
    runs = store.runs()
    assert "note" in runs.columns and list(runs["model"]) == ["perfect"]
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    assert shown.exit_code == 0 and "perfect" in shown.output
    assert _cli_files(_store_copy.parent) == before
    with duckdb.connect(str(_store_copy), read_only=True) as con:
        assert con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == versions


# -- names and formula cells from outside ----------------------------------------------------
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "--name '': [run-name] is empty"),
        ("   ", "--name '   ': [run-name] holds only whitespace"),
        (" padded", "[run-name] starts or ends with whitespace"),
        ("two\nlines", "[run-name] holds a control character"),
        ("x" * 500, "[run-name] is 500 characters long; at most 64"),
    ],
)
def test_cli_score_refuses_an_unusable_name_before_anything_is_written(
    smoke_thigh, tmp_path, name, message
):
    db = tmp_path / "results" / "s.duckdb"
    result = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name=name)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not db.parent.exists()


def _cli_formula_cells(text: str) -> list[str]:
    """Cells of CSV ``text`` a spreadsheet would run as a formula (numbers are not)."""
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    return [c for c in cells if neutralise_cell(c) != c]


def test_cli_csv_cells_from_outside_are_neutralised_and_numbers_kept(smoke_thigh, tmp_path):
    db = tmp_path / "formula.duckdb"
    assert _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name=_FORMULA).exit_code == 0
    result = _cli("results", "--task", "nmd_thigh", "--db", str(db), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert _cli_formula_cells(result.output) == []
    table = pd.read_csv(io.StringIO(result.output))
    assert "'" + _FORMULA in set(table["model"])
    assert (table["mean"] < 0).any()  # published negative biases stay numbers
    frame = pd.DataFrame({"Model": ["+1+1", "-0.25", "@SUM(A1)"], "-x": [-0.25, 1.0, 2.0]})
    tables = render_tables({"Table 5": frame}, "csv")
    assert _cli_formula_cells(tables) == []
    assert tables.splitlines()[1:] == ["Model,'-x", "'+1+1,-0.25", "-0.25,1.0", "'@SUM(A1),2.0"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (_FORMULA, "'" + _FORMULA),
        ("+HYPERLINK(x)", "'+HYPERLINK(x)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tcmd", "'\tcmd"),
        ("-0.25", "-0.25"),
        ("+3e-2", "+3e-2"),
        ("plain", "plain"),
        (-0.25, -0.25),
    ],
)
def test_cli_csv_rule_is_owasps_with_numbers_excepted(cell, expected):
    assert neutralise_cell(cell) == expected
    assert set(FORMULA_START) == {"=", "+", "-", "@", "\t", "\r"}


def test_cli_csv_helper_neutralises_text_columns_and_headers_only():
    frame = pd.DataFrame({"=h": ["=1+1", "ok"], "value": [-1.5, 2.0], "mixed": ["-x", 3]})
    text = to_csv(frame)
    assert text.splitlines() == ["'=h,value,mixed", "'=1+1,-1.5,'-x", "ok,2.0,3"]


# -- a command line that pipes --------------------------------------------------------------
def _cli_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``bench ARGS`` as a separate process whose stdout is a pipe, not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "mskbench.harness.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40", **(env or {})},
        timeout=120,
    )


def test_cli_list_output_pipes_with_full_names_and_parses_as_json_and_csv():
    names = task_names()
    table = _cli_process("list", "tasks")
    assert table.returncode == 0, table.stderr
    for name in names:  # `bench list tasks | grep lumbar_paraspinal` finds it
        assert any(name in line.split() for line in table.stdout.splitlines()), name
    assert "…" not in table.stdout
    doc = json.loads(_cli_process("list", "tasks", "--format", "json").stdout)
    assert [row["task"] for row in doc] == names and isinstance(doc[0]["structures"], int)
    verbose = json.loads(_cli_process("list", "tasks", "-v", "--format", "json").stdout)
    assert verbose[0]["structures"] == list(get_task(names[0]).structure_names)
    rows = list(csv.DictReader(io.StringIO(_cli_process("list", "tasks", "-f", "csv").stdout)))
    assert [row["task"] for row in rows] == names
    models = json.loads(_cli_process("list", "models", "--format", "json").stdout)
    assert {"unet2d", "lumbar_threshold"} <= {m["model"] for m in models}
    bad = _cli("list", "models", "--format", "yaml")
    assert bad.exit_code == 2 and "--format 'yaml' is not one of: table, json, csv" in bad.output


def test_cli_identifiers_are_never_cut_even_in_a_narrow_table():
    text = render_table(
        ["task", "study"], [["lumbar_paraspinal", "Xu 2024 (seed 002), a long citation"]], "t", 20
    )
    assert "lumbar_paraspinal" in text and "…" not in text
    assert "citation" in text  # the other column wraps at spaces instead


@pytest.mark.parametrize("width", [80, 120])
def test_cli_results_table_fits_the_width_and_keeps_every_number_whole(_store_scored, width):
    summary = summarize_task(Store(_store_scored), get_task("nmd_thigh"), n_resamples=99)
    text = render(summary, "table", width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for cells in table1(summary, "\n").itertuples(index=False):
        for cell in cells[3:]:
            for part in str(cell).splitlines():  # "mean ± SD" and "[CI]" each on one line
                assert part in text, part


def test_cli_metric_headers_are_readable_names():
    from mskbench.harness.report import metric_header

    lumbar = get_task("lumbar_paraspinal")  # its own metrics live in its catalogue
    assert metric_header("fi_refseg_ape", lumbar) == "FI (ref. seg.) APE (%) ↓"
    assert metric_header("instance_recall", lumbar) == "Instance recall ↑"
    assert metric_header("dice") == "DSC ↑"


def test_cli_results_lists_every_run_of_a_model_with_the_reason(smoke_thigh, tmp_path):
    db = tmp_path / "twice.duckdb"
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for path in sorted((smoke_thigh / "labelsTr").glob("*.nii.gz")):
        label, grid = read_image(path, dtype=None)
        write_image(shifted / path.name, np.roll(label, 1, axis=-1).astype(np.uint8), grid=grid)
    assert _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name="mine").exit_code == 0
    assert _cli_score(smoke_thigh, shifted, db, name="mine").exit_code == 0
    result = _cli("results", "--task", "nmd_thigh", "--db", str(db))
    runs = Store(db).runs("nmd_thigh").sort_values("finished_at")
    older, newer = runs["run_id"]
    assert f"{older} (mine, smoke): superseded by run {newer} (newer)" in result.output


def test_cli_startup_imports_no_torch_pandas_or_duckdb():
    code = (
        "import sys\n"
        "from mskbench.harness.cli import main\n"
        "sys.argv = ['bench', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'pandas', 'duckdb', 'scipy', 'sklearn', 'SimpleITK')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    for args in (["--help"], ["list", "models"], ["run", "--task", "nmd_thigh", "--model", "nope"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
        )
        assert "HEAVY []" in done.stdout, (args, done.stdout, done.stderr)
    assert "unknown model 'nope'" in done.stderr


def test_cli_version_completion_and_choices_in_help():
    from importlib.metadata import version

    from mskbench.harness.cli import DEVICES
    from mskbench.harness.training.runtime import DEVICES as RUNTIME_DEVICES

    assert _cli("--version").output.strip() == f"mskbench {version('mskbench')}"
    completion = {"_BENCH_COMPLETE": "complete_bash", "COMP_WORDS": "bench run --profile "}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "bench")],
        capture_output=True,
        text=True,
        env={**os.environ, **completion, "COMP_CWORD": "3"},
        timeout=60,
    )
    assert completed.stdout.split() == ["smoke", "quick", "paper"]
    assert DEVICES == RUNTIME_DEVICES
    run_help = _cli("run", "--help").output
    assert "[smoke|quick|paper]" in run_help and "[auto|cpu|cuda]" in run_help
    assert "--keep-checkpoints" in run_help
    results_help = _cli("results", "--help").output
    assert "[table|csv|json|markdown]" in results_help and "[test|external]" in results_help


def test_cli_checkpoints_live_beside_the_database_and_go_when_the_fold_is_stored(
    smoke_thigh, tmp_path
):
    plugin = tmp_path / "saver.py"
    plugin.write_text(
        "import numpy as np\n"
        "from mskbench.harness.models import Prediction\n"
        "class Saver:\n"
        "    def fit(self, train, val, ctx):\n"
        "        ctx.work_dir.mkdir(parents=True, exist_ok=True)\n"
        "        (ctx.work_dir / 'checkpoint.pt').write_bytes(b'weights')\n"
        "    def predict(self, case, ctx):\n"
        "        return Prediction(label=np.zeros(case.image.shape[1:], np.uint8))\n"
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    for keep, db in (
        ((), tmp_path / "a" / "r.duckdb"),
        (("--keep-checkpoints",), tmp_path / "b" / "r.duckdb"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mskbench.harness.cli", "run", "--task", "nmd_thigh",
             "--model", f"{plugin}:Saver", "--profile", "smoke", "--db", str(db), *keep],
            cwd=cwd, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        kept = sorted(p.relative_to(db.parent) for p in db.parent.rglob("checkpoint.pt"))
        assert len(kept) == (1 if keep else 0), kept
        assert not (db.parent / "work").exists() or keep
    assert list(cwd.iterdir()) == []  # nothing in the directory it ran from
