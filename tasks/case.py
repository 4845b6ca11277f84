"""The model-facing data types both the harness and task code use: one `Case` in memory and a
model's `Prediction` for it. Pure dataclasses (numpy arrays), no I/O.

Conventions: arrays are in array-axis order (``(z, y, x)`` for volumes, ``(y, x)`` for
slices) and spacing is in mm in that order. A case has one image array per input series
(`mskbench.tasks.targets.SeriesSpec`), each ``(channels, *spatial)`` float32 on its own
grid; the label map, the quantitative maps and the extra masks lie on the grid of the
task's *primary* series (the label map's), which ``image``, ``grid`` and ``spacing`` give.

A `Prediction` holds any combination of what the task's targets ask for:

- ``label``: the predicted label map (the primary grid's shape, the task's label values);
  ``probabilities`` (optional) ``(n_labels, *spatial)`` float32 summing to 1 over axis 0;
- ``masks``: mask name → predicted 0/1 array; ``mask_probabilities`` (optional) → its
  probability map in [0, 1];
- ``scores``: classification target name → for a binary target the probability of its
  positive class (a float in [0, 1]); for an ordinal or multiclass target one probability
  per class, as a mapping class → probability or a sequence in the target's class order,
  summing to 1.

``label`` may be None for a model that predicts only masks (measured on the reference
structures: seed 002's "manual segmentation + thresholding" group) or only case scores (a
pure classifier).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mskbench.tasks.contract.imageio import Grid

#: What a prediction may hold for one classification target (see the module docstring).
Score = float | Sequence[float] | Mapping[str, float]


@dataclass
class Case:
    """One case in memory (see the module docstring for shapes and grids).

    ``images``/``grids``: per series name. ``label``: the reference label map, uint8 (None
    for a task without one, or when loaded without references). ``maps``: float32 maps in
    their `MapSpec` units; ``masks``: the task's extra binary reference masks as bool
    arrays. ``attributes``: the case's row of cases.csv. ``targets``: per classification
    target, the reference class as written in cases.csv (None where the cell is empty).
    """

    case_id: str
    subject_id: str
    site: str
    images: dict[str, np.ndarray]
    grids: dict[str, Grid]
    primary: str
    label: np.ndarray | None = None
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, str | None] = field(default_factory=dict)

    @property
    def image(self) -> np.ndarray:
        """``(channels, *spatial)`` of the primary series."""
        return self.images[self.primary]

    @property
    def grid(self) -> Grid:
        """Geometry of the primary series (and of the label map, maps and masks)."""
        return self.grids[self.primary]

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel spacing (mm, array-axis order) of the primary series."""
        return self.grid.spacing


@dataclass
class Prediction:
    """A model's output for one case (see the module docstring for what each part holds)."""

    label: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    scores: dict[str, Score] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    mask_probabilities: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when the prediction holds nothing to score."""
        return self.label is None and not self.masks and not self.scores
