"""Write a dataset folder in the contract layout, all or nothing.

Files go to a hidden sibling folder first; the folder is validated (every rule, splits
included) and only then renamed into place. A failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
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
    make_dataset_json,
)
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
            write_image(layout.image(case.case_id, channel), array, spacing)
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
    if dest.exists() and any(dest.iterdir()):
        raise ContractError(f"{dest}: already exists and is not empty; choose another folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        layout = Layout(tmp, file_ending)
        folders = [IMAGES_DIR, MAPS_DIR]
        folders += [LABELS_DIR] if task.segmentation else []
        folders += [MASKS_DIR] if task.masks else []
        for sub in folders:
            (tmp / sub).mkdir(parents=True)
        rows = []
        for case in cases:
            write_case(layout, task, case)
            rows.append({"case_id": case.case_id, **case.row})
            if on_case is not None:
                on_case(case.case_id)
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
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def create_splits(root: str | Path, task: TaskSpec, seed: int, overwrite: bool = False) -> Path:
    """Make the task's splits for the dataset at ``root`` and write ``splits.json`` once.

    The data are validated first (all rules but the splits ones) and the new splits are
    checked before anything is written.
    """
    root = Path(root)
    problems = validate_dataset(root, task, require_splits=False)
    problems = [p for p in problems if not p.file.startswith("splits")] if overwrite else problems
    if problems:
        raise ValidationError(root, problems)
    cases = read_cases_csv(root / CASES_CSV, task)
    splits = make_splits(task, cases, seed)
    problems = check_splits(splits, task, cases)
    if problems:
        raise ValidationError(root, problems)
    return write_splits(root, splits, overwrite=overwrite)
