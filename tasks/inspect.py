"""Look at a dataset as data: per-structure map statistics and how hard its boundaries are.

- `structure_map_means`: mean of each quantitative map inside each reference structure,
  one row per (case, structure) — e.g. the per-muscle FF distribution of seed 003 Fig. 2;
  `distributions_by_structure` summarises them per structure and over all.
- `boundary_contrast`: Michelson contrast of the image across each structure's boundary
  where it meets non-structure tissue ``(I_out − I_in) / (I_out + I_in)``, from 1-pixel
  rings inside and outside the boundary in each slice. Fat infiltration reaching the
  muscle edge lowers it.
- `threshold_baseline`: what a plain intensity threshold achieves. Three-class Otsu
  (air / muscle / fat) gives a muscle mask; its Dice against the union of all muscles
  shows tissue contrast is there, and per-structure Dice of its best-overlapping
  connected component shows whether thresholding can tell muscles apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.filters import threshold_multiotsu

from mskbench.tasks.contract.dataset import Case, Dataset

_IN_PLANE = np.zeros((3, 3, 3), bool)
_IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)


def structure_map_means(dataset: Dataset, case_ids: list[str] | None = None) -> pd.DataFrame:
    """Rows ``case_id, subject_id, site, structure, <map>...`` (map means in map units)."""
    rows = []
    task = dataset.task
    for case_id in case_ids or dataset.case_ids:
        case = dataset.load(case_id)
        counts = np.bincount(case.label.ravel(), minlength=len(task.labels))
        sums = {
            name: np.bincount(case.label.ravel(), weights=array.ravel(), minlength=len(task.labels))
            for name, array in case.maps.items()
        }
        for structure in task.structure_names:
            value = task.labels[structure]
            if counts[value] == 0:
                continue
            row = {"case_id": case_id, "subject_id": case.subject_id, "site": case.site}
            row |= {"structure": structure, "voxels": int(counts[value])}
            row |= {name: float(s[value] / counts[value]) for name, s in sums.items()}
            rows.append(row)
    return pd.DataFrame(rows)


def distribution(values: pd.Series, threshold: float | None = None) -> dict[str, float]:
    """mean, SD (ddof=1), min, max, coefficient of variation, n, and share ≥ threshold (%)."""
    v = values.to_numpy(float)
    out = {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)),
        "min": float(v.min()),
        "max": float(v.max()),
        "cv": float(v.std(ddof=1) / v.mean()),
        "n": len(v),
    }
    if threshold is not None:
        out["share_at_or_above_%"] = float(100.0 * (v >= threshold).mean())
    return out


def distributions_by_structure(
    means: pd.DataFrame, structures: list[str], map_name: str, threshold: float | None = None
) -> dict[str, dict[str, float]]:
    """`distribution` of one map's structure means (rows of `structure_map_means`) per
    structure, in the order of ``structures`` (those with no row are left out), then over
    all of them under the key ``all``."""
    out = {
        name: distribution(rows[map_name], threshold)
        for name in structures
        if not (rows := means[means["structure"] == name]).empty
    }
    out["all"] = distribution(means[map_name], threshold)
    return out


def boundary_contrast(case: Case, structure_values: list[int]) -> dict[int, float]:
    """Michelson contrast across each structure's boundary with non-structure tissue.

    The outer ring is limited to voxels that belong to no structure and are brighter
    than a tenth of the median in-structure intensity (skips air outside the body).
    """
    image = case.image[0]
    label = case.label
    body = image > 0.1 * np.median(image[label > 0])
    out = {}
    for value in structure_values:
        mask = label == value
        if not mask.any():
            continue
        inner = mask & ~ndimage.binary_erosion(mask, _IN_PLANE)
        outer = ndimage.binary_dilation(mask, _IN_PLANE) & ~mask & (label == 0) & body
        # keep only inner-ring voxels that face the outer ring
        inner &= ndimage.binary_dilation(outer, _IN_PLANE)
        if inner.sum() < 5 or outer.sum() < 5:
            continue
        i_in, i_out = float(image[inner].mean()), float(image[outer].mean())
        out[value] = (i_out - i_in) / (i_out + i_in)
    return out


def threshold_baseline(
    case: Case, structure_values: list[int]
) -> dict[str, float | dict[int, float]]:
    """Dice of a three-class Otsu muscle mask: vs all muscles, and per muscle (best component)."""
    image = case.image[0]
    low, high = threshold_multiotsu(image, classes=3)
    candidate = (image > low) & (image <= high)
    union = np.isin(case.label, structure_values)
    dice_union = 2 * (candidate & union).sum() / (candidate.sum() + union.sum())
    components, n = ndimage.label(candidate, ndimage.generate_binary_structure(3, 1))
    per_structure = {}
    sizes = np.bincount(components.ravel(), minlength=n + 1)
    for value in structure_values:
        mask = case.label == value
        overlap = np.bincount(components[mask], minlength=n + 1)
        overlap[0] = 0
        best = int(np.argmax(overlap))
        if overlap[best] == 0:
            per_structure[value] = 0.0
            continue
        per_structure[value] = float(2 * overlap[best] / (sizes[best] + mask.sum()))
    return {"dice_union": float(dice_union), "dice_per_structure": per_structure}
