"""Across cases: worst-case distances, absence rate, Tukey outlier rate, summaries with CIs.

Input is the concatenation of `evaluate_segmentation` tables (one row per case and
structure). Rates are in %, as the seeds report them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mskbench.harness.metrics.catalog import metric_info
from mskbench.harness.stats.ci import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_interval,
    t_interval,
)

DISTANCE_METRICS = ("hd95", "assd")


def with_worst_case_distances(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` with missing HD95/ASSD replaced by ``image_diagonal_mm``.

    A distance is missing when exactly one mask is empty (``absent`` or ``spurious``);
    it is replaced by the image diagonal, never dropped (dropping makes a model that misses
    more structures look better). A NaN distance in any other row raises.
    """
    out = table.copy()
    one_empty = out["absent"] | out["spurious"]
    for metric in DISTANCE_METRICS:
        stray = out[metric].isna() & ~one_empty
        if stray.any():
            raise ValueError(f"{int(stray.sum())} rows have NaN {metric} without an empty mask")
        out.loc[one_empty, metric] = out.loc[one_empty, "image_diagonal_mm"]
    return out


def absence_rate(table: pd.DataFrame) -> float:
    """Share (%) of reference structures (``ref_voxels > 0``) with no predicted voxel.

    Lower is better. Seed 003's AR. NaN when no structure is present in any reference.
    """
    present = table["ref_voxels"] > 0
    if not present.any():
        return float("nan")
    return float(100.0 * table.loc[present, "absent"].mean())


@dataclass(frozen=True)
class TukeyFence:
    """Outlier fence ``Q1 − k·IQR`` / ``Q3 + k·IQR`` of a metric's pooled values.

    ``higher_is_better`` True: outliers lie below ``low``; False: above ``high``; None
    (signed bias): the fence is computed on |value| and outliers lie above ``high``.
    Quartiles use numpy's linear interpolation.
    """

    low: float
    high: float
    higher_is_better: bool | None

    @classmethod
    def of(
        cls, pooled: Sequence[float], higher_is_better: bool | None, k: float = 1.5
    ) -> TukeyFence:
        x = np.asarray(pooled, dtype=np.float64)
        if np.isnan(x).any():
            raise ValueError(f"{int(np.isnan(x).sum())} pooled values are NaN")
        if higher_is_better is None:
            x = np.abs(x)
        q1, q3 = np.percentile(x, [25, 75])
        return cls(float(q1 - k * (q3 - q1)), float(q3 + k * (q3 - q1)), higher_is_better)

    def outliers(self, values: Sequence[float]) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if self.higher_is_better is True:
            return x < self.low
        if self.higher_is_better is False:
            return x > self.high
        return np.abs(x) > self.high


def outlier_rates(table: pd.DataFrame, metric: str, by: str = "model") -> pd.Series:
    """Outlier rate (%) of ``metric`` per group ``by`` (e.g. model), with one Tukey fence
    from the values of all groups pooled, so a uniformly bad model is not hidden.

    Direction from the catalogue. Seed 003's OR (below Q1 − 1.5·IQR of DSC). NaN values
    raise: apply `with_worst_case_distances` to distances first.
    """
    fence = TukeyFence.of(table[metric], metric_info(metric).higher_is_better)
    flags = pd.Series(fence.outliers(table[metric]), index=table.index)
    return 100.0 * flags.groupby(table[by]).mean()


def summarize(
    table: pd.DataFrame,
    metric: str,
    *,
    fold: str | None = None,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, float | int | str]:
    """Summary of one metric over the rows of ``table`` (one model, one structure or all).

    Returns ``mean``, ``sd`` (ddof=1), ``median``, ``n``, ``n_both_empty``, ``n_absent``,
    ``ci_low``, ``ci_high`` and ``ci_method``. With ``fold`` (a column name) the CI is the
    t interval over the per-fold means (seed 000's "95 % CI over folds"; it is centred on the
    mean of the fold means, which differs from ``mean`` when folds differ in size);
    otherwise the BCa bootstrap over rows with a fixed ``seed``. NaN values raise
    (substitute worst-case distances first).
    """
    x = table[metric].to_numpy(dtype=np.float64)
    if np.isnan(x).any():
        raise ValueError(f"{int(np.isnan(x).sum())} NaN values of {metric}; substitute them first")
    if fold is not None:
        low, high = t_interval(table.groupby(fold)[metric].mean().to_numpy(), confidence)
        method = f"t over {table[fold].nunique()} folds"
    else:
        lows, highs = bootstrap_interval(
            (x,), np.mean, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        low, high = float(lows[0]), float(highs[0])
        method = f"BCa bootstrap over {x.size} rows, {n_resamples} resamples, seed {seed}"
    return {
        "metric": metric,
        "mean": float(x.mean()) if x.size else float("nan"),
        "sd": float(x.std(ddof=1)) if x.size > 1 else float("nan"),
        "median": float(np.median(x)) if x.size else float("nan"),
        "n": int(x.size),
        "n_both_empty": int(table["both_empty"].sum()) if "both_empty" in table else 0,
        "n_absent": int(table["absent"].sum()) if "absent" in table else 0,
        "ci_low": low,
        "ci_high": high,
        "ci_method": method,
    }
