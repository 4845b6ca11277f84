"""Every data-contract rule, each checked for its exact error; validation never writes.

Each test breaks one rule in a private copy of the nmd_thigh smoke phantom and asserts the
complete list of problems reported (file, rule, message), then that the folder is byte-for-
byte as it was before validation.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mskbench.tasks import get_task
from mskbench.tasks.contract import (
    ContractError,
    Dataset,
    Problem,
    ValidationError,
    create_splits,
    data_fingerprint,
    read_image,
    read_splits,
    validate_dataset,
    write_image,
)

from helpers import file_hashes

TASK = get_task("nmd_thigh")
CASE = "s001v1"


def validate_without_writing(root: Path) -> list[Problem]:
    before = file_hashes(root)
    problems = validate_dataset(root, TASK)
    assert file_hashes(root) == before, "validation changed files"
    return problems


def edit_json(path: Path, change) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def test_the_smoke_phantom_is_valid(thigh_copy):
    assert validate_without_writing(thigh_copy) == []


def test_dataset_json_for_another_task(thigh_copy):
    edit_json(thigh_copy / "dataset.json", lambda c: c["mskbench"].update(task="nmd_leg"))
    assert validate_without_writing(thigh_copy) == [
        Problem("dataset.json", "dataset-json", "made for task 'nmd_leg', validated as 'nmd_thigh'")
    ]


def test_dataset_json_label_map_must_equal_the_tasks(thigh_copy):
    edit_json(thigh_copy / "dataset.json", lambda c: c["labels"].pop("VM"))
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == ("dataset.json", "dataset-json")
    assert problem.message.startswith("labels differ from task nmd_thigh's label map {")
    assert "missing structure(s) ['VM']" in problem.message


def test_missing_dataset_json_is_reported_not_raised(thigh_copy):
    (thigh_copy / "dataset.json").unlink()
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == ("dataset.json", "dataset-json")
    assert "missing" in problem.message


def test_cases_csv_missing_a_required_column(thigh_copy):
    cases = pd.read_csv(thigh_copy / "cases.csv", dtype=str).drop(columns=["side"])
    cases.to_csv(thigh_copy / "cases.csv", index=False)
    assert validate_without_writing(thigh_copy) == [
        Problem(
            "cases.csv",
            "cases-csv",
            "missing column(s) ['side']; "
            "required: ['case_id', 'subject_id', 'site', 'group', 'side']",
        )
    ]


def test_image_without_a_row_in_cases_csv(thigh_copy):
    cases = pd.read_csv(thigh_copy / "cases.csv", dtype=str)
    cases[cases.case_id != CASE].to_csv(thigh_copy / "cases.csv", index=False)
    problems = validate_without_writing(thigh_copy)
    assert (
        Problem(
            f"imagesTr/{CASE}_0000.nii.gz",
            "case-not-in-csv",
            f"case '{CASE}' has no row in cases.csv",
        )
        in problems
    )
    # the splits still name it, which is its own problem
    assert {p.rule for p in problems} == {"case-not-in-csv", "unknown-case-in-splits"}


def test_missing_label_file(thigh_copy):
    (thigh_copy / "labelsTr" / f"{CASE}.nii.gz").unlink()
    assert validate_without_writing(thigh_copy) == [
        Problem(f"labelsTr/{CASE}.nii.gz", "missing-file", "reference label map is missing")
    ]


def test_missing_map(thigh_copy):
    (thigh_copy / "maps" / f"{CASE}_mtr.nii.gz").unlink()
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"maps/{CASE}_mtr.nii.gz",
            "missing-map",
            "map 'mtr' required by task nmd_thigh is missing",
        )
    ]


def test_unreadable_image(thigh_copy):
    (thigh_copy / "imagesTr" / f"{CASE}_0000.nii.gz").write_bytes(b"not an image")
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == (f"imagesTr/{CASE}_0000.nii.gz", "unreadable")
    assert problem.message.startswith("cannot be read as an image")


def test_two_dimensional_image_for_a_3d_task(thigh_copy):
    path = thigh_copy / "imagesTr" / f"{CASE}_0000.nii.gz"
    image, grid = read_image(path)
    write_image(path, image[0], grid.spacing[1:])
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"imagesTr/{CASE}_0000.nii.gz", "dimensionality", "has 2 axes, task nmd_thigh is 3D"
        )
    ]


def test_label_on_another_shape(thigh_copy):
    path = thigh_copy / "labelsTr" / f"{CASE}.nii.gz"
    label, grid = read_image(path, dtype=None)
    write_image(path, label[:-1], grid.spacing)
    shape = label.shape
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"labelsTr/{CASE}.nii.gz",
            "shape-mismatch",
            f"shape {(shape[0] - 1, *shape[1:])} differs from "
            f"imagesTr/{CASE}_0000.nii.gz shape {shape}",
        )
    ]


def test_label_with_another_spacing(thigh_copy):
    path = thigh_copy / "labelsTr" / f"{CASE}.nii.gz"
    label, grid = read_image(path, dtype=None)
    spacing = (grid.spacing[0], grid.spacing[1] * 2, grid.spacing[2])
    write_image(path, label, spacing)
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == (f"labelsTr/{CASE}.nii.gz", "spacing-mismatch")
    assert problem.message.startswith(f"spacing {spacing} mm differs from")


def test_label_moved_50_mm_is_on_another_grid(thigh_copy):
    path = thigh_copy / "labelsTr" / f"{CASE}.nii.gz"
    label, grid = read_image(path, dtype=None)
    moved = replace(grid, origin=(grid.origin[0] + 50.0, *grid.origin[1:]))
    write_image(path, label, grid=moved)
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"labelsTr/{CASE}.nii.gz",
            "geometry-mismatch",
            f"origin differs by 50 mm from imagesTr/{CASE}_0000.nii.gz (same shape and spacing)",
        )
    ]


def test_map_with_a_flipped_axis_is_on_another_grid(thigh_copy):
    path = thigh_copy / "maps" / f"{CASE}_ff.nii.gz"
    ff, grid = read_image(path)
    flipped = replace(grid, direction=(-1.0, *grid.direction[1:]))
    write_image(path, ff, grid=flipped)
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == (f"maps/{CASE}_ff.nii.gz", "map-grid")
    assert problem.message.startswith("direction cosines differ")


def test_an_optional_map_may_be_missing_and_its_metrics_are_then_absent(thigh_copy):
    from mskbench.harness.evaluation import case_metric_rows
    from mskbench.tasks.spec import MapSpec

    task = get_task("nmd_thigh")
    optional_ff = MapSpec("ff", "%", "fat fraction, when known", required=False)
    spec = replace(task, maps=(optional_ff, *task.maps[1:]))
    (thigh_copy / "maps" / f"{CASE}_ff.nii.gz").unlink()
    assert validate_dataset(thigh_copy, spec) == []
    assert [p.rule for p in validate_dataset(thigh_copy, task)] == ["missing-map"]
    case = Dataset(thigh_copy, spec).load(CASE)
    assert set(case.maps) == {"mtr", "t2"}
    rows = case_metric_rows(spec, case, case.label, "test")
    assert not rows["metric"].str.startswith("ff_").any() and rows["metric"].eq("mtr_delta").any()


def test_map_on_another_grid(thigh_copy):
    path = thigh_copy / "maps" / f"{CASE}_ff.nii.gz"
    ff, grid = read_image(path)
    write_image(path, ff[:, ::2, ::2], (grid.spacing[0], grid.spacing[1] * 2, grid.spacing[2] * 2))
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == (f"maps/{CASE}_ff.nii.gz", "map-grid")
    assert problem.message == "shape (6, 32, 32) differs from image shape (6, 64, 64)"


def test_label_value_outside_the_label_map(thigh_copy):
    path = thigh_copy / "labelsTr" / f"{CASE}.nii.gz"
    label, grid = read_image(path, dtype=None)
    label[0, 0, 0] = 17
    write_image(path, label, grid.spacing)
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"labelsTr/{CASE}.nii.gz",
            "label-value",
            "value(s) [17] not in the label map (0..10: Ad, BF, Gr, RF, Sa, SM, ST, VI, VL, VM)",
        )
    ]


@pytest.mark.parametrize(
    ("folder", "name", "bad"), [("imagesTr", "_0000", np.nan), ("maps", "_t2", np.inf)]
)
def test_nan_or_inf_in_an_image_or_map(thigh_copy, folder, name, bad):
    path = thigh_copy / folder / f"{CASE}{name}.nii.gz"
    array, grid = read_image(path)
    array[1, 2, 3] = bad
    array[1, 2, 4] = bad
    write_image(path, array, grid.spacing)
    assert validate_without_writing(thigh_copy) == [
        Problem(f"{folder}/{CASE}{name}.nii.gz", "non-finite", "2 voxel(s) are NaN or infinite")
    ]


def test_empty_reference_for_a_required_muscle(thigh_copy):
    path = thigh_copy / "labelsTr" / f"{CASE}.nii.gz"
    label, grid = read_image(path, dtype=None)
    label[label == TASK.labels["Gr"]] = 0
    write_image(path, label, grid.spacing)
    assert validate_without_writing(thigh_copy) == [
        Problem(
            f"labelsTr/{CASE}.nii.gz",
            "empty-reference",
            "required structure(s) ['Gr'] have no voxel",
        )
    ]


def test_missing_splits(thigh_copy):
    (thigh_copy / "splits.json").unlink()
    assert validate_without_writing(thigh_copy) == [
        Problem(
            "splits.json",
            "splits-missing",
            f"missing; create it once with `bench data split {thigh_copy} --task nmd_thigh`",
        )
    ]


def test_case_missing_from_the_splits(thigh_copy):
    def drop(content):
        for fold in content["folds"]:
            fold["train"] = [c for c in fold["train"] if c != CASE]
            fold["test"] = [c for c in fold["test"] if c != CASE]

    edit_json(thigh_copy / "splits.json", drop)
    assert validate_without_writing(thigh_copy) == [
        Problem("splits.json", "case-not-in-splits", f"case '{CASE}' is in no fold")
    ]


def test_external_site_case_missing_from_the_external_set(thigh_copy):
    splits = json.loads((thigh_copy / "splits.json").read_text())
    external = splits["external"][0]
    edit_json(thigh_copy / "splits.json", lambda c: c["external"].remove(external))
    assert validate_without_writing(thigh_copy) == [
        Problem(
            "splits.json",
            "case-not-in-splits",
            f"case '{external}' (site B) is not in the external set",
        )
    ]


def test_unknown_case_in_the_splits(thigh_copy):
    edit_json(thigh_copy / "splits.json", lambda c: c["folds"][0]["test"].append("ghost"))
    assert validate_without_writing(thigh_copy) == [
        Problem(
            "splits.json", "unknown-case-in-splits", "names case(s) not in cases.csv: ['ghost']"
        )
    ]


@pytest.mark.parametrize("number", [2**31, -1, 1])
def test_fold_numbers_are_distinct_and_small(thigh_copy, number):
    """A fold number beyond 32 bits overflowed the store mid-run; a repeated one made two
    folds one."""

    def renumber(content):
        content["folds"][0]["fold"] = number

    edit_json(thigh_copy / "splits.json", renumber)
    (problem,) = validate_without_writing(thigh_copy)
    assert (problem.file, problem.rule) == ("splits.json", "splits-task")
    assert "must be distinct, 0 to 999" in problem.message


def test_one_subject_in_two_folds(thigh_copy):
    cases = pd.read_csv(thigh_copy / "cases.csv", dtype=str)
    repeated = cases[cases.duplicated("subject_id", keep=False) & (cases.site == "A")]
    subject = repeated.subject_id.iloc[0]
    first, second = repeated[repeated.subject_id == subject].case_id.iloc[:2]
    splits = json.loads((thigh_copy / "splits.json").read_text())
    home = next(f for f in splits["folds"] if first in f["test"])
    other = next(f for f in splits["folds"] if f is not home)
    # move the second scan of the subject into another fold's test set
    home["test"].remove(second)
    home["train"].append(second)
    other["train"].remove(second)
    other["test"].append(second)
    (thigh_copy / "splits.json").write_text(json.dumps(splits))
    problems = validate_without_writing(thigh_copy)
    assert (
        Problem(
            "splits.json",
            "subject-in-two-folds",
            f"subject '{subject}' is in the test sets of folds {min(home['fold'], other['fold'])} "
            f"and {max(home['fold'], other['fold'])}",
        )
        in problems
    )
    assert {p.rule for p in problems} == {"subject-in-two-folds", "train-test-overlap"}


def test_train_test_overlap_within_a_fold(thigh_copy):
    def leak(content):
        fold = content["folds"][0]
        fold["train"].append(fold["test"][0])

    edit_json(thigh_copy / "splits.json", leak)
    splits = json.loads((thigh_copy / "splits.json").read_text())
    subject = (
        pd.read_csv(thigh_copy / "cases.csv", dtype=str)
        .set_index("case_id")
        .subject_id[splits["folds"][0]["test"][0]]
    )
    assert validate_without_writing(thigh_copy) == [
        Problem(
            "splits.json",
            "train-test-overlap",
            f"fold 0: subject '{subject}' is in both train and test",
        )
    ]


def test_every_problem_is_reported_at_once(thigh_copy):
    (thigh_copy / "maps" / f"{CASE}_mtr.nii.gz").unlink()
    (thigh_copy / "labelsTr" / "s002v1.nii.gz").unlink()
    edit_json(thigh_copy / "splits.json", lambda c: c["folds"][0]["test"].append("ghost"))
    with pytest.raises(ValidationError) as info:
        Dataset(thigh_copy, TASK)
    assert [p.rule for p in info.value.problems] == [
        "missing-file",
        "missing-map",
        "unknown-case-in-splits",
    ]
    assert "labelsTr/s002v1.nii.gz: [missing-file]" in str(info.value)


def test_splits_are_created_once_and_never_silently_rewritten(thigh_copy):
    with pytest.raises(ContractError, match="already exists; splits are frozen"):
        create_splits(thigh_copy, TASK, seed=0)
    (thigh_copy / "splits.json").unlink()
    create_splits(thigh_copy, TASK, seed=0)
    assert read_splits(thigh_copy).fingerprint == Dataset(thigh_copy, TASK).split_fingerprint


def test_invalid_data_gets_no_splits_file(thigh_copy):
    (thigh_copy / "splits.json").unlink()
    (thigh_copy / "labelsTr" / f"{CASE}.nii.gz").unlink()
    with pytest.raises(ValidationError, match="missing-file"):
        create_splits(thigh_copy, TASK, seed=0)
    assert not (thigh_copy / "splits.json").exists()
    assert not list(thigh_copy.glob(".splits*"))


def test_splits_are_subject_grouped_deterministic_and_fingerprinted(smoke_thigh):
    from mskbench.tasks.contract import make_splits
    from mskbench.tasks.contract.validate import read_cases_csv

    cases = read_cases_csv(smoke_thigh / "cases.csv")
    a, b, c = make_splits(TASK, cases, 0), make_splits(TASK, cases, 0), make_splits(TASK, cases, 1)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.folds) == 10
    subject = dict(zip(cases.case_id, cases.subject_id, strict=True))
    for fold in a.folds:
        assert not {subject[x] for x in fold.test} & {subject[x] for x in fold.train}
    assert set(a.external) == set(cases.case_id[cases.site == "B"])


def test_data_fingerprint_covers_every_file_but_not_the_splits(thigh_copy):
    original = data_fingerprint(thigh_copy)
    edit_json(thigh_copy / "splits.json", lambda c: c.update(seed=99))
    assert data_fingerprint(thigh_copy) == original
    path = thigh_copy / "maps" / f"{CASE}_t2.nii.gz"
    array, grid = read_image(path)
    array[0, 0, 0] += 1.0
    write_image(path, array, grid.spacing)
    assert data_fingerprint(thigh_copy) != original


def test_nrrd_datasets_are_read_like_nifti(thigh_copy, tmp_path):
    nrrd = tmp_path / "nrrd"
    shutil.copytree(thigh_copy, nrrd)
    for path in list(nrrd.rglob("*.nii.gz")):
        array, grid = read_image(path, dtype=None)
        write_image(path.with_name(path.name.replace(".nii.gz", ".nrrd")), array, grid=grid)
        path.unlink()
    edit_json(nrrd / "dataset.json", lambda c: c.update(file_ending=".nrrd"))
    assert validate_dataset(nrrd, TASK) == []
    a, b = Dataset(thigh_copy, TASK).load(CASE), Dataset(nrrd, TASK).load(CASE)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert a.spacing == b.spacing and np.array_equal(a.maps["ff"], b.maps["ff"])


# -- extra binary masks (lumbar_paraspinal's intramuscular fat) ---------------------------
LUMBAR = get_task("lumbar_paraspinal")
LCASE = "s001_L23"


def test_the_lumbar_smoke_phantom_is_valid_and_loads_its_fat_mask(lumbar_copy):
    before = file_hashes(lumbar_copy)
    assert validate_dataset(lumbar_copy, LUMBAR) == []
    assert file_hashes(lumbar_copy) == before
    case = Dataset(lumbar_copy, LUMBAR).load(LCASE)
    assert set(case.masks) == {"fat"} and case.masks["fat"].dtype == bool
    assert case.masks["fat"].shape == case.label.shape and case.masks["fat"].any()
    assert Dataset(lumbar_copy, LUMBAR).load(LCASE, with_label=False).masks == {}


def test_missing_mask(lumbar_copy):
    (lumbar_copy / "masks" / f"{LCASE}_fat.nii.gz").unlink()
    assert validate_dataset(lumbar_copy, LUMBAR) == [
        Problem(
            f"masks/{LCASE}_fat.nii.gz",
            "missing-mask",
            "mask 'fat' required by task lumbar_paraspinal is missing",
        )
    ]


def test_mask_on_another_shape_or_spacing(lumbar_copy):
    path = lumbar_copy / "masks" / f"{LCASE}_fat.nii.gz"
    mask, grid = read_image(path, dtype=None)
    write_image(path, mask[:-1], grid.spacing)
    shape = mask.shape
    assert validate_dataset(lumbar_copy, LUMBAR) == [
        Problem(
            f"masks/{LCASE}_fat.nii.gz",
            "mask-grid",
            f"shape {(shape[0] - 1, shape[1])} differs from image shape {shape}",
        )
    ]
    write_image(path, mask, (grid.spacing[0] * 2, grid.spacing[1]))
    (problem,) = validate_dataset(lumbar_copy, LUMBAR)
    assert (problem.file, problem.rule) == (f"masks/{LCASE}_fat.nii.gz", "mask-grid")
    assert (
        problem.message.startswith(f"spacing ({grid.spacing[0] * 2}, ")
        and "differs from image" in problem.message
    )


def test_mask_value_other_than_zero_and_one(lumbar_copy):
    path = lumbar_copy / "masks" / f"{LCASE}_fat.nii.gz"
    mask, grid = read_image(path, dtype=None)
    mask[0, 0], mask[0, 1] = 2, 7
    write_image(path, mask, grid.spacing)
    assert validate_dataset(lumbar_copy, LUMBAR) == [
        Problem(
            f"masks/{LCASE}_fat.nii.gz",
            "mask-value",
            "value(s) [2, 7] are not 0 or 1; a mask is binary",
        )
    ]


def test_nan_in_a_mask(lumbar_copy):
    path = lumbar_copy / "masks" / f"{LCASE}_fat.nii.gz"
    mask, grid = read_image(path)
    mask[3, 4] = np.nan
    write_image(path, mask, grid.spacing)
    assert validate_dataset(lumbar_copy, LUMBAR) == [
        Problem(f"masks/{LCASE}_fat.nii.gz", "non-finite", "1 voxel(s) are NaN or infinite")
    ]


def test_a_float_mask_of_zeros_and_ones_is_valid(lumbar_copy):
    path = lumbar_copy / "masks" / f"{LCASE}_fat.nii.gz"
    mask, grid = read_image(path)
    write_image(path, mask.astype(np.float32), grid.spacing)
    assert validate_dataset(lumbar_copy, LUMBAR) == []


def test_datasets_of_tasks_without_masks_have_no_masks_folder(smoke_thigh, smoke_lumbar):
    assert not (smoke_thigh / "masks").exists()
    assert "masks" not in json.loads((smoke_thigh / "dataset.json").read_text())["mskbench"]
    assert json.loads((smoke_lumbar / "dataset.json").read_text())["mskbench"]["masks"] == ["fat"]
