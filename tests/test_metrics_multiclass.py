"""Ordinal and multiclass case metrics against scikit-learn; Wald intervals against
statsmodels and the textbook formulas; the DeLong variance against its pairwise definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, cohen_kappa_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from mskbench.harness.metrics.multiclass import confusion_matrix, multiclass_metrics
from mskbench.harness.stats.delong import auroc_variance
from mskbench.harness.stats.wald import wald_intervals


def _grades(seed: int, n: int = 80, k: int = 5, signal: float = 0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    p = rng.random((n, k))
    p[np.arange(n), y] += signal
    return y, p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(4))
def test_ordinal_metrics_equal_sklearn(seed):
    y, p = _grades(seed)
    predicted = p.argmax(axis=1)
    ours = multiclass_metrics(y, p, ordinal=True)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert ours["kappa"] == pytest.approx(cohen_kappa_score(y, predicted), abs=1e-12)
    assert ours["qwk"] == pytest.approx(
        cohen_kappa_score(y, predicted, weights="quadratic"), abs=1e-12
    )
    assert ours["mae_classes"] == pytest.approx(np.abs(predicted - y).mean(), abs=1e-12)
    assert ours["macro_auroc"] == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12
    )


def test_multiclass_has_no_ordinal_metrics_and_a_perfect_model_scores_one():
    y, p = _grades(7, signal=50.0)
    ours = multiclass_metrics(y, p, ordinal=False)
    assert set(ours) == {"accuracy", "kappa", "macro_auroc"}
    assert ours == pytest.approx({"accuracy": 1.0, "kappa": 1.0, "macro_auroc": 1.0})


def test_a_class_absent_from_the_reference_is_left_out_of_the_macro_auroc():
    y, p = _grades(3, k=4)
    keep = y != 2
    ours = multiclass_metrics(y[keep], p[keep], ordinal=True)["macro_auroc"]
    expected = np.mean(
        [roc_auc_score(y[keep] == k, p[keep][:, k]) for k in (0, 1, 3)]
    )  # scikit-learn's "ovr" refuses a class missing from y: compute its average by hand
    assert ours == pytest.approx(expected, abs=1e-12)


def test_confusion_matrix_rows_are_the_reference():
    from sklearn.metrics import confusion_matrix as sk_confusion

    y, p = _grades(2)
    predicted = p.argmax(axis=1)
    assert (confusion_matrix(y, predicted, 5) == sk_confusion(y, predicted, labels=range(5))).all()


def _binary(seed: int, n: int = 90):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, score


@pytest.mark.parametrize("seed", range(3))
def test_wald_intervals_of_proportions_equal_statsmodels(seed):
    y, score = _binary(seed)
    call = score >= 0.5
    ours = wald_intervals(y, score)
    tp, tn = int((y & call).sum()), int((~y.astype(bool) & ~call).sum())
    fp, fn = int((~y.astype(bool) & call).sum()), int((y.astype(bool) & ~call).sum())
    for metric, (k, n) in {
        "accuracy": (tp + tn, y.size),
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
    }.items():
        assert ours[metric] == pytest.approx(proportion_confint(k, n, method="normal"), abs=1e-12)
    assert np.isnan(ours["f1"]).all()


def test_wald_interval_of_kappa_uses_the_fleiss_cohen_everitt_standard_error():
    y, score = _binary(5)
    call = (score >= 0.5).astype(int)
    table = np.array([[np.sum((y == i) & (call == j)) for j in (0, 1)] for i in (0, 1)]) / y.size
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    p_o, p_e = np.trace(table), rows @ cols
    kappa = (p_o - p_e) / (1 - p_e)
    # Fleiss, Cohen & Everitt (1969), asymptotic variance under non-null kappa
    a = sum(table[i, i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in (0, 1))
    b = (1 - kappa) ** 2 * sum(
        table[i, j] * (rows[j] + cols[i]) ** 2 for i in (0, 1) for j in (0, 1) if i != j
    )
    c = (kappa - p_e * (1 - kappa)) ** 2
    se = np.sqrt((a + b - c) / ((1 - p_e) ** 2 * y.size))
    z = stats.norm.ppf(0.975)
    assert kappa == pytest.approx(cohen_kappa_score(y, call), abs=1e-12)
    assert wald_intervals(y, score)["kappa"] == pytest.approx((kappa - z * se, kappa + z * se))


def test_wald_interval_of_the_auroc_uses_the_delong_variance():
    y, score = _binary(9)
    pos, neg = score[y == 1], score[y == 0]
    # structural components by their pairwise definition (ties count 1/2)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    variance = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    auc, ours = auroc_variance(y, score)
    assert auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert ours == pytest.approx(variance, rel=1e-10)
    half = stats.norm.ppf(0.975) * np.sqrt(variance)
    assert wald_intervals(y, score)["auroc"] == pytest.approx((auc - half, auc + half))
