"""Turn cases into network inputs: normalisation, 2D slices, 2.5D stacks, 3D volumes/patches.

Pure numpy (no torch). Conventions:

- images are z-scored per case and channel (MRI intensities have no absolute scale);
- ``2d`` samples are axial slices ``(C, H, W)``; ``2.5d`` samples stack each slice with
  ``context`` neighbours on each side as extra channels ``(C·(2k+1), H, W)`` (edge slices
  replicated); ``3d`` samples are whole volumes ``(C, D, H, W)``, depth padded to the
  network's slice multiple (``depth_multiple``, default the in-plane one) by replicating
  the end slices (seed 003 pads 20 → 24 for its 3D U-Net);
- in-plane sizes are padded at the bottom/right to the network's multiple (image with 0
  after normalisation, label with background) and cropped back after inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Mode = Literal["2d", "2.5d", "3d"]
MODES: tuple[str, ...] = ("2d", "2.5d", "3d")


def zscore(image: np.ndarray) -> np.ndarray:
    """Per-channel z-score of a ``(C, *spatial)`` image (float32)."""
    flat = image.reshape(image.shape[0], -1).astype(np.float64)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1)
    std[std == 0] = 1.0
    shape = (-1,) + (1,) * (image.ndim - 1)
    return ((image - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


def pad_amounts(size: int, multiple: int) -> int:
    """How much to add to ``size`` to reach a multiple of ``multiple``."""
    return (-size) % multiple


def pad_in_plane(array: np.ndarray, multiple: int, value: float = 0) -> np.ndarray:
    """Pad the last two axes at the end to multiples of ``multiple``."""
    extra = [pad_amounts(array.shape[-2], multiple), pad_amounts(array.shape[-1], multiple)]
    if not any(extra):
        return array
    widths = [(0, 0)] * (array.ndim - 2) + [(0, extra[0]), (0, extra[1])]
    return np.pad(array, widths, constant_values=value)


def pad_depth(array: np.ndarray, multiple: int, axis: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Replicate end slices along ``axis`` to a multiple; returns the padding (front, back)."""
    extra = pad_amounts(array.shape[axis], multiple)
    front, back = extra // 2, extra - extra // 2
    if not extra:
        return array, (0, 0)
    widths = [(0, 0)] * array.ndim
    widths[axis] = (front, back)
    return np.pad(array, widths, mode="edge"), (front, back)


def stack_context(volume: np.ndarray, context: int) -> np.ndarray:
    """``(C, D, H, W)`` → ``(D, C·(2k+1), H, W)``: each slice with ``k`` neighbours per side."""
    channels, depth = volume.shape[:2]
    index = np.clip(
        np.arange(depth)[:, None] + np.arange(-context, context + 1)[None, :], 0, depth - 1
    )
    stacked = volume[:, index]  # (C, D, 2k+1, H, W)
    return stacked.transpose(1, 0, 2, 3, 4).reshape(
        depth, channels * (2 * context + 1), *volume.shape[2:]
    )


@dataclass(frozen=True)
class SampleSpec:
    """How a model turns a case into samples (see the module docstring)."""

    mode: Mode
    multiple: int
    context: int = 1
    #: multiple of the slice axis of 3D samples (None: ``multiple``)
    depth_multiple: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {MODES}")

    @property
    def slice_multiple(self) -> int:
        return self.depth_multiple or self.multiple

    def in_channels(self, channels: int) -> int:
        return channels * (2 * self.context + 1) if self.mode == "2.5d" else channels

    def image_samples(self, image: np.ndarray) -> np.ndarray:
        """Samples of one normalised ``(C, D, H, W)`` (or ``(C, H, W)``) image."""
        image = pad_in_plane(image, self.multiple)
        if image.ndim == 3:  # a 2D case is one sample
            return image[None]
        if self.mode == "2d":
            return np.ascontiguousarray(image.transpose(1, 0, 2, 3))
        if self.mode == "2.5d":
            return stack_context(image, self.context)
        return pad_depth(image, self.slice_multiple, axis=1)[0][None]

    def label_samples(self, label: np.ndarray) -> np.ndarray:
        """Targets matching `image_samples` for a ``(D, H, W)`` (or ``(H, W)``) label."""
        label = pad_in_plane(label, self.multiple)
        if label.ndim == 2:
            return label[None]
        if self.mode in ("2d", "2.5d"):
            return label
        return pad_depth(label, self.slice_multiple, axis=0)[0][None]

    def restore(self, output: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
        """Undo the padding of per-sample outputs ``(S, K, ...)`` → ``(K, *spatial)``."""
        if len(spatial) == 2:
            return output[0, :, : spatial[0], : spatial[1]]
        depth, height, width = spatial
        if self.mode in ("2d", "2.5d"):
            return output.transpose(1, 0, 2, 3)[:, :, :height, :width]
        front = pad_amounts(depth, self.slice_multiple) // 2
        return output[0, :, front : front + depth, :height, :width]


def pad_to_patch(
    image: np.ndarray, label: np.ndarray, patch: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Pad a sample ``(C, *spatial)`` and its label up to at least ``patch`` per axis.

    The same conventions as the rest of this module: a 3D sample's slice axis by replicated
    end slices (split front/back), in-plane axes at the end with 0 (image) and background.
    """
    spatial = image.shape[1:]
    extra = [max(p - s, 0) for p, s in zip(patch, spatial, strict=True)]
    if not any(extra):
        return image, label
    if len(spatial) == 3 and extra[0]:
        widths = [(extra[0] // 2, extra[0] - extra[0] // 2), (0, 0), (0, 0)]
        image = np.pad(image, [(0, 0), *widths], mode="edge")
        label = np.pad(label, widths, mode="edge")
        extra[0] = 0
    widths = [(0, e) for e in extra]
    return np.pad(image, [(0, 0), *widths]), np.pad(label, widths)


def random_patches(
    rng: np.random.Generator, image: np.ndarray, label: np.ndarray, patch: tuple[int, ...], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random crops of ``patch`` from a sample ``(C, *spatial)`` and its label ``spatial``."""
    spatial = image.shape[1:]
    if any(p > s for p, s in zip(patch, spatial, strict=True)):
        raise ValueError(f"patch {patch} is larger than the sample {spatial}")
    images, labels = [], []
    for _ in range(n):
        start = [int(rng.integers(0, s - p + 1)) for p, s in zip(patch, spatial, strict=True)]
        window = tuple(slice(a, a + p) for a, p in zip(start, patch, strict=True))
        images.append(image[(slice(None), *window)])
        labels.append(label[window])
    return np.stack(images), np.stack(labels)
