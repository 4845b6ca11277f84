"""Across-case aggregation: worst-case distances, absence and outlier rates, summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mskbench.harness.metrics import (
    TukeyFence,
    absence_rate,
    evaluate_segmentation,
    outlier_rates,
    summarize,
    with_worst_case_distances,
)

LABELS = {"background": 0, "VL": 1, "VM": 2}


def scored_cases() -> pd.DataFrame:
    rows = []
    for case in range(4):
        ref = np.zeros((20, 20), np.uint8)
        ref[2:8, 2:8], ref[10:18, 10:18] = 1, 2
        pred = ref.copy()
        if case == 0:
            pred[pred == 2] = 0  # VM missed
        if case == 1:
            pred[0, 19] = 2  # a stray voxel
        rows.append(evaluate_segmentation(ref, pred, (1.0, 1.0), LABELS).assign(case=case))
    return pd.concat(rows, ignore_index=True)


def test_absence_rate_counts_missed_muscles():
    table = scored_cases()
    assert absence_rate(table) == pytest.approx(100 * 1 / 8)


def test_absence_rate_ignores_structures_absent_from_the_reference():
    table = scored_cases()
    table.loc[0, ["ref_voxels", "absent"]] = [0, False]
    assert absence_rate(table) == pytest.approx(100 * 1 / 7)


def test_missing_distances_become_the_image_diagonal_never_dropped():
    table = scored_cases()
    filled = with_worst_case_distances(table)
    missed = filled["absent"]
    assert missed.sum() == 1
    assert filled.loc[missed, "hd95"].item() == pytest.approx(np.hypot(20, 20))
    assert filled.loc[missed, "assd"].item() == pytest.approx(np.hypot(20, 20))
    assert not filled[["hd95", "assd"]].isna().any().any()
    assert filled["hd95"].mean() > table["hd95"].mean()  # dropping would flatter the model


def test_unexplained_nan_distance_raises():
    table = scored_cases()
    table.loc[2, "hd95"] = np.nan
    with pytest.raises(ValueError, match="without an empty mask"):
        with_worst_case_distances(table)


def test_outlier_rate_uses_one_fence_pooled_over_all_models():
    """Seed 003: below Q1 − 1.5·IQR for DSC. A uniformly bad model is not hidden because
    the fence comes from all models' values."""
    good = np.r_[np.full(18, 0.93), 0.92, 0.94]
    bad = np.full(20, 0.60)
    table = pd.DataFrame({"model": ["good"] * 20 + ["bad"] * 20, "dice": np.r_[good, bad]})
    q1, q3 = np.percentile(table["dice"], [25, 75])
    low = q1 - 1.5 * (q3 - q1)
    rates = outlier_rates(table, "dice")
    assert rates["bad"] == pytest.approx(100 * np.mean(bad < low))
    assert rates["good"] == pytest.approx(100 * np.mean(good < low))
    within_model = TukeyFence.of(bad, higher_is_better=True)
    assert within_model.outliers(bad).sum() == 0  # a per-model fence would hide it


def test_outlier_fence_direction_for_lower_is_better_and_signed_metrics():
    values = np.r_[np.zeros(10), 1, 2, 3, 50]
    assert TukeyFence.of(values, False).outliers(values).tolist()[-1] is True
    signed = np.r_[np.full(10, 0.1), -0.2, 0.2, -40.0]
    fence = TukeyFence.of(signed, None)
    q1, q3 = np.percentile(np.abs(signed), [25, 75])
    assert fence.high == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert fence.outliers(signed).tolist()[-1] is True  # large negative bias is an outlier


def test_summary_reports_mean_sd_median_counts_and_bca_interval():
    table = with_worst_case_distances(scored_cases())
    s = summarize(table, "dice", n_resamples=2000, seed=1)
    x = table["dice"].to_numpy()
    assert (s["mean"], s["sd"], s["median"], s["n"]) == pytest.approx(
        (x.mean(), x.std(ddof=1), np.median(x), 8)
    )
    assert (s["n_both_empty"], s["n_absent"]) == (0, 1)
    ref = stats.bootstrap(
        (x,), np.mean, method="BCa", n_resamples=2000, rng=np.random.default_rng(1)
    )
    assert (s["ci_low"], s["ci_high"]) == pytest.approx(tuple(ref.confidence_interval))
    assert summarize(table, "dice", n_resamples=2000, seed=1) == s  # fixed seed: reproducible


def test_summary_over_folds_uses_the_t_interval_of_fold_means():
    table = pd.DataFrame({"dice": [0.9, 0.8, 0.85, 0.95, 0.7, 0.75], "fold": [0, 0, 1, 1, 2, 2]})
    s = summarize(table, "dice", fold="fold")
    means = np.array([0.85, 0.9, 0.725])
    low, high = stats.t.interval(0.95, 2, loc=means.mean(), scale=stats.sem(means))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((low, high))
    assert s["ci_method"] == "t over 3 folds"


def test_summary_refuses_nan_values():
    table = scored_cases()
    with pytest.raises(ValueError, match="NaN"):
        summarize(table, "hd95")
