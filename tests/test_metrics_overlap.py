"""Overlap metrics from one confusion count, against MONAI and scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.metrics import DiceMetric, MeanIoU, compute_confusion_matrix_metric, get_confusion_matrix
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, precision_score, recall_score

from mskbench.harness.metrics.overlap import (
    JointLabels,
    foreground_pixel_accuracy,
    overlap_metrics,
    pixel_accuracy,
)

MONAI_RTOL = 4 * np.finfo(np.float32).eps  # MONAI's confusion-matrix metrics return float32


def confusion(ref: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    return JointLabels(ref, pred, n).confusion()


def one_hot(a: np.ndarray, n: int) -> torch.Tensor:
    return F.one_hot(torch.from_numpy(a.astype(np.int64)), n).movedim(-1, 0)[None].double()


@pytest.mark.parametrize("shape", [(30, 40), (6, 20, 18)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overlap_equals_sklearn_and_monai_on_random_label_maps(shape, seed):
    rng = np.random.default_rng(seed)
    n = 5
    ref = rng.integers(0, n, shape)
    pred = np.where(rng.random(shape) < 0.7, ref, rng.integers(0, n, shape))
    values = list(range(1, n))
    ours = overlap_metrics(confusion(ref, pred, n), values)
    r, p = ref.ravel(), pred.ravel()
    np.testing.assert_allclose(ours["dice"], f1_score(r, p, labels=values, average=None))
    np.testing.assert_allclose(ours["iou"], jaccard_score(r, p, labels=values, average=None))
    np.testing.assert_allclose(
        ours["precision"], precision_score(r, p, labels=values, average=None)
    )
    np.testing.assert_allclose(ours["recall"], recall_score(r, p, labels=values, average=None))
    y, y_pred = one_hot(ref, n), one_hot(pred, n)
    monai_dice = DiceMetric(include_background=False, ignore_empty=False)(y_pred, y)[0].numpy()
    monai_iou = MeanIoU(include_background=False, ignore_empty=False)(y_pred, y)[0].numpy()
    cm = get_confusion_matrix(y_pred, y, include_background=False)
    np.testing.assert_allclose(ours["dice"], monai_dice, rtol=MONAI_RTOL)
    np.testing.assert_allclose(ours["iou"], monai_iou, rtol=MONAI_RTOL)
    prec = compute_confusion_matrix_metric("precision", cm)[0].numpy()
    np.testing.assert_allclose(ours["precision"], prec, rtol=MONAI_RTOL)
    rec = compute_confusion_matrix_metric("recall", cm)[0].numpy()
    np.testing.assert_allclose(ours["recall"], rec, rtol=MONAI_RTOL)
    assert pixel_accuracy(confusion(ref, pred, n)) == pytest.approx(accuracy_score(r, p))


def test_one_voxel_and_touching_structures():
    ref = np.zeros((5, 5), int)
    pred = np.zeros((5, 5), int)
    ref[2, 2] = pred[2, 2] = 1  # 1-voxel structure, found
    ref[0, 0:2], pred[0, 0:2] = [2, 3], [3, 2]  # touching structures, swapped
    m = overlap_metrics(confusion(ref, pred, 4), [1, 2, 3])
    np.testing.assert_array_equal(m["dice"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(m["ref_voxels"], [1, 1, 1])


def test_both_empty_scores_one_like_monai_with_ignore_empty_false():
    empty = np.zeros((6, 6), int)
    m = overlap_metrics(confusion(empty, empty, 2), [1])
    assert (m["dice"][0], m["iou"][0], m["precision"][0], m["recall"][0]) == (1.0, 1.0, 1.0, 1.0)
    y = one_hot(empty, 2)
    assert DiceMetric(include_background=False, ignore_empty=False)(y, y)[0, 0] == 1.0
    r = empty.ravel()
    assert precision_score(r, r, labels=[1], average=None, zero_division=1)[0] == 1.0


def test_false_positive_structure_scores_zero_where_monai_default_hides_it():
    """Reference empty, prediction not: Dice 0. MONAI's default ``ignore_empty=True``
    returns NaN and would drop the false positive from a mean."""
    ref = np.zeros((6, 6), int)
    pred = ref.copy()
    pred[1:3, 1:3] = 1
    m = overlap_metrics(confusion(ref, pred, 2), [1])
    assert (m["dice"][0], m["iou"][0], m["precision"][0], m["recall"][0]) == (0.0, 0.0, 0.0, 0.0)
    y, y_pred = one_hot(ref, 2), one_hot(pred, 2)
    assert DiceMetric(include_background=False, ignore_empty=False)(y_pred, y)[0, 0] == 0.0
    assert torch.isnan(DiceMetric(include_background=False)(y_pred, y)[0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r, p = ref.ravel(), pred.ravel()
        assert recall_score(r, p, labels=[1], average=None, zero_division=0)[0] == 0.0


def test_missed_structure_scores_zero_where_monai_confusion_gives_nan():
    ref = np.zeros((6, 6), int)
    ref[1:3, 1:3] = 1
    pred = np.zeros_like(ref)
    m = overlap_metrics(confusion(ref, pred, 2), [1])
    assert (m["dice"][0], m["precision"][0], m["recall"][0]) == (0.0, 0.0, 0.0)
    cm = get_confusion_matrix(one_hot(pred, 2), one_hot(ref, 2), include_background=False)
    assert torch.isnan(compute_confusion_matrix_metric("precision", cm)[0, 0])


def test_foreground_pixel_accuracy_ignores_agreed_background():
    ref = np.zeros((10, 10), int)
    pred = ref.copy()
    ref[0, 0:4] = 1
    pred[0, 0:2] = 1
    pred[5, 5] = 2
    c = confusion(ref, pred, 3)
    assert pixel_accuracy(c) == pytest.approx(97 / 100)
    assert foreground_pixel_accuracy(c) == pytest.approx(2 / 5)  # 2 right of 4 ref + 1 stray
    assert (
        foreground_pixel_accuracy(confusion(np.zeros((3, 3), int), np.zeros((3, 3), int), 1)) == 1.0
    )


def test_weighted_confusion_gives_map_sums_inside_each_label():
    rng = np.random.default_rng(3)
    ref, pred = rng.integers(0, 3, (8, 9)), rng.integers(0, 3, (8, 9))
    q = rng.random((8, 9))
    sums = JointLabels(ref, pred, 3).confusion(weights=q)
    for v in (1, 2):
        assert sums[v].sum() == pytest.approx(q[ref == v].sum())
        assert sums[:, v].sum() == pytest.approx(q[pred == v].sum())
