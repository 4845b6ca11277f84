"""Wald (normal-approximation) 95 % intervals of binary classification metrics.

Offered to reproduce papers that printed them (seed 004's Table 4 intervals are
symmetric, e.g. accuracy 81.25 % [73.44, 89.06]); mskbench's default is the bootstrap.
``estimate ± z · SE`` with z the normal quantile of the confidence:

- accuracy, sensitivity, specificity, PPV, NPV: SE = √(p(1 − p)/d), d the ratio's
  denominator (all cases, positives, negatives, positive calls, negative calls), as
  ``statsmodels.stats.proportion.proportion_confint(method="normal")`` (not clipped);
- AUROC: SE from the DeLong variance (`mskbench.harness.stats.delong.auroc_variance`);
- Cohen's kappa: the asymptotic SE of ``statsmodels.stats.inter_rater.cohens_kappa``
  (Fleiss, Cohen & Everitt 1969);
- F1: no Wald interval is standard; NaN.

An undefined ratio (a zero denominator) or a degenerate sample gives NaN bounds.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mskbench.harness.stats.delong import auroc_variance


def proportion_interval(
    successes: float, total: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Wald interval p ± z·√(p(1 − p)/n) of a proportion; NaN for n = 0."""
    if total <= 0:
        return (np.nan, np.nan)
    p = successes / total
    half = _z(confidence) * np.sqrt(p * (1 - p) / total)
    return (p - half, p + half)


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wald_intervals(
    y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5, confidence: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Wald intervals of every binary metric (see the module docstring) of cases with
    reference ``y_true`` (1 = positive) called positive when ``score >= threshold``."""
    from statsmodels.stats.inter_rater import cohens_kappa

    truth = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    call = s >= threshold
    tp, fp = float(np.sum(truth & call)), float(np.sum(~truth & call))
    fn, tn = float(np.sum(truth & ~call)), float(np.sum(~truth & ~call))
    z = _z(confidence)
    out = {
        "accuracy": proportion_interval(tp + tn, tp + tn + fp + fn, confidence),
        "sensitivity": proportion_interval(tp, tp + fn, confidence),
        "specificity": proportion_interval(tn, tn + fp, confidence),
        "ppv": proportion_interval(tp, tp + fp, confidence),
        "npv": proportion_interval(tn, tn + fn, confidence),
        "f1": (np.nan, np.nan),
    }
    if min(tp + fn, tn + fp) >= 2:
        auc, variance = auroc_variance(truth.astype(int), s)
        half = z * np.sqrt(variance)
        out["auroc"] = (auc - half, auc + half)
    else:
        out["auroc"] = (np.nan, np.nan)
    table = np.array([[tn, fp], [fn, tp]])
    if (table.sum(axis=0) > 0).all() and (table.sum(axis=1) > 0).all():
        kappa = cohens_kappa(table)
        out["kappa"] = (kappa.kappa - z * kappa.std_kappa, kappa.kappa + z * kappa.std_kappa)
    else:
        out["kappa"] = (np.nan, np.nan)
    return out
