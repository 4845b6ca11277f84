"""Per-case segmentation scoring: one row per structure, every metric of the five seeds.

Inputs are label maps in array-axis order (``(z, y, x)`` or ``(y, x)``), ``spacing`` in mm
in the same order. Overlap metrics come from one confusion count (`overlap`), surface
metrics from one set of exact surface distances (`surface`), volumes and map means from
one ``np.bincount`` per quantity. Conventions: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mskbench.harness.metrics.overlap import (
    JointLabels,
    foreground_pixel_accuracy,
    overlap_metrics,
    pixel_accuracy,
)
from mskbench.harness.metrics.surface import assd, hd95, nsd, surface_distances

MM3_PER_CM3 = 1000.0


def structure_values(labels: Mapping[str, int]) -> dict[str, int]:
    """The foreground entries of a label map (``'background'`` and value 0 dropped)."""
    return {name: int(v) for name, v in labels.items() if v != 0 and name != "background"}


def image_diagonal_mm(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Diagonal of the field of view in mm, ``sqrt(Σ (n_i · s_i)²)``.

    An upper bound of every surface distance in the image: the worst-case value that
    replaces a missing HD95/ASSD (absent or spurious structure) in aggregation.
    """
    return float(np.sqrt(np.sum((np.asarray(shape) * np.asarray(spacing, dtype=float)) ** 2)))


def _check_inputs(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: Sequence[float],
    maps: Mapping[str, np.ndarray],
) -> None:
    if reference.shape != prediction.shape:
        raise ValueError(
            f"shape mismatch: reference {reference.shape}, prediction {prediction.shape}"
        )
    if reference.ndim not in (2, 3):
        raise ValueError(f"label maps must be 2D or 3D, got {reference.ndim}D")
    if len(spacing) != reference.ndim or not all(s > 0 for s in spacing):
        raise ValueError(f"spacing must hold {reference.ndim} positive values in mm, got {spacing}")
    for name, arr in (("reference", reference), ("prediction", prediction)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{name} must be an integer label map, got dtype {arr.dtype}")
        if arr.min(initial=0) < 0:
            raise ValueError(f"{name} holds negative label values")
    for name, m in maps.items():
        if m.shape != reference.shape:
            raise ValueError(f"map {name!r} has shape {m.shape}, label maps {reference.shape}")


def _check_known(confusion: np.ndarray, known: set[int]) -> None:
    """Raise if a label map holds a value that is not in the label map (from the counts)."""
    for name, counts in (
        ("reference", confusion.sum(axis=1)),
        ("prediction", confusion.sum(axis=0)),
    ):
        unknown = sorted(set(np.flatnonzero(counts).tolist()) - known)
        if unknown:
            raise ValueError(f"{name} holds values {unknown} not in the label map")


def _mean_inside(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """sums / counts, NaN where a mask is empty."""
    c = counts.astype(np.float64)
    return np.divide(sums, c, out=np.full(c.shape, np.nan), where=c > 0)


def evaluate_segmentation(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: Sequence[float],
    labels: Mapping[str, int],
    maps: Mapping[str, np.ndarray] | None = None,
    nsd_tolerance_mm: float = 2.0,
) -> pd.DataFrame:
    """Score one case: one row per structure of ``labels`` (name → value, background dropped).

    Columns
        ``label`` (name), ``value``; overlap ``dice, iou, precision, recall`` (fractions,
        higher is better); surface ``hd95, assd`` (mm, lower is better) and ``nsd``
        (fraction at ``nsd_tolerance_mm``, higher is better); ``ref_voxels, pred_voxels``;
        ``ref_volume_cm3, pred_volume_cm3, volume_delta_cm3`` (prediction − reference,
        cm³; NaN for 2D inputs, which have no volume: see `harness.metrics.derived` for
        areas); flags ``both_empty`` (neither mask has a voxel), ``absent`` (reference
        present, prediction empty) and ``spurious`` (reference empty, prediction present);
        ``image_diagonal_mm`` (worst-case distance used in aggregation); for each map
        ``M``: ``M_ref``, ``M_pred`` (mean of the map inside the reference / predicted
        mask, NaN when that mask is empty; a NaN inside a mask propagates) and ``M_delta``
        = ``M_pred − M_ref``.

    Empty masks
        Both empty: Dice/IoU/precision/recall/NSD 1, HD95/ASSD 0. One empty: Dice/IoU/
        precision/recall/NSD 0, HD95/ASSD NaN (replaced by ``image_diagonal_mm`` in
        `harness.metrics.aggregate.with_worst_case_distances`).

    Image-level metrics (one value per case, not per structure) are in ``df.attrs``:
    ``pixel_accuracy`` (all voxels, background included) and ``foreground_pixel_accuracy``
    (voxels foreground in reference or prediction), both from the same confusion count.
    """
    maps = dict(maps or {})
    values = structure_values(labels)
    _check_inputs(reference, prediction, spacing, maps)
    if not nsd_tolerance_mm > 0:
        raise ValueError(f"nsd_tolerance_mm must be > 0, got {nsd_tolerance_mm}")
    v = np.fromiter(values.values(), dtype=np.intp, count=len(values))
    n_values = int(max(reference.max(), prediction.max(), v.max(initial=0))) + 1
    dtype = np.uint8 if n_values <= 256 else np.intp
    ref = reference.astype(dtype, copy=False)
    pred = prediction.astype(dtype, copy=False)

    joint = JointLabels(ref, pred, n_values)
    confusion = joint.confusion()
    _check_known(confusion, {0, *v.tolist()})
    overlap = overlap_metrics(confusion, v)
    distances = surface_distances(ref, pred, spacing, v.tolist())
    ref_n, pred_n = overlap["ref_voxels"], overlap["pred_voxels"]

    if ref.ndim == 3:
        cm3 = float(np.prod(spacing)) / MM3_PER_CM3
        ref_volume, pred_volume = ref_n * cm3, pred_n * cm3
    else:
        ref_volume = pred_volume = np.full(v.size, np.nan)

    table = pd.DataFrame(
        {
            "label": list(values),
            "value": v,
            "dice": overlap["dice"],
            "iou": overlap["iou"],
            "precision": overlap["precision"],
            "recall": overlap["recall"],
            "hd95": [hd95(distances[x]) for x in v.tolist()],
            "assd": [assd(distances[x]) for x in v.tolist()],
            "nsd": [nsd(distances[x], nsd_tolerance_mm) for x in v.tolist()],
            "ref_voxels": ref_n,
            "pred_voxels": pred_n,
            "ref_volume_cm3": ref_volume,
            "pred_volume_cm3": pred_volume,
            "volume_delta_cm3": pred_volume - ref_volume,
            "absent": (ref_n > 0) & (pred_n == 0),
            "both_empty": (ref_n == 0) & (pred_n == 0),
            "spurious": (ref_n == 0) & (pred_n > 0),
            "image_diagonal_mm": image_diagonal_mm(ref.shape, spacing),
        }
    )
    for name, quantity in maps.items():
        sums = joint.confusion(weights=quantity)
        table[f"{name}_ref"] = _mean_inside(sums.sum(axis=1)[v], ref_n)
        table[f"{name}_pred"] = _mean_inside(sums.sum(axis=0)[v], pred_n)
        table[f"{name}_delta"] = table[f"{name}_pred"] - table[f"{name}_ref"]
    table.attrs.update(
        pixel_accuracy=pixel_accuracy(confusion),
        foreground_pixel_accuracy=foreground_pixel_accuracy(confusion),
        nsd_tolerance_mm=float(nsd_tolerance_mm),
        spacing_mm=tuple(float(s) for s in spacing),
    )
    return table
