"""Confidence intervals: t over folds and BCa bootstrap over cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mskbench.harness.stats import bootstrap_interval, t_interval


def test_t_interval_over_folds_equals_scipy():
    folds = np.array([0.9731, 0.95, 0.99, 0.97, 0.96])
    expected = stats.t.interval(0.95, 4, loc=folds.mean(), scale=folds.std(ddof=1) / np.sqrt(5))
    assert t_interval(folds) == pytest.approx(expected)


def test_bca_bootstrap_is_scipy_bca_with_a_fixed_seed():
    x = np.random.default_rng(0).gamma(2.0, size=50)
    low, high = bootstrap_interval((x,), np.median, n_resamples=1000, seed=7)
    ref = stats.bootstrap(
        (x,), np.median, method="BCa", n_resamples=1000, rng=np.random.default_rng(7)
    )
    assert (low[0], high[0]) == pytest.approx(tuple(ref.confidence_interval))


def test_constant_values_give_a_degenerate_interval_not_nan():
    low, high = bootstrap_interval((np.full(12, 0.93),), np.mean, n_resamples=200)
    assert (low[0], high[0]) == (0.93, 0.93)
    assert t_interval(np.full(5, 0.5)) == (0.5, 0.5)


def test_missing_values_raise():
    with pytest.raises(ValueError, match="NaN"):
        t_interval([0.9, np.nan, 0.8])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_interval((np.array([0.9, np.nan, 0.8]),), np.mean)
