"""Compare an image's grid with a reference grid on the full geometry, and bring an image
that lies on the same physical grid, stored in another axis order or with flipped axes
(LAS vs RAS, axes permuted), onto the reference grid.

Geometry follows SimpleITK: the voxel with index ``i`` (``x, y, z`` order) sits at
``origin + D · (spacing ∘ i)`` mm, ``D`` the direction matrix whose columns are the index
axes' unit vectors. Two grids are the same physical grid when every voxel centre of one is
a voxel centre of the other: ``Dₚᵀ·Dᵣ`` is a signed permutation (within
`DIRECTION_TOLERANCE`), the permuted spacings (relative `SPACING_RTOL`) and sizes agree,
and the prediction's corner that lands on the reference origin lies within
`ORIGIN_TOLERANCE_MM` of it. Then the array is only transposed and flipped — no
resampling, no interpolation, every value kept. Anything else is `GridMismatch`, naming
what differs (shape, spacing, direction, origin distance in mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mskbench.tasks.contract.imageio import DIRECTION_TOLERANCE, ORIGIN_TOLERANCE_MM, Grid

SPACING_RTOL = 1e-4
_AXIS_NAMES = "xyzt"


class GridMismatch(ValueError):
    """A grid that is not the reference's physical grid; the message says what differs."""


@dataclass(frozen=True)
class Reorientation:
    """How an array stored on a grid maps onto the reference grid, in array-axis order.

    ``axes[a]`` is the stored array axis that holds reference array axis ``a``
    (`numpy.transpose` order); ``flips`` are reference array axes stored reversed.
    """

    axes: tuple[int, ...]
    flips: tuple[int, ...]

    @property
    def identity(self) -> bool:
        return self.axes == tuple(range(len(self.axes))) and not self.flips

    def apply(self, array: np.ndarray) -> np.ndarray:
        """``array`` (stored order) on the reference grid: transposed, then flipped."""
        if self.identity:
            return array
        return np.ascontiguousarray(np.flip(np.transpose(array, self.axes), self.flips))

    def describe(self) -> str:
        """E.g. ``"axes stored as (x, y, z), x flipped"`` (names of the reference's axes)."""
        names = _names(len(self.axes))
        parts = []
        if self.axes != tuple(range(len(self.axes))):
            held = [""] * len(self.axes)
            for reference_axis, stored_axis in enumerate(self.axes):
                held[stored_axis] = names[reference_axis]
            parts.append(f"axes stored as ({', '.join(held)})")
        if self.flips:
            parts.append(f"{', '.join(names[a] for a in self.flips)} flipped")
        return ", ".join(parts) or "as the reference"


def _names(ndim: int) -> str:
    """Axis names in array-axis order: ``zyx`` for volumes, ``yx`` for slices."""
    return _AXIS_NAMES[:ndim][::-1]


def _mm(value: float) -> str:
    return f"{value:.1f} mm" if value >= 0.1 else f"{value:.2g} mm"


def match_grid(grid: Grid, reference: Grid) -> Reorientation:
    """The `Reorientation` that puts an array on ``grid`` onto ``reference``; raises
    `GridMismatch` when ``grid`` is another physical grid (see the module docstring)."""
    n = len(reference.shape)
    if len(grid.shape) != n:
        raise GridMismatch(f"has {len(grid.shape)} axes, the reference {n}")
    names = _names(n)
    d_grid = np.asarray(grid.direction, dtype=float).reshape(n, n)
    d_ref = np.asarray(reference.direction, dtype=float).reshape(n, n)
    cosines = d_grid.T @ d_ref  # [stored index axis, reference index axis], SimpleITK order
    stored_of = np.argmax(np.abs(cosines), axis=0)
    signs = np.sign(cosines[stored_of, np.arange(n)])
    if len(set(stored_of.tolist())) != n:
        raise GridMismatch("direction differs: its axes are not those of the reference")
    permutation = np.zeros((n, n))
    permutation[stored_of, np.arange(n)] = signs
    if np.max(np.abs(cosines - permutation)) > DIRECTION_TOLERANCE:
        deviation = np.degrees(np.arccos(np.clip(np.abs(cosines[stored_of, np.arange(n)]), 0, 1)))
        worst = int(np.argmax(deviation))
        raise GridMismatch(
            f"direction differs: the reference's {names[n - 1 - worst]} axis is "
            f"{deviation[worst]:.2g}° from the nearest axis of this grid"
        )
    # shape and spacing in SimpleITK order, permuted to the reference's axes
    size = np.asarray(grid.shape[::-1])[stored_of]
    spacing = np.asarray(grid.spacing[::-1], dtype=float)[stored_of]
    turn = Reorientation(
        axes=tuple(int(n - 1 - stored_of[n - 1 - a]) for a in range(n)),
        flips=tuple(a for a in range(n) if signs[n - 1 - a] < 0),
    )
    stored = "" if turn.identity else f" (once reoriented: {turn.describe()})"
    if tuple(size[::-1]) != reference.shape:
        raise GridMismatch(
            f"shape {tuple(int(s) for s in size[::-1])}{stored} differs from the reference "
            f"shape {reference.shape}"
        )
    if not np.allclose(spacing[::-1], reference.spacing, rtol=SPACING_RTOL, atol=1e-6):
        shown = tuple(float(f"{s:.6g}") for s in spacing[::-1])
        raise GridMismatch(
            f"spacing {shown} mm{stored} differs from the reference spacing "
            f"{tuple(float(f'{s:.6g}') for s in reference.spacing)} mm"
        )
    # the stored voxel that lands on the reference's first voxel: the far end of flipped axes
    corner_index = np.zeros(n)
    for j in range(n):
        if signs[j] < 0:
            corner_index[stored_of[j]] = grid.shape[::-1][stored_of[j]] - 1
    spacing_stored = np.asarray(grid.spacing[::-1], dtype=float)
    corner = np.asarray(grid.origin) + d_grid @ (spacing_stored * corner_index)
    distance = float(np.linalg.norm(corner - np.asarray(reference.origin)))
    if distance > ORIGIN_TOLERANCE_MM:
        if turn.identity:
            raise GridMismatch(f"origin differs by {_mm(distance)} from the reference origin")
        raise GridMismatch(
            f"{turn.describe()}, but then its origin differs by {_mm(distance)} from the "
            "reference origin: not the same physical grid"
        )
    return turn
