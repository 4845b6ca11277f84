"""Seed 000's region of interest: the image cropped to a mask's bounding box and resized to a
square (the seed: 224 × 224 px), and the training augmentation (rotation within ±35°,
flips). Pure numpy/scipy (no torch), deterministic for a numpy generator.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Margin (fraction of the box's size) kept around the mask's bounding box.
MARGIN = 0.1


def bounding_box(mask: np.ndarray, margin: float = MARGIN) -> tuple[slice, slice] | None:
    """Rows and columns of ``mask``'s bounding box widened by ``margin`` on each side (inside
    the image); None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    out = []
    for hits, size in ((rows, mask.shape[0]), (cols, mask.shape[1])):
        pad = int(np.rint(margin * (hits[-1] - hits[0] + 1)))
        out.append(slice(max(0, hits[0] - pad), min(size, hits[-1] + pad + 1)))
    return out[0], out[1]


def crop(image: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """``image`` (``(H, W)``) cropped to ``mask``'s box and resized (bilinear) to ``size`` ×
    ``size``, z-scored; the whole image when the mask is empty (a missed muscle)."""
    box = bounding_box(mask)
    region = image if box is None else image[box]
    zoom = (size / region.shape[0], size / region.shape[1])
    resized = ndimage.zoom(region.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
    resized = resized[:size, :size]
    return (resized - resized.mean()) / (resized.std() + 1e-6)


def augment(crops: np.ndarray, rng: np.random.Generator, max_degrees: float = 35.0) -> np.ndarray:
    """A random rotation within ±``max_degrees`` and random horizontal and vertical flips of
    each crop of ``(N, H, W)`` (the seed's augmentation)."""
    out = np.empty_like(crops)
    for i, image in enumerate(crops):
        angle = rng.uniform(-max_degrees, max_degrees)
        turned = ndimage.rotate(image, angle, reshape=False, order=1, mode="nearest")
        if rng.random() < 0.5:
            turned = turned[:, ::-1]
        if rng.random() < 0.5:
            turned = turned[::-1, :]
        out[i] = turned
    return out


def balanced_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of one training epoch in random order with the minority class oversampled to
    about 1:1 (the seed's oversampling; training only)."""
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if positive.size == 0 or negative.size == 0:
        return rng.permutation(labels.size)
    small, large = sorted((positive, negative), key=len)
    extra = rng.choice(small, size=large.size - small.size, replace=True)
    return rng.permutation(np.concatenate([large, small, extra]))
