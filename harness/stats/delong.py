"""DeLong test for two correlated AUROCs measured on the same cases.

DeLong, DeLong & Clarke-Pearson (Biometrics 1988) with the midrank computation of the
structural components of Sun & Xu (IEEE SPL 2014). Hand-written: neither scipy, statsmodels,
scikit-learn nor pingouin provides it. Tests check it against the pairwise (O(m·n)) definition
of the structural components written independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from mskbench.harness.stats.ci import require_finite


@dataclass(frozen=True)
class DeLongResult:
    """AUROCs of two scores, their difference (a − b), its SE, z and two-sided p."""

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    covariance: np.ndarray  # 2 × 2 covariance of (auc_a, auc_b)


def _structural_components(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V10 (per positive) and V01 (per negative) for each score row, via midranks.

    V10_i = P(score of positive i > a random negative) (ties count 1/2); V01_j = P(a random
    positive > negative j).
    """
    m, n = pos.shape[1], neg.shape[1]
    rank_pos = stats.rankdata(pos, axis=1)
    rank_neg = stats.rankdata(neg, axis=1)
    rank_all = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m
    return v10, v01


def auroc_variance(y_true: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """``(AUROC, DeLong variance)`` of one score: var(V10)/m + var(V01)/n (the variance
    behind a Wald interval of the AUROC). Needs >= 2 positives and >= 2 negatives."""
    result = delong_test(y_true, score, score)
    return result.auc_a, float(result.covariance[0, 0])


def delong_test(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DeLongResult:
    """Two-sided DeLong test of AUROC(score_a) = AUROC(score_b) on the same cases.

    ``y_true`` is binary (1 = positive); higher score = more likely positive. Needs at least
    two positives and two negatives. When the two scores give identical structural components
    (SE = 0) the p-value is 1 and z is 0.
    """
    y = np.asarray(y_true)
    scores = np.stack(
        [require_finite(score_a, "delong score_a"), require_finite(score_b, "delong score_b")]
    )
    if scores.shape[1] != y.size:
        raise ValueError(f"scores have {scores.shape[1]} cases, labels {y.size}")
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs >= 2 positives and >= 2 negatives, got {m} and {n}")
    v10, v01 = _structural_components(scores[:, positive], scores[:, ~positive])
    auc = v10.mean(axis=1)
    covariance = np.cov(v10) / m + np.cov(v01) / n
    contrast = np.array([1.0, -1.0])
    variance = float(contrast @ covariance @ contrast)
    difference = float(auc[0] - auc[1])
    if variance <= 0:
        return DeLongResult(float(auc[0]), float(auc[1]), difference, 0.0, 0.0, 1.0, covariance)
    se = float(np.sqrt(variance))
    z = difference / se
    return DeLongResult(
        float(auc[0]),
        float(auc[1]),
        difference,
        se,
        z,
        float(2 * stats.norm.sf(abs(z))),
        covariance,
    )
