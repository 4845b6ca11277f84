"""Overlap metrics from one multi-label confusion count per case.

The confusion matrix ``C[r, p]`` counts voxels with reference value ``r`` and predicted
value ``p``; it is built with a single ``np.bincount`` over ``r * n + p`` (`JointLabels`) and every
overlap metric of every label (Dice, IoU, precision, recall, pixel accuracy) is read
from it, never from per-label masks. All values are fractions in [0, 1], higher is better.

Empty-mask conventions (docs/metrics.md), for a label with reference voxel
count ``|A|`` and predicted count ``|B|``:

=====================  ======  ======  =========  ======
case                   Dice    IoU     precision  recall
=====================  ======  ======  =========  ======
both empty             1       1       1          1
reference empty only   0       0       0          0
prediction empty only  0       0       0          0
=====================  ======  ======  =========  ======

Precision (recall) with an empty prediction (reference) is 0/0; mskbench scores a missed
or spurious structure as a failure (0), and perfect agreement on absence as 1. This equals
scikit-learn with ``zero_division=1`` when both masks are empty and ``zero_division=0``
otherwise. MONAI's ``DiceMetric(ignore_empty=True)`` (its default) returns NaN when the
reference is empty, which would hide false-positive structures; ``ignore_empty=False``
matches mskbench. MONAI's ``ConfusionMatrixMetric`` returns NaN for 0/0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class JointLabels:
    """The joint (reference, prediction) label of every voxel that is foreground in either.

    ``joint = reference * n_values + prediction`` is kept only for the voxels with a non-zero
    label in the reference or the prediction; voxels that are background in both are only
    counted. One ``np.bincount`` over ``joint`` gives the confusion matrix, and one weighted
    ``np.bincount`` per quantitative map gives its sums inside every label.
    """

    def __init__(self, reference: np.ndarray, prediction: np.ndarray, n_values: int) -> None:
        ref, pred = reference.ravel(), prediction.ravel()
        self.voxels = np.flatnonzero((ref != 0) | (pred != 0))
        self.joint = ref[self.voxels].astype(np.intp) * n_values + pred[self.voxels]
        self.n_values = n_values
        self.n_background = ref.size - self.voxels.size

    def confusion(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Confusion matrix, rows = reference value, columns = predicted value.

        Without ``weights``: voxel counts (int64). With ``weights`` (an array shaped like
        the label maps): the sum of the weights in each cell, so that row ``v`` sums to the
        weights' sum inside reference label ``v`` and column ``v`` inside predicted label
        ``v``, for ``v > 0``; the background/background cell is left at 0.
        """
        n = self.n_values
        if weights is None:
            counts = np.bincount(self.joint, minlength=n * n).reshape(n, n)
            counts[0, 0] = self.n_background
            return counts
        w = np.asarray(weights, dtype=np.float64).ravel()[self.voxels]
        return np.bincount(self.joint, weights=w, minlength=n * n).reshape(n, n)


def _ratio(num: np.ndarray, den: np.ndarray, both_empty: np.ndarray) -> np.ndarray:
    """num / den where den > 0; 1 where both masks are empty; 0 otherwise (one empty)."""
    out = np.divide(num, den, out=np.zeros(num.shape, dtype=np.float64), where=den > 0)
    out[both_empty] = 1.0
    return out


def overlap_metrics(confusion: np.ndarray, values: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-label overlap metrics read from a confusion matrix.

    Returns arrays aligned with ``values``: ``dice`` = 2|A∩B|/(|A|+|B|),
    ``iou`` = |A∩B|/|A∪B|, ``precision`` = |A∩B|/|B|, ``recall`` = |A∩B|/|A|
    (A = reference, B = prediction; fractions, higher is better) and the voxel counts
    ``ref_voxels`` = |A|, ``pred_voxels`` = |B|. Empty masks: see the module docstring.
    """
    v = np.asarray(values, dtype=np.intp)
    tp = confusion[v, v].astype(np.float64)
    ref = confusion.sum(axis=1)[v]
    pred = confusion.sum(axis=0)[v]
    both_empty = (ref == 0) & (pred == 0)
    return {
        "dice": _ratio(2.0 * tp, (ref + pred).astype(np.float64), both_empty),
        "iou": _ratio(tp, (ref + pred - tp).astype(np.float64), both_empty),
        "precision": _ratio(tp, pred.astype(np.float64), both_empty),
        "recall": _ratio(tp, ref.astype(np.float64), both_empty),
        "ref_voxels": ref,
        "pred_voxels": pred,
    }


def pixel_accuracy(confusion: np.ndarray) -> float:
    """Share of all voxels whose predicted label equals the reference (background included).

    Fraction, higher is better; seed 000 reports it. An image is never empty, so it is
    always defined. Dominated by background in small structures (0.9977 in seed 000).
    """
    return float(np.trace(confusion) / confusion.sum())


def foreground_pixel_accuracy(confusion: np.ndarray) -> float:
    """Share of correctly labelled voxels among voxels that are foreground (non-zero) in the
    reference or the prediction.

    Fraction, higher is better. Unlike :func:`pixel_accuracy` it ignores the agreed
    background, so it is not inflated by image size; for a single-label task it equals the
    foreground IoU. Both label maps all background: 1.0 (perfect agreement on absence).
    """
    considered = confusion.sum() - confusion[0, 0]
    if considered == 0:
        return 1.0
    return float((np.trace(confusion) - confusion[0, 0]) / considered)
