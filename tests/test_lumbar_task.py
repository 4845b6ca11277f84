"""`lumbar_paraspinal` carries seed 002's protocol, labels, fat mask and Tables 2-5; the new
TaskSpec fields (masks, evaluator, tables) are validated at construction."""

from __future__ import annotations

import dataclasses

import pytest

from mskbench.harness.summary import published_rows
from mskbench.tasks import MaskTarget, TaskSpecError, get_task, task_names
from mskbench.tasks.lumbar.spec import LUMBAR_PARASPINAL

TASK = LUMBAR_PARASPINAL


def test_registry_lists_the_lumbar_task():
    assert "lumbar_paraspinal" in task_names()
    assert get_task("lumbar_paraspinal") is TASK


def test_labels_are_the_seeds_structures_with_left_right_suffixes():
    assert TASK.structure_names == (
        "IVD", "VA", "PM_L", "PM_R", "QL_L", "QL_R", "IL_L", "IL_R", "LO_L", "LO_R", "MF_L", "MF_R",
    )  # fmt: skip
    assert TASK.spatial_dims == 2 and TASK.channels == ("T2w",)
    assert TASK.case_columns == ("level",)


def test_the_fat_mask_is_a_second_target_scored_inside_the_muscles():
    (fat,) = TASK.masks
    assert fat.name == "fat" and TASK.mask_names == ("fat",)
    assert fat.within == TASK.structure_names[2:]
    assert TASK.evaluator == "mskbench.tasks.lumbar.evaluator:evaluate_case"
    assert TASK.tables == "mskbench.tasks.lumbar.tables:tables"


def test_protocol_is_a_7_3_subject_split_plus_an_external_site():
    split = TASK.split
    assert (split.kind, split.group_by) == ("holdout", "subject_id")
    assert split.test_fraction == pytest.approx(0.3, abs=0.001)
    assert split.external_site == "B"
    paper = TASK.profile("paper").phantom
    assert (paper["n_subjects"], paper["n_external"]) == (417, 50)
    assert paper["shape"] == (512, 512) and paper["shape"][0] * paper["pixel_mm"] == 200.0


def test_published_numbers_are_tables_2_to_5_of_the_seed():
    by = {(p.source, p.model, p.metric, p.structure, p.subset): p for p in TASK.published}
    total = by[("Table 2, internal test set", "lumbar_dual", "dice", "all", ())]
    assert (total.value, total.sd, total.group) == (0.92, 0.10, "test")
    lo = by[("Table 2, external test set", "lumbar_dual", "instance_recall", "LO", ())]
    assert lo.value == pytest.approx(0.7346) and lo.group == "external"
    rater = by[("Table 2, internal test set", "rater", "dice", "VA", ())]
    assert (rater.value, rater.sd) == (0.95, 0.06)
    ppv = by[("Table 3, external test set", "lumbar_dual", "ppv", "all", ())]
    assert ppv.value == pytest.approx(0.5767)
    mf = by[("Table 4, internal test set", "reference", "rcsa_ref", "MF", (("level", "L4/L5"),))]
    assert (mf.value, mf.sd) == (0.52, 0.08)
    ql = by[("Table 5, internal test set", "lumbar_threshold", "fi_refseg_ape", "QL", ())]
    assert ql.value == 57.26
    seg_fi = by[("Table 5, external test set", "lumbar_dual", "fi_ape", "LO", ())]
    assert seg_fi.value == 49.42
    assert all(p.note == "published, other data" for p in TASK.published)


def test_summary_rows_keep_only_whole_cohort_numbers_of_the_split():
    rows = published_rows(TASK, split="test")
    assert set(rows["reference"].str.split(", ").str[-2]) == {"Table 2", "Table 3"}
    assert not rows["reference"].str.contains("external").any()
    dice = rows[(rows["metric"] == "dice") & (rows["model"] == "lumbar_dual")]
    assert dice["mean"].tolist() == [0.92]  # Table 2 "Total", not the per-structure rows
    external = published_rows(TASK, split="external")
    assert external.loc[external["metric"] == "ppv", "mean"].tolist() == [pytest.approx(0.5767)]
    assert len(published_rows(TASK)) == len(rows) + len(external)


def _masks(*masks):
    seg = TASK.segmentation
    return {"targets": (seg, *masks)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: _masks(MaskTarget("background", "x")), "mask name 'background' is also a label name"),
        (lambda: _masks(MaskTarget("Fat", "x")), "mask name 'Fat' must be lower_snake_case"),
        (lambda: _masks(MaskTarget("fat", "x"), MaskTarget("fat", "y")), "duplicate target names"),
        (lambda: _masks(MaskTarget("fat", "x", within=("XX",))), r"within \['XX'\], not in the label map"),
        (lambda: {"evaluator": "mskbench.tasks.lumbar.evaluator.evaluate_case"}, "must be a 'module:function' reference"),
        (lambda: {"tables": "tables"}, "must be a 'module:function' reference"),
        (lambda: {"evaluator": None}, "stratum G20 uses map 'fi' the task lacks"),
    ],
)  # fmt: skip
def test_invalid_masks_and_references_fail_at_construction(change, message):
    with pytest.raises(TaskSpecError, match=message):
        dataclasses.replace(TASK, **change())
