"""Predictions read onto their reference grid.

- `read_on_reference` reads one prediction and compares its grid with its reference's on
  the full geometry (`tasks.contract.orientation`): the same physical grid stored in
  another axis order or with flipped axes is transposed/flipped onto the reference grid;
  another grid raises `GridMismatch` saying what differs; `reorientations` lists the
  files that were stored in another order, for the log and the run's config.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mskbench.tasks.contract import read_grid, read_image
from mskbench.tasks.contract.orientation import Reorientation, match_grid


def read_on_reference(path: Path, reference: Path) -> tuple[np.ndarray, Reorientation]:
    """The stored array of ``path`` on the grid of the image ``reference``, and how it was
    reoriented. Raises what `read_image` raises, and `GridMismatch`."""
    array, grid = read_image(path, dtype=None)
    turn = match_grid(grid, read_grid(reference))
    return turn.apply(array), turn


def reorientations(references: dict[Path, Path]) -> dict[str, str]:
    """File name → how it is reoriented, for the prediction files (keys) not stored as
    their reference image (values); headers only."""
    out = {}
    for path, reference in references.items():
        turn = match_grid(read_grid(path), read_grid(reference))
        if not turn.identity:
            out[path.name] = turn.describe()
    return out
