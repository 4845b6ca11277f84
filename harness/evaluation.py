"""Score one case: the metrics engine's table turned into the store's long rows.

Rows are ``(case_id, split, structure, metric, value)``; image-level values (pixel
accuracy) use structure ``__case__``; flags (absent, both_empty, spurious) are 0/1.
Data-level attributes for strata — each structure's reference map means (``ff_ref``, ...)
and the case's cases.csv columns (site, group, side, ...) — become ``attributes`` rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import evaluate_segmentation
from tasks.contract.dataset import Case
from tasks.spec import TaskSpec

CASE_LEVEL = "__case__"
IMAGE_LEVEL_METRICS = ("pixel_accuracy", "foreground_pixel_accuracy")
_NOT_METRICS = {"label", "value"}
_ID_COLUMNS = {"case_id", "subject_id"}


def case_metric_rows(
    task: TaskSpec, case: Case, prediction: np.ndarray, split: str
) -> pd.DataFrame:
    """Long metric rows of one predicted label map against the case's reference."""
    if prediction.shape != case.label.shape:
        raise ValueError(
            f"case {case.case_id}: prediction shape {prediction.shape} != reference {case.label.shape}"
        )
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
    rows = pd.concat([long, case_level], ignore_index=True)
    rows["value"] = rows["value"].astype(float)
    rows.insert(0, "case_id", case.case_id)
    rows.insert(1, "split", split)
    return rows


def attribute_rows(task: TaskSpec, case: Case, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """Per-structure reference map means and per-case table columns of ``case``."""
    refs = metric_rows[
        metric_rows.metric.isin([f"{m}_ref" for m in task.map_names] + ["ref_voxels"])
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
