"""Score one case: the metrics engine's table turned into the store's long rows.

Rows are ``(case_id, split, structure, metric, value)``; image-level values (pixel
accuracy) use structure ``__case__``; flags (absent, both_empty, spurious) are 0/1.
Three generic parts, each present when the prediction and the task have it:

- segmentation rows of the predicted label map (`evaluate_segmentation`);
- for each extra mask of the task (`MaskSpec`) that the prediction holds: pixel scores
  inside the mask's ``within`` structures of the *reference* label map (all pixels when
  it names none) — `fat_pixel_metrics`: sensitivity (recall), specificity, PPV
  (precision), NPV, accuracy, F1, kappa, AUROC (NaN without a probability map) — plus the
  pixel counts ``tp``, ``fp``, ``fn``, ``tn`` so pooled scores can be computed; the
  structure is the mask's name;
- the task's own rows from its ``evaluator`` (``TaskSpec.evaluator``).

Data-level attributes for strata — each structure's reference values (every metric named
``*_ref``: map means ``ff_ref``, a task evaluator's ``fi_ref``), ``ref_voxels``, and the
case's cases.csv columns (site, group, side, level, ...) — become ``attributes`` rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mskbench.harness.metrics import evaluate_segmentation, fat_pixel_metrics
from mskbench.harness.models.protocol import Prediction
from mskbench.harness.registry import load_reference
from mskbench.tasks.contract.dataset import Case
from mskbench.tasks.spec import MaskSpec, TaskSpec

CASE_LEVEL = "__case__"
IMAGE_LEVEL_METRICS = ("pixel_accuracy", "foreground_pixel_accuracy")
#: Pixel counts stored beside each mask's scores (pooled scores come from their sums).
MASK_COUNTS = ("tp", "fp", "fn", "tn")
_NOT_METRICS = {"label", "value"}
_ID_COLUMNS = {"case_id", "subject_id"}
_ROW_COLUMNS = ["structure", "metric", "value"]


def check_prediction(task: TaskSpec, case: Case, prediction: Prediction) -> None:
    """Raise ``ValueError`` naming the case when ``prediction`` does not fit the task/case."""
    where = f"case {case.case_id}"
    shape = case.label.shape
    if prediction.label is None and not prediction.masks:
        raise ValueError(f"{where}: the prediction holds neither a label map nor a mask")
    if prediction.label is not None and prediction.label.shape != shape:
        raise ValueError(f"{where}: prediction shape {prediction.label.shape} != reference {shape}")
    unknown = sorted(set(prediction.masks) - set(task.mask_names))
    if unknown:
        raise ValueError(
            f"{where}: predicted mask(s) {unknown} are not masks of task {task.name} "
            f"({list(task.mask_names)})"
        )
    for kind, arrays in (
        ("mask", prediction.masks),
        ("mask probability", prediction.mask_probabilities),
    ):
        for name, array in arrays.items():
            if array.shape != shape:
                raise ValueError(
                    f"{where}: predicted {kind} {name!r} has shape {array.shape}, reference {shape}"
                )


def case_metric_rows(
    task: TaskSpec, case: Case, prediction: Prediction | np.ndarray, split: str
) -> pd.DataFrame:
    """Long metric rows of one prediction (a `Prediction`, or a bare label map) against the
    case's reference (see the module docstring)."""
    if not isinstance(prediction, Prediction):
        prediction = Prediction(label=np.asarray(prediction))
    check_prediction(task, case, prediction)
    parts = []
    if prediction.label is not None:
        parts.append(_segmentation_rows(task, case, prediction.label))
    parts += [
        _mask_rows(mask, task, case, prediction)
        for mask in task.masks
        if mask.name in prediction.masks
    ]
    if task.evaluator is not None:
        extra = load_reference(task.evaluator)(task, case, prediction)
        parts.append(pd.DataFrame(extra, columns=_ROW_COLUMNS))
    rows = pd.concat(parts, ignore_index=True)
    rows["value"] = rows["value"].astype(float)
    rows.insert(0, "case_id", case.case_id)
    rows.insert(1, "split", split)
    return rows


def _mask_rows(mask: MaskSpec, task: TaskSpec, case: Case, prediction: Prediction) -> pd.DataFrame:
    """Pixel scores of one predicted mask inside its ``within`` structures of the reference."""
    if mask.name not in case.masks:
        raise ValueError(f"case {case.case_id}: no reference mask {mask.name!r} was loaded")
    reference = case.masks[mask.name].astype(bool)
    predicted = np.asarray(prediction.masks[mask.name]).astype(bool)
    if mask.within:
        region = np.isin(case.label, [task.labels[name] for name in mask.within])
    else:
        region = np.ones(reference.shape, dtype=bool)
    scores = fat_pixel_metrics(
        reference, predicted, region, prediction.mask_probabilities.get(mask.name)
    )
    ref, pred = reference[region], predicted[region]
    counts = {
        "tp": np.count_nonzero(ref & pred),
        "fp": np.count_nonzero(~ref & pred),
        "fn": np.count_nonzero(ref & ~pred),
        "tn": np.count_nonzero(~ref & ~pred),
    }
    values = {**scores, **counts}
    return pd.DataFrame(
        {"structure": mask.name, "metric": list(values), "value": list(values.values())}
    )


def _segmentation_rows(task: TaskSpec, case: Case, prediction: np.ndarray) -> pd.DataFrame:
    """Rows of `evaluate_segmentation` plus the image-level pixel accuracies."""
    table = evaluate_segmentation(
        case.label,
        prediction,
        case.spacing,
        task.labels,
        maps=case.maps or None,
        nsd_tolerance_mm=task.nsd_tolerance_mm,
    )
    metric_columns = [c for c in table.columns if c not in _NOT_METRICS]
    numeric = table[metric_columns].astype(float).set_index(table["label"].rename("structure"))
    long = (
        numeric.stack(future_stack=True)
        .rename("value")
        .reset_index()
        .rename(columns={"level_1": "metric"})
    )
    image_level = {k: table.attrs[k] for k in IMAGE_LEVEL_METRICS}
    case_level = pd.DataFrame(
        {"structure": CASE_LEVEL, "metric": list(image_level), "value": list(image_level.values())}
    )
    return pd.concat([long, case_level], ignore_index=True)


def attribute_rows(task: TaskSpec, case: Case, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """Per-structure reference values (``*_ref``, ``ref_voxels``) and per-case table columns
    of ``case``."""
    refs = metric_rows[
        metric_rows.metric.str.endswith("_ref") | (metric_rows.metric == "ref_voxels")
    ]
    rows: list[dict[str, Any]] = [
        {
            "case_id": case.case_id,
            "structure": r.structure,
            "attribute": r.metric,
            "value_num": r.value,
            "value_text": None,
        }
        for r in refs.itertuples()
    ]
    for key, value in case.attributes.items():
        if key in _ID_COLUMNS:
            continue
        numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        )
        rows.append(
            {
                "case_id": case.case_id,
                "structure": CASE_LEVEL,
                "attribute": key,
                "value_num": float(value) if numeric else None,
                "value_text": None if numeric else str(value),
            }
        )
    return pd.DataFrame(
        rows, columns=["case_id", "structure", "attribute", "value_num", "value_text"]
    )
