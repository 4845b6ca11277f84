"""Plain nnU-Net v2 raw datasets, read as they are (a dataset.json without ``"mskbench"``).

What the field produces (``nnUNet_raw/DatasetXXX_Name``)::

    dataset.json                        channel_names, labels (name -> int), numTraining, file_ending
    imagesTr/<case>_0000<ending> ...    training images, one file per channel
    labelsTr/<case><ending>             their label maps
    imagesTs/<case>_0000<ending> ...    optional test images
    labelsTs/<case><ending>             optional labels of the test images
    splits_final.json                   optional: nnU-Net's folds, [{"train": [...], "val": [...]}, ...]

How mskbench reads it (`Layout.plain`):

- **Labels are checked, not remapped**: dataset.json's ``labels`` must name the task's
  structures with the task's values (``bench list tasks --verbose``); a missing, extra or
  renumbered name is a ``dataset-json`` problem saying which. Region-based labels (a list
  of values per name, nnU-Net's ``regions_class_order``) describe overlapping training
  targets, not a label map; they are a ``dataset-json`` problem too.
- **Cases** without cases.csv: every ``imagesTr`` case, and every ``imagesTs`` case that
  has a ``labelsTs`` label (an unlabelled test image is not read), one subject per case.
  ``imagesTr`` cases are site `INTERNAL_SITE`; ``imagesTs`` cases are the task's external
  site when it has one (the external test set), else `INTERNAL_SITE` too. A cases.csv, when
  present, is read as in any dataset. A task with classification targets needs cases.csv
  (its classes live there). File names become case ids only when they are plain names
  (rule ``case-id``); a case in both imagesTr and imagesTs is ``duplicate-case``.
- **Maps** are optional (`Layout.maps_required` is False): a case without
  ``maps/<case>_<map>`` has no biomarker metrics for that map, never made-up values.
- **Splits** without splits.json (`raw_splits`): nnU-Net's ``splits_final.json`` in the
  dataset folder when present — nnU-Net's fold k (``val`` = the cases its model did not
  train on) becomes mskbench's fold k (``test``), ``train`` stays ``train`` —, else one
  fold 0 whose test set is every non-external case (`SINGLE_TEST`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pandas as pd

from mskbench.tasks.contract.errors import ContractError
from mskbench.tasks.contract.layout import (
    IMAGES_DIR,
    IMAGES_TS_DIR,
    REQUIRED_CASE_COLUMNS,
    SPLITS_FINAL_JSON,
    Layout,
)
from mskbench.tasks.contract.safepath import case_id_problem, inside
from mskbench.tasks.contract.splits import Fold, Splits
from mskbench.tasks.spec import TaskSpec

#: Site of the ``imagesTr`` cases of a plain dataset without cases.csv.
INTERNAL_SITE = "A"
#: `Splits.kind` of the single test set of a plain dataset without splits.
SINGLE_TEST = "single-test"


def label_problems(labels: Any, task: TaskSpec) -> list[str]:
    """Why dataset.json's ``labels`` is not the task's label map (empty list: it is).

    Region-based labels (a list or tuple of values for a name) are refused first; then
    every name must be one of the task's structures with the task's value."""
    if not isinstance(labels, dict):
        return ['missing "labels" (name -> integer value)']
    regions = sorted(name for name, value in labels.items() if isinstance(value, list | tuple))
    if regions:
        return [
            f"labels {regions} are region-based (a list of values per name, nnU-Net's "
            "regions_class_order); mskbench scores label maps: give each structure of the "
            f"task one integer value {dict(task.labels)}"
        ]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels.values()):
        return [f"labels {labels} must map names to integer values"]
    expected = dict(task.labels)
    given = {str(name): int(value) for name, value in labels.items()}
    if given == expected:
        return []
    parts = []
    missing = [name for name in expected if name not in given]
    extra = [name for name in given if name not in expected]
    moved = [f"{n}: {v} (task: {expected[n]})" for n, v in given.items() if expected.get(n, v) != v]
    if missing:
        parts.append(f"missing structure(s) {missing}")
    if extra:
        parts.append(f"unknown name(s) {extra}")
    if moved:
        parts.append(f"other value(s) {', '.join(moved)}")
    return [
        f"labels differ from task {task.name}'s label map {expected}: {'; '.join(parts)} "
        "(labels are matched by name and value, not remapped)"
    ]


def plain_dataset_json_problems(content: dict[str, Any], layout: Layout) -> list[str]:
    """nnU-Net keys of a plain dataset's dataset.json that mskbench cannot read as given."""
    problems = []
    if "dataset" in content:
        problems.append(
            'an explicit "dataset" file list is not supported; put the files in imagesTr/labelsTr'
        )
    n_training = content.get("numTraining")
    found = len(layout.image_case_ids())
    if "numTraining" in content and (
        not isinstance(n_training, int) or isinstance(n_training, bool)
    ):
        problems.append(
            f"numTraining {n_training!r} is not an integer (the number of {IMAGES_DIR} cases)"
        )
    elif isinstance(n_training, int) and n_training != found:
        problems.append(f"numTraining is {n_training} but {IMAGES_DIR} holds {found} case(s)")
    return problems


def raw_cases(layout: Layout, task: TaskSpec) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """The cases table of a plain dataset without cases.csv, and its problems as
    ``(file, rule, message)``: ids that are not plain names (never cases), cases in both
    image folders."""
    ending = "" if layout.file_ending == "dicom" else layout.file_ending
    problems: list[tuple[str, str, str]] = []
    training = []
    for folder in (IMAGES_DIR, IMAGES_TS_DIR):
        for case_id in layout.image_case_ids(folder):
            problem = case_id_problem(case_id)
            if problem is not None:
                problems.append((f"{folder}/{case_id}_0000{ending}", "case-id", problem))
            elif folder == IMAGES_DIR:
                training.append(case_id)
    both = sorted(set(training) & layout.test_cases)
    problems += [
        (f"{IMAGES_TS_DIR}/{c}_0000{ending}", "duplicate-case", f"case {c!r} is in both folders")
        for c in both
    ]
    external = task.split.external_site or INTERNAL_SITE
    rows = [(c, c, INTERNAL_SITE) for c in training if c not in both]
    rows += [(c, c, external) for c in sorted(layout.test_cases)]
    return pd.DataFrame(rows, columns=list(REQUIRED_CASE_COLUMNS), dtype=str), problems


def raw_splits(layout: Layout, task: TaskSpec, cases: pd.DataFrame) -> tuple[Splits, str]:
    """The splits of a plain dataset without splits.json and where they come from (see the
    module docstring). Raises `ContractError` naming splits_final.json when it is malformed."""
    site = task.split.external_site
    is_external = cases["site"] == site if site is not None else pd.Series(False, cases.index)
    external = tuple(sorted(cases.loc[is_external, "case_id"]))
    path = inside(layout.root, layout.root / SPLITS_FINAL_JSON)
    if not path.is_file():
        internal = tuple(sorted(cases.loc[~is_external, "case_id"]))
        folds: tuple[Fold, ...] = (Fold(0, (), internal),)
        splits = Splits(task.name, SINGLE_TEST, 0, "subject_id", None, folds, external)
        return splits, "every case one test set (no splits.json or splits_final.json)"
    try:
        content = json.loads(path.read_text())
        folds = tuple(
            Fold(k, _case_list(f["train"]), _case_list(f["val"])) for k, f in enumerate(content)
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ContractError(
            f"{path}: not nnU-Net's splits format, a list of "
            f'{{"train": [...], "val": [...]}} per fold ({type(exc).__name__}: {exc})'
        ) from exc
    if not folds:
        raise ContractError(f"{path}: lists no fold")
    untested = [f.index for f in folds if not f.test]
    if untested:
        raise ContractError(f"{path}: fold(s) {untested} list no val case (nothing to test)")
    splits = Splits(task.name, "kfold", 0, "subject_id", None, folds, external)
    return splits, f"{SPLITS_FINAL_JSON} (nnU-Net fold k val = fold k test)"


def _case_list(value: Any) -> tuple[str, ...]:
    """A fold's list of case ids, sorted; raises `TypeError` for anything but a list of
    strings, `ValueError` for a case listed twice (it would be trained on or scored twice;
    the names are checked like splits.json's, rule ``case-id``)."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise TypeError(f"expected a list of case ids, got {str(value)[:60]}")
    twice = sorted(c for c, n in Counter(value).items() if n > 1)
    if twice:
        raise ValueError(f"a fold lists {', '.join(map(repr, twice[:10]))} twice")
    return tuple(sorted(value))
