"""The public MRNet-v1.0 layout read as it is: a tiny dataset built by hand in that layout
(not by the phantom code) validates, loads and runs; every broken rule is reported by
name, and hostile files (pickles, path-traversal ids, links out of the root, lying
headers) are refused before any voxel is read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mskbench.harness.cli import EXIT_BAD_INPUT, app
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset, ValidationError, validate_dataset
from mskbench.tasks.contract.errors import RuleError
from mskbench.tasks.contract.mrnet import VOLUME, parse_label_file
from mskbench.tasks.contract.mrnet_dataset import MrnetDataset
from mskbench.tasks.contract.npy import read_volume

PLANES = ("axial", "coronal", "sagittal")
LABELS = ("abnormal", "acl", "meniscus")
runner = CliRunner()
TASK = get_task("knee_mrnet")


def _volume(rng: np.random.Generator, slices: int, bright: bool) -> np.ndarray:
    """A stack MRNet-like in type and shape; a bright blob marks the positive exams."""
    array = rng.integers(0, 90, (slices, 256, 256), dtype=np.uint8)
    if bright:
        array[:, 100:150, 100:150] = 230
    return array


def build_mrnet(root: Path, n_train: int = 8, n_valid: int = 4, slices: int = 3) -> Path:
    """An MRNet-v1.0-layout folder written with numpy and plain text only."""
    rng = np.random.default_rng(0)
    case = 0
    for split, n in (("train", n_train), ("valid", n_valid)):
        rows = {label: [] for label in LABELS}
        for i in range(n):
            case_id = f"{case:04d}"
            acl, meniscus = i % 2, (i // 2) % 2
            abnormal = int(acl or meniscus or case % 5 == 0)
            for label, value in zip(LABELS, (abnormal, acl, meniscus), strict=True):
                rows[label].append(f"{case_id},{value}")
            for plane in PLANES:
                folder = root / split / plane
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{case_id}.npy", _volume(rng, slices + i % 2, bool(acl)))
            case += 1
        for label in LABELS:
            (root / f"{split}-{label}.csv").write_text("\n".join(rows[label]) + "\n")
    return root


@pytest.fixture(scope="module")
def mrnet(tmp_path_factory) -> Path:
    return build_mrnet(tmp_path_factory.mktemp("mrnet") / "MRNet-v1.0")


@pytest.fixture
def copy(mrnet: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(mrnet, tmp_path / "MRNet-v1.0"))


def rules(root: Path) -> set[tuple[str, str]]:
    return {(p.file, p.rule) for p in validate_dataset(root, TASK)}


def test_a_hand_built_mrnet_folder_validates_and_loads_without_conversion(mrnet):
    assert validate_dataset(mrnet, TASK) == []
    dataset = Dataset(mrnet, TASK)
    assert isinstance(dataset, MrnetDataset)
    fold = dataset.fold(0)
    assert fold.train == tuple(f"{i:04d}" for i in range(8))
    assert fold.test == ("0008", "0009", "0010", "0011")
    assert dataset.splits.kind == "predefined" and dataset.splits.external == ()
    case = dataset.load("0001")
    assert case.images["sagittal"].shape == (1, 4, 256, 256)
    assert case.images["axial"].dtype == np.float32
    assert case.targets == {"abnormal": "1", "acl": "1", "meniscus": "0"}
    assert case.site == "A" and case.subject_id == "0001"


def test_bench_data_validate_accepts_the_mrnet_layout(mrnet):
    result = runner.invoke(app, ["data", "validate", str(mrnet), "--task", "knee_mrnet"])
    assert result.exit_code == 0, result.output
    assert "12 cases" in result.output


def test_bench_data_show_draws_the_three_planes(mrnet, tmp_path):
    out = tmp_path / "case.png"
    result = runner.invoke(
        app,
        ["data", "show", str(mrnet), "--task", "knee_mrnet", "--case", "0001", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("model", ["mrnet_intensity_lr", "mrnet_alexnet"])
def test_bench_run_on_the_mrnet_layout_scores_every_test_case(mrnet, tmp_path, model):
    db = tmp_path / "r.duckdb"
    args = ["run", "--task", "knee_mrnet", "--model", model, "--data", str(mrnet),
            "--profile", "smoke", "--db", str(db)]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from mskbench.harness.store import Store

    rows = Store(db).query("SELECT DISTINCT case_id, target FROM case_scores")
    assert len(rows) == 4 * 3  # the 4 valid exams × 3 labels


# -- broken rules ---------------------------------------------------------------------------
def test_a_missing_plane_is_a_missing_file(copy):
    (copy / "train" / "coronal" / "0003.npy").unlink()
    assert ("train/coronal/0003.npy", "missing-file") in rules(copy)


def test_a_label_row_without_volumes_is_missing_files(copy):
    for label in LABELS:
        with (copy / f"valid-{label}.csv").open("a") as fh:
            fh.write("0099,0\n")
    found = rules(copy)
    assert {(f"valid/{p}/0099.npy", "missing-file") for p in PLANES} <= found


def test_a_volume_without_a_label_row_is_reported(copy):
    shutil.copy(copy / "train" / "axial" / "0000.npy", copy / "train" / "axial" / "0042.npy")
    assert ("train/axial/0042.npy", "case-not-in-csv") in rules(copy)


@pytest.mark.parametrize(
    ("array", "rule"),
    [
        (np.zeros((3, 256, 256), np.float32), "npy-dtype"),
        (np.zeros((3, 128, 256), np.uint8), "npy-shape"),
        (np.zeros((256, 256), np.uint8), "npy-shape"),
        (np.zeros((0, 256, 256), np.uint8), "npy-shape"),
        (np.zeros((129, 256, 256), np.uint8), "too-large"),
    ],
)
def test_a_wrong_array_is_named_by_its_rule(copy, array, rule):
    np.save(copy / "train" / "sagittal" / "0002.npy", array)
    assert ("train/sagittal/0002.npy", rule) in rules(copy)


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_bearing_npy_is_refused_and_never_unpickled(copy, tmp_path):
    marker = tmp_path / "pwned"
    path = copy / "valid" / "axial" / "0009.npy"
    np.save(path, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    assert ("valid/axial/0009.npy", "npy-format") in rules(copy)
    with pytest.raises(RuleError, match="pickle"):
        read_volume(path, VOLUME)
    with pytest.raises(RuleError, match="npy-format"):
        Dataset(copy, TASK, validate=False).load("0009")
    assert not marker.exists()


def test_a_truncated_or_padded_npy_is_refused_before_reading(copy):
    path = copy / "train" / "axial" / "0001.npy"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    other = copy / "train" / "axial" / "0002.npy"
    other.write_bytes(other.read_bytes() + b"\0" * 64)
    found = rules(copy)
    assert {("train/axial/0001.npy", "npy-format"), ("train/axial/0002.npy", "npy-format")} <= found


def test_a_file_that_is_not_npy_is_refused(copy):
    (copy / "train" / "axial" / "0001.npy").write_bytes(b"GIF89a not an array")
    assert ("train/axial/0001.npy", "npy-format") in rules(copy)


def test_a_path_traversal_id_never_becomes_a_path(copy, tmp_path):
    outside = tmp_path / "secret"
    for plane in PLANES:
        (outside / plane).mkdir(parents=True)
        np.save(outside / plane / "x.npy", np.zeros((3, 256, 256), np.uint8))
    with (copy / "train-acl.csv").open("a") as fh:
        fh.write("../../secret/x,1\n")
    problems = validate_dataset(copy, TASK)
    assert any(p.file == "train-acl.csv" and p.rule == "case-id" for p in problems)
    with pytest.raises(ValidationError, match="case-id"):
        Dataset(copy, TASK, validate=False)  # refused even unvalidated, like the contract


def test_a_volume_linked_outside_the_root_is_refused(copy, tmp_path):
    outside = tmp_path / "elsewhere.npy"
    np.save(outside, np.zeros((3, 256, 256), np.uint8))
    target = copy / "valid" / "sagittal" / "0010.npy"
    target.unlink()
    os.symlink(outside, target)
    assert ("valid/sagittal/0010.npy", "symlink") in rules(copy)
    with pytest.raises(ValidationError, match="symlink"):
        Dataset(copy, TASK, validate=False)


def test_duplicate_rows_and_a_case_in_two_splits_are_reported(copy):
    with (copy / "train-abnormal.csv").open("a") as fh:
        fh.write("0001,1\n")
    for label in LABELS:
        with (copy / f"valid-{label}.csv").open("a") as fh:
            fh.write("0002,0\n")
    found = rules(copy)
    assert ("train-abnormal.csv", "duplicate-case") in found
    assert ("valid-abnormal.csv", "duplicate-case") in found


@pytest.mark.parametrize(
    ("line", "rule"),
    [("0001,2", "target-value"), ("0001,yes", "target-value"), ("0001;1", "label-row"),
     ("0001,1,0", "label-row"), ("id,label", "target-value"), (",1", "case-id")],
)  # fmt: skip
def test_label_files_are_parsed_strictly(tmp_path, line, rule):
    path = tmp_path / "train-acl.csv"
    path.write_text(f"0000,0\n{line}\n")
    labels, problems = parse_label_file(path, "train-acl.csv")
    assert labels == {"0000": "0"}
    assert [p[1] for p in problems] == [rule]
    assert "line 2" in problems[0][2]


def test_a_case_missing_from_one_label_file_is_target_missing(copy):
    lines = (copy / "train-meniscus.csv").read_text().splitlines()
    (copy / "train-meniscus.csv").write_text("\n".join(lines[1:]) + "\n")
    assert ("train-meniscus.csv", "target-missing") in rules(copy)


def test_a_missing_split_is_reported_and_run_refuses(copy, tmp_path):
    shutil.rmtree(copy / "valid")
    for label in LABELS:
        (copy / f"valid-{label}.csv").unlink()
    found = rules(copy)
    assert ("valid", "mrnet-layout") in found and ("valid-acl.csv", "mrnet-layout") in found
    result = runner.invoke(app, ["data", "validate", str(copy), "--task", "knee_mrnet"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "mrnet-layout" in result.output


def test_a_dataset_json_keeps_the_contract_layout(copy):
    (copy / "dataset.json").write_text("{}")
    assert not isinstance(Dataset.__new__(Dataset, copy, TASK), MrnetDataset)


def test_the_leaderboard_draws_an_roc_chart_per_label(mrnet, tmp_path, monkeypatch):
    import sys

    from streamlit.testing.v1 import AppTest
    from test_leaderboard_app import APP, TIMEOUT_S, texts

    db = tmp_path / "r.duckdb"
    args = ["run", "--task", "knee_mrnet", "--model", "mrnet_intensity_lr", "--data", str(mrnet),
            "--profile", "smoke", "--db", str(db)]  # fmt: skip
    assert runner.invoke(app, args, catch_exceptions=False).exit_code == 0
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.session_state["task"] = "knee_mrnet"
    at.session_state["page"] = "Overview"
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert all(f"{label} (binary)" in shown for label in LABELS)
    assert len(at.get("vega_lite_chart")) == 2 * len(LABELS)  # ROC + confusion per label


def test_bench_data_split_refuses_a_predefined_split(mrnet):
    result = runner.invoke(app, ["data", "split", str(mrnet), "--task", "knee_mrnet"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "predefined" in result.output
    assert not (mrnet / "splits.json").exists()
