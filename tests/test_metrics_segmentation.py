"""`evaluate_segmentation`: one row per structure, columns and conventions of docs/metrics.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from mskbench.harness.metrics import evaluate_segmentation, image_diagonal_mm

LABELS = {"background": 0, "Ad": 1, "BF": 2, "Gr": 3, "RF": 4}
SPACING = (5.0, 0.8, 0.7)


@pytest.fixture
def case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    ref = np.zeros((6, 24, 28), np.uint8)
    ref[1:5, 2:10, 2:12], ref[1:5, 12:20, 2:12], ref[2:4, 4:12, 15:25] = 1, 2, 3
    pred = ndimage.shift(ref, (0, 1, 1), order=0)
    pred[0, 23, 27] = 3  # a stray voxel
    # label 4 (RF) is absent from both: both_empty
    maps = {"ff": rng.uniform(0, 60, ref.shape), "t2": rng.uniform(30, 50, ref.shape)}
    return ref, pred, maps


def test_one_row_per_structure_with_the_documented_columns(case):
    ref, pred, maps = case
    table = evaluate_segmentation(ref, pred, SPACING, LABELS, maps)
    assert table["label"].tolist() == ["Ad", "BF", "Gr", "RF"]
    assert table["value"].tolist() == [1, 2, 3, 4]
    required = {
        "label", "value", "dice", "iou", "precision", "recall", "hd95", "assd", "nsd",
        "ref_voxels", "pred_voxels", "ref_volume_cm3", "pred_volume_cm3", "volume_delta_cm3",
        "absent", "both_empty", "spurious", "image_diagonal_mm",
        "ff_ref", "ff_pred", "ff_delta", "t2_ref", "t2_pred", "t2_delta",
    }  # fmt: skip
    assert required <= set(table.columns)
    assert set(table.attrs) >= {"pixel_accuracy", "foreground_pixel_accuracy"}


def test_map_means_and_volumes_match_masked_numpy(case):
    ref, pred, maps = case
    table = evaluate_segmentation(ref, pred, SPACING, LABELS, maps).set_index("label")
    voxel_cm3 = np.prod(SPACING) / 1000
    for name, value in (("Ad", 1), ("BF", 2), ("Gr", 3)):
        row = table.loc[name]
        assert row["ff_ref"] == pytest.approx(maps["ff"][ref == value].mean())
        assert row["ff_pred"] == pytest.approx(maps["ff"][pred == value].mean())
        assert row["ff_delta"] == pytest.approx(row["ff_pred"] - row["ff_ref"])
        assert row["ref_volume_cm3"] == pytest.approx((ref == value).sum() * voxel_cm3)
        assert row["volume_delta_cm3"] == pytest.approx(
            ((pred == value).sum() - (ref == value).sum()) * voxel_cm3
        )
    assert np.isnan(table.loc["RF", "ff_ref"]) and np.isnan(table.loc["RF", "ff_delta"])


def test_both_empty_structure_is_flagged_and_perfect(case):
    ref, pred, _ = case
    row = evaluate_segmentation(ref, pred, SPACING, LABELS).set_index("label").loc["RF"]
    assert row["both_empty"] and not row["absent"] and not row["spurious"]
    assert (row["dice"], row["iou"], row["hd95"], row["assd"], row["nsd"]) == (1, 1, 0, 0, 1)


def test_absent_structure_has_dice_zero_and_nan_distances(case):
    ref, pred, _ = case
    pred[pred == 2] = 0
    row = evaluate_segmentation(ref, pred, SPACING, LABELS).set_index("label").loc["BF"]
    assert row["absent"] and row["dice"] == 0 and row["nsd"] == 0
    assert np.isnan(row["hd95"]) and np.isnan(row["assd"])


def test_spurious_structure_is_a_false_positive_with_dice_zero(case):
    ref, pred, _ = case
    pred[0, 0, 0:3] = 4
    row = evaluate_segmentation(ref, pred, SPACING, LABELS).set_index("label").loc["RF"]
    assert row["spurious"] and row["dice"] == 0 and row["precision"] == 0
    assert np.isnan(row["hd95"])


def test_2d_slices_have_no_volume_but_all_other_metrics():
    ref = np.zeros((20, 20), np.int64)
    ref[3:9, 3:9] = 1
    table = evaluate_segmentation(ref, ref, (0.5, 0.5), {"background": 0, "SSP": 1})
    assert table.loc[0, "dice"] == 1 and table.loc[0, "hd95"] == 0
    assert np.isnan(table.loc[0, "ref_volume_cm3"])
    assert table.attrs["pixel_accuracy"] == 1.0


def test_image_diagonal_is_the_field_of_view_diagonal():
    assert image_diagonal_mm((24, 320, 320), (10, 0.68, 0.68)) == pytest.approx(
        np.sqrt(240**2 + 2 * 217.6**2)
    )


@pytest.mark.parametrize(
    ("ref", "pred", "spacing", "match"),
    [
        (np.zeros((4, 4), int), np.zeros((4, 5), int), (1, 1), "shape"),
        (np.zeros((4, 4), int), np.zeros((4, 4), int), (1, 1, 1), "spacing"),
        (np.zeros((4, 4), float), np.zeros((4, 4), float), (1, 1), "integer"),
        (np.full((4, 4), 7), np.zeros((4, 4), int), (1, 1), r"values \[7\]"),
        (np.zeros((4, 4), int), np.full((4, 4), -1), (1, 1), "negative"),
    ],
)
def test_invalid_inputs_are_rejected_with_the_rule(ref, pred, spacing, match):
    with pytest.raises(ValueError, match=match):
        evaluate_segmentation(ref, pred, spacing, {"background": 0, "a": 1})


def test_rows_concatenate_into_a_long_table(case):
    ref, pred, _ = case
    tables = [evaluate_segmentation(ref, pred, SPACING, LABELS).assign(case=c) for c in "ab"]
    assert len(pd.concat(tables)) == 8
