"""MR signal model shared by the phantoms: tissues, sites, noise, bias, partial volume.

Units: times in ms, fractions in [0, 1] (maps convert to % at the edge), lengths in mm.

Signal of a voxel holding water and fat (fat fraction ``f``, proton density ``pd``) in a
spin-echo sequence: ``S = pd · [(1 − f)·E(T1w, T2w) + f·E(T1f, T2f)]`` with
``E(T1, T2) = (1 − exp(−TR/T1)) · exp(−TE/T2)``. At site A (1.5 T, TR 549 ms, TE 11 ms as
in seed 003) fat is ≈ 3× as bright as healthy muscle.

Apparent T2 is what a mono-exponential log-linear fit over a 16-echo multi-spin-echo
train (TE 8.7 … 139.2 ms, seed 003) returns for the two-component signal; it rises with
fat fraction (≈ 41 ms at 5 % fat, ≈ 125 ms at 64 % fat with water T2 31 ms and fat T2
180 ms), which is why T2 and FF correlate in NMD muscle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

#: Echo times of the seed-003 multi-spin-echo T2 mapping sequence (ms).
MSE_ECHO_TIMES_MS = np.arange(1, 17) * 8.7
FAT_T2_MSE_MS = 180.0


@dataclass(frozen=True)
class Site:
    """Scanner settings and tissue relaxation at one site.

    ``snr`` is healthy-muscle signal over the Gaussian noise SD of each channel of the
    complex image; ``bias`` scales the smooth multiplicative receive field.
    """

    name: str
    field_t: float
    tr_ms: float
    te_ms: float
    t1_muscle_ms: float
    t2_muscle_ms: float
    t1_fat_ms: float
    t2_fat_ms: float
    snr: float
    bias: float
    intensity_scale: float

    def weights(self) -> tuple[float, float]:
        """Signal per unit proton density of muscle water and of fat."""

        def e(t1: float, t2: float) -> float:
            return float((1 - np.exp(-self.tr_ms / t1)) * np.exp(-self.te_ms / t2))

        return e(self.t1_muscle_ms, self.t2_muscle_ms), e(self.t1_fat_ms, self.t2_fat_ms)


#: Seed 003's scanner: 1.5 T T1w FSE, TR 549 ms, TE 11 ms.
SITE_A = Site(
    "A", 1.5, 549.0, 11.0, 1200.0, 35.0, 290.0, 165.0, snr=28.0, bias=0.25, intensity_scale=400.0
)
#: A second site for external tests: 3 T, longer TR (less T1 weighting), noisier, stronger bias.
SITE_B = Site(
    "B", 3.0, 700.0, 14.0, 1420.0, 30.0, 380.0, 135.0, snr=16.0, bias=0.45, intensity_scale=300.0
)
SITES = {s.name: s for s in (SITE_A, SITE_B)}


def spin_echo_signal(
    site: Site,
    pd: np.ndarray,
    fat_fraction: np.ndarray,
    t1_water_ms: np.ndarray | float,
    t2_water_ms: np.ndarray | float,
) -> np.ndarray:
    """Spin-echo signal of water/fat voxels whose water relaxation varies by tissue (disc,
    CSF, oedematous muscle), normalised so that healthy muscle at ``site`` is 1.0:
    ``pd · [(1 − f)·E(T1w, T2w) + f·E(T1f, T2f)] / E(T1m, T2m)`` with
    ``E(T1, T2) = (1 − exp(−TR/T1)) · exp(−TE/T2)``."""
    w_muscle, w_fat = site.weights()
    water = (1.0 - np.exp(-site.tr_ms / np.asarray(t1_water_ms, dtype=np.float32))) * np.exp(
        -site.te_ms / np.asarray(t2_water_ms, dtype=np.float32)
    )
    f = np.asarray(fat_fraction, dtype=np.float32)
    return (pd * ((1.0 - f) * water + f * w_fat) / w_muscle).astype(np.float32)


@lru_cache(maxsize=1)
def _apparent_t2_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apparent T2 (ms) on a grid of fat fraction × water T2, by log-linear fit."""
    fractions = np.linspace(0.0, 1.0, 101)
    water_t2 = np.linspace(10.0, 90.0, 81)
    te = MSE_ECHO_TIMES_MS
    f = fractions[:, None, None]
    signal = (1 - f) * np.exp(-te / water_t2[None, :, None]) + f * np.exp(-te / FAT_T2_MSE_MS)
    log_s = np.log(signal)
    te_c = te - te.mean()
    slope = (log_s * te_c).sum(-1) / (te_c**2).sum()
    return fractions, water_t2, -1.0 / slope


def apparent_t2(fat_fraction: np.ndarray, water_t2_ms: np.ndarray) -> np.ndarray:
    """Apparent mono-exponential T2 (ms) of voxels with the given fat fraction and water T2."""
    fractions, water_t2, table = _apparent_t2_table()
    fi = np.clip(fat_fraction, 0, 1) * (len(fractions) - 1)
    wi = (np.clip(water_t2_ms, water_t2[0], water_t2[-1]) - water_t2[0]) / (
        water_t2[1] - water_t2[0]
    )
    return ndimage.map_coordinates(table, [fi, wi], order=1, mode="nearest").astype(np.float32)


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_px: tuple[float, ...]
) -> np.ndarray:
    """A Gaussian random field with unit SD, correlated over ``sigma_px`` voxels per axis."""
    field = ndimage.gaussian_filter(
        rng.standard_normal(shape, dtype=np.float32), sigma_px, mode="wrap"
    )
    return field / max(float(field.std()), 1e-6)


def bias_field(
    rng: np.random.Generator, shape: tuple[int, int, int], strength: float
) -> np.ndarray:
    """Smooth multiplicative receive field (mean ≈ 1) over a ``(z, y, x)`` volume.

    Surface coils above and below the limb make signal higher near the anterior and
    posterior surfaces and lower in the centre; a random low-order tilt and a slow drift
    along z are added. ``strength`` ≈ peak-to-trough log-amplitude.
    """
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    zz, yy, xx = z[:, None, None], y[None, :, None], x[None, None, :]
    a = rng.normal(0, 1, 4).astype(np.float32)
    log_b = strength * (
        0.6 * yy**2 + 0.25 * a[0] * xx + 0.25 * a[1] * yy + 0.15 * a[2] * xx * yy + 0.2 * a[3] * zz
    )
    return np.exp(log_b - log_b.mean()).astype(np.float32)


def rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of ``signal`` plus complex Gaussian noise of SD ``sigma`` per channel."""
    real = signal + rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    imag = rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    return np.hypot(real, imag)


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor × factor`` blocks over the last two axes (partial-volume averaging)."""
    if factor == 1:
        return array
    # a sum of strided views is ~10× faster than reshape(...).mean(axis=(-3, -1))
    total = sum(array[..., i::factor, j::factor] for i in range(factor) for j in range(factor))
    return (total * (1.0 / factor**2)).astype(np.float32, copy=False)


def block_mode4(labels: np.ndarray) -> np.ndarray:
    """Most frequent value of each 2 × 2 block over the last two axes (ties: top-left wins)."""
    a = labels[..., 0::2, 0::2]
    b = labels[..., 0::2, 1::2]
    c = labels[..., 1::2, 0::2]
    d = labels[..., 1::2, 1::2]
    a_wins = (a == b) | (a == c) | (a == d)
    b_wins = (b == c) | (b == d)
    return np.where(a_wins, a, np.where(b_wins, b, np.where(c == d, c, a)))
