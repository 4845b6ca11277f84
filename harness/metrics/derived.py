"""Seed 002's derived quantities: tCSA, fCSA, FI, rCSA, and their MAPE / MSE.

On one axial slice (2D label map, spacing in mm): tCSA = area of a structure (mm²),
fCSA = area of fat pixels inside it (mm²), FI = fCSA / tCSA (fraction), rCSA = muscle tCSA /
disc tCSA (fraction; the disc is the IVD label). Areas come from one ``np.bincount`` each.
Model values are compared with the reference by MAPE (%) and MSE (unit²), computed with
scikit-learn as in the seed; pairs with a zero reference are excluded from both and counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_percentage_error, mean_squared_error

from mskbench.harness.metrics.segmentation import structure_values


def cross_sectional_areas(
    label_map: np.ndarray,
    fat: np.ndarray,
    spacing: Sequence[float],
    labels: Mapping[str, int],
    disc: str = "IVD",
) -> pd.DataFrame:
    """tCSA, fCSA, FI and rCSA of every structure on one 2D slice.

    ``fat`` is a boolean fat mask on the same grid (only its pixels inside a structure
    count). Columns: label, value, tcsa_mm2, fcsa_mm2, fi (NaN when tCSA is 0), rcsa
    (structure tCSA / ``disc`` tCSA; NaN when the disc is missing from ``labels`` or empty).
    """
    if label_map.ndim != 2 or len(spacing) != 2:
        raise ValueError(
            f"cross-sectional areas need a 2D slice and 2 spacings, got {label_map.shape}"
        )
    if fat.shape != label_map.shape:
        raise ValueError(f"fat mask shape {fat.shape} differs from label map {label_map.shape}")
    values = structure_values(labels)
    n = int(max(label_map.max(initial=0), *values.values())) + 1
    pixel_mm2 = float(np.prod(spacing))
    flat = label_map.ravel()
    total = np.bincount(flat, minlength=n) * pixel_mm2
    fatty = np.bincount(flat[np.asarray(fat, dtype=bool).ravel()], minlength=n) * pixel_mm2
    v = np.array(list(values.values()), dtype=np.intp)
    disc_area = total[values[disc]] if disc in values else 0.0
    table = pd.DataFrame(
        {"label": list(values), "value": v, "tcsa_mm2": total[v], "fcsa_mm2": fatty[v]}
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table["fi"] = np.where(table["tcsa_mm2"] > 0, table["fcsa_mm2"] / table["tcsa_mm2"], np.nan)
        table["rcsa"] = table["tcsa_mm2"] / disc_area if disc_area > 0 else np.nan
    return table


def percentage_errors(
    reference: Sequence[float], predicted: Sequence[float]
) -> dict[str, float | int]:
    """MAPE (%) and MSE of ``predicted`` against ``reference`` over pairs with a non-zero
    reference (lower is better); ``n`` pairs used, ``n_zero_reference`` excluded.

    A NaN on either side raises with its count (e.g. FI of a missed muscle is undefined:
    decide its value explicitly). MAPE = 100 · mean(|pred − ref| / |ref|).
    """
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    if ref.shape != pred.shape:
        raise ValueError(f"{ref.size} reference values but {pred.size} predictions")
    n_nan = int(np.count_nonzero(np.isnan(ref) | np.isnan(pred)))
    if n_nan:
        raise ValueError(f"{n_nan} pairs contain NaN; substitute or exclude them explicitly")
    keep = ref != 0
    out: dict[str, float | int] = {"n": int(keep.sum()), "n_zero_reference": int((~keep).sum())}
    if not keep.any():
        return {"mape": float("nan"), "mse": float("nan"), **out}
    return {
        "mape": float(100.0 * mean_absolute_percentage_error(ref[keep], pred[keep])),
        "mse": float(mean_squared_error(ref[keep], pred[keep])),
        **out,
    }
