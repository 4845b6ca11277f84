"""Every metric column the engine writes is in the catalogue, with a direction."""

from __future__ import annotations

import numpy as np
import pytest

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
from mskbench.tasks import get_task

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
    """Generic names in the harness's catalogue; the map metrics in the catalogue of a task
    that declares those maps (nmd_thigh: ff, mtr, t2)."""
    assert not produced_columns() - set(get_task("nmd_thigh").catalogue)
    map_metrics = {f"{m}_{kind}" for m in ("ff", "mtr", "t2") for kind in ("ref", "pred", "delta")}
    assert produced_columns() - set(METRICS) == map_metrics


def test_catalogue_keeps_the_names_task_specs_use():
    for name in ("dice", "iou", "precision", "recall", "hd95", "assd", "nsd", "pixel_accuracy",
                 "volume_delta_cm3", "absence_rate", "outlier_rate", "qwk"):  # fmt: skip
        assert metric_info(name).name == name
    assert metric_info("hd95").higher_is_better is False
    thigh = get_task("nmd_thigh")
    assert thigh.metric("ff_delta").higher_is_better is None
    assert thigh.metric("ff_delta").unit == "%" and thigh.metric("t2_ref").unit == "ms"


def test_task_specific_names_are_declared_by_their_task_not_the_harness():
    for name in ("ff_delta", "rcsa_ape", "fi_refseg_ape"):
        assert name not in METRICS
    lumbar = get_task("lumbar_paraspinal")
    assert lumbar.metric("fi_refseg_ape").higher_is_better is False
    assert "ff_delta" not in lumbar.catalogue and "rcsa_ape" not in get_task("nmd_leg").catalogue
    with pytest.raises(KeyError, match="task nmd_leg knows no metric 'rcsa_ape'"):
        get_task("nmd_leg").metric("rcsa_ape")
