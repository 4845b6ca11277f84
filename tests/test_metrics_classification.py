"""Binary classification of cases and of fat pixels, against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mskbench.harness.metrics import (
    binary_metrics,
    classification_table,
    classify_cases,
    fat_pixel_metrics,
)


def sklearn_metrics(y, call, score):
    return {
        "auroc": roc_auc_score(y, score),
        "accuracy": accuracy_score(y, call),
        "sensitivity": recall_score(y, call),
        "specificity": recall_score(y, call, pos_label=0),
        "ppv": precision_score(y, call),
        "npv": precision_score(y, call, pos_label=0),
        "f1": f1_score(y, call),
        "kappa": cohen_kappa_score(y, call),
    }


@pytest.mark.parametrize("seed", range(4))
def test_case_metrics_equal_sklearn_at_the_stated_threshold(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    score = np.round(np.clip(0.35 * y + 0.65 * rng.random(80), 0, 1), 2)  # rounded: ties
    ours = classify_cases(y, score, threshold=0.5)
    expected = sklearn_metrics(y, (score >= 0.5).astype(int), score)
    assert ours == pytest.approx(expected, rel=1e-12)


def test_undefined_ratios_are_nan_not_zero():
    m = binary_metrics([1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.8])
    assert np.isnan(m["specificity"]) and np.isnan(m["auroc"])
    assert m["sensitivity"] == pytest.approx(2 / 3)


def test_fat_pixel_metrics_only_count_pixels_inside_the_muscle():
    rng = np.random.default_rng(5)
    ref_fat = rng.random((30, 30)) < 0.3
    prob = np.clip(ref_fat * 0.4 + rng.random((30, 30)) * 0.6, 0, 1)
    pred_fat = prob >= 0.5
    muscle = np.zeros((30, 30), bool)
    muscle[5:25, 5:20] = True
    ours = fat_pixel_metrics(ref_fat, pred_fat, muscle, prob)
    expected = sklearn_metrics(
        ref_fat[muscle].astype(int), pred_fat[muscle].astype(int), prob[muscle]
    )
    assert ours == pytest.approx(expected, rel=1e-12)


def test_fold_intervals_are_t_intervals_of_per_fold_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    score = np.clip(0.3 * y + 0.7 * rng.random(100), 0, 1)
    folds = np.arange(100) % 5
    table = classification_table(y, score, folds=folds).set_index("metric")
    per_fold = [roc_auc_score(y[folds == f], score[folds == f]) for f in range(5)]
    low, high = stats.t.interval(0.95, 4, loc=np.mean(per_fold), scale=stats.sem(per_fold))
    assert table.loc["auroc", "value"] == pytest.approx(np.mean(per_fold))
    assert (table.loc["auroc", "ci_low"], table.loc["auroc", "ci_high"]) == pytest.approx(
        (low, high)
    )


def test_bootstrap_intervals_are_scipy_bca_over_cases_with_fixed_seed():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60)
    score = np.clip(0.3 * y + 0.7 * rng.random(60), 0, 1)
    table = classification_table(y, score, n_resamples=500, seed=3).set_index("metric")

    def sensitivity(t, s):
        return recall_score(t, (s >= 0.5).astype(int), zero_division=np.nan)

    ref = stats.bootstrap(
        (y, score), sensitivity, paired=True, vectorized=False, method="BCa",
        n_resamples=500, rng=np.random.default_rng(3),
    )  # fmt: skip
    got = (table.loc["sensitivity", "ci_low"], table.loc["sensitivity", "ci_high"])
    assert got == pytest.approx(tuple(ref.confidence_interval), rel=1e-9)
    again = classification_table(y, score, n_resamples=500, seed=3)
    assert again["ci_low"].tolist() == table["ci_low"].tolist()
