"""What a 2D phantom paints before the signal model makes an image: tissue property maps
on the supersampled grid, and the smooth random fields that vary them.

`TissueCanvas` holds, per pixel, the fat fraction (0–1), proton density (relative), and
the water T1 and T2 (ms); `paint` sets all four inside a region, so a later call overrides
an earlier one (paint the body, then what lies inside it). `smooth_field` is a unit-SD
smooth random field (`mr.smooth_noise`) at the output resolution, upsampled bilinearly to
the supersampled grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mskbench.tasks.phantoms import mr


@dataclass
class TissueCanvas:
    """Tissue property maps of one supersampled slice (see the module docstring)."""

    fat: np.ndarray
    pd: np.ndarray
    t1: np.ndarray
    t2: np.ndarray

    @classmethod
    def blank(cls, shape: tuple[int, int], t1_ms: float, t2_ms: float) -> TissueCanvas:
        """No fat, no protons, water T1 ``t1_ms`` and T2 ``t2_ms`` everywhere."""
        return cls(
            fat=np.zeros(shape, np.float32),
            pd=np.zeros(shape, np.float32),
            t1=np.full(shape, t1_ms, np.float32),
            t2=np.full(shape, t2_ms, np.float32),
        )

    def paint(
        self, region: np.ndarray, fat: float, pd: float, water_t2: float, water_t1: float
    ) -> None:
        """Set fat fraction, proton density and water T2/T1 (ms) inside ``region``."""
        self.fat[region], self.pd[region] = fat, pd
        self.t2[region], self.t1[region] = water_t2, water_t1


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, int], sigma_px: float, supersample: int
) -> np.ndarray:
    """A unit-SD smooth random field of correlation length ``sigma_px`` output pixels, on
    the grid ``supersample`` times finer (bilinear, wrapping at the edges)."""
    coarse = mr.smooth_noise(rng, shape, (sigma_px, sigma_px))
    return ndimage.zoom(coarse, supersample, order=1, mode="grid-wrap", grid_mode=True)
