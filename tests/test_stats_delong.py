"""DeLong test, checked against the pairwise definition of the structural components
(DeLong et al. 1988, eq. for V10/V01 with the Heaviside kernel ψ), written here
independently of the midrank algorithm used by mskbench, and AUROCs against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from mskbench.harness.stats import delong_test


def pairwise_delong(y, a, b):
    def components(score):
        pos, neg = score[y == 1], score[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0), psi.mean()

    v10a, v01a, auc_a = components(a)
    v10b, v01b, auc_b = components(b)
    m, n = len(v10a), len(v01a)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    s = s10 / m + s01 / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    z = (auc_a - auc_b) / np.sqrt(var)
    return auc_a, auc_b, z, 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize("seed", range(4))
def test_delong_equals_pairwise_structural_components(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(90) < 0.4).astype(int)
    a = np.round(y * 0.8 + rng.normal(size=90), 1)  # rounded: ties
    b = np.round(y * 0.4 + 0.5 * a + rng.normal(size=90), 1)  # correlated with a
    r = delong_test(y, a, b)
    auc_a, auc_b, z, p = pairwise_delong(y, a, b)
    assert (r.auc_a, r.auc_b) == pytest.approx((roc_auc_score(y, a), roc_auc_score(y, b)))
    assert (r.auc_a, r.auc_b, r.z, r.p_value) == pytest.approx((auc_a, auc_b, z, p), rel=1e-10)


def test_identical_scores_give_p_one():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    r = delong_test(y, s, s)
    assert r.difference == 0 and r.p_value == 1.0


def test_delong_needs_both_classes():
    with pytest.raises(ValueError, match="positives"):
        delong_test(np.array([1, 1, 1, 0]), np.arange(4.0), np.arange(4.0))
