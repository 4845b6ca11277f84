"""Write exams in the public MRNet layout (`mrnet`), all or nothing.

Files go to a hidden sibling folder first; the folder is validated with the layout's own
rules and only then renamed into place, so an interrupted or failed write leaves nothing.
Each `CaseArrays` holds the task's primary plane as ``image`` and the others in
``other_series`` (``(1, slices, 256, 256)`` uint8), its MRNet split in
``row[SPLIT_COLUMN]`` and its labels (``"0"``/``"1"``) under the task's target columns.
``meta`` (a phantom's provenance) goes to the hidden `META_FILE`, outside the data
fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mskbench.tasks.contract.errors import ContractError
from mskbench.tasks.contract.mrnet import (
    EXTERNAL,
    META_FILE,
    PLANES,
    SPLIT_COLUMN,
    TRAIN,
    VALID,
    label_file,
    validate_mrnet,
    volume_file,
)
from mskbench.tasks.contract.validate import Problem, ValidationError
from mskbench.tasks.contract.writer import CaseArrays, staged_folder
from mskbench.tasks.spec import TaskSpec


def _planes(task: TaskSpec, case: CaseArrays) -> dict[str, np.ndarray]:
    """Plane name → ``(slices, rows, columns)`` uint8 of one case."""
    arrays = {task.primary_series.name: case.image}
    arrays |= {name: array for name, (array, _) in case.other_series.items()}
    return {plane: np.ascontiguousarray(arrays[plane][0], dtype=np.uint8) for plane in PLANES}


def write_mrnet(
    dest: str | Path,
    task: TaskSpec,
    cases: Iterable[CaseArrays],
    meta: dict[str, Any] | None = None,
    on_case: Callable[[str], None] | None = None,
) -> Path:
    """Write ``cases`` as a validated MRNet-layout folder at ``dest`` (absent or empty)."""
    dest = Path(dest)
    columns = [t.column for t in task.classification]
    lines: dict[str, list[str]] = {}
    with staged_folder(dest) as tmp:
        for case in cases:
            split = case.row[SPLIT_COLUMN]
            if split not in (TRAIN, VALID, EXTERNAL):
                raise ContractError(f"case {case.case_id}: split {split!r} is not an MRNet split")
            for plane, array in _planes(task, case).items():
                path = tmp / volume_file(split, plane, case.case_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, array, allow_pickle=False)
            for column in columns:
                lines.setdefault(label_file(split, column), []).append(
                    f"{case.case_id},{case.row[column]}"
                )
            if on_case is not None:
                on_case(case.case_id)
        for name, rows in lines.items():
            (tmp / name).write_text("\n".join(rows) + "\n")
        if meta:
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        problems = validate_mrnet(tmp, task)
        if problems:
            raise ValidationError(dest, [Problem(*p) for p in problems])
    return dest
