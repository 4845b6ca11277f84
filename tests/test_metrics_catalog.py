"""Every metric column the engine writes is in the catalogue, with a direction."""

from __future__ import annotations

import numpy as np
from mskbench.harness.metrics import (
    METRICS,
    classify_cases,
    cross_sectional_areas,
    detection_summary,
    evaluate_segmentation,
    instance_table,
    metric_info,
    percentage_errors,
)

NOT_METRICS = {"label", "value", "ref_voxels", "pred_voxels", "absent", "both_empty", "spurious",
               "image_diagonal_mm", "structure", "n_reference", "n_prediction", "n",
               "n_zero_reference"}  # fmt: skip


def produced_columns() -> set[str]:
    ref = np.zeros((4, 6, 6), np.uint8)
    ref[1:3, 1:4, 1:4] = 1
    maps = {m: np.ones(ref.shape) for m in ("ff", "mtr", "t2")}
    labels = {"background": 0, "IVD": 1}
    columns = set(evaluate_segmentation(ref, ref, (1, 1, 1), labels, maps).columns)
    columns |= set(evaluate_segmentation(ref, ref, (1, 1, 1), labels).attrs) - {
        "nsd_tolerance_mm",
        "spacing_mm",
    }
    columns |= set(cross_sectional_areas(ref[1], ref[1] > 0, (1, 1), labels).columns)
    columns |= set(percentage_errors([1.0], [1.0]))
    columns |= set(classify_cases([0, 1], [0.2, 0.8]))
    columns |= set(detection_summary(instance_table(ref[1], ref[1], labels)).columns)
    return columns - NOT_METRICS


def test_every_produced_metric_is_catalogued():
    missing = produced_columns() - set(METRICS)
    assert not missing


def test_catalogue_keeps_the_names_task_specs_use():
    for name in ("dice", "iou", "precision", "recall", "hd95", "assd", "nsd", "pixel_accuracy",
                 "volume_delta_cm3", "ff_delta", "mtr_delta", "t2_delta", "absence_rate",
                 "outlier_rate"):  # fmt: skip
        assert metric_info(name).name == name
    assert metric_info("hd95").higher_is_better is False
    assert metric_info("ff_delta").higher_is_better is None
