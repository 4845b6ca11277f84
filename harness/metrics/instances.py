"""Instance detection (seed 002): connected components matched at IoU ≥ 0.75, recall and AP.

* Instances are the connected components of each structure's mask, full connectivity
  (8-neighbourhood in 2D, 26 in 3D), so a structure drawn on both sides (or split in
  pieces) gives several instances.
* A predicted instance's score is the mean predicted probability of its label over its
  pixels when probabilities are given, else 1.0 (a label map carries no confidence).
* Matching as in the COCO evaluator: predictions in decreasing score each take the
  unmatched reference instance of the same label with the highest IoU ≥ the threshold.
* ``instance_recall`` = matched reference instances / reference instances.
* ``average_precision``: COCO 101-point interpolation (mmdetection, which seed 002 used,
  evaluates with the COCO API): the mean over recall levels r = 0, 0.01, …, 1 of the
  highest precision at any recall ≥ r (0 where none). The precision–recall curve is taken
  at distinct score thresholds (tied scores form one operating point, as in scikit-learn;
  COCO would break ties by detection order, which makes AP depend on input order).
* Structure level: labels named ``<structure>_L``/``_R`` (or ``_left``/``_right``) are
  pooled into ``<structure>``, so left and right multifidus count as one structure, as in
  the seed's Table 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from mskbench.harness.metrics.segmentation import structure_values

RECALL_LEVELS = np.linspace(0.0, 1.0, 101)
_SIDE = re.compile(r"_(L|R|left|right)$", re.IGNORECASE)


def structure_of(label: str) -> str:
    """The structure a label belongs to, with a left/right suffix removed."""
    return _SIDE.sub("", label)


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask (full connectivity): ids 1..n, 0 outside."""
    structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim)
    labelled, n = ndimage.label(mask, structure=structure)
    return labelled, int(n)


def match_instances(
    reference: np.ndarray,
    prediction: np.ndarray,
    probability: np.ndarray | None = None,
    iou_threshold: float = 0.75,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match the instances of two boolean masks of one structure.

    Returns ``(reference_matched, prediction_scores, prediction_matched)``: one bool per
    reference instance, and one score and bool per predicted instance.
    """
    ref_ids, n_ref = components(reference)
    pred_ids, n_pred = components(prediction)
    union = np.flatnonzero((ref_ids != 0) | (pred_ids != 0))
    joint = ref_ids.ravel()[union].astype(np.intp) * (n_pred + 1) + pred_ids.ravel()[union]
    overlap = np.bincount(joint, minlength=(n_ref + 1) * (n_pred + 1)).reshape(
        n_ref + 1, n_pred + 1
    )
    ref_size, pred_size = overlap.sum(axis=1)[1:], overlap.sum(axis=0)[1:]
    inter = overlap[1:, 1:]
    iou = inter / (ref_size[:, None] + pred_size[None, :] - inter)
    if probability is None:
        scores = np.ones(n_pred)
    else:
        sums = np.bincount(
            pred_ids.ravel(), weights=np.asarray(probability, dtype=np.float64).ravel()
        )
        scores = sums[1 : n_pred + 1] / pred_size
    ref_matched = np.zeros(n_ref, dtype=bool)
    pred_matched = np.zeros(n_pred, dtype=bool)
    for p in np.argsort(-scores, kind="stable"):
        candidates = np.where(ref_matched | (iou[:, p] < iou_threshold), -1.0, iou[:, p])
        if candidates.size and candidates.max() >= 0:
            ref_matched[int(candidates.argmax())] = True
            pred_matched[p] = True
    return ref_matched, scores, pred_matched


def instance_table(
    reference: np.ndarray,
    prediction: np.ndarray,
    labels: Mapping[str, int],
    probabilities: Mapping[str, np.ndarray] | None = None,
    iou_threshold: float = 0.75,
) -> pd.DataFrame:
    """One row per instance of one case: label, structure, kind ('reference' or
    'prediction'), score (predictions), matched. ``probabilities`` maps a label name to its
    predicted probability map (optional)."""
    rows = []
    for name, value in structure_values(labels).items():
        prob = None if probabilities is None else probabilities.get(name)
        ref_matched, scores, pred_matched = match_instances(
            reference == value, prediction == value, prob, iou_threshold
        )
        structure = structure_of(name)
        rows += [(name, structure, "reference", np.nan, m) for m in ref_matched]
        rows += [
            (name, structure, "prediction", s, m) for s, m in zip(scores, pred_matched, strict=True)
        ]
    return pd.DataFrame(rows, columns=["label", "structure", "kind", "score", "matched"])


def average_precision(scores: Sequence[float], matched: Sequence[bool], n_reference: int) -> float:
    """COCO 101-point interpolated AP of detections (``scores``, ``matched`` = true positive)
    against ``n_reference`` reference instances; fraction, higher is better. NaN when
    there is no reference instance (COCO skips such categories)."""
    if n_reference == 0:
        return float("nan")
    s = np.asarray(scores, dtype=np.float64)
    tp = np.asarray(matched, dtype=bool)
    if s.size == 0:
        return 0.0
    order = np.argsort(-s, kind="stable")
    s, tp = s[order], tp[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    tp_cum = np.cumsum(tp)[last_of_tie]
    n_called = (np.arange(1, s.size + 1))[last_of_tie]
    recall = tp_cum / n_reference
    precision = np.maximum.accumulate((tp_cum / n_called)[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_LEVELS, side="left")
    interpolated = np.where(at < precision.size, precision[np.minimum(at, precision.size - 1)], 0.0)
    return float(interpolated.mean())


def detection_summary(table: pd.DataFrame, by: str = "structure") -> pd.DataFrame:
    """Instance recall and AP per group (``structure`` or ``label``) over the concatenated
    `instance_table` rows of many cases, plus a row ``all``: recall pooled over all
    reference instances, AP the mean over groups with a reference (COCO mAP)."""
    rows = []
    for group, part in table.groupby(by, sort=False):
        ref = part[part["kind"] == "reference"]
        pred = part[part["kind"] == "prediction"]
        rows.append(
            {
                by: group,
                "n_reference": len(ref),
                "n_prediction": len(pred),
                "instance_recall": float(ref["matched"].mean()) if len(ref) else float("nan"),
                "average_precision": average_precision(pred["score"], pred["matched"], len(ref)),
            }
        )
    summary = pd.DataFrame(rows)
    ref = table[table["kind"] == "reference"]
    total = {
        by: "all",
        "n_reference": len(ref),
        "n_prediction": int((table["kind"] == "prediction").sum()),
        "instance_recall": float(ref["matched"].mean()) if len(ref) else float("nan"),
        "average_precision": float(summary["average_precision"].mean()),
    }
    return pd.concat([summary, pd.DataFrame([total])], ignore_index=True)
