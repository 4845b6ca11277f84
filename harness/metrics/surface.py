"""Surface distances in mm: HD95, ASSD and NSD from one set of exact distances.

Surface definition (identical to MONAI 1.6.1 ``get_mask_edges`` without sub-voxels and to
medpy): the surface of a binary mask is ``mask XOR binary_erosion(mask)`` with the
face-connected cross structuring element and zero border, so a voxel is a surface voxel of
its label when a face neighbour carries another label or lies outside the image. For a label
map this is found for *all* labels in one pass of ``2 · ndim`` shifted comparisons.

Distances are exact Euclidean distances in mm between voxel centres (coordinates scaled by
``spacing``, array-axis order). They are computed once per label and direction and shared
by HD95, ASSD and NSD. Hand-written rather than calling MONAI or medpy because those
recompute edges and distances for each metric (MONAI) or run a distance transform over
the whole bounding box or volume (medpy), which is slow when stray voxels make a label's
bounding box span the image. Here each directed distance set is one k-d tree query
(``scipy.spatial.cKDTree``) between surface point sets, which is exact and independent of
bounding boxes; points that lie on both surfaces of a label have distance exactly 0 and
are not queried.

A directed distance to an empty surface is ``+inf`` (as in MONAI); the metric functions
turn that into the empty-mask conventions of docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed surface distances of one label, in mm.

    ``pred_to_ref[i]``: distance from predicted surface voxel ``i`` to the nearest reference
    surface voxel (``+inf`` when the reference is empty); ``ref_to_pred`` the other way.
    """

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray

    @property
    def both_empty(self) -> bool:
        return self.pred_to_ref.size == 0 and self.ref_to_pred.size == 0

    @property
    def one_empty(self) -> bool:
        return (self.pred_to_ref.size == 0) != (self.ref_to_pred.size == 0)


def surface_voxels(label_map: np.ndarray) -> np.ndarray:
    """Boolean mask of voxels on the surface of their own (non-zero) label.

    Equals, for every label ``L``, ``(m ^ scipy.ndimage.binary_erosion(m))`` with
    ``m = label_map == L`` (cross structure, ``border_value=0``), computed for all labels at
    once.
    """
    surface = np.zeros(label_map.shape, dtype=bool)
    for axis in range(label_map.ndim):
        lo = [slice(None)] * label_map.ndim
        hi = [slice(None)] * label_map.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        differs = label_map[tuple(lo)] != label_map[tuple(hi)]
        surface[tuple(lo)] |= differs
        surface[tuple(hi)] |= differs
        lo[axis], hi[axis] = 0, -1
        surface[tuple(lo)] = True
        surface[tuple(hi)] = True
    surface &= label_map != 0
    return surface


LOCAL_RADIUS_VOXELS = 2.0
"""Local search radius, in multiples of the smallest voxel spacing (see `_local_search`)."""


@dataclass(frozen=True)
class _SurfacePoints:
    """Surface voxels of one label map, sorted by label value."""

    index: np.ndarray  # (n, ndim) voxel indices
    labels: np.ndarray  # (n,) label value of each point
    starts: np.ndarray  # points of label v are [starts[v], starts[v + 1])

    @classmethod
    def of(cls, label_map: np.ndarray, surface: np.ndarray, n_values: int) -> _SurfacePoints:
        flat = np.flatnonzero(surface)
        labels = label_map.ravel()[flat]
        order = np.argsort(labels, kind="stable")
        flat, labels = flat[order], labels[order]
        starts = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_values))])
        return cls(np.stack(np.unravel_index(flat, label_map.shape), axis=1), labels, starts)

    def span(self, value: int) -> slice:
        return slice(int(self.starts[value]), int(self.starts[value + 1]))


def _offset_shells(spacing: np.ndarray, radius_mm: float) -> list[tuple[float, np.ndarray]]:
    """All integer voxel offsets no longer than ``radius_mm``, grouped by length (mm),
    shortest first: ``[(length_mm, offsets (k, ndim)), ...]``, starting with the zero offset."""
    reach = np.floor(radius_mm / spacing).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1)
    offsets = grid.reshape(-1, spacing.size)
    lengths = np.sqrt(((offsets * spacing) ** 2).sum(axis=1))
    keep = lengths <= radius_mm
    offsets, lengths = offsets[keep], lengths[keep]
    return [(float(ell), offsets[lengths == ell]) for ell in np.unique(lengths)]


def _local_search(
    query: _SurfacePoints,
    target_surface_labels: np.ndarray,
    spacing: np.ndarray,
    shells: list[tuple[float, np.ndarray]],
) -> np.ndarray:
    """Exact distances (mm) of the query points whose nearest same-label target surface voxel
    lies within the shells' radius; ``+inf`` for the others.

    Offsets are visited shell by shell in increasing length, for all labels at once. A point
    first hits a target voxel of its own label in the shell of length ``l``: every shorter
    offset was checked and missed, so ``l`` is its exact nearest distance. Zero offset =
    the point lies on both surfaces.
    """
    reach = np.floor(max(ell for ell, _ in shells) / spacing).astype(int)
    padded = np.pad(target_surface_labels, [(r, r) for r in reach])
    flat_target = padded.ravel()
    strides = np.array(padded.strides) // padded.itemsize
    base = (query.index + reach) @ strides
    distances = np.full(query.labels.size, np.inf)
    remaining = np.arange(query.labels.size)
    for length, offsets in shells:
        hit = np.zeros(remaining.size, dtype=bool)
        at, own = base[remaining], query.labels[remaining]
        for step in offsets @ strides:
            hit |= flat_target[at + step] == own
        distances[remaining[hit]] = length
        remaining = remaining[~hit]
        if remaining.size == 0:
            break
    return distances


def _directed(
    query: _SurfacePoints,
    target: _SurfacePoints,
    target_surface_labels: np.ndarray,
    spacing: np.ndarray,
    shells: list[tuple[float, np.ndarray]],
    values: Sequence[int],
) -> np.ndarray:
    """Distance (mm) from every query surface point to the nearest target surface point of
    the same label: local shells first, one k-d tree per label for the rest."""
    distances = _local_search(query, target_surface_labels, spacing, shells)
    for value in values:
        q_span, t_span = query.span(value), target.span(value)
        d = distances[q_span]
        far = np.isinf(d)
        if not far.any() or t_span.start == t_span.stop:
            continue  # all resolved locally, or no target surface (distance stays inf)
        tree = cKDTree(target.index[t_span] * spacing, balanced_tree=False, compact_nodes=False)
        d[far] = tree.query(query.index[q_span][far] * spacing, k=1)[0]
        distances[q_span] = d
    return distances


def surface_distances(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: Sequence[float],
    values: Sequence[int],
) -> dict[int, SurfaceDistances]:
    """Directed surface distances (mm) of each label value in ``values``.

    ``reference`` and ``prediction`` are non-negative integer label maps of one shape;
    ``spacing`` is the voxel size in mm in array-axis order.
    """
    spacing_mm = np.asarray(spacing, dtype=np.float64)
    n_values = int(max(reference.max(initial=0), prediction.max(initial=0), *values)) + 1
    shells = _offset_shells(spacing_mm, LOCAL_RADIUS_VOXELS * spacing_mm.min())
    ref_surface, pred_surface = surface_voxels(reference), surface_voxels(prediction)
    ref_points = _SurfacePoints.of(reference, ref_surface, n_values)
    pred_points = _SurfacePoints.of(prediction, pred_surface, n_values)
    ref_labels = np.where(ref_surface, reference, 0)
    pred_labels = np.where(pred_surface, prediction, 0)
    pred_to_ref = _directed(pred_points, ref_points, ref_labels, spacing_mm, shells, values)
    ref_to_pred = _directed(ref_points, pred_points, pred_labels, spacing_mm, shells, values)
    return {
        v: SurfaceDistances(pred_to_ref[pred_points.span(v)], ref_to_pred[ref_points.span(v)])
        for v in values
    }


def hd95(d: SurfaceDistances) -> float:
    """95th-percentile Hausdorff distance in mm, lower is better.

    ``max(P95(pred→ref), P95(ref→pred))`` with linear percentile interpolation: MONAI's
    ``HausdorffDistanceMetric(percentile=95)``. medpy's ``hd95`` instead takes the 95th
    percentile of the *pooled* directed distances, which is never larger and usually
    smaller. Both empty: 0. One mask empty: NaN (undefined; MONAI returns inf or NaN);
    aggregation substitutes the image diagonal.
    """
    if d.both_empty:
        return 0.0
    if d.one_empty:
        return float("nan")
    return float(max(np.percentile(d.pred_to_ref, 95), np.percentile(d.ref_to_pred, 95)))


def assd(d: SurfaceDistances) -> float:
    """Average symmetric surface distance in mm, lower is better.

    Pooled mean of both directed distance sets, ``(Σ pred→ref + Σ ref→pred) / (n_pred +
    n_ref)``: MONAI's ``SurfaceDistanceMetric(symmetric=True)`` and medpy 0.5.2's ``assd``
    (some other tools average the two directed means instead, which differs when the two
    surfaces have different numbers of voxels).
    Both empty: 0. One mask empty: NaN; aggregation substitutes the image diagonal.
    """
    if d.both_empty:
        return 0.0
    if d.one_empty:
        return float("nan")
    total = d.pred_to_ref.sum() + d.ref_to_pred.sum()
    return float(total / (d.pred_to_ref.size + d.ref_to_pred.size))


def nsd(d: SurfaceDistances, tolerance_mm: float) -> float:
    """Normalised surface Dice at ``tolerance_mm``, fraction, higher is better.

    Share of surface voxels of both masks lying within ``tolerance_mm`` of the other
    surface (``d <= tolerance``), voxel-counted: MONAI ``compute_surface_dice`` with
    ``use_subvoxels=False``. Both empty: 1.0 (MONAI: NaN). One mask empty: 0.0 (as MONAI).
    """
    if d.both_empty:
        return 1.0
    within = np.count_nonzero(d.pred_to_ref <= tolerance_mm)
    within += np.count_nonzero(d.ref_to_pred <= tolerance_mm)
    return float(within / (d.pred_to_ref.size + d.ref_to_pred.size))
