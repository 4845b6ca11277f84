"""The catalogue of metric names: direction, unit and a one-line definition.

Pure Python (no numpy), so task specs can validate their metric lists at import time.
Names are the column names the metrics engine writes (``dice``, ``hd95``, ...). Names that
belong to one task are declared by that task (`mskbench.tasks.spec.TaskSpec.catalogue`):
its maps' ``<map>_ref``, ``<map>_pred`` and ``<map>_delta`` (prediction minus reference,
`map_metrics`) and its own ``task_metrics`` (seed 002's rCSA and FI errors). Rates (absence, outlier) are in %, as the seeds report them;
ratios between 0 and 1 are "fraction".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """What a metric name means.

    ``higher_is_better`` is None for signed errors (biases) and for descriptive values
    (volumes, map means), whose ideal is 0 or none: for those, summaries report the signed
    mean and outlier fences use the absolute value.
    """

    name: str
    higher_is_better: bool | None
    unit: str
    description: str


def _m(name: str, higher: bool | None, unit: str, description: str) -> MetricInfo:
    return MetricInfo(name, higher, unit, description)


def map_metrics(name: str, unit: str) -> list[MetricInfo]:
    """``<map>_ref``, ``<map>_pred`` and ``<map>_delta`` of a task's quantitative map (the
    metrics engine's biomarker columns; unit of the map; signed, so no direction)."""
    title = name.upper()
    return [
        _m(f"{name}_ref", None, unit, f"mean {title} inside the reference mask"),
        _m(f"{name}_pred", None, unit, f"mean {title} inside the predicted mask"),
        _m(f"{name}_delta", None, unit, f"mean {title} in prediction minus in reference"),
    ]


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        # per structure, per case (harness.metrics.evaluate_segmentation)
        _m("dice", True, "fraction", "Dice similarity coefficient 2|A∩B|/(|A|+|B|)"),
        _m("iou", True, "fraction", "Intersection over union |A∩B|/|A∪B|"),
        _m("precision", True, "fraction", "|A∩B|/|B| (B = prediction)"),
        _m("recall", True, "fraction", "|A∩B|/|A| (A = reference)"),
        _m("hd95", False, "mm", "95th-percentile Hausdorff distance (max of directed)"),
        _m("assd", False, "mm", "average symmetric surface distance"),
        _m("nsd", True, "fraction", "normalised surface Dice at the task's tolerance"),
        _m("ref_volume_cm3", None, "cm³", "reference structure volume"),
        _m("pred_volume_cm3", None, "cm³", "predicted structure volume"),
        _m("volume_delta_cm3", None, "cm³", "predicted minus reference volume"),
        # per case, whole label map
        _m("pixel_accuracy", True, "fraction", "share of correctly labelled pixels"),
        _m(
            "foreground_pixel_accuracy",
            True,
            "fraction",
            "share of correctly labelled pixels among those foreground in reference or prediction",
        ),
        # across cases
        _m("absence_rate", False, "%", "share of reference structures with no predicted voxel"),
        _m("outlier_rate", False, "%", "share of per-case values beyond the Tukey fence"),
        # instances (seed 002)
        _m(
            "instance_recall",
            True,
            "fraction",
            "share of reference instances matched at IoU ≥ 0.75",
        ),
        _m("average_precision", True, "fraction", "COCO 101-point AP at IoU ≥ 0.75"),
        # derived quantities (seed 002; harness.metrics.derived)
        _m("tcsa_mm2", None, "mm²", "total cross-sectional area of a structure"),
        _m("fcsa_mm2", None, "mm²", "fat cross-sectional area inside a structure"),
        _m("fi", None, "fraction", "fat infiltration fCSA / tCSA"),
        _m("rcsa", None, "fraction", "relative CSA: muscle tCSA / disc tCSA"),
        _m("mape", False, "%", "mean absolute percentage error, zero references excluded"),
        _m("mse", False, "unit²", "mean squared error, zero references excluded"),
        # binary classification of cases (seeds 000, 001, 004) and of fat pixels (seed 002)
        _m("auroc", True, "fraction", "area under the ROC curve"),
        _m("accuracy", True, "fraction", "(TP + TN) / N"),
        _m("sensitivity", True, "fraction", "TP / (TP + FN), the seeds' 'recall'"),
        _m("specificity", True, "fraction", "TN / (TN + FP)"),
        _m("ppv", True, "fraction", "TP / (TP + FP), the seeds' 'precision'"),
        _m("npv", True, "fraction", "TN / (TN + FN)"),
        _m("f1", True, "fraction", "2 TP / (2 TP + FP + FN)"),
        _m("kappa", True, "fraction", "Cohen's kappa (chance-corrected agreement)"),
        # ordinal and multiclass classification of cases
        _m("qwk", True, "fraction", "quadratic-weighted Cohen's kappa of ordinal grades"),
        _m("mae_classes", False, "classes", "mean absolute error in ordinal grade steps"),
        _m("macro_auroc", True, "fraction", "mean one-vs-rest AUROC over the classes"),
    ]
}


def metric_info(name: str) -> MetricInfo:
    """Look up a metric; the error lists the known names."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}") from None
