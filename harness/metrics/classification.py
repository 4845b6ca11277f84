"""Binary classification metrics: cases (seeds 000, 001, 004) and fat pixels (seed 002).

A case is called positive when ``score >= threshold`` (default 0.5, stated with every
result). Metrics are fractions, higher is better; a ratio whose denominator is 0 (e.g.
specificity with no negatives, PPV with no positive call) is NaN, and so is AUROC with a
single class: undefined, not 0. Seed vocabulary: "recall" = ``sensitivity``, "precision" =
``ppv``.

The metrics are computed along the last axis of (truth, decision, score) arrays so that
the bootstrap evaluates all resamples in one call. AUROC is the normalised Mann–Whitney U
from midranks (``scipy.stats.rankdata``): hand-assembled because scikit-learn's
``roc_auc_score`` is not vectorised and costs ~2 ms a call, i.e. minutes per bootstrap;
tests check every metric against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mskbench.harness.stats.ci import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_interval,
    t_interval,
)

CLASSIFICATION_METRICS = (
    "auroc",
    "accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "kappa",
)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den != 0)


def _auroc(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUROC along the last axis = U / (n_pos · n_neg), ties counted 1/2 (midranks)."""
    n_pos = truth.sum(axis=-1)
    n_neg = truth.shape[-1] - n_pos
    rank_sum = (stats.rankdata(score, axis=-1) * truth).sum(axis=-1)
    return _div(rank_sum - n_pos * (n_pos + 1) / 2.0, n_pos * n_neg)


def _binary_metrics(truth: np.ndarray, call: np.ndarray, score: np.ndarray | None) -> np.ndarray:
    """The metrics of ``CLASSIFICATION_METRICS`` stacked on a new first axis."""
    tp = (truth & call).sum(axis=-1).astype(np.float64)
    fp = (~truth & call).sum(axis=-1).astype(np.float64)
    fn = (truth & ~call).sum(axis=-1).astype(np.float64)
    tn = (~truth & ~call).sum(axis=-1).astype(np.float64)
    n = tp + tn + fp + fn
    p_o = (tp + tn) / n
    p_e = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n**2
    auroc = np.full(tp.shape, np.nan) if score is None else _auroc(truth, score)
    return np.stack(
        [
            auroc,
            p_o,
            _div(tp, tp + fn),
            _div(tn, tn + fp),
            _div(tp, tp + fp),
            _div(tn, tn + fn),
            _div(2 * tp, 2 * tp + fp + fn),
            _div(p_o - p_e, 1 - p_e),
        ]
    )


def binary_metrics(
    y_true: Sequence[int] | np.ndarray,
    decision: Sequence[bool] | np.ndarray,
    score: Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """AUROC, accuracy, sensitivity, specificity, PPV, NPV, F1 and Cohen's kappa.

    ``y_true`` and ``decision`` are binary (1/True = positive); ``score`` (optional, for
    AUROC, else NaN) is any monotone confidence of the positive class. Definitions:
    accuracy (TP+TN)/N; sensitivity TP/(TP+FN); specificity TN/(TN+FP); PPV TP/(TP+FP);
    NPV TN/(TN+FN); F1 2TP/(2TP+FP+FN); kappa (p_o − p_e)/(1 − p_e), p_e from the
    marginals; AUROC = P(score of a positive > score of a negative), ties 1/2.
    """
    truth = np.asarray(y_true).astype(bool).ravel()
    call = np.asarray(decision).astype(bool).ravel()
    if truth.shape != call.shape:
        raise ValueError(f"{truth.size} labels but {call.size} decisions")
    s = None if score is None else np.asarray(score, dtype=np.float64).ravel()
    values = _binary_metrics(truth, call, s)
    return dict(zip(CLASSIFICATION_METRICS, map(float, values), strict=True))


def classify_cases(
    y_true: Sequence[int] | np.ndarray, score: Sequence[float] | np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """`binary_metrics` of case scores called positive when ``score >= threshold``."""
    s = np.asarray(score, dtype=np.float64)
    if np.isnan(s).any():
        raise ValueError(f"{int(np.isnan(s).sum())} case scores are NaN")
    return binary_metrics(y_true, s >= threshold, s)


def fat_pixel_metrics(
    reference_fat: np.ndarray,
    predicted_fat: np.ndarray,
    muscle: np.ndarray,
    fat_probability: np.ndarray | None = None,
) -> dict[str, float]:
    """Seed 002's fat-annotation scores: pixels inside ``muscle`` (the reference muscle
    mask) classified fat / not fat. ``sensitivity`` is the seed's recall, ``ppv`` its
    precision; AUROC needs ``fat_probability``. Arrays share one shape.
    """
    inside = np.asarray(muscle, dtype=bool)
    prob = None if fat_probability is None else np.asarray(fat_probability)[inside]
    return binary_metrics(
        np.asarray(reference_fat)[inside], np.asarray(predicted_fat)[inside], prob
    )


def over_folds(values: pd.Series, confidence: float) -> tuple[float, float, float, str]:
    """Mean, t interval and method of one metric's per-fold values; folds where the metric
    is undefined (AUROC of a fold with one class) are left out and the method says so."""
    defined = values.dropna()
    if defined.empty:
        return (np.nan, np.nan, np.nan, f"undefined in all {values.size} folds")
    low, high = t_interval(defined, confidence) if defined.size >= 2 else (np.nan, np.nan)
    left_out = values.size - defined.size
    method = f"t over {defined.size} folds" + (
        f" ({left_out} undefined, left out)" if left_out else ""
    )
    return float(defined.mean()), low, high, method


def classification_table(
    y_true: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    threshold: float = 0.5,
    folds: Sequence[int] | np.ndarray | None = None,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Case-classification metrics with 95 % CIs, one row per metric.

    With ``folds`` (the CV fold of each case, seed 000): ``value`` is the mean of the
    per-fold metrics and the CI the t interval over folds (folds where a metric is undefined,
    e.g. the AUROC of a fold with one class, are left out and counted in ``method``). Without (seed 004): ``value`` is
    the metric on all cases and the CI the BCa bootstrap over cases (fixed ``seed``).
    Columns: metric, value, ci_low, ci_high, method, threshold.
    """
    truth = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=np.float64)
    if folds is not None:
        fold_ids = np.asarray(folds)
        per_fold = pd.DataFrame(
            [
                classify_cases(truth[fold_ids == f], s[fold_ids == f], threshold)
                for f in np.unique(fold_ids)
            ]
        )
        rows = [(m, *over_folds(per_fold[m], confidence)) for m in CLASSIFICATION_METRICS]
    else:
        point = classify_cases(truth, s, threshold)

        def statistic(t: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
            t, x = np.moveaxis(t, axis, -1).astype(bool), np.moveaxis(x, axis, -1)
            return _binary_metrics(t, x >= threshold, x)

        low, high = bootstrap_interval(
            (truth, s),
            statistic,
            paired=True,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        method = f"BCa bootstrap over {truth.size} cases, {n_resamples} resamples, seed {seed}"
        rows = [
            (m, point[m], low[i], high[i], method) for i, m in enumerate(CLASSIFICATION_METRICS)
        ]
    table = pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high", "method"])
    table["threshold"] = threshold
    return table
