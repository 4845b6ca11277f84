"""The public MRNet-v1.0 layout (Bien et al. 2018), read as it is downloaded.

```
<root>/train/{axial,coronal,sagittal}/<id>.npy   uint8, (slices, 256, 256), one file per plane
<root>/valid/{axial,coronal,sagittal}/<id>.npy
<root>/train-{abnormal,acl,meniscus}.csv         no header; lines "<id>,<0|1>" ("0000,0")
<root>/valid-{abnormal,acl,meniscus}.csv
<root>/external/... + external-<label>.csv        optional, mskbench's addition (the phantom's
                                                  second site); absent from MRNet-v1.0
<root>/.mskbench.json                             optional: what generated a phantom (hidden,
                                                  outside the data fingerprint)
```

How it maps onto mskbench (`MrnetIndex`):

- **Cases**: the ids of a split's label files; ``subject_id`` = ``case_id`` (MRNet gives no
  patient ids), site ``A`` for ``train``/``valid``, the task's external site for
  ``external``. The planes are the task's series (same names); the label files are its
  binary targets' columns, classes ``0``/``1``.
- **Splits** (`Splits.kind` ``predefined``): one fold 0 — ``train`` = MRNet train,
  ``test`` = MRNet valid (the seed's test set) —, ``external`` = the external cases. The
  runner holds out the task's ``val_fraction`` of fold 0's training cases for early stopping
  (`mskbench.tasks.contract.splits.validation_subjects`), as for every task.
- **Geometry**: the files carry none; each plane is read on a nominal 1 mm grid (no metric
  of the task uses spacing).

Data from outside is hostile until checked: ids are plain names before they become paths
(`safepath`), every path stays inside the root with links resolved, label files are parsed
strictly (size-bounded, UTF-8, exactly ``<id>,<0|1>`` per line), and each ``.npy`` header is
checked before any voxel is read (`npy`). Problems are ``(file, rule, message)``; rules
(beside `npy`'s ``npy-format``, ``npy-dtype``, ``npy-shape`` and ``too-large``):

``mrnet-task``        the task's series or targets do not match the layout's planes and labels
``mrnet-layout``      a split folder or label file missing, a label file too large or not UTF-8
``label-row``         a label-file line that is not ``<id>,<0|1>``
``target-value``      a label other than 0 or 1
``target-missing``    a case in one label file of its split but not in another
``duplicate-case``    an id twice in one label file, or in two splits
``case-id``           an id (label file or file name) that is not a plain name
``symlink``           a file or folder that is a link leading outside the root
``missing-file``      a label row whose plane volume is missing
``case-not-in-csv``   a volume without a row in its split's label files
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mskbench.tasks.contract.errors import RuleError, UnsafePathError
from mskbench.tasks.contract.layout import DATASET_JSON, REQUIRED_CASE_COLUMNS
from mskbench.tasks.contract.npy import VolumeRule, npy_header
from mskbench.tasks.contract.safepath import case_id_problem, inside
from mskbench.tasks.contract.splits import Fold, Splits
from mskbench.tasks.spec import TaskSpec

PLANES = ("axial", "coronal", "sagittal")
LABELS = ("abnormal", "acl", "meniscus")
TRAIN, VALID, EXTERNAL = "train", "valid", "external"
#: Site of MRNet's own exams (train and valid).
MRNET_SITE = "A"
#: Extra cases-table column: the MRNet split folder a case lies in.
SPLIT_COLUMN = "mrnet_split"
#: A phantom's provenance (hidden: outside the data fingerprint).
META_FILE = ".mskbench.json"
#: What every volume must be. MRNet-v1.0 holds 17-61 slices per plane.
VOLUME = VolumeRule(np.dtype(np.uint8), (256, 256), min_slices=1, max_slices=128)
#: Largest label file read (bytes): MRNet's are ~10 kB.
MAX_LABEL_FILE_BYTES = 1 << 20

Problem = tuple[str, str, str]


def is_mrnet_root(root: Path, task: TaskSpec) -> bool:
    """Whether ``root`` is read in the MRNet layout: ``task`` declares it and ``root`` has
    no dataset.json (a user who converted MRNet to the contract layout keeps that)."""
    return task.data_layout == "mrnet" and not (Path(root) / DATASET_JSON).exists()


def task_problems(task: TaskSpec) -> list[str]:
    """Why ``task`` cannot be read from the MRNet layout (empty: it can)."""
    problems = []
    if sorted(s.name for s in task.series) != sorted(PLANES):
        problems.append(f"series {[s.name for s in task.series]} are not the planes {PLANES}")
    for target in task.classification:
        if target.column not in LABELS or set(target.classes) != {"0", "1"}:
            problems.append(
                f"target {target.name} (column {target.column}, classes {target.classes}) is "
                f"not one of MRNet's 0/1 labels {LABELS}"
            )
    return problems


def label_file(split: str, column: str) -> str:
    """Name of a split's label file, relative to the root."""
    return f"{split}-{column}.csv"


def volume_file(split: str, plane: str, case_id: str) -> str:
    """Name of a case's plane volume, relative to the root."""
    return f"{split}/{plane}/{case_id}.npy"


def parse_label_file(path: Path, rel: str) -> tuple[dict[str, str], list[Problem]]:
    """``id → "0"|"1"`` of one label file, and its problems (see the module docstring).
    Rows with a problem are left out."""
    if path.stat().st_size > MAX_LABEL_FILE_BYTES:
        return {}, [(rel, "mrnet-layout", f"larger than {MAX_LABEL_FILE_BYTES} bytes")]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, [(rel, "mrnet-layout", f"not UTF-8 text ({exc.reason})")]
    labels: dict[str, str] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(",")
        if len(fields) != 2:
            problems.append((rel, "label-row", f"line {number}: {line[:40]!r} is not '<id>,<0|1>'"))
            continue
        case_id, value = fields
        problem = case_id_problem(case_id)
        if problem is not None:
            problems.append((rel, "case-id", f"line {number}: id {problem}"))
        elif value not in ("0", "1"):
            problems.append((rel, "target-value", f"line {number}: label {value[:20]!r}, not 0/1"))
        elif case_id in labels:
            problems.append((rel, "duplicate-case", f"line {number}: id {case_id!r} again"))
        else:
            labels[case_id] = value
    return labels, problems


@dataclass
class MrnetIndex:
    """What the layout holds: the cases table (``case_id``, ``subject_id``, ``site``,
    `SPLIT_COLUMN`, one text column per label), the volume path of each (case, plane) that
    exists, the predefined `Splits`, and every problem found while indexing (headers are
    checked by `header_problems`)."""

    root: Path
    cases: pd.DataFrame
    volumes: dict[tuple[str, str], Path]
    splits: Splits
    problems: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def volume(self, case_id: str, plane: str) -> Path:
        """The ``.npy`` file of one plane of a case; `KeyError` when it is missing."""
        return self.volumes[(case_id, plane)]


def _split_labels(
    root: Path, split: str, columns: tuple[str, ...]
) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """Per case of ``split``, its labels (column → value); a case lacking a column is a
    ``target-missing`` problem and left out."""
    per_column: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for column in columns:
        rel = label_file(split, column)
        try:
            path = inside(root, root / rel)
        except UnsafePathError as exc:
            problems.append((rel, exc.rule, exc.message))
            continue
        if not path.is_file():
            problems.append((rel, "mrnet-layout", f"missing (the {split} {column} labels)"))
            continue
        per_column[column], found = parse_label_file(path, rel)
        problems += found
    ids = sorted({c for labels in per_column.values() for c in labels})
    cases: dict[str, dict[str, str]] = {}
    for case_id in ids:
        lacking = [c for c, labels in per_column.items() if case_id not in labels]
        if lacking:
            files = ", ".join(label_file(split, c) for c in lacking)
            problems.append((label_file(split, lacking[0]), "target-missing",
                             f"case {case_id!r} has no row in {files}"))  # fmt: skip
        elif len(per_column) == len(columns):
            cases[case_id] = {c: per_column[c][case_id] for c in columns}
    return cases, problems


def _split_volumes(
    root: Path, split: str, cases: dict[str, dict[str, str]]
) -> tuple[dict[tuple[str, str], Path], list[Problem]]:
    """The plane volumes of ``split`` found on disk, and the files without a case or cases
    without a file."""
    volumes: dict[tuple[str, str], Path] = {}
    problems: list[Problem] = []
    for plane in PLANES:
        folder = f"{split}/{plane}"
        try:
            path = inside(root, root / folder)
        except UnsafePathError as exc:
            problems.append((folder, exc.rule, exc.message))
            continue
        names = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
        for name in names:
            stem = name.removesuffix(".npy")
            if stem == name:
                continue
            problem = case_id_problem(stem)
            rel = f"{folder}/{name}"
            if problem is not None:
                problems.append((rel, "case-id", f"file name {problem}"))
            elif stem not in cases:
                problems.append((rel, "case-not-in-csv", f"no row in the {split} label files"))
            else:
                try:
                    volumes[(stem, plane)] = inside(root, root / rel)
                except UnsafePathError as exc:
                    problems.append((rel, exc.rule, exc.message))
        problems += [
            (volume_file(split, plane, c), "missing-file", f"case {c!r}: no {plane} volume")
            for c in cases
            if (c, plane) not in volumes and volume_file(split, plane, c) not in _files(problems)
        ]
    return volumes, problems


def _files(problems: list[Problem]) -> set[str]:
    return {file for file, _, _ in problems}


def read_meta(root: Path) -> dict[str, Any]:
    """`META_FILE` parsed (a phantom's provenance), or empty when absent or unreadable."""
    try:
        path = inside(root, root / META_FILE)
        content = json.loads(path.read_text()) if path.is_file() else {}
    except (UnsafePathError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return content if isinstance(content, dict) else {}


def index_mrnet(root: str | Path, task: TaskSpec) -> MrnetIndex:
    """Index the MRNet-layout folder ``root`` for ``task`` (nothing but label files and
    directory listings are read)."""
    root = Path(root)
    columns = tuple(t.column for t in task.classification)
    problems: list[Problem] = [(".", "mrnet-task", p) for p in task_problems(task)]
    rows: list[dict[str, str]] = []
    volumes: dict[tuple[str, str], Path] = {}
    split_of: dict[str, str] = {}
    external_site = task.split.external_site or MRNET_SITE
    for split in (TRAIN, VALID, EXTERNAL):
        present = (root / split).exists() or any(
            (root / label_file(split, c)).exists() for c in columns
        )
        if split == EXTERNAL and not present:
            continue
        if not (root / split).is_dir():
            problems.append((split, "mrnet-layout", f"missing folder (MRNet's {split} exams)"))
        cases, found = _split_labels(root, split, columns)
        problems += found
        for case_id in list(cases):
            if case_id in split_of:
                problems.append((label_file(split, columns[0]), "duplicate-case",
                                 f"case {case_id!r} is also in {split_of[case_id]}"))  # fmt: skip
                del cases[case_id]
        found_volumes, found = _split_volumes(root, split, cases)
        volumes |= found_volumes
        problems += found
        site = external_site if split == EXTERNAL else MRNET_SITE
        for case_id, labels in cases.items():
            split_of[case_id] = split
            rows.append({"case_id": case_id, "subject_id": case_id, "site": site,
                         SPLIT_COLUMN: split, **labels})  # fmt: skip
    table = pd.DataFrame(rows, columns=[*REQUIRED_CASE_COLUMNS, SPLIT_COLUMN, *columns], dtype=str)
    ids = {
        s: tuple(sorted(c for c, where in split_of.items() if where == s))
        for s in split_of.values()
    }
    folds = (Fold(0, ids.get(TRAIN, ()), ids.get(VALID, ())),)
    splits = Splits(task.name, "predefined", 0, "subject_id", None, folds, ids.get(EXTERNAL, ()))
    return MrnetIndex(root, table, volumes, splits, problems, read_meta(root))


def header_problems(
    index: MrnetIndex, on_case: Callable[[str], None] | None = None
) -> list[Problem]:
    """``npy`` problems of every volume's header (no voxel is read); ``on_case`` is called
    with each case id once its planes are checked (for progress bars)."""
    problems = []
    for case_id in index.cases["case_id"]:
        for plane in PLANES:
            path = index.volumes.get((case_id, plane))
            if path is None:
                continue
            try:
                npy_header(path, VOLUME)
            except RuleError as exc:
                problems.append((path.relative_to(index.root).as_posix(), exc.rule, exc.message))
        if on_case is not None:
            on_case(case_id)
    return problems


def validate_mrnet(
    root: str | Path, task: TaskSpec, on_case: Callable[[str], None] | None = None
) -> list[Problem]:
    """Every problem of the MRNet-layout folder ``root`` for ``task`` (empty: valid)."""
    index = index_mrnet(root, task)
    problems = index.problems + header_problems(index, on_case)
    if index.cases.empty and not any(rule == "mrnet-layout" for _, rule, _ in problems):
        problems.append((".", "mrnet-layout", "no case in any label file"))
    return sorted(set(problems))
