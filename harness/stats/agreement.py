"""Agreement between a measurement and its reference: Bland–Altman and ICC(A,1).

Differences are ``measured − reference`` (model minus manual, the sign of ``M_delta``), in
the unit of the inputs. Missing values are never dropped: a NaN in either input raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pingouin
from scipy import stats

from mskbench.harness.stats.ci import require_finite


@dataclass(frozen=True)
class BlandAltman:
    """Bland–Altman agreement of ``measured`` with ``reference`` (units of the inputs).

    ``bias`` = mean difference, ``sd`` its SD (ddof=1), limits of agreement
    ``bias ± 1.96·sd``. CIs (t with n−1 df): bias ± t·sd/√n; each limit ± t·√(3·sd²/n)
    (Bland & Altman 1999, approximate SE of a limit; pingouin's ``plot_blandaltman``
    draws the same). ``slope``/``slope_p``: least-squares regression of the difference on
    ``against`` (mean of the two, or the reference value, e.g. FF in seed 003); a slope
    with small p indicates proportional bias.
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]
    slope: float
    intercept: float
    slope_p: float
    against: str


def bland_altman(
    reference: np.ndarray,
    measured: np.ndarray,
    *,
    against: Literal["mean", "reference"] = "mean",
    agreement: float = 1.96,
    confidence: float = 0.95,
) -> BlandAltman:
    """Bland–Altman bias, limits of agreement with CIs, and proportional-bias slope.

    Needs at least 3 pairs; raises on NaN (substitute worst cases first, never drop).
    """
    ref = require_finite(reference, "bland_altman reference")
    meas = require_finite(measured, "bland_altman measured")
    if ref.shape != meas.shape or ref.ndim != 1:
        raise ValueError(f"need two 1D arrays of one length, got {ref.shape} and {meas.shape}")
    n = ref.size
    if n < 3:
        raise ValueError(f"Bland–Altman needs at least 3 pairs, got {n}")
    diff = meas - ref
    bias, sd = float(diff.mean()), float(diff.std(ddof=1))
    t = float(stats.t.ppf((1 + confidence) / 2, n - 1))
    se_bias, se_loa = sd / np.sqrt(n), float(np.sqrt(3 * sd**2 / n))
    low, high = bias - agreement * sd, bias + agreement * sd

    def ci(centre: float, se: float) -> tuple[float, float]:
        return (float(centre - t * se), float(centre + t * se))

    x = (meas + ref) / 2 if against == "mean" else ref
    fit = stats.linregress(x, diff) if np.ptp(x) > 0 else None
    return BlandAltman(
        n=n,
        bias=bias,
        sd=sd,
        loa_low=low,
        loa_high=high,
        bias_ci=ci(bias, se_bias),
        loa_low_ci=ci(low, se_loa),
        loa_high_ci=ci(high, se_loa),
        slope=float(fit.slope) if fit else float("nan"),
        intercept=float(fit.intercept) if fit else float("nan"),
        slope_p=float(fit.pvalue) if fit else float("nan"),
        against=against,
    )


@dataclass(frozen=True)
class ICC:
    """Intraclass correlation ICC(A,1) with its 95 % CI and F-test p-value."""

    icc: float
    ci_low: float
    ci_high: float
    p_value: float
    n_targets: int
    n_raters: int


def icc_a1(ratings: np.ndarray) -> ICC:
    """ICC(A,1): two-way random effects, absolute agreement, single rater (McGraw & Wong
    1996), = Shrout & Fleiss ICC(2,1) = pingouin's ``ICC(A,1)`` (``ICC2`` before 0.7).
    Higher is better, ≤ 1. The CI is pingouin's F-based interval (rounded by pingouin to
    2 decimals).

    ``ratings`` is ``(n_targets, n_raters)``, e.g. columns reference and model. Raises on
    NaN (pingouin would drop the whole target).
    """
    r = require_finite(ratings, "icc_a1")
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise ValueError(f"ratings must be (n_targets >= 2, n_raters >= 2), got {r.shape}")
    long = pd.DataFrame(r).rename_axis("target").reset_index()
    long = long.melt(id_vars="target", var_name="rater", value_name="rating")
    table = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="rating")
    row = table.set_index("Type").loc["ICC(A,1)"]
    low, high = row["CI95"]
    return ICC(float(row["ICC"]), float(low), float(high), float(row["pval"]), *r.shape)
