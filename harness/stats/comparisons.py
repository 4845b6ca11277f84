"""Hypothesis tests of the seeds, with the normality rule stated and Holm correction.

* `compare_groups` — two independent groups (G20− vs G20+ within a model, seed 003):
  Shapiro–Wilk on each group; if both have p ≥ alpha, Welch's t-test (unequal variances),
  otherwise the Mann–Whitney U test (the unpaired "Wilcoxon" rank-sum test). Two-sided.
* `compare_paired` — two models on the same cases: Shapiro–Wilk on the paired differences;
  p ≥ alpha → paired t-test, otherwise the Wilcoxon signed-rank test. Two-sided.
* `holm` — Holm–Bonferroni step-down adjustment across metrics (statsmodels).

Tests are scipy's; pingouin gives the same p-values (checked in tests). A NaN never drops a
pair silently: inputs with NaN raise, naming the count; unmatched cases raise too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mskbench.harness.stats.ci import require_finite

MIN_PER_GROUP = 3  # Shapiro–Wilk needs at least 3 values


@dataclass(frozen=True)
class TestResult:
    """Outcome of one two-sided test: which test the normality rule chose and why."""

    __test__ = False  # not a pytest test class

    test: str  # welch_t | mann_whitney_u | paired_t | wilcoxon_signed_rank | none
    statistic: float
    p_value: float
    normality_p: tuple[float, ...]  # Shapiro–Wilk p per group, or of the differences
    n: tuple[int, ...]


def _shapiro_p(x: np.ndarray) -> float:
    """Shapiro–Wilk p; a constant sample is degenerate, not normal: p = 0 (scipy would
    warn and return 1)."""
    return float(stats.shapiro(x).pvalue) if np.ptp(x) > 0 else 0.0


def compare_groups(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> TestResult:
    """Unpaired comparison of groups ``a`` and ``b`` (rule in the module docstring)."""
    x, y = require_finite(a, "compare_groups a"), require_finite(b, "compare_groups b")
    if min(x.size, y.size) < MIN_PER_GROUP:
        raise ValueError(f"each group needs >= {MIN_PER_GROUP} values, got {x.size} and {y.size}")
    normality = (_shapiro_p(x), _shapiro_p(y))
    if min(normality) >= alpha:
        r = stats.ttest_ind(x, y, equal_var=False)
        test = "welch_t"
    else:
        r = stats.mannwhitneyu(x, y, alternative="two-sided")
        test = "mann_whitney_u"
    return TestResult(test, float(r.statistic), float(r.pvalue), normality, (x.size, y.size))


def compare_paired(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> TestResult:
    """Paired comparison of ``a`` and ``b`` on the same cases (rule in the module docstring).

    Differences are ``a − b``. All differences zero: ``test="none"``, p = 1. All
    differences equal but non-zero (t undefined): Wilcoxon signed-rank.
    """
    x, y = require_finite(a, "compare_paired a"), require_finite(b, "compare_paired b")
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} and {y.size}")
    if x.size < MIN_PER_GROUP:
        raise ValueError(f"need >= {MIN_PER_GROUP} pairs, got {x.size}")
    d = x - y
    if not d.any():
        return TestResult("none", 0.0, 1.0, (float("nan"),), (x.size,))
    normality = _shapiro_p(d)
    if normality >= alpha:
        r = stats.ttest_rel(x, y)
        test = "paired_t"
    else:
        r = stats.wilcoxon(x, y)
        test = "wilcoxon_signed_rank"
    return TestResult(test, float(r.statistic), float(r.pvalue), (normality,), (x.size,))


def holm(p_values: Mapping[str, float], alpha: float = 0.05) -> pd.DataFrame:
    """Holm–Bonferroni adjusted p-values (``p_holm``) and decisions (``reject``), by name."""
    names = list(p_values)
    p = require_finite([p_values[n] for n in names], "holm")
    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method="holm")
    return pd.DataFrame(
        {"p": p, "p_holm": adjusted, "reject": reject}, index=pd.Index(names, name="metric")
    )


def compare_models(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metrics: Sequence[str],
    keys: Sequence[str] = ("case", "label"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired comparison of two models' per-case tables on each metric, Holm across metrics.

    ``a`` and ``b`` hold one row per ``keys`` (e.g. case and structure) with a column per
    metric; they must cover the same keys (unmatched rows raise, with counts). Distances
    should already carry the worst-case substitution (`aggregate.with_worst_case_distances`).
    Returns one row per metric: test, n, mean_a, mean_b, mean_diff (a − b), statistic,
    normality_p, p, p_holm, reject.
    """
    keys = list(keys)
    merged = a[keys + list(metrics)].merge(
        b[keys + list(metrics)], on=keys, how="outer", suffixes=("_a", "_b"), indicator=True
    )
    unmatched = merged["_merge"].value_counts()
    if unmatched.get("left_only", 0) or unmatched.get("right_only", 0):
        raise ValueError(
            f"tables do not pair up on {keys}: {unmatched.get('left_only', 0)} rows only in a, "
            f"{unmatched.get('right_only', 0)} only in b"
        )
    rows = []
    for metric in metrics:
        x, y = merged[f"{metric}_a"].to_numpy(float), merged[f"{metric}_b"].to_numpy(float)
        r = compare_paired(x, y, alpha)
        rows.append(
            {
                "metric": metric,
                "test": r.test,
                "n": r.n[0],
                "mean_a": x.mean(),
                "mean_b": y.mean(),
                "mean_diff": (x - y).mean(),
                "statistic": r.statistic,
                "normality_p": r.normality_p[0],
                "p": r.p_value,
            }
        )
    table = pd.DataFrame(rows).set_index("metric")
    adjusted = holm(table["p"].to_dict(), alpha)
    return table.join(adjusted[["p_holm", "reject"]]).reset_index()
