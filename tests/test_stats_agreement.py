"""Bland–Altman against pingouin's plot (the lines it draws) and ICC(A,1) against pingouin
and the published Shrout & Fleiss (1979) example."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from mskbench.harness.stats import bland_altman, icc_a1


def pingouin_lines(measured, reference):
    """Bias, limits and CI bands as drawn by pingouin.plot_blandaltman (x − y)."""
    fig, ax = plt.subplots()
    pingouin.plot_blandaltman(measured, reference, confidence=0.95, ax=ax)
    lines = sorted({round(float(line.get_ydata()[0]), 12) for line in ax.lines} - {0.0})
    bands = sorted((p.get_y(), p.get_y() + p.get_height()) for p in ax.patches)  # axhspan
    plt.close(fig)
    return lines, bands


def test_bland_altman_bias_limits_and_their_cis_equal_pingouin():
    rng = np.random.default_rng(0)
    reference = rng.uniform(5, 60, 40)
    measured = reference + rng.normal(0.3, 1.2, 40)
    ba = bland_altman(reference, measured)
    lines, bands = pingouin_lines(measured, reference)
    assert lines == pytest.approx(sorted([ba.loa_low, ba.bias, ba.loa_high]), abs=1e-10)
    expected = sorted([ba.bias_ci, ba.loa_low_ci, ba.loa_high_ci])
    assert bands == [pytest.approx(e, abs=1e-10) for e in expected]
    d = measured - reference
    assert ba.sd == pytest.approx(d.std(ddof=1))
    assert (ba.loa_low, ba.loa_high) == pytest.approx(
        (d.mean() - 1.96 * ba.sd, d.mean() + 1.96 * ba.sd)
    )


def test_proportional_bias_slope_regresses_difference_on_mean_or_reference():
    reference = np.linspace(0, 60, 30)
    measured = reference * 0.95 + np.sin(reference)  # error grows with FF
    ba = bland_altman(reference, measured, against="reference")
    fit = stats.linregress(reference, measured - reference)
    assert (ba.slope, ba.slope_p) == pytest.approx((fit.slope, fit.pvalue))
    assert ba.slope < 0 and ba.slope_p < 1e-6
    by_mean = bland_altman(reference, measured)
    assert by_mean.slope == pytest.approx(
        stats.linregress((reference + measured) / 2, measured - reference).slope
    )


def test_bland_altman_refuses_missing_pairs():
    with pytest.raises(ValueError, match="1 of 4 values are NaN"):
        bland_altman(np.array([1.0, 2, 3, 4]), np.array([1.0, np.nan, 3, 4]))


SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
)


def test_icc_a1_reproduces_shrout_fleiss_1979_table():
    """Shrout & Fleiss (1979), Table 4: ICC(2,1) = 0.29 on their 6 targets × 4 judges."""
    assert icc_a1(SHROUT_FLEISS).icc == pytest.approx(0.29, abs=0.005)


def test_icc_a1_equals_pingouin_icc2_and_the_mcgraw_wong_formula():
    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 50, 25)
    ratings = np.c_[truth, truth + rng.normal(1.0, 3.0, 25)]
    ours = icc_a1(ratings)
    long = (
        pd.DataFrame(ratings)
        .rename_axis("t")
        .reset_index()
        .melt(id_vars="t", var_name="r", value_name="y")
    )
    row = (
        pingouin.intraclass_corr(long, targets="t", raters="r", ratings="y")
        .set_index("Type")
        .loc["ICC(A,1)"]
    )
    assert ours.icc == pytest.approx(row["ICC"])
    n, k = ratings.shape
    grand = ratings.mean()
    ms_r = k * ((ratings.mean(1) - grand) ** 2).sum() / (n - 1)
    ms_c = n * ((ratings.mean(0) - grand) ** 2).sum() / (k - 1)
    resid = ratings - ratings.mean(1, keepdims=True) - ratings.mean(0, keepdims=True) + grand
    ms_e = (resid**2).sum() / ((n - 1) * (k - 1))
    assert ours.icc == pytest.approx(
        (ms_r - ms_e) / (ms_r + (k - 1) * ms_e + k * (ms_c - ms_e) / n)
    )
