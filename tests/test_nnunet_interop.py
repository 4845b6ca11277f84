"""nnU-Net interop: plain nnU-Net raw datasets and the prediction layouts nnU-Net and MONAI
write are scored as they are; a dataset is exported for nnU-Net with mskbench's folds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mskbench.harness import cli
from mskbench.harness.cli import app
from mskbench.harness.prediction_layouts import LAYOUTS
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset, nnunet_export, read_splits

runner = CliRunner()
TASK = "nmd_thigh"


def bench(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def plain(smoke_thigh: Path, tmp_path: Path) -> Path:
    """What the field has: an nnU-Net v2 raw dataset of every smoke case, made by hand —
    no maps, no cases.csv, no splits, no "mskbench" block in dataset.json."""
    root = tmp_path / "Dataset042_Thigh"
    root.mkdir()
    shutil.copytree(smoke_thigh / "imagesTr", root / "imagesTr")
    shutil.copytree(smoke_thigh / "labelsTr", root / "labelsTr")
    content = json.loads((smoke_thigh / "dataset.json").read_text())
    n_cases = len(list((root / "labelsTr").iterdir()))
    content = {
        "channel_names": {"0": "T1"},
        "labels": content["labels"],
        "numTraining": n_cases,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_text(json.dumps(content))
    return root


def _set_labels(root: Path, labels: dict) -> None:
    path = root / "dataset.json"
    content = json.loads(path.read_text())
    content["labels"] = labels
    path.write_text(json.dumps(content))


def perfect_predictions(data: Path, out: Path, layout: str, n_folds: int = 2) -> Path:
    """Every reference label map of ``data`` as a prediction, in ``layout``."""
    labels = sorted((data / "labelsTr").glob("*.nii.gz"))
    for i, label in enumerate(labels):
        case_id = label.name.removesuffix(".nii.gz")
        if layout == "flat":
            dest = out / label.name
        elif layout == "nnunet":
            dest = out / f"fold_{i % n_folds}" / "validation" / label.name
        else:
            dest = out / case_id / f"{case_id}_seg.nii.gz"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(label, dest)
    return out


def score(data: Path, predictions: Path, db: Path, *extra: str):
    return bench(
        "score", "--task", TASK, "--data", data, "--predictions", predictions,
        "--name", "nnunet", "--db", db, *extra,
    )  # fmt: skip


def test_a_plain_nnunet_dataset_validates_without_maps_cases_csv_or_splits(plain):
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 0, result.output
    assert "(14 cases) meets the nmd_thigh data contract" in result.output


@pytest.mark.parametrize("layout", ["flat", "nnunet", "monai"])
def test_a_perfect_prediction_scores_dice_one_in_every_layout(plain, tmp_path, layout):
    predictions = perfect_predictions(plain, tmp_path / "predictions", layout)
    db = tmp_path / "r.duckdb"
    result = score(plain, predictions, db)  # the layout is detected
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        dice = con.execute(
            "select min(value), max(value), count(distinct case_id) from case_metrics "
            "where metric = 'dice'"
        ).fetchone()
        config = json.loads(con.execute("select config from runs").fetchone()[0])
        n_folds = con.execute("select count(*) from folds").fetchone()[0]
    assert dice == (1.0, 1.0, 14)
    assert config["layout"] == layout
    assert n_folds == (2 if layout == "nnunet" else 1)  # nnU-Net's fold_0, fold_1 recognised


def test_absent_maps_are_recorded_with_their_reason_never_as_zeros(plain, tmp_path):
    db = tmp_path / "r.duckdb"
    assert score(plain, perfect_predictions(plain, tmp_path / "p", "flat"), db).exit_code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        metrics = {m for (m,) in con.execute("select distinct metric from case_metrics").fetchall()}
        config = json.loads(con.execute("select config from runs").fetchone()[0])
    assert not {m for m in metrics if m.split("_")[0] in ("ff", "mtr", "t2")}
    assert sorted(config["absent_maps"]) == ["ff", "mtr", "t2"]
    assert "no maps/<case>_ff file for 14 of 14 scored case(s)" in config["absent_maps"]["ff"]
    assert config["splits"].startswith("every case one test set")


def test_region_based_labels_are_a_dataset_json_error(plain, tmp_path):
    _set_labels(plain, {"background": 0, "muscle": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "Ad": 1})
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "dataset.json: [dataset-json] labels ['muscle'] are region-based" in result.output
    result = score(plain, perfect_predictions(plain, tmp_path / "p", "flat"), tmp_path / "r.db")
    assert result.exit_code == 2
    assert "[dataset-json]" in result.output
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("given", ["14", 14.0, True, None])
def test_a_num_training_that_is_no_integer_is_a_dataset_json_error(plain, given):
    path = plain / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "numTraining": given}))
    before = path.read_bytes()
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "dataset.json: [dataset-json] numTraining" in result.output
    assert path.read_bytes() == before


def test_labels_are_matched_by_name_and_value_not_remapped(plain):
    labels = dict(get_task(TASK).labels)
    labels["Ad"], labels["BF"] = labels["BF"], labels["Ad"]
    labels["Quadriceps"] = labels.pop("RF")
    _set_labels(plain, labels)
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "missing structure(s) ['RF']; unknown name(s) ['Quadriceps']" in result.output
    assert "other value(s) Ad: 2 (task: 1), BF: 1 (task: 2)" in result.output


def test_an_ambiguous_predictions_folder_is_refused_until_a_layout_is_chosen(plain, tmp_path):
    predictions = perfect_predictions(plain, tmp_path / "p", "flat")
    (predictions / "fold_0" / "validation").mkdir(parents=True)
    shutil.copy(predictions / "s001v1.nii.gz", predictions / "fold_0" / "validation")
    db = tmp_path / "r.duckdb"
    result = score(plain, predictions, db)
    assert result.exit_code == 2
    assert (
        "p: [prediction-layout] ambiguous: the folder shows flat (image files at the top) and "
        "nnunet (fold_* folders)"
    ) in result.output
    assert not db.exists()
    assert score(plain, predictions, db, "--layout", "flat").exit_code == 0


@pytest.mark.parametrize(
    ("layout", "second", "expected"),
    [
        ("flat", "s001v1.nii", "s001v1.nii.gz: [duplicate-prediction] case 's001v1' also has"),
        (
            "nnunet",
            "fold_1/validation/s001v1.nii.gz",
            "fold_1/validation/s001v1.nii.gz: [duplicate-prediction] case 's001v1' is also in "
            "fold_0/validation/s001v1.nii.gz",
        ),
        ("monai", "s001v1/s001v1_trans.nii.gz", "s001v1: [duplicate-prediction] case 's001v1' has 2"),
    ],
)  # fmt: skip
def test_a_case_predicted_twice_is_refused(plain, tmp_path, layout, second, expected):
    predictions = perfect_predictions(plain, tmp_path / "p", layout)
    shutil.copy(plain / "labelsTr" / "s001v1.nii.gz", predictions / second)
    result = score(plain, predictions, tmp_path / "r.duckdb", "--layout", layout)
    assert result.exit_code == 2
    assert expected in result.output


def nnunet_fold_folders(data: Path, folds, predictions: Path) -> Path:
    """nnU-Net's ``fold_<k>/validation/`` folders holding each fold's test labels."""
    for fold in folds:
        (predictions / f"fold_{fold.index}" / "validation").mkdir(parents=True)
        for case_id in fold.test:
            label = data / "labelsTr" / f"{case_id}.nii.gz"
            shutil.copy(label, predictions / f"fold_{fold.index}" / "validation")
    return predictions


def test_nnunet_fold_folders_must_hold_the_test_cases_of_the_same_fold(smoke_thigh, tmp_path):
    """A dataset with frozen splits: fold k's validation folder holds fold k's test cases."""
    splits = read_splits(smoke_thigh)
    predictions = nnunet_fold_folders(smoke_thigh, splits.folds[:2], tmp_path / "p")
    db = tmp_path / "r.duckdb"
    assert score(smoke_thigh, predictions, db).exit_code == 0  # folds 0 and 1 recognised
    moved = splits.folds[0].test[0]
    shutil.move(
        predictions / "fold_0" / "validation" / f"{moved}.nii.gz",
        predictions / "fold_1" / "validation",
    )
    result = score(smoke_thigh, predictions, tmp_path / "r2.duckdb")
    assert result.exit_code == 2
    assert (
        f"fold_1/validation/{moved}.nii.gz: [prediction-fold] case {moved!r} is in the test set of "
        "fold 0 (splits.json), not of fold 1"
    ) in result.output  # fmt: skip


def test_a_fold_folder_without_validation_predictions_is_scored_as_missing(smoke_thigh, tmp_path):
    """A fold still training (or its validation folder removed) is not silently left out."""
    splits = read_splits(smoke_thigh)
    predictions = nnunet_fold_folders(smoke_thigh, splits.folds[:2], tmp_path / "p")
    shutil.rmtree(predictions / "fold_1" / "validation")
    db = tmp_path / "r.duckdb"
    result = score(smoke_thigh, predictions, db)
    assert result.exit_code == 2
    missing = splits.folds[1].test[0]
    assert (
        f"{missing}.nii.gz: [missing-prediction] case {missing!r} is evaluated but has no "
        "prediction file"
    ) in result.output
    assert not db.exists()


@pytest.mark.parametrize("name", ["fold_2147483648", "fold_99999999999999999999"])
def test_a_fold_folder_numbered_beyond_any_fold_is_refused_before_anything_is_written(
    plain, tmp_path, name
):
    """The dataset has no folds of its own, so the fold folders' numbers become its folds."""
    predictions = perfect_predictions(plain, tmp_path / "p", "nnunet")
    (predictions / "fold_1").rename(predictions / name)
    db = tmp_path / "r.duckdb"
    result = score(plain, predictions, db)
    assert result.exit_code == 2
    assert f"{name}: [prediction-layout] fold number" in result.output
    assert not db.exists()


def test_labelled_test_images_are_the_external_site_and_never_in_a_fold_folder(plain, tmp_path):
    for folder, name in (("images", "x001v1_0000.nii.gz"), ("labels", "x001v1.nii.gz")):
        (plain / f"{folder}Ts").mkdir(exist_ok=True)
        shutil.move(plain / f"{folder}Tr" / name, plain / f"{folder}Ts" / name)
    content = json.loads((plain / "dataset.json").read_text())
    (plain / "dataset.json").write_text(json.dumps({**content, "numTraining": 13}))
    dataset = Dataset(plain, get_task(TASK))
    assert dataset.splits.external == ("x001v1",)
    assert dataset.cases.loc["x001v1", "site"] == get_task(TASK).split.external_site
    predictions = perfect_predictions(plain, tmp_path / "p", "nnunet")
    shutil.copy(plain / "labelsTs" / "x001v1.nii.gz", predictions / "fold_0" / "validation")
    result = score(plain, predictions, tmp_path / "r.duckdb")
    assert result.exit_code == 2
    assert (
        "fold_0/validation/x001v1.nii.gz: [prediction-fold] case 'x001v1' is in no fold's test set"
    ) in result.output


def test_a_plain_dataset_takes_its_folds_from_splits_final_json(plain):
    cases = sorted(p.name.removesuffix(".nii.gz") for p in (plain / "labelsTr").iterdir())
    folds = [{"train": cases[5:], "val": cases[:5]}, {"train": cases[:5], "val": cases[5:]}]
    (plain / "splits_final.json").write_text(json.dumps(folds))
    assert bench("data", "validate", plain, "--task", TASK).exit_code == 0
    dataset = Dataset(plain, get_task(TASK))
    assert [(list(f.train), list(f.test)) for f in dataset.splits.folds] == [
        (f["train"], f["val"]) for f in folds
    ]
    assert dataset.splits_source.startswith("splits_final.json")


@pytest.mark.parametrize("listed", ["train", "val"])
def test_a_case_listed_twice_in_one_fold_of_splits_final_json_is_refused(plain, tmp_path, listed):
    cases = sorted(p.name.removesuffix(".nii.gz") for p in (plain / "labelsTr").iterdir())
    fold = {"train": cases[5:], "val": cases[:5]}
    fold[listed].append(fold[listed][0])
    (plain / "splits_final.json").write_text(json.dumps([fold]))
    before = (plain / "splits_final.json").read_bytes()
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "splits_final.json: [splits-task] not nnU-Net's splits format" in result.output
    assert f"lists {fold[listed][0]!r} twice" in result.output
    db = tmp_path / "r.duckdb"
    result = score(plain, perfect_predictions(plain, tmp_path / "p", "flat"), db)
    assert result.exit_code == 2
    assert "[splits-task]" in result.output
    assert not db.exists()
    assert (plain / "splits_final.json").read_bytes() == before


@pytest.mark.parametrize("listed", ["train", "val"])
def test_an_external_case_in_a_fold_of_splits_final_json_is_refused(plain, tmp_path, listed):
    """imagesTs is the external test set: no fold may train on it or test it."""
    for folder, name in (("images", "x001v1_0000.nii.gz"), ("labels", "x001v1.nii.gz")):
        (plain / f"{folder}Ts").mkdir(exist_ok=True)
        shutil.move(plain / f"{folder}Tr" / name, plain / f"{folder}Ts" / name)
    content = json.loads((plain / "dataset.json").read_text())
    (plain / "dataset.json").write_text(json.dumps({**content, "numTraining": 13}))
    cases = sorted(p.name.removesuffix(".nii.gz") for p in (plain / "labelsTr").iterdir())
    folds = [{"train": cases[5:], "val": cases[:5]}, {"train": cases[:5], "val": cases[5:]}]
    folds[0][listed].append("x001v1")
    (plain / "splits_final.json").write_text(json.dumps(folds))
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert (
        "splits_final.json: [train-test-overlap] fold 0: external case 'x001v1' is in a fold"
    ) in result.output
    db = tmp_path / "r.duckdb"
    result = score(plain, perfect_predictions(plain, tmp_path / "p", "flat"), db)
    assert result.exit_code == 2
    assert "[train-test-overlap]" in result.output
    assert not db.exists()


def test_a_fold_of_splits_final_json_without_val_cases_is_refused(plain, tmp_path):
    cases = sorted(p.name.removesuffix(".nii.gz") for p in (plain / "labelsTr").iterdir())
    folds = [{"train": cases, "val": []}, {"train": cases[1:], "val": cases[:1]}]
    (plain / "splits_final.json").write_text(json.dumps(folds))
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "splits_final.json: [splits-task] fold(s) [0] list no val case" in result.output
    db = tmp_path / "r.duckdb"
    result = score(plain, perfect_predictions(plain, tmp_path / "p", "flat"), db)
    assert result.exit_code == 2
    assert "[splits-task]" in result.output
    assert not db.exists()


def test_splits_final_json_is_no_part_of_the_data_fingerprint(plain):
    before = Dataset(plain, get_task(TASK)).fingerprint
    cases = sorted(p.name.removesuffix(".nii.gz") for p in (plain / "labelsTr").iterdir())
    (plain / "splits_final.json").write_text(json.dumps([{"train": cases[1:], "val": cases[:1]}]))
    assert Dataset(plain, get_task(TASK)).fingerprint == before


def test_a_plain_dataset_without_folds_is_not_trained_on_until_it_is_split(plain, tmp_path):
    db = tmp_path / "r.duckdb"
    run = ("run", "--task", TASK, "--model", "unet2d", "--profile", "smoke", "--data", plain)
    result = bench(*run, "--db", db)
    assert result.exit_code == 2
    assert "is one test set, nothing to train on" in result.output
    result = bench("data", "split", plain, "--task", TASK)  # one subject per case
    assert result.exit_code == 0, result.output
    splits = read_splits(plain)
    assert len(splits.folds) == 10 and not splits.external  # every case is in imagesTr
    assert (
        sorted(c for f in splits.folds for c in f.test) == Dataset(plain, get_task(TASK)).case_ids
    )


def test_image_names_that_are_no_plain_case_ids_never_become_cases(plain):
    shutil.copy(plain / "imagesTr" / "s001v1_0000.nii.gz", plain / "imagesTr" / ".x_0000.nii.gz")
    result = bench("data", "validate", plain, "--task", TASK)
    assert result.exit_code == 2
    assert "imagesTr/.x_0000.nii.gz: [case-id] '.x' is not a plain name" in result.output
    assert "cases.csv" not in result.output  # a plain dataset has none to name
    assert ".x" not in Dataset(plain, get_task(TASK), validate=False).case_ids


def test_a_prediction_of_no_case_names_no_cases_csv_a_plain_dataset_lacks(plain, tmp_path):
    predictions = perfect_predictions(plain, tmp_path / "p", "flat")
    shutil.copy(predictions / "s001v1.nii.gz", predictions / ".hidden.nii.gz")
    db = tmp_path / "r.duckdb"
    result = score(plain, predictions, db)
    assert result.exit_code == 2
    assert ".hidden.nii.gz: [unknown-case] names case '.hidden', which is not a case of" in (
        result.output
    )
    assert "cases.csv" not in result.output
    assert not db.exists()


def test_a_monai_case_folder_linking_outside_is_refused(plain, tmp_path):
    predictions = perfect_predictions(plain, tmp_path / "p", "monai")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(predictions / "s001v1", elsewhere)
    (predictions / "s001v1").symlink_to(elsewhere)
    result = score(plain, predictions, tmp_path / "r.duckdb")
    assert result.exit_code == 2
    assert "s001v1: [symlink] is a link to" in result.output


def test_a_link_loop_in_a_predictions_folder_is_a_symlink_problem(plain, tmp_path):
    predictions = perfect_predictions(plain, tmp_path / "p", "nnunet")
    (predictions / "fold_0" / "validation" / "loop.nii.gz").symlink_to("loop.nii.gz")
    db = tmp_path / "r.duckdb"
    result = runner.invoke(app, ["score", "--task", TASK, "--data", str(plain), "--predictions",
                                 str(predictions), "--name", "nnunet", "--db", str(db)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "fold_0/validation/loop.nii.gz: [symlink] is a link that never ends" in result.output
    assert not db.exists()


def test_a_link_loop_in_a_plain_dataset_is_a_symlink_problem(plain):
    image = plain / "imagesTr" / "s001v1_0000.nii.gz"
    image.unlink()
    image.symlink_to(image.name)
    result = runner.invoke(app, ["data", "validate", str(plain), "--task", TASK])
    assert result.exit_code == 2, result.output
    assert "imagesTr/s001v1_0000.nii.gz: [symlink] is a link that never ends" in result.output
    assert image.is_symlink() and str(image.readlink()) == image.name  # left as it was


def test_the_cli_lists_the_prediction_layouts_of_the_harness():
    assert cli.PREDICTION_LAYOUTS == LAYOUTS


# -- export ---------------------------------------------------------------------------------
@pytest.fixture
def nnunet_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """nnU-Net's three folders, as its environment variables name them."""
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    return tmp_path / "nnUNet_raw"


def test_an_export_passes_nnunets_own_integrity_check(smoke_thigh, nnunet_env):
    verify = pytest.importorskip(
        "nnunetv2.experiment_planning.verify_dataset_integrity",
        reason="nnunetv2 is not installed (pip install mskbench[nnunet])",
    )
    result = bench("data", "export-nnunet", smoke_thigh, "--id", "501", "--out", nnunet_env)
    assert result.exit_code == 0, result.output
    exported = nnunet_env / "Dataset501_nmd_thigh"
    assert (exported / "imagesTr" / "s001v1_0000.nii.gz").is_symlink()  # linked by default
    verify.verify_dataset_integrity(str(exported), 1)  # raises on any problem


def test_an_export_holds_our_folds_and_keeps_the_external_site_out_of_training(
    smoke_thigh, tmp_path
):
    result = bench("data", "export-nnunet", smoke_thigh, "--id", "7", "--out", tmp_path, "--copy")
    assert result.exit_code == 0, result.output
    exported = tmp_path / "Dataset007_nmd_thigh"
    splits = read_splits(smoke_thigh)
    final = json.loads((exported / "splits_final.json").read_text())
    assert final == [{"train": list(f.train), "val": list(f.test)} for f in splits.folds]
    training = {p.name.removesuffix("_0000.nii.gz") for p in (exported / "imagesTr").iterdir()}
    testing = {p.name.removesuffix("_0000.nii.gz") for p in (exported / "imagesTs").iterdir()}
    assert testing == set(splits.external) and not training & testing
    assert {c for f in final for c in (*f["train"], *f["val"])} == training
    content = json.loads((exported / "dataset.json").read_text())
    assert content["numTraining"] == len(training)
    # read back as a plain nnU-Net dataset: the same folds, the external site in imagesTs
    dataset = Dataset(exported, get_task(TASK))
    assert dataset.splits.folds == splits.folds and dataset.splits.external == splits.external


def test_an_export_never_overwrites_without_force(smoke_thigh, tmp_path):
    target = tmp_path / "Dataset501_nmd_thigh"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    result = bench("data", "export-nnunet", smoke_thigh, "--id", "501", "--out", tmp_path)
    assert result.exit_code == 2
    assert "exists and is not empty (--force replaces it)" in result.output
    assert (target / "mine.txt").read_text() == "keep"
    result = bench(
        "data", "export-nnunet", smoke_thigh, "--id", "501", "--out", tmp_path, "--force"
    )
    assert result.exit_code == 0, result.output
    assert not (target / "mine.txt").exists() and (target / "splits_final.json").is_file()


def test_an_export_needs_training_folds(plain, tmp_path):
    result = bench(
        "data", "export-nnunet", plain, "--id", "501", "--out", tmp_path / "raw", "-t", TASK
    )
    assert result.exit_code == 2
    assert "one test set and no training folds" in result.output
    assert not (tmp_path / "raw").exists()


def test_an_invalid_dataset_is_exported_nowhere(thigh_copy, tmp_path):
    (thigh_copy / "labelsTr" / "s001v1.nii.gz").unlink()
    out = tmp_path / "raw"
    result = bench("data", "export-nnunet", thigh_copy, "--id", "501", "--out", out)
    assert result.exit_code == 2
    assert "labelsTr/s001v1.nii.gz: [missing-file]" in result.output
    assert not out.exists()


def test_a_failed_export_leaves_nothing_half_written(smoke_thigh, tmp_path, monkeypatch):
    def fail_on_labels(source: Path, dest: Path, copy: bool) -> None:
        if dest.parent.name == "labelsTr":
            raise OSError("disk full")
        shutil.copy(source, dest)

    monkeypatch.setattr(nnunet_export, "_place", fail_on_labels)
    with pytest.raises(OSError, match="disk full"):
        nnunet_export.export_nnunet(smoke_thigh, get_task(TASK), 501, tmp_path / "raw")
    assert list((tmp_path / "raw").iterdir()) == []


def test_the_leftover_of_a_killed_export_does_not_block_the_next(smoke_thigh, tmp_path):
    """A killed export leaves its hidden working folder; a later process may get its pid."""
    out = tmp_path / "raw"
    for leftover in (".Dataset501_nmd_thigh.tmp-", ".Dataset501_nmd_thigh.old-"):
        (out / f"{leftover}{os.getpid()}").mkdir(parents=True)
        (out / f"{leftover}{os.getpid()}" / "half.nii.gz").write_text("half")
    for force in ((), ("--force",)):  # the second replaces the first
        result = bench("data", "export-nnunet", smoke_thigh, "--id", "501", "--out", out, *force)
        assert result.exit_code == 0, result.output
    assert (out / "Dataset501_nmd_thigh" / "splits_final.json").is_file()


@pytest.mark.parametrize("block", [None, [1], "nmd_thigh"])
def test_an_export_of_a_dataset_json_whose_mskbench_block_is_no_object_asks_for_the_task(
    plain, tmp_path, block
):
    path = plain / "dataset.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "mskbench": block}))
    out = tmp_path / "raw"
    result = runner.invoke(app, ["data", "export-nnunet", str(plain), "--id", "501", "--out",
                                 str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "dataset.json: names no mskbench task; pass --task" in result.output
    assert not out.exists()


@pytest.mark.parametrize("under", ["", "raw", "raw/deeper"])
def test_an_export_to_or_under_an_existing_file_is_refused(smoke_thigh, tmp_path, under):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep")
    result = runner.invoke(app, ["data", "export-nnunet", str(smoke_thigh), "--id", "501",
                                 "--out", str(existing / under)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"{existing}: not a folder" in result.output
    assert existing.read_text() == "keep" and sorted(tmp_path.iterdir()) == [existing]


def test_an_export_to_a_dangling_link_is_refused(smoke_thigh, tmp_path):
    out = tmp_path / "raw"
    out.symlink_to(tmp_path / "nowhere")
    result = runner.invoke(app, ["data", "export-nnunet", str(smoke_thigh), "--id", "501",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"{out}: not a folder" in result.output
    assert sorted(tmp_path.iterdir()) == [out] and not (tmp_path / "nowhere").exists()


def _tree(root: Path) -> dict[str, str | bytes | None]:
    """Every entry under ``root``: a link's target, a file's bytes, None for a folder."""
    tree: dict[str, str | bytes | None] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            tree[path.relative_to(root).as_posix()] = str(path.readlink())
        else:
            tree[path.relative_to(root).as_posix()] = path.read_bytes() if path.is_file() else None
    return tree


def test_an_export_never_writes_into_the_dataset_it_reads(thigh_copy):
    before = _tree(thigh_copy)
    for out in (thigh_copy, thigh_copy / "imagesTr"):
        result = bench("data", "export-nnunet", thigh_copy, "--id", "501", "--out", out)
        assert result.exit_code == 2
        assert "overlaps the dataset being exported" in result.output
    assert _tree(thigh_copy) == before


def test_an_export_is_never_written_over_the_dataset_it_reads(smoke_thigh, tmp_path):
    # an export copied once, then exported again onto itself: replacing it would delete
    # the very files the new one links to
    bench("data", "export-nnunet", smoke_thigh, "--id", "501", "--out", tmp_path, "--copy")
    exported = tmp_path / "Dataset501_nmd_thigh"
    before = _tree(exported)
    result = bench(
        "data", "export-nnunet", exported, "--id", "501", "--out", tmp_path, "-t", TASK, "--force"
    )
    assert result.exit_code == 2
    assert "overlaps the dataset being exported" in result.output
    assert _tree(exported) == before
