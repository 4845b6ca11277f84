"""Surface metrics (HD95, ASSD, NSD) cross-checked against MONAI 1.6.1 and medpy.

MONAI works in float32: it rounds each (float64 k-d tree) distance to float32, averages in
float32, and ``torch.quantile`` places the 95th-percentile rank in float32, which moves its
HD95 by up to ~n·eps32 times the gap between neighbouring distances. Agreement is therefore
asserted to 1e-6 mm plus four float32 ulps of the value (ASSD), 1e-6 mm plus 1e-5 of the
value (HD95) and 1e-6 (NSD, a ratio of counts). The benchmark measures ~5e-8 mm.
"""

from __future__ import annotations

import warnings

import medpy.metric.binary as medpy_binary
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.metrics import (
    HausdorffDistanceMetric,
    SurfaceDistanceMetric,
    compute_surface_dice,
    get_mask_edges,
)
from scipy import ndimage

from mskbench.harness.metrics.surface import (
    SurfaceDistances,
    assd,
    hd95,
    nsd,
    surface_distances,
    surface_voxels,
)

FLOAT32_RTOL = 4 * np.finfo(np.float32).eps
QUANTILE_RTOL = 1e-5
TOLERANCE_MM = 1.5


def blobs(shape: tuple[int, ...], n_labels: int, seed: int, sigma: float = 3.0) -> np.ndarray:
    """Random smooth multi-label map: touching structures, holes, several components."""
    rng = np.random.default_rng(seed)
    fields = np.stack(
        [ndimage.gaussian_filter(rng.normal(size=shape), sigma) for _ in range(n_labels + 1)]
    )
    fields[0] += 0.02  # some background
    return fields.argmax(axis=0).astype(np.uint8)


def monai_surface(ref: np.ndarray, pred: np.ndarray, spacing, n_labels: int, tol: float):
    def one_hot(a: np.ndarray) -> torch.Tensor:
        t = F.one_hot(torch.from_numpy(a.astype(np.int64)), n_labels + 1)
        return t.movedim(-1, 0)[None].double()

    y, y_pred = one_hot(ref), one_hot(pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = HausdorffDistanceMetric(percentile=95)(y_pred, y, spacing=list(spacing))[0].numpy()
        sd = SurfaceDistanceMetric(symmetric=True)(y_pred, y, spacing=list(spacing))[0].numpy()
        ns = compute_surface_dice(y_pred, y, [tol] * n_labels, spacing=list(spacing))[0].numpy()
    return hd.astype(float), sd.astype(float), ns.astype(float)


def ours(ref: np.ndarray, pred: np.ndarray, spacing, n_labels: int, tol: float):
    d = surface_distances(ref, pred, spacing, list(range(1, n_labels + 1)))
    return (
        np.array([hd95(d[v]) for v in d]),
        np.array([assd(d[v]) for v in d]),
        np.array([nsd(d[v], tol) for v in d]),
    )


def assert_matches_monai(ref, pred, spacing, n_labels, tol=TOLERANCE_MM):
    hd, sd, ns = ours(ref, pred, spacing, n_labels, tol)
    m_hd, m_sd, m_ns = monai_surface(ref, pred, spacing, n_labels, tol)
    np.testing.assert_allclose(hd, m_hd, rtol=QUANTILE_RTOL, atol=1e-6)
    np.testing.assert_allclose(sd, m_sd, rtol=FLOAT32_RTOL, atol=1e-6)
    np.testing.assert_allclose(ns, m_ns, rtol=0, atol=1e-6)


CASES = [
    ((48, 56), (0.7, 0.9), 3),
    ((40, 40), (1.0, 1.0), 2),
    ((10, 36, 30), (4.0, 0.68, 0.68), 4),
    ((16, 20, 24), (1.0, 1.0, 1.0), 3),
    ((12, 30, 26), (2.5, 0.5, 1.2), 2),
]


@pytest.mark.parametrize(("shape", "spacing", "n_labels"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_hd95_assd_nsd_equal_monai_on_random_label_maps(shape, spacing, n_labels, seed):
    ref = blobs(shape, n_labels, seed)
    pred = (
        blobs(shape, n_labels, seed + 100)
        if seed
        else ndimage.shift(ref, (1,) * len(shape), order=0)
    )
    assert_matches_monai(ref, pred, spacing, n_labels)


@pytest.mark.parametrize(("shape", "spacing", "n_labels"), CASES)
def test_far_stray_voxels_use_exact_distances_like_monai(shape, spacing, n_labels):
    """Strays far from the structure: resolved by the k-d tree, not the local search."""
    rng = np.random.default_rng(7)
    ref = blobs(shape, n_labels, 3, sigma=4.0)
    ref[..., : shape[-1] // 2] = 0
    pred = ref.copy()
    idx = tuple(rng.integers(0, s, 15) for s in shape)
    pred[idx] = rng.integers(1, n_labels + 1, 15)
    assert_matches_monai(ref, pred, spacing, n_labels)


def test_one_voxel_structures_match_monai():
    ref = np.zeros((9, 11, 13), np.uint8)
    pred = np.zeros_like(ref)
    ref[4, 5, 6], pred[4, 5, 9] = 1, 1  # single voxels 3 voxels apart in x
    ref[1, 1, 1], pred[1, 1, 1] = 2, 2  # identical single voxels
    ref[7, 2, 2] = 3
    pred[7, 2, 3] = 3
    pred[0, 10, 12] = 3  # a far stray of label 3
    spacing = (3.0, 0.8, 0.6)
    assert_matches_monai(ref, pred, spacing, 3)
    d = surface_distances(ref, pred, spacing, [1, 2])
    assert hd95(d[1]) == pytest.approx(1.8)
    assert hd95(d[2]) == 0.0


def test_touching_structures_have_their_own_surfaces():
    """Two labels sharing a face: the shared face is surface of both, as MONAI's per-label
    erosion gives."""
    ref = np.zeros((20, 20), np.uint8)
    ref[5:15, 3:10], ref[5:15, 10:17] = 1, 2
    pred = ref.copy()
    pred[5:15, 10] = 1  # boundary moved by one pixel
    assert_matches_monai(ref, pred, (0.5, 0.7), 2)


def test_surface_voxels_equal_monai_and_medpy_edges_per_label():
    ref = blobs((14, 18, 16), 3, 5)
    ref[0, 0, :] = 1  # structures touching the image border
    ref[:, -1, -1] = 2
    surface = surface_voxels(ref)
    for value in (1, 2, 3):
        mask = ref == value
        monai_edges, _ = get_mask_edges(mask, mask, crop=False)
        np.testing.assert_array_equal(surface & mask, monai_edges)
        medpy_edges = mask ^ ndimage.binary_erosion(mask, ndimage.generate_binary_structure(3, 1))
        np.testing.assert_array_equal(surface & mask, medpy_edges)


def test_both_empty_gives_zero_distances_and_full_nsd_where_monai_gives_nan():
    empty = np.zeros((8, 8), np.uint8)
    d = surface_distances(empty, empty, (1.0, 1.0), [1])[1]
    assert (hd95(d), assd(d), nsd(d, 1.0)) == (0.0, 0.0, 1.0)
    _, _, m_ns = monai_surface(empty, empty, (1.0, 1.0), 1, 1.0)
    assert np.isnan(m_ns[0])  # MONAI's NaN for an absent class: a documented difference


def test_missed_structure_has_nan_distances_and_zero_nsd():
    ref = np.zeros((8, 8), np.uint8)
    ref[2:5, 2:5] = 1
    d = surface_distances(ref, np.zeros_like(ref), (1.0, 1.0), [1])[1]
    assert np.isnan(hd95(d)) and np.isnan(assd(d))
    assert nsd(d, 2.0) == 0.0
    m_hd, _, m_ns = monai_surface(ref, np.zeros_like(ref), (1.0, 1.0), 1, 2.0)
    assert np.isinf(m_hd[0]) or np.isnan(m_hd[0])  # MONAI: inf/NaN, never a usable number
    assert m_ns[0] == 0.0


def test_spurious_structure_has_nan_distances_and_zero_nsd():
    pred = np.zeros((8, 8), np.uint8)
    pred[1:3, 1:3] = 1
    d = surface_distances(np.zeros_like(pred), pred, (1.0, 1.0), [1])[1]
    assert d.one_empty and np.isnan(hd95(d)) and np.isnan(assd(d)) and nsd(d, 2.0) == 0.0
    m_hd, m_sd, m_ns = monai_surface(np.zeros_like(pred), pred, (1.0, 1.0), 1, 2.0)
    assert not np.isfinite(m_hd[0]) and not np.isfinite(m_sd[0])  # MONAI: inf, no number
    assert m_ns[0] == 0.0


def test_medpy_hd95_pools_directions_unlike_monai_but_medpy_assd_agrees():
    """medpy's hd95 is the 95th percentile of the pooled directed distances; mskbench (and
    MONAI) take the max of the two directed 95th percentiles. Asymmetric case: a prediction
    with a thin protrusion the reference lacks."""
    ref = np.zeros((40, 40), np.uint8)
    ref[5:25, 5:25] = 1
    pred = ref.copy()
    pred[14:16, 25:38] = 1
    spacing = (1.0, 1.0)
    d = surface_distances(ref, pred, spacing, [1])[1]
    directed = getattr(medpy_binary, "__surface_distances")
    p2r, r2p = directed(pred == 1, ref == 1, spacing, 1), directed(ref == 1, pred == 1, spacing, 1)
    np.testing.assert_allclose(np.sort(d.pred_to_ref), np.sort(p2r))
    np.testing.assert_allclose(np.sort(d.ref_to_pred), np.sort(r2p))
    assert hd95(d) == pytest.approx(max(np.percentile(p2r, 95), np.percentile(r2p, 95)))
    assert medpy_binary.hd95(pred, ref, spacing) < hd95(d) - 1.0  # pooled is smaller
    # medpy 0.5.2's assd pools both directions, as mskbench and MONAI do
    assert assd(d) == pytest.approx(medpy_binary.assd(pred, ref, spacing), rel=1e-12)


def test_nsd_counts_surface_voxels_within_tolerance():
    d = SurfaceDistances(np.array([0.0, 1.0, 3.0]), np.array([0.5, 2.0]))
    assert nsd(d, 2.0) == pytest.approx(4 / 5)
    assert hd95(d) == pytest.approx(max(np.percentile([0, 1, 3], 95), np.percentile([0.5, 2], 95)))
    assert assd(d) == pytest.approx(6.5 / 5)
