"""Group and paired tests follow the stated normality rule; p-values equal pingouin's."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pingouin
import pytest
from statsmodels.stats.multitest import multipletests

from mskbench.harness.stats import compare_groups, compare_models, compare_paired, holm


def test_g20_groups_with_normal_data_use_welch_t_like_pingouin():
    rng = np.random.default_rng(0)
    below, above = rng.normal(-0.27, 0.77, 60), rng.normal(-1.09, 2.11, 25)
    r = compare_groups(below, above)
    assert r.test == "welch_t"
    assert r.p_value == pytest.approx(pingouin.ttest(below, above, correction=True)["p_val"].item())


def test_g20_groups_with_skewed_data_use_mann_whitney_like_pingouin():
    rng = np.random.default_rng(1)
    below, above = rng.exponential(1.0, 50), rng.exponential(2.0, 30)
    r = compare_groups(below, above)
    assert r.test == "mann_whitney_u" and min(r.normality_p) < 0.05
    assert r.p_value == pytest.approx(pingouin.mwu(below, above)["p_val"].item())


def test_a_constant_group_is_not_normal_and_raises_no_scipy_warning():
    # e.g. absence rate 0 for every G20- muscle: Shapiro-Wilk is undefined on a constant sample
    rng = np.random.default_rng(2)
    below, above = np.zeros(20), rng.normal(1.0, 0.5, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compare_groups(below, above)
    assert r.test == "mann_whitney_u" and r.normality_p[0] == 0.0
    assert r.p_value == pytest.approx(pingouin.mwu(below, above)["p_val"].item())


def test_paired_model_comparison_uses_paired_t_for_normal_differences():
    rng = np.random.default_rng(2)
    a = rng.normal(0.9, 0.03, 40)
    b = a - rng.normal(0.01, 0.01, 40)
    r = compare_paired(a, b)
    assert r.test == "paired_t"
    assert r.p_value == pytest.approx(pingouin.ttest(a, b, paired=True)["p_val"].item())


def test_paired_model_comparison_uses_wilcoxon_for_skewed_differences():
    rng = np.random.default_rng(3)
    a = rng.normal(0.9, 0.03, 40)
    b = a - rng.exponential(0.02, 40)
    r = compare_paired(a, b)
    assert r.test == "wilcoxon_signed_rank"
    assert r.p_value == pytest.approx(pingouin.wilcoxon(a, b)["p_val"].item())


def test_nan_never_silently_drops_a_pair():
    with pytest.raises(ValueError, match="1 of 4 values are NaN"):
        compare_paired([0.9, 0.8, np.nan, 0.7], [0.9, 0.8, 0.85, 0.7])


def test_holm_equals_statsmodels_and_pingouin():
    p = {"dice": 0.01, "ff_delta": 0.04, "t2_delta": 0.03, "volume_delta_cm3": 0.2}
    table = holm(p)
    values = list(p.values())
    assert table["p_holm"].tolist() == pytest.approx(
        multipletests(values, method="holm")[1].tolist()
    )
    reject, corrected = pingouin.multicomp(values, method="holm")
    assert table["p_holm"].tolist() == pytest.approx(list(corrected))
    assert table["reject"].tolist() == list(reject)


def test_compare_models_pairs_on_case_and_structure_and_holm_corrects():
    rng = np.random.default_rng(4)
    keys = pd.DataFrame({"case": np.repeat(range(15), 2), "label": ["VL", "VM"] * 15})
    a = keys.assign(dice=rng.normal(0.9, 0.02, 30), hd95=rng.normal(3, 0.5, 30))
    b = keys.assign(
        dice=a["dice"] - 0.02 + rng.normal(0, 0.005, 30), hd95=a["hd95"] + rng.normal(0, 0.5, 30)
    )
    table = compare_models(a, b.sample(frac=1, random_state=0), ["dice", "hd95"]).set_index(
        "metric"
    )
    assert table.loc["dice", "n"] == 30 and table.loc["dice", "mean_diff"] == pytest.approx(
        0.02, abs=0.005
    )
    raw = [
        compare_paired(a["dice"], b["dice"]).p_value,
        compare_paired(a["hd95"], b["hd95"]).p_value,
    ]
    assert table["p_holm"].tolist() == pytest.approx(multipletests(raw, method="holm")[1].tolist())


def test_compare_models_refuses_unpaired_cases():
    a = pd.DataFrame({"case": [0, 1, 2, 3], "label": "VL", "dice": [0.9, 0.8, 0.85, 0.7]})
    with pytest.raises(ValueError, match="1 rows only in a"):
        compare_models(a, a.iloc[:3], ["dice"])
