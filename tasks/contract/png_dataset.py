"""What a PNG dataset's ``dataset.json`` says that its PNG files cannot.

```
"file_ending": ".png",
"mskbench": {"task": ..., "spacing_mm": [0.5, 0.5], "png_foreground": 255}
```

- ``spacing_mm`` (required): the pixel spacing in mm, array order ``(y, x)``, both finite
  and > 0. Every PNG of the dataset lies on the grid ``shape × spacing_mm``, origin 0,
  identity direction (`imageio.png_grid`); spacing stored in the PNG itself is ignored.
- ``png_foreground`` (optional, 1–65535): the value that stands for the task's one
  structure in the dataset's PNG label maps and masks, and in PNG predictions scored
  against it — image editors (ITK-SNAP, GIMP) export a binary mask as 0/255. It is read
  as 1; a stored 1 stays 1. Allowed only for a task whose label map has at most one
  structure, of value 1 (`allows_foreground`). Without it a 0/255 PNG is a
  ``label-value`` / ``mask-value`` problem whose message says how to declare it.
- A PNG dataset holds 2D tasks only; maps (floats) cannot be PNG and are NIfTI on the
  same grid (``maps/<case>_<map>.nii.gz``, `MAP_ENDING`).

Any of these broken — or the keys given for a dataset that is not PNG, whose files carry
their own geometry — is a ``dataset-json`` problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mskbench.tasks.contract.errors import ContractError
from mskbench.tasks.contract.png import PNG, is_png
from mskbench.tasks.spec import TaskSpec

SPACING_KEY = "spacing_mm"
FOREGROUND_KEY = "png_foreground"
#: The ending of maps in a PNG dataset: a PNG's 8/16-bit integers cannot hold a float map.
MAP_ENDING = ".nii.gz"


@dataclass(frozen=True)
class PngSettings:
    """A PNG dataset's spacing (mm, ``(y, x)``) and optional foreground value."""

    spacing: tuple[float, float]
    foreground: int | None = None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def png_settings(content: dict[str, Any], where: Path) -> PngSettings | None:
    """The `PngSettings` of a parsed ``dataset.json`` (``where``: its path, for messages);
    None for a dataset that is not PNG. Raises `ContractError` naming the key and the fix."""
    block = content.get("mskbench")
    block = block if isinstance(block, dict) else {}
    ending = content.get("file_ending")
    if ending != PNG:
        given = [key for key in (SPACING_KEY, FOREGROUND_KEY) if key in block]
        if given:
            raise ContractError(
                f"{where}: {', '.join(given)} belong(s) to PNG datasets (file_ending .png); "
                f"{ending} files carry their own geometry"
            )
        return None
    spacing = block.get(SPACING_KEY)
    if spacing is None:
        raise ContractError(
            f'{where}: a PNG dataset needs "mskbench": {{"{SPACING_KEY}": [y_mm, x_mm]}} '
            "(a PNG holds no spacing)"
        )
    if not (isinstance(spacing, list) and len(spacing) == 2 and all(map(_number, spacing))):
        raise ContractError(f"{where}: {SPACING_KEY} {spacing!r} must be two numbers [y_mm, x_mm]")
    if not all(math.isfinite(v) and v > 0 for v in spacing):
        raise ContractError(f"{where}: {SPACING_KEY} {spacing!r} must be positive (mm)")
    foreground = block.get(FOREGROUND_KEY)
    if foreground is not None and not (
        isinstance(foreground, int) and not isinstance(foreground, bool) and 0 < foreground < 2**16
    ):
        raise ContractError(
            f"{where}: {FOREGROUND_KEY} {foreground!r} must be an integer from 1 to 65535"
        )
    return PngSettings((float(spacing[0]), float(spacing[1])), foreground)


def allows_foreground(task: TaskSpec) -> bool:
    """Whether ``png_foreground`` may be declared for ``task``: at most one structure, 1."""
    return all(value == 1 for value in task.label_values if value != 0)


def png_task_problem(task: TaskSpec, settings: PngSettings) -> str | None:
    """Why a PNG dataset cannot hold ``task``'s data, or None."""
    volumes = [s.name for s in task.series if s.spatial_dims != 2]
    if volumes:
        return (
            f"file_ending .png is for 2D tasks; task {task.name} has 3D series {volumes} "
            "(store them as NIfTI, NRRD or DICOM)"
        )
    if settings.foreground is not None and not allows_foreground(task):
        return (
            f"{FOREGROUND_KEY} is for tasks with one structure (value 1); task {task.name} "
            f"has {list(task.structure_names)}"
        )
    return None


def as_label_values(array: np.ndarray, path: Path, settings: PngSettings | None) -> np.ndarray:
    """A label map or mask read from ``path`` with the declared ``png_foreground`` read as
    1 (PNG files only; anything else is returned as it is)."""
    if settings is None or settings.foreground is None or not is_png(path):
        return array
    return np.where(array == settings.foreground, np.asarray(1, array.dtype), array)


def foreground_hint(
    name: str, outside: list[int], task: TaskSpec, settings: PngSettings | None
) -> str:
    """The fix for a PNG label map or mask that is a binary mask saved as ``0/v`` (one
    value ``v`` outside the label values) where ``png_foreground`` could be declared;
    empty otherwise."""
    undeclared = settings is not None and settings.foreground is None
    if not (undeclared and name.endswith(PNG) and len(outside) == 1 and allows_foreground(task)):
        return ""
    value = float(outside[0])
    if not (value.is_integer() and 0 < value < 2**16):
        return ""
    return (
        f'; a binary mask saved as 0/{value:g}? declare "{FOREGROUND_KEY}": {value:g} '
        'in the "mskbench" block of dataset.json, or store 0/1'
    )
