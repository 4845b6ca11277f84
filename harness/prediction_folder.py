"""A predictions folder read safely: no link leads outside it, every file lands on its
reference grid.

- `prediction_files` first reports, as rule ``symlink``, every entry at any depth (files
  and folders: the submission's fingerprint reads them all) that is a link resolving
  outside the folder — unless links may be followed (``bench score --follow-symlinks``) —,
  then lists the image files (stem → path) in the folder's layout (flat, nnU-Net folds,
  MONAI case folders: `harness.prediction_layouts`).
- `read_on_reference` reads one prediction and compares its grid with its reference's on
  the full geometry (`tasks.contract.orientation`): the same physical grid stored in
  another axis order or with flipped axes is transposed/flipped onto the reference grid;
  another grid raises `GridMismatch` saying what differs; `reorientations` lists the
  files that were stored in another order, for the log and the run's config.

A PNG prediction holds no geometry: it is read only against a PNG dataset, on the grid its
dataset.json gives (``png``: `PngSettings`, spacing and the optional ``png_foreground``,
which is read as 1); against any other dataset it is a `GridMismatch`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mskbench.harness.prediction_layouts import PredictionSet, find_predictions
from mskbench.tasks.contract import Problem, read_grid, read_image
from mskbench.tasks.contract.orientation import GridMismatch, Reorientation, match_grid
from mskbench.tasks.contract.png import is_png
from mskbench.tasks.contract.png_dataset import PngSettings, as_label_values


def _outside_links(folder: Path) -> list[Problem]:
    """``symlink`` problems of links under ``folder`` that resolve outside it or loop."""
    root = folder.resolve()
    problems = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in (*dirnames, *filenames):
            path = Path(dirpath, name)
            if not path.is_symlink():
                continue
            try:
                target = path.resolve()
            except RuntimeError:  # Python 3.11 resolves a loop of links to this
                problems.append(
                    Problem(
                        path.relative_to(folder).as_posix(),
                        "symlink",
                        "is a link that never ends (a loop of links)",
                    )
                )
                continue
            if not target.is_relative_to(root):
                problems.append(
                    Problem(
                        path.relative_to(folder).as_posix(),
                        "symlink",
                        f"is a link to {target}, outside the predictions folder "
                        "(pass --follow-symlinks to read it anyway)",
                    )
                )
    return problems


def prediction_files(
    folder: Path, follow_symlinks: bool = False, layout: str = "auto"
) -> tuple[PredictionSet, list[Problem]]:
    """The prediction files of ``folder`` in ``layout``, and the problems found: ``symlink``
    problems alone when there are any (nothing is listed through a link leading out), else
    those of the layout (`prediction_layouts.find_predictions`)."""
    problems = [] if follow_symlinks else _outside_links(folder)
    if problems:
        return PredictionSet(layout, {}), problems
    return find_predictions(folder, layout)


def read_on_reference(
    path: Path, reference: Path, png: PngSettings | None = None
) -> tuple[np.ndarray, Reorientation]:
    """The stored array of ``path`` on the grid of the image ``reference``, and how it was
    reoriented; ``png``: the settings of a PNG dataset. Raises what `read_image` raises,
    and `GridMismatch`."""
    if is_png(path) and png is None:
        raise GridMismatch(
            "is a PNG, which holds no geometry: PNG predictions are scored only against a "
            "PNG dataset (its dataset.json gives the spacing); write NIfTI on the image grid"
        )
    spacing = png.spacing if png is not None else None
    array, grid = read_image(path, dtype=None, png_spacing=spacing)
    turn = match_grid(grid, read_grid(reference, spacing))
    return as_label_values(turn.apply(array), path, png), turn


def reorientations(references: dict[Path, Path], png: PngSettings | None = None) -> dict[str, str]:
    """File name → how it is reoriented, for the prediction files (keys) not stored as
    their reference image (values); headers only."""
    spacing = png.spacing if png is not None else None
    out = {}
    for path, reference in references.items():
        turn = match_grid(read_grid(path, spacing), read_grid(reference, spacing))
        if not turn.identity:
            out[path.name] = turn.describe()
    return out
