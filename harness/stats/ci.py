"""95 % confidence intervals: t over cross-validation folds, BCa bootstrap over cases.

Which one a summary uses follows the seed: seed 000 reports a t interval over its five CV
folds (`t_interval` on the per-fold values); seed 004 and, by default, every other
summary use the bias-corrected and accelerated bootstrap over cases (`bootstrap_interval`,
``scipy.stats.bootstrap(method="BCa")`` with a fixed seed so numbers are reproducible).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

DEFAULT_RESAMPLES = 9999
DEFAULT_SEED = 0


def require_finite(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    n_nan = int(np.count_nonzero(~np.isfinite(x)))
    if n_nan:
        raise ValueError(
            f"{what}: {n_nan} of {x.size} values are NaN/inf; substitute or drop them explicitly"
        )
    return x


def t_interval(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (e.g. one value per CV fold):
    ``mean ± t_{(1+confidence)/2, n-1} · SD / √n`` with SD ddof=1.

    NaN when fewer than 2 values; the mean itself when all values are equal.
    """
    x = require_finite(values, "t_interval")
    if x.size < 2:
        return (float("nan"), float("nan"))
    if np.ptp(x) == 0:  # zero spread: scipy would warn and give NaN for scale 0
        return (float(x[0]), float(x[0]))
    low, high = stats.t.interval(confidence, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    return (float(low), float(high))


def bootstrap_interval(
    data: Sequence[np.ndarray],
    statistic: Callable[..., float | np.ndarray],
    *,
    paired: bool = True,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """BCa bootstrap interval of ``statistic(*data)`` resampling cases (rows) with a fixed seed.

    ``statistic`` takes the samples in ``data`` (1D, equal length when ``paired``) and returns
    a number or a 1D array (several statistics from one set of resamples); it is called
    vectorised when it has an ``axis`` parameter (e.g. ``np.mean``), as in scipy. Returns
    ``(low, high)`` arrays shaped like the statistic. A statistic that is constant over the
    data (e.g. all values equal) gets the degenerate interval ``(value, value)``; a
    statistic undefined on some resamples (e.g. AUROC of a resample with one class) yields
    NaN bounds, never a silently narrowed interval.
    """
    arrays = [np.asarray(d) for d in data]
    for a in arrays:
        if a.dtype.kind == "f":
            require_finite(a, "bootstrap_interval")
    point = np.atleast_1d(np.asarray(statistic(*arrays), dtype=np.float64))
    if arrays[0].size < 2:
        return np.full(point.shape, np.nan), np.full(point.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            arrays,
            statistic,
            paired=paired,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
    low = np.atleast_1d(np.asarray(result.confidence_interval.low, dtype=np.float64))
    high = np.atleast_1d(np.asarray(result.confidence_interval.high, dtype=np.float64))
    spread = np.ptp(np.atleast_2d(result.bootstrap_distribution), axis=-1)
    constant = spread <= 1e-12 * np.maximum(1.0, np.abs(point))
    low[constant], high[constant] = point[constant], point[constant]
    return low, high
