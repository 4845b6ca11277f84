"""Seed 002's tCSA, fCSA, FI, rCSA and their MAPE / MSE."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_percentage_error, mean_squared_error

from mskbench.harness.metrics import cross_sectional_areas, percentage_errors

LABELS = {"background": 0, "IVD": 1, "MF_L": 2, "PM_R": 3}


def test_areas_fat_infiltration_and_relative_csa_of_a_hand_made_slice():
    labels = np.zeros((20, 20), np.uint8)
    labels[0:10, 0:10] = 1  # disc, 100 px
    labels[10:15, 0:10] = 2  # MF_L, 50 px
    fat = np.zeros((20, 20), bool)
    fat[10:12, 0:10] = True  # 20 px of MF_L
    fat[0, 0:5] = True  # 5 px inside the disc: counted for the disc only
    table = cross_sectional_areas(labels, fat, (0.5, 0.4), LABELS).set_index("label")
    px = 0.5 * 0.4
    assert table.loc["MF_L", "tcsa_mm2"] == pytest.approx(50 * px)
    assert table.loc["MF_L", "fcsa_mm2"] == pytest.approx(20 * px)
    assert table.loc["MF_L", "fi"] == pytest.approx(0.4)
    assert table.loc["MF_L", "rcsa"] == pytest.approx(0.5)
    assert table.loc["PM_R", "tcsa_mm2"] == 0 and np.isnan(table.loc["PM_R", "fi"])


def test_mape_and_mse_exclude_and_count_zero_references():
    ref = np.array([0.2, 0.0, 0.4, 0.25])
    pred = np.array([0.3, 0.1, 0.3, 0.25])
    out = percentage_errors(ref, pred)
    keep = ref != 0
    assert out["n"] == 3 and out["n_zero_reference"] == 1
    assert out["mape"] == pytest.approx(100 * np.mean(np.abs(pred - ref)[keep] / ref[keep]))
    assert out["mape"] == pytest.approx(100 * mean_absolute_percentage_error(ref[keep], pred[keep]))
    assert out["mse"] == pytest.approx(mean_squared_error(ref[keep], pred[keep]))


def test_undefined_derived_values_raise_instead_of_dropping():
    with pytest.raises(ValueError, match="1 pairs contain NaN"):
        percentage_errors([0.2, 0.3], [np.nan, 0.3])
