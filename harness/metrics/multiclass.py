"""Ordinal and multiclass classification of cases (seed 000's Goutallier grade: mskbench's
quadratic-weighted kappa and per-grade report beside the seed's binary view).

A case's predicted class is the most probable one (ties → the lower class). Metrics, all
fractions except ``mae_classes`` (grade steps):

- ``accuracy``: share of cases whose predicted class is the reference;
- ``kappa``: Cohen's kappa of reference vs predicted class, (p_o − p_e)/(1 − p_e);
- ``qwk`` (ordinal only): Cohen's kappa with quadratic weights (i − j)²/(K − 1)²;
- ``mae_classes`` (ordinal only): mean |predicted − reference| in class steps;
- ``macro_auroc``: mean over classes present in the reference (with at least one case not
  of the class) of the one-vs-rest AUROC of that class's probability.

Everything is computed along the last case axis from confusion counts (``np.bincount``)
and midranks, so one call evaluates all bootstrap resamples; tests check each metric
against scikit-learn. Hand-assembled because scikit-learn's functions take one sample at a
time (10⁴ calls per bootstrap CI).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

MULTICLASS_METRICS = ("accuracy", "kappa", "macro_auroc")
ORDINAL_METRICS = ("accuracy", "kappa", "qwk", "mae_classes", "macro_auroc")


def metric_names(ordinal: bool) -> tuple[str, ...]:
    """The metrics of an ordinal (True) or multiclass (False) target, in report order."""
    return ORDINAL_METRICS if ordinal else MULTICLASS_METRICS


def _kappa(confusion: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted kappa 1 − Σw·O / Σw·E of confusion counts ``(..., K, K)``."""
    n = confusion.sum(axis=(-2, -1), keepdims=True)
    observed = confusion / n
    expected = observed.sum(axis=-1, keepdims=True) * observed.sum(axis=-2, keepdims=True)
    num = (weights * observed).sum(axis=(-2, -1))
    den = (weights * expected).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 1.0 - num / den, np.nan)


def _macro_auroc(truth: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """One-vs-rest AUROC averaged over classes that are neither absent nor everything."""
    n_classes = probabilities.shape[-1]
    aucs = []
    for k in range(n_classes):
        positive = truth == k
        n_pos = positive.sum(axis=-1)
        n_neg = truth.shape[-1] - n_pos
        ranks = stats.rankdata(probabilities[..., k], axis=-1)
        u = (ranks * positive).sum(axis=-1) - n_pos * (n_pos + 1) / 2.0
        valid = (n_pos > 0) & (n_neg > 0)
        aucs.append(np.where(valid, u / np.where(valid, n_pos * n_neg, 1), np.nan))
    with warnings.catch_warnings():  # a resample where no class qualifies: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(aucs), axis=0)


def multiclass_core(truth: np.ndarray, probabilities: np.ndarray, ordinal: bool) -> np.ndarray:
    """`metric_names` stacked on a new first axis, along the case axis of ``truth``
    ``(..., n)`` (class indices) and ``probabilities`` ``(..., n, K)``."""
    n_classes = probabilities.shape[-1]
    predicted = probabilities.argmax(axis=-1)
    flat = truth * n_classes + predicted
    lead = flat.shape[:-1]
    n_rows = int(np.prod(lead, dtype=int))  # one confusion matrix per leading index
    offsets = np.arange(n_rows).reshape((*lead, 1)) * n_classes**2
    counts = np.bincount((flat + offsets).ravel(), minlength=n_rows * n_classes**2)
    confusion = counts.reshape((*lead, n_classes, n_classes)).astype(np.float64)
    grid = np.arange(n_classes)
    unweighted = (grid[:, None] != grid[None, :]).astype(np.float64)
    values = {
        "accuracy": (truth == predicted).mean(axis=-1),
        "kappa": _kappa(confusion, unweighted),
        "macro_auroc": _macro_auroc(truth, probabilities),
    }
    if ordinal:
        quadratic = (grid[:, None] - grid[None, :]) ** 2 / max(n_classes - 1, 1) ** 2
        values["qwk"] = _kappa(confusion, quadratic)
        values["mae_classes"] = np.abs(predicted - truth).mean(axis=-1)
    return np.stack([values[m] for m in metric_names(ordinal)])


def multiclass_metrics(
    y_true: Sequence[int] | np.ndarray,
    probabilities: Sequence[Sequence[float]] | np.ndarray,
    ordinal: bool,
) -> dict[str, float]:
    """Metrics of cases with reference class indices ``y_true`` (0..K−1) and class
    probabilities ``probabilities`` (n × K); see the module docstring."""
    truth = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != truth.size:
        raise ValueError(f"{truth.size} references but probabilities of shape {proba.shape}")
    if truth.size and (truth.min() < 0 or truth.max() >= proba.shape[1]):
        raise ValueError(f"reference classes must be in 0..{proba.shape[1] - 1}")
    values = multiclass_core(truth, proba, ordinal)
    return dict(zip(metric_names(ordinal), map(float, values), strict=True))


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray, n_classes: int
) -> np.ndarray:
    """Counts ``[reference, predicted]`` of class indices (K × K)."""
    truth, pred = np.asarray(y_true, np.int64), np.asarray(predicted, np.int64)
    flat = np.bincount(truth * n_classes + pred, minlength=n_classes**2)
    return flat.reshape(n_classes, n_classes)
