"""Write a dataset folder in the contract layout, all or nothing.

Files go to a hidden sibling folder first; the folder is validated (every rule, splits
included) and only then renamed into place. A failure leaves nothing behind.

With ``file_ending=".png"`` (2D tasks) image channels are stored as 8/16-bit grey
(`png.png_pixels`: float images rescaled from their min–max to 16 bits, as a PNG export
windows them), maps as NIfTI, and the one spacing all cases share goes to dataset.json
(``spacing_mm``, `png_dataset`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mskbench.tasks.contract.imageio import write_image
from mskbench.tasks.contract.layout import (
    CASES_CSV,
    DATASET_JSON,
    IMAGES_DIR,
    LABELS_DIR,
    MAPS_DIR,
    MASKS_DIR,
    REQUIRED_CASE_COLUMNS,
    ContractError,
    Layout,
    layout_for,
    make_dataset_json,
    read_dataset_json,
)
from mskbench.tasks.contract.nnunet_raw import raw_cases
from mskbench.tasks.contract.png import PNG, png_pixels
from mskbench.tasks.contract.png_dataset import SPACING_KEY
from mskbench.tasks.contract.splits import make_splits, write_splits
from mskbench.tasks.contract.validate import (
    ValidationError,
    check_splits,
    read_cases_csv,
    validate_dataset,
)
from mskbench.tasks.spec import TaskSpec


@dataclass
class CaseArrays:
    """One case to write: the primary series' channels ``(C, *spatial)`` with their
    ``spacing`` (mm, array order), the label map on that grid (None for a task without
    one), maps, binary masks, its cases.csv row (must hold ``subject_id``, ``site`` and the
    task's columns), and for a task with several series the others as ``other_series``:
    series name → (``(C, *spatial)`` array, spacing)."""

    case_id: str
    image: np.ndarray
    label: np.ndarray | None
    spacing: tuple[float, ...]
    row: dict[str, Any]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    other_series: dict[str, tuple[np.ndarray, tuple[float, ...]]] = field(default_factory=dict)


def write_case(layout: Layout, task: TaskSpec, case: CaseArrays) -> None:
    """Write the image channels of every series, the label, maps and masks of ``case``."""
    primary = task.primary_series.name
    for series in task.series:
        if series.name == primary:
            arrays, spacing = case.image, case.spacing
        else:
            arrays, spacing = case.other_series[series.name]
        for channel, array in zip(task.channels_of(series.name), arrays, strict=True):
            pixels = png_pixels(array) if layout.file_ending == PNG else array
            write_image(layout.image(case.case_id, channel), pixels, spacing)
    if case.label is not None:
        label = case.label.astype(np.uint8, copy=False)
        write_image(layout.label(case.case_id), label, case.spacing)
    for name, array in case.maps.items():
        write_image(
            layout.map(case.case_id, name), array.astype(np.float32, copy=False), case.spacing
        )
    for name, array in case.masks.items():
        write_image(layout.mask(case.case_id, name), (array != 0).astype(np.uint8), case.spacing)


def write_dataset(
    dest: str | Path,
    task: TaskSpec,
    cases: Iterable[CaseArrays],
    split_seed: int,
    file_ending: str = ".nii.gz",
    meta: dict[str, Any] | None = None,
    on_case: Callable[[str], None] | None = None,
) -> Path:
    """Write ``cases`` as a validated dataset folder at ``dest`` (which must not exist)."""
    dest = Path(dest)
    with staged_folder(dest) as tmp:
        layout = Layout(tmp, file_ending)
        folders = [IMAGES_DIR, MAPS_DIR]
        folders += [LABELS_DIR] if task.segmentation else []
        folders += [MASKS_DIR] if task.masks else []
        for sub in folders:
            (tmp / sub).mkdir(parents=True)
        rows = []
        spacings: dict[tuple[float, ...], str] = {}  # spacing → first case with it
        for case in cases:
            write_case(layout, task, case)
            rows.append({"case_id": case.case_id, **case.row})
            for spacing in (case.spacing, *(s for _, s in case.other_series.values())):
                spacings.setdefault(tuple(float(v) for v in spacing), case.case_id)
            if on_case is not None:
                on_case(case.case_id)
        if file_ending == PNG:
            meta = {**(meta or {}), SPACING_KEY: list(_one_spacing(spacings))}
        columns = [*REQUIRED_CASE_COLUMNS, *task.required_columns]
        table = pd.DataFrame(rows)
        table = table[columns + [c for c in table.columns if c not in columns]]
        table.to_csv(tmp / CASES_CSV, index=False, float_format="%.4f", lineterminator="\n")
        content = make_dataset_json(task, file_ending, len(rows), **(meta or {}))
        (tmp / DATASET_JSON).write_text(json.dumps(content, indent=1) + "\n")
        create_splits(tmp, task, split_seed)
        problems = validate_dataset(tmp, task)
        if problems:
            raise ValidationError(dest, problems)
    return dest


@contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """Write the folder ``dest`` (absent or empty) all-or-nothing: yields a hidden sibling
    to fill; when the block ends it replaces ``dest``, when it raises it is deleted."""
    if dest.exists() and any(dest.iterdir()):
        raise ContractError(f"{dest}: already exists and is not empty; choose another folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _one_spacing(spacings: dict[tuple[float, ...], str]) -> tuple[float, ...]:
    """The spacing every case of a PNG dataset shares (dataset.json holds one)."""
    if len(spacings) > 1:
        shown = ", ".join(f"{s} mm (case {c})" for s, c in list(spacings.items())[:3])
        raise ContractError(
            f"a PNG dataset has one spacing (dataset.json {SPACING_KEY}); the cases have "
            f"{len(spacings)}: {shown}"
        )
    return next(iter(spacings), (1.0, 1.0))


def create_splits(root: str | Path, task: TaskSpec, seed: int, overwrite: bool = False) -> Path:
    """Make the task's splits for the dataset at ``root`` and write ``splits.json`` once.

    The data are validated first (all rules but the splits ones) and the new splits are
    checked before anything is written.
    """
    root = Path(root)
    if task.split.kind == "predefined":
        raise ContractError(
            f"{root}: task {task.name}'s split is predefined by its data layout "
            f"({task.data_layout}); there is no splits.json to make"
        )
    problems = validate_dataset(root, task, require_splits=False)
    problems = [p for p in problems if not p.file.startswith("splits")] if overwrite else problems
    if problems:
        raise ValidationError(root, problems)
    layout = layout_for(root, read_dataset_json(root))
    if layout.plain and not layout.cases_csv.is_file():
        cases, _ = raw_cases(layout, task)  # a plain nnU-Net dataset: one subject per case
    else:
        cases = read_cases_csv(root / CASES_CSV, task)
    splits = make_splits(task, cases, seed)
    problems = check_splits(splits, task, cases)
    if problems:
        raise ValidationError(root, problems)
    return write_splits(root, splits, overwrite=overwrite)
