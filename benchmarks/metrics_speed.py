"""Speed of the full per-case metric set against MONAI and medpy on the same inputs.

A 320 × 320 × 24 thigh-like label map (10 muscles, spacing (10, 0.68, 0.68) mm, array
order z, y, x) with FF/MTR/T2 maps is scored three ways, each computing the same
quantities (Dice, IoU, precision, recall, HD95 = max of directed P95, pooled ASSD, NSD at
2 mm, reference/predicted volume, mean of 3 maps inside reference and prediction):

* mskbench ``evaluate_segmentation``;
* MONAI 1.6.1 metrics (``DiceMetric``, ``MeanIoU``, ``get_confusion_matrix``,
  ``HausdorffDistanceMetric(percentile=95)``, ``SurfaceDistanceMetric(symmetric=True)``,
  ``compute_surface_dice``) on one-hot tensors, volumes and map means from the one-hot;
* medpy 0.5.2 (``dc``, ``jc``, ``precision``, ``recall`` and its directed surface distances,
  computed once per label and direction, from which HD95/ASSD/NSD follow the conventions
  above; medpy's own ``hd95`` pools both directions, a different quantity).

Two predictions: a clean one (a smooth random in-plane displacement of the reference, Dice
≈ 0.95) and the same with 3000 scattered stray voxels (0.12 % of the volume, random labels),
which make each label's bounding box span the volume and raise HD95. Prints times (best of
repeats), speed-ups, and the largest absolute difference of each metric against MONAI
(float32 output) and medpy (float64).

Run: ``.venv/bin/python benchmarks/metrics_speed.py``
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import medpy.metric.binary as medpy_binary
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from monai.metrics import (
    DiceMetric,
    HausdorffDistanceMetric,
    MeanIoU,
    SurfaceDistanceMetric,
    compute_confusion_matrix_metric,
    compute_surface_dice,
    get_confusion_matrix,
)
from scipy import ndimage

from mskbench.harness.metrics import evaluate_segmentation

SHAPE = (24, 320, 320)
SPACING = (10.0, 0.68, 0.68)
N_LABELS = 10
TOLERANCE_MM = 2.0
LABELS = {"background": 0, **{f"muscle{k}": k for k in range(1, N_LABELS + 1)}}
MAPS = ("ff", "mtr", "t2")
COLUMNS = [
    "dice",
    "iou",
    "precision",
    "recall",
    "hd95",
    "assd",
    "nsd",
    "ref_volume_cm3",
    "pred_volume_cm3",
] + [f"{m}_{w}" for m in MAPS for w in ("ref", "pred")]


def phantom(seed: int = 0) -> np.ndarray:
    """Ten elliptic muscles on a ring whose size and position drift along z."""
    rng = np.random.default_rng(seed)
    z, y, x = SHAPE
    yy, xx = np.mgrid[:y, :x]
    out = np.zeros(SHAPE, np.uint8)
    for k in range(1, N_LABELS + 1):
        angle = 2 * np.pi * k / N_LABELS
        cy, cx = 160 + 90 * np.sin(angle), 160 + 90 * np.cos(angle)
        a0, b0 = rng.uniform(18, 32, 2)
        theta = rng.uniform(0, np.pi)
        for s in range(z):
            grow = 1 + 0.25 * np.sin(np.pi * s / z + k)
            dy, dx = yy - cy - 3 * np.sin(s / 4 + k), xx - cx
            u = dy * np.cos(theta) + dx * np.sin(theta)
            v = -dy * np.sin(theta) + dx * np.cos(theta)
            inside = (u / (a0 * grow)) ** 2 + (v / (b0 * grow)) ** 2 <= 1
            out[s][inside & (out[s] == 0)] = k
    return out


def displaced(reference: np.ndarray, amplitude_px: float = 10.0, seed: int = 1) -> np.ndarray:
    """A realistic prediction: the reference warped by a smooth random in-plane field."""
    rng = np.random.default_rng(seed)
    fields = [ndimage.gaussian_filter(rng.normal(size=SHAPE), (1, 12, 12)) for _ in range(2)]
    fields = [f / np.abs(f).max() * amplitude_px for f in fields]
    zz, yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]].astype(float)
    coords = [zz, yy + fields[0], xx + fields[1]]
    return ndimage.map_coordinates(reference, coords, order=0, mode="nearest").astype(np.uint8)


def with_strays(prediction: np.ndarray, n: int = 3000, seed: int = 2) -> np.ndarray:
    """Scatter ``n`` single voxels of random labels over the whole volume."""
    rng = np.random.default_rng(seed)
    out = prediction.copy()
    out[tuple(rng.integers(0, s, n) for s in SHAPE)] = rng.integers(1, N_LABELS + 1, n)
    return out


def run_mskbench(ref: np.ndarray, pred: np.ndarray, maps: dict[str, np.ndarray]) -> pd.DataFrame:
    table = evaluate_segmentation(ref, pred, SPACING, LABELS, maps, TOLERANCE_MM)
    return table.set_index("label")[COLUMNS]


def run_monai(ref: np.ndarray, pred: np.ndarray, maps: dict[str, np.ndarray]) -> pd.DataFrame:
    def one_hot(a: np.ndarray) -> torch.Tensor:
        t = F.one_hot(torch.from_numpy(a.astype(np.int64)), N_LABELS + 1)
        return t.movedim(-1, 0)[None].float()

    y, y_pred = one_hot(ref), one_hot(pred)
    confusion = get_confusion_matrix(y_pred, y, include_background=False)
    out = {
        "dice": DiceMetric(include_background=False, ignore_empty=False)(y_pred, y)[0],
        "iou": MeanIoU(include_background=False, ignore_empty=False)(y_pred, y)[0],
        "precision": compute_confusion_matrix_metric("precision", confusion)[0],
        "recall": compute_confusion_matrix_metric("recall", confusion)[0],
        "hd95": HausdorffDistanceMetric(percentile=95)(y_pred, y, spacing=SPACING)[0],
        "assd": SurfaceDistanceMetric(symmetric=True)(y_pred, y, spacing=SPACING)[0],
        "nsd": compute_surface_dice(y_pred, y, [TOLERANCE_MM] * N_LABELS, spacing=SPACING)[0],
    }
    cm3 = float(np.prod(SPACING)) / 1000.0
    ref_n, pred_n = y[0, 1:].double().sum((1, 2, 3)), y_pred[0, 1:].double().sum((1, 2, 3))
    out["ref_volume_cm3"], out["pred_volume_cm3"] = ref_n * cm3, pred_n * cm3
    for name, m in maps.items():
        t = torch.from_numpy(m)
        out[f"{name}_ref"] = (y[0, 1:].double() * t).sum((1, 2, 3)) / ref_n
        out[f"{name}_pred"] = (y_pred[0, 1:].double() * t).sum((1, 2, 3)) / pred_n
    table = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in out.items()})
    return table.set_axis([n for n in LABELS if n != "background"])[COLUMNS]


_medpy_directed = getattr(medpy_binary, "__surface_distances")  # medpy's own, name-mangled


def run_medpy(ref: np.ndarray, pred: np.ndarray, maps: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = {}
    cm3 = float(np.prod(SPACING)) / 1000.0
    for name, value in LABELS.items():
        if value == 0:
            continue
        a, b = ref == value, pred == value
        p2r = _medpy_directed(b, a, SPACING, 1)
        r2p = _medpy_directed(a, b, SPACING, 1)
        both = np.concatenate([p2r, r2p])
        row = {
            "dice": medpy_binary.dc(b, a),
            "iou": medpy_binary.jc(b, a),
            "precision": medpy_binary.precision(b, a),
            "recall": medpy_binary.recall(b, a),
            "hd95": max(np.percentile(p2r, 95), np.percentile(r2p, 95)),
            "assd": both.mean(),
            "nsd": np.mean(both <= TOLERANCE_MM),
            "ref_volume_cm3": a.sum() * cm3,
            "pred_volume_cm3": b.sum() * cm3,
        }
        for m, values in maps.items():
            row[f"{m}_ref"], row[f"{m}_pred"] = values[a].mean(), values[b].mean()
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")[COLUMNS]


def best_time(fn: Callable[[], pd.DataFrame], repeats: int) -> tuple[float, pd.DataFrame]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    warnings.filterwarnings("ignore")
    ref = phantom()
    rng = np.random.default_rng(3)
    maps = {
        "ff": rng.uniform(0, 60, SHAPE),
        "mtr": rng.uniform(30, 50, SHAPE),
        "t2": rng.uniform(30, 60, SHAPE),
    }
    clean = displaced(ref)
    scenarios = {"clean": clean, "stray voxels": with_strays(clean)}
    run_monai(ref, clean, maps)  # warm-up (imports, torch kernels)
    print(
        f"volume {SHAPE} (z, y, x), spacing {SPACING} mm, {N_LABELS} labels, 3 maps, "
        f"NSD tolerance {TOLERANCE_MM} mm; torch threads {torch.get_num_threads()}; best of repeats"
    )
    for name, pred in scenarios.items():
        t_ours, ours = best_time(lambda p=pred: run_mskbench(ref, p, maps), 5)
        t_monai, monai = best_time(lambda p=pred: run_monai(ref, p, maps), 3)
        t_medpy, medpy = best_time(lambda p=pred: run_medpy(ref, p, maps), 2)
        print(
            f"\n[{name}] mean Dice {ours['dice'].mean():.3f}, max HD95 {ours['hd95'].max():.2f} mm"
        )
        print(f"  mskbench {t_ours * 1e3:8.1f} ms")
        print(f"  MONAI    {t_monai * 1e3:8.1f} ms   speed-up {t_monai / t_ours:6.1f}x")
        print(f"  medpy    {t_medpy * 1e3:8.1f} ms   speed-up {t_medpy / t_ours:6.1f}x")
        diff = pd.DataFrame(
            {
                "vs MONAI": (ours - monai).abs().max(),
                "vs MONAI (rel)": ((ours - monai).abs() / ours.abs().clip(lower=1e-12)).max(),
                "vs medpy": (ours - medpy).abs().max(),
            }
        )
        print("  max |difference| per metric (MONAI returns float32):")
        print(diff.to_string(float_format=lambda v: f"{v:.2e}"))


if __name__ == "__main__":
    main()
