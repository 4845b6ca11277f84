"""Seed 002's own per-case rows for `lumbar_paraspinal` (``TaskSpec.evaluator``).

`harness.evaluation` already scores the label map (Dice, ...) and the fat mask's pixels
inside the reference muscles (sensitivity = the seed's recall, specificity, PPV = its
precision, F1, kappa, AUROC and the pixel counts). This adds, per case:

* instances (seed Table 2): for every label, ``instances_ref`` and ``instances_matched``
  (reference connected components matched at IoU ≥ 0.75, `harness.metrics.instance_table`)
  and ``instance_recall``; and every predicted instance as ``pred_instance_<k>_score``
  (mean predicted probability of its label, 1.0 without probabilities) and
  ``pred_instance_<k>_tp`` (1 if matched), k = 1, 2, … by decreasing score — what the
  dataset-level COCO AP needs (`tasks.lumbar.tables`);
* rCSA (Table 4) per muscle: ``rcsa_ref``, ``rcsa_pred`` (predicted muscle / predicted
  disc), ``rcsa_ape`` (|pred − ref| / ref, %) and ``rcsa_se``; their means over cases
  are the MAPE and MSE (a zero reference gives NaN: excluded and counted);
* FI (Table 5) per muscle: ``fi_ref``; ``fi_pred``, ``fi_ape``, ``fi_se`` of the predicted
  fat inside the predicted muscle ("Seg model + FI model"); ``fi_refseg``,
  ``fi_refseg_ape``, ``fi_refseg_se`` of the predicted fat inside the reference muscle
  ("manual segmentation + FI model / thresholding"). A prediction without a label map is
  measured on the reference muscles: its ``fi_pred`` is its ``fi_refseg``. A muscle the
  model missed has FI 0 (no fat measured), so its error counts (APE 100 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mskbench.harness.metrics import cross_sectional_areas, instance_table
from mskbench.tasks.case import Case, Prediction
from mskbench.tasks.lumbar.spec import MUSCLE_LABELS
from mskbench.tasks.spec import TaskSpec

FAT = "fat"
COLUMNS = ["structure", "metric", "value"]


def errors(prefix: str, reference: float, predicted: float) -> dict[str, float]:
    """``<prefix>_ape`` (%, NaN for a zero or NaN reference) and ``<prefix>_se``."""
    ape = 100.0 * abs(predicted - reference) / abs(reference) if reference else np.nan
    return {f"{prefix}_ape": ape, f"{prefix}_se": (predicted - reference) ** 2}


def instance_rows(
    task: TaskSpec, reference: np.ndarray, prediction: Prediction
) -> list[tuple[str, str, float]]:
    """Instance counts, recall and the predicted instances' scores and matches per label."""
    probabilities = None
    if prediction.probabilities is not None:
        probabilities = {name: prediction.probabilities[v] for name, v in task.labels.items()}
    table = instance_table(reference, prediction.label, task.labels, probabilities)
    rows = []
    for name in task.structure_names:
        part = table[table["label"] == name]
        ref = part[part["kind"] == "reference"]
        n_ref, n_matched = len(ref), int(ref["matched"].sum())
        rows += [
            (name, "instances_ref", n_ref),
            (name, "instances_matched", n_matched),
            (name, "instance_recall", n_matched / n_ref if n_ref else np.nan),
        ]
        pred = part[part["kind"] == "prediction"].sort_values(
            "score", ascending=False, kind="stable"
        )
        for k, (score, matched) in enumerate(zip(pred["score"], pred["matched"], strict=True), 1):
            rows += [
                (name, f"pred_instance_{k}_score", float(score)),
                (name, f"pred_instance_{k}_tp", float(matched)),
            ]
    return rows


def evaluate_case(task: TaskSpec, case: Case, prediction: Prediction) -> pd.DataFrame:
    """Rows ``structure, metric, value`` of one case (see the module docstring)."""
    labels = task.labels
    reference = cross_sectional_areas(case.label, case.masks[FAT], case.spacing, labels)
    reference = reference.set_index("label")
    fat = prediction.masks.get(FAT)
    rows: list[tuple[str, str, float]] = []
    predicted = None
    if prediction.label is not None:
        rows += instance_rows(task, case.label, prediction)
        pred_fat = fat if fat is not None else np.zeros(case.label.shape, bool)
        predicted = cross_sectional_areas(prediction.label, pred_fat, case.spacing, labels)
        predicted = predicted.set_index("label")
    for muscle in MUSCLE_LABELS:
        values: dict[str, float] = {
            "rcsa_ref": reference.at[muscle, "rcsa"],
            "fi_ref": reference.at[muscle, "fi"],
        }
        if predicted is not None:
            values["rcsa_pred"] = predicted.at[muscle, "rcsa"]
            values |= errors("rcsa", values["rcsa_ref"], values["rcsa_pred"])
        if fat is not None:
            inside = case.label == labels[muscle]
            values["fi_refseg"] = float(np.asarray(fat)[inside].mean()) if inside.any() else np.nan
            values |= errors("fi_refseg", values["fi_ref"], values["fi_refseg"])
            if predicted is None:
                values["fi_pred"] = values["fi_refseg"]
            else:
                fi = predicted.at[muscle, "fi"]
                values["fi_pred"] = 0.0 if np.isnan(fi) else fi
            values |= errors("fi", values["fi_ref"], values["fi_pred"])
        rows += [(muscle, metric, float(value)) for metric, value in values.items()]
    return pd.DataFrame(rows, columns=COLUMNS)
