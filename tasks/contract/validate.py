"""Validate a dataset folder against the data contract and its task; report every problem.

Each `Problem` names the file (relative to the dataset root) and the rule it breaks.
Rules:

``dataset-json``          dataset.json missing, unreadable, or disagreeing with the task
                          (labels are matched by name and value; region-based labels are
                          refused); for a PNG dataset: ``spacing_mm`` missing or not
                          positive, a 3D task, ``png_foreground`` for a task with several
                          structures (`png_dataset`); for a plain nnU-Net dataset:
                          ``numTraining`` not the number of imagesTr cases, a ``dataset``
                          file list (`nnunet_raw`)
``cases-csv``             cases.csv missing (optional in a plain nnU-Net dataset of a task
                          without classification targets), a required column missing,
                          duplicate case ids
``target-value``          a classification target's cell holds a value that is not one of
                          its declared classes
``target-missing``        an empty target cell where the target does not allow it
``case-id``               a case id (cases.csv or splits.json) that is not a plain name
                          (letters, digits, ``._-``, not starting with ``.``, at most 128
                          characters), or a subject_id or site that is not printable text;
                          such ids never become paths (`safepath`)
``duplicate-case``        a plain nnU-Net dataset's case in both imagesTr and imagesTs
``symlink``               a dataset file that is a link leading outside the dataset folder
``case-not-in-csv``       an image in imagesTr has no row in cases.csv
``missing-file``          a row of cases.csv without its image channel or label file (labelsTr
                          only for a task with a segmentation target)
``missing-map``           a quantitative map the task requires is missing (optional maps may
                          be; in a plain nnU-Net dataset every map may be missing)
``unreadable``            a file that cannot be read as an image
``colour-image``          a PNG that is not grey: colour, transparent, or grey + alpha (`png`)
``map-format``            a map stored as PNG in a PNG dataset (maps are NIfTI there)
``too-large``             an image whose header declares more voxels than the limit
                          (``--max-voxels``, ``MSKBENCH_MAX_VOXELS``; default 2²⁸) or far
                          more bytes than the file holds (a decompression bomb); checked
                          before any voxel is read (`header`)
``dimensionality``        an image with another number of axes than the task's
``shape-mismatch``        channels of one series, or the label and its series, differ in shape
``spacing-mismatch``      the same for voxel spacing (each series may have its own grid)
``geometry-mismatch``     the same shape and spacing but another origin or direction
``map-grid``              a map on another grid (shape, spacing, origin, direction) than its label
``missing-mask``          a reference mask the task declares (`MaskTarget`) is missing
``mask-grid``             a mask on another grid (shape, spacing, origin, direction) than its image
``mask-value``            a mask value other than 0 and 1
``label-value``           a label value that is not in the task's label map (a PNG saved as
                          0/255 is one, unless dataset.json declares ``png_foreground``)
``non-finite``            NaN or ±inf in an image, map or mask
``empty-reference``       a required structure with no voxel in a reference label map
``splits-missing``        no splits.json (create it once with ``bench data split``; a plain
                          nnU-Net dataset needs none: `nnunet_raw.raw_splits`)
``splits-task``           splits.json made for another task, or malformed (also a plain
                          dataset's splits_final.json)
``case-not-in-splits``    a case that no fold (or the external set) lists
``unknown-case-in-splits`` splits.json names a case that is not in cases.csv
``subject-in-two-folds``  one subject in the test sets of two folds
``train-test-overlap``    one subject both in the training and the test cases of a fold, or an
                          external case (splits.json's "external") in a fold

A task whose ``data_layout`` is ``mrnet`` is validated in the public MRNet layout when its
folder has no dataset.json (`mrnet`: its own rules, with these names where they mean the
same thing).

Validation only reads; it never writes a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.tasks.contract.errors import RuleError, UnsafePathError
from mskbench.tasks.contract.imageio import Grid, read_image
from mskbench.tasks.contract.layout import (
    CASES_CSV,
    DATASET_JSON,
    DICOM,
    IMAGES_DIR,
    REQUIRED_CASE_COLUMNS,
    SPLITS_FINAL_JSON,
    SPLITS_JSON,
    ContractError,
    Layout,
    layout_for,
    read_dataset_json,
)
from mskbench.tasks.contract.mrnet import is_mrnet_root, validate_mrnet
from mskbench.tasks.contract.nnunet_raw import (
    label_problems,
    plain_dataset_json_problems,
    raw_cases,
    raw_splits,
)
from mskbench.tasks.contract.png import PNG
from mskbench.tasks.contract.png_dataset import (
    PngSettings,
    as_label_values,
    foreground_hint,
    png_task_problem,
)
from mskbench.tasks.contract.safepath import case_id_problem, inside, text_problem
from mskbench.tasks.contract.splits import Splits, read_splits
from mskbench.tasks.spec import TaskSpec
from mskbench.tasks.targets import SeriesSpec


@dataclass(frozen=True, order=True)
class Problem:
    """One broken rule: which file, which rule, what was found."""

    file: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: [{self.rule}] {self.message}"


class ValidationError(ValueError):
    """A dataset that breaks the contract; holds every `Problem` found."""

    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.root = root
        self.problems = sorted(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"dataset {root} breaks the data contract ({len(problems)} problem(s)):\n{lines}"
        )


def read_cases_csv(path: Path, task: TaskSpec | None = None) -> pd.DataFrame:
    """cases.csv with ids (and the ``task``'s target columns) read as text, so ``007`` stays
    ``007`` and a class is compared as written. A link leading out of its folder raises
    `UnsafePathError` (rule ``symlink``) before anything is read."""
    text = (*REQUIRED_CASE_COLUMNS, *(task.target_columns if task else ()))
    path = inside(path.parent, path)
    return pd.read_csv(path, dtype=dict.fromkeys(text, str), keep_default_na=False)


def validate_dataset(
    root: str | Path,
    task: TaskSpec,
    require_splits: bool = True,
    on_case: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> list[Problem]:
    """Every problem of the dataset at ``root`` for ``task`` (empty list: valid).

    ``on_case`` is called with each case id once its files are checked (for progress bars).
    """
    root = Path(root)
    if is_mrnet_root(root, task):
        return [Problem(*problem) for problem in validate_mrnet(root, task, on_case)]
    try:
        dataset_json = read_dataset_json(root)
        layout = layout_for(root, dataset_json)
    except UnsafePathError as exc:
        return [Problem(DATASET_JSON, exc.rule, exc.message)]
    except ContractError as exc:
        return [Problem(DATASET_JSON, "dataset-json", str(exc).split(": ", 1)[-1])]
    problems = _check_dataset_json(dataset_json, task, layout)
    png_problem = png_task_problem(task, layout.png) if layout.png is not None else None
    if png_problem is not None:  # no file could be read as the task's: say only this
        return sorted([*problems, Problem(DATASET_JSON, "dataset-json", png_problem)])
    cases, csv_problems = _check_cases_csv(layout, task)
    problems += csv_problems
    if cases is None:
        return sorted(problems)
    known = set(cases["case_id"])
    case_ids = [c for c in cases["case_id"] if case_id_problem(c) is None]  # never paths
    problems += [
        Problem(
            f"{IMAGES_DIR}/{c}_0000{'' if layout.file_ending == DICOM else layout.file_ending}",
            "case-not-in-csv",
            f"case {c!r} has no row in {CASES_CSV}",
        )
        for c in layout.image_case_ids()
        if c not in known and layout.cases_csv.is_file()  # else imagesTr made the cases
    ]

    def check(case_id: str) -> list[Problem]:
        try:
            found = _check_case_files(layout, task, case_id)
        except UnsafePathError as exc:
            found = [Problem(layout.relative(exc.path), exc.rule, exc.message)]
        if on_case is not None:
            on_case(case_id)
        return found

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for found in pool.map(check, case_ids):
            problems += found
    problems += _check_splits(layout, task, cases, require_splits)
    return sorted(problems)


def check_dataset(root: str | Path, task: TaskSpec, **kwargs: object) -> None:
    """Raise `ValidationError` listing every problem, or return quietly."""
    problems = validate_dataset(root, task, **kwargs)  # type: ignore[arg-type]
    if problems:
        raise ValidationError(Path(root), problems)


# -- dataset.json and cases.csv ---------------------------------------------------------
def _check_dataset_json(content: dict, task: TaskSpec, layout: Layout) -> list[Problem]:
    def bad(message: str) -> Problem:
        return Problem(DATASET_JSON, "dataset-json", message)

    problems = []
    block = content.get("mskbench")
    if layout.plain:
        problems += map(bad, plain_dataset_json_problems(content, layout))
    elif not isinstance(block, dict) or "task" not in block:
        problems.append(bad('missing the "mskbench": {"task": ..., "version": ...} block'))
    elif block["task"] != task.name:
        problems.append(bad(f"made for task {block['task']!r}, validated as {task.name!r}"))
    labels = content.get("labels")
    if task.segmentation is None:
        if labels not in (None, {}, {"background": 0}):
            problems.append(bad(f"labels {labels} given, but task {task.name} has no label map"))
    else:
        problems += map(bad, label_problems(labels, task))
    channels = content.get("channel_names")
    if not isinstance(channels, dict) or len(channels) != len(task.channels):
        problems.append(
            bad(f"channel_names must list {len(task.channels)} channel(s) {list(task.channels)}")
        )
    return problems


def _check_cases_csv(layout: Layout, task: TaskSpec) -> tuple[pd.DataFrame | None, list[Problem]]:
    if not layout.cases_csv.is_file() and layout.plain and not task.target_columns:
        cases, found = raw_cases(layout, task)
        return cases, [Problem(*problem) for problem in found]
    if not layout.cases_csv.is_file():
        return None, [
            Problem(
                CASES_CSV, "cases-csv", "missing (one row per case: case_id, subject_id, site, ...)"
            )
        ]
    try:
        cases = read_cases_csv(layout.cases_csv, task)
    except UnsafePathError as exc:
        return None, [Problem(CASES_CSV, exc.rule, exc.message)]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return None, [Problem(CASES_CSV, "cases-csv", f"unreadable as CSV ({exc})")]
    required = (*REQUIRED_CASE_COLUMNS, *task.required_columns)
    missing = [c for c in required if c not in cases.columns]
    if missing:
        return None, [
            Problem(
                CASES_CSV, "cases-csv", f"missing column(s) {missing}; required: {list(required)}"
            )
        ]
    problems = []
    duplicated = sorted(set(cases.loc[cases["case_id"].duplicated(), "case_id"]))
    if duplicated:
        problems.append(Problem(CASES_CSV, "cases-csv", f"duplicate case_id(s) {duplicated}"))
    for column in REQUIRED_CASE_COLUMNS:
        empty = cases.loc[cases[column].str.strip() == "", "case_id"].tolist()
        if empty:
            problems.append(Problem(CASES_CSV, "cases-csv", f"empty {column} for case(s) {empty}"))
    problems += _name_problems(cases)
    problems += _check_targets(cases, task)
    return cases.drop_duplicates("case_id"), problems


def _check_targets(cases: pd.DataFrame, task: TaskSpec) -> list[Problem]:
    """``target-value`` / ``target-missing`` problems of the classification target columns."""
    problems = []
    for target in task.classification:
        values = cases[target.column].str.strip()
        empty = values == ""
        unknown = ~empty & ~values.isin(target.classes)
        if unknown.any():
            pairs = zip(cases.loc[unknown, "case_id"], values[unknown], strict=True)
            shown = [f"{c}: {v!r}" for c, v in pairs]
            problems.append(
                Problem(
                    CASES_CSV,
                    "target-value",
                    f"column {target.column!r} (target {target.name}) holds values outside its "
                    f"classes {list(target.classes)}: {_listing(shown)}",
                )
            )
        if empty.any() and not target.allow_missing:
            missing = cases.loc[empty, "case_id"].tolist()
            problems.append(
                Problem(
                    CASES_CSV,
                    "target-missing",
                    f"column {target.column!r} (target {target.name}) is empty for case(s) "
                    f"{_listing(missing)}; every case needs a {target.name} class",
                )
            )
    return problems


def _listing(items: list[str], n: int = 10) -> str:
    """At most ``n`` items, comma-separated, with the total when there are more."""
    more = f", … ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _name_problems(cases: pd.DataFrame) -> list[Problem]:
    """``case-id`` problems: ids that are not plain names, subject/site that are not text
    (empty ones are ``cases-csv`` problems already)."""
    problems = []
    for row, case_id in enumerate(cases["case_id"], start=2):  # line 1 is the header
        problem = case_id_problem(case_id) if case_id != "" else None
        if problem is not None:
            problems.append(Problem(CASES_CSV, "case-id", f"line {row}: case_id {problem}"))
    for column in ("subject_id", "site"):
        for row, value in enumerate(cases[column], start=2):
            problem = text_problem(value)
            if problem is not None:
                problems.append(Problem(CASES_CSV, "case-id", f"line {row}: {column} {problem}"))
    return problems


# -- per-case files ---------------------------------------------------------------------
def _read(
    layout: Layout, path: Path, rule_if_missing: str, what: str, dtype: type | None = np.float32
):
    rel = layout.relative(path)
    if not path.exists():
        return None, None, [Problem(rel, rule_if_missing, f"{what} is missing")]
    try:
        array, grid = read_image(path, dtype=dtype, png_spacing=layout.png_spacing)
    except RuleError as exc:
        return None, None, [Problem(rel, exc.rule, exc.message)]
    except (OSError, RuntimeError) as exc:
        return (
            None,
            None,
            [Problem(rel, "unreadable", f"cannot be read as an image ({str(exc).strip()[:200]})")],
        )
    return array, grid, []


def _grid_problems(
    rel: str, rule_shape: str, rule_spacing: str, grid: Grid, ref: Grid, ref_name: str
) -> list[Problem]:
    """A problem when ``grid`` is not ``ref``'s grid: shape, spacing, then placement (origin
    and direction, ``geometry-mismatch`` for files of one case, else ``rule_spacing``)."""
    if not grid.same_shape(ref):
        return [
            Problem(
                rel, rule_shape, f"shape {grid.shape} differs from {ref_name} shape {ref.shape}"
            )
        ]
    if not grid.same_spacing(ref):
        return [
            Problem(
                rel,
                rule_spacing,
                f"spacing {grid.spacing} mm differs from {ref_name} spacing {ref.spacing} mm",
            )
        ]
    placement = grid.placement_difference(ref)
    if placement is not None:
        rule = "geometry-mismatch" if rule_spacing == "spacing-mismatch" else rule_spacing
        return [Problem(rel, rule, f"{placement} from {ref_name} (same shape and spacing)")]
    return []


def _non_finite(rel: str, array: np.ndarray) -> list[Problem]:
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    return [Problem(rel, "non-finite", f"{bad} voxel(s) are NaN or infinite")] if bad else []


def _check_series(
    layout: Layout, task: TaskSpec, case_id: str, series: SeriesSpec
) -> tuple[Grid | None, str, list[Problem]]:
    """Problems of one series' channel files; returns its grid (first readable channel with
    the right number of axes) and that file's name, which the series' other files match."""
    problems: list[Problem] = []
    ref_grid: Grid | None = None
    ref_name = ""
    for channel in task.channels_of(series.name):
        channel_name = task.channels[channel]
        path = layout.image(case_id, channel)
        array, grid, found = _read(
            layout, path, "missing-file", f"image channel {channel} ({channel_name})"
        )
        problems += found
        if array is None:
            continue
        rel = layout.relative(path)
        if array.ndim != series.spatial_dims:
            problems.append(
                Problem(
                    rel,
                    "dimensionality",
                    f"has {array.ndim} axes, {_series_of(task, series)}task {task.name} is "
                    f"{series.spatial_dims}D",
                )
            )
            continue  # not a grid to compare the rest of the case with
        problems += _non_finite(rel, array)
        if ref_grid is None:
            ref_grid, ref_name = grid, rel
        else:
            problems += _grid_problems(
                rel, "shape-mismatch", "spacing-mismatch", grid, ref_grid, ref_name
            )
    return ref_grid, ref_name, problems


def _series_of(task: TaskSpec, series: SeriesSpec) -> str:
    """``"series <name> of "`` for a task with several series, else nothing."""
    return f"series {series.name} of " if len(task.series) > 1 else ""


def _check_case_files(layout: Layout, task: TaskSpec, case_id: str) -> list[Problem]:
    problems: list[Problem] = []
    primary_grid: Grid | None = None
    primary_name = ""
    for series in task.series:
        grid, name, found = _check_series(layout, task, case_id, series)
        problems += found
        if series.name == task.primary_series.name:
            primary_grid, primary_name = grid, name
    if task.segmentation is not None:
        label_path = layout.label(case_id)
        label, label_grid, found = _read(
            layout, label_path, "missing-file", "reference label map", dtype=None
        )
        problems += found
        rel = layout.relative(label_path)
        if label is not None:
            if primary_grid is not None:
                problems += _grid_problems(
                    rel, "shape-mismatch", "spacing-mismatch", label_grid, primary_grid,
                    primary_name,
                )  # fmt: skip
            label = as_label_values(label, label_path, layout.png)
            problems += _check_label_values(rel, label, task, layout.png)
            primary_grid = primary_grid or label_grid  # maps sit on the label grid
    for map_spec in task.maps:
        map_name = map_spec.name
        path = layout.map(case_id, map_name)
        problems += _png_map_problems(layout, case_id, map_name)
        if not (map_spec.required and layout.maps_required) and not path.exists():
            continue  # an optional map: its metrics are absent for this case
        array, grid, found = _read(
            layout, path, "missing-map", f"map {map_name!r} required by task {task.name}"
        )
        problems += found
        if array is None:
            continue
        map_rel = layout.relative(path)
        problems += _non_finite(map_rel, array)
        if primary_grid is not None:
            problems += _grid_problems(map_rel, "map-grid", "map-grid", grid, primary_grid, "image")
    for mask_name in task.mask_names:
        problems += _check_mask(layout, task, case_id, mask_name, primary_grid)
    return problems


def _check_mask(
    layout: Layout, task: TaskSpec, case_id: str, name: str, grid_for_masks: Grid | None
) -> list[Problem]:
    path = layout.mask(case_id, name)
    array, grid, found = _read(
        layout, path, "missing-mask", f"mask {name!r} required by task {task.name}", dtype=None
    )
    if array is None:
        return found
    rel = layout.relative(path)
    if grid_for_masks is not None:
        found += _grid_problems(rel, "mask-grid", "mask-grid", grid, grid_for_masks, "image")
    found += _mask_value_problems(rel, as_label_values(array, path, layout.png), task, layout.png)
    return found


def _png_map_problems(layout: Layout, case_id: str, name: str) -> list[Problem]:
    """``map-format``: a map stored as PNG in a PNG dataset, where maps are NIfTI."""
    if layout.file_ending != PNG:
        return []
    path = layout.map(case_id, name)
    stray = path.with_name(f"{case_id}_{name}{PNG}")
    if not stray.is_file():
        return []
    return [
        Problem(
            layout.relative(stray),
            "map-format",
            f"a map cannot be a PNG (8/16-bit integers, no float values); store it as "
            f"{layout.relative(path)} on the image grid",
        )
    ]


def _mask_value_problems(
    rel: str, array: np.ndarray, task: TaskSpec, png: PngSettings | None
) -> list[Problem]:
    """``non-finite`` or ``mask-value`` problems of a binary mask (values must be 0 or 1;
    ``png``: a PNG dataset's settings, for the fix of a 0/255 mask)."""
    if np.issubdtype(array.dtype, np.floating):
        non_finite = _non_finite(rel, array)
        if non_finite:
            return non_finite
    values = np.unique(array)
    outside = [v.item() for v in values if v not in (0, 1)]
    if outside:
        shown = ", ".join(f"{v:g}" for v in outside[:10])
        hint = foreground_hint(rel, outside, task, png)
        return [
            Problem(rel, "mask-value", f"value(s) [{shown}] are not 0 or 1; a mask is binary{hint}")
        ]
    return []


def _check_label_values(
    rel: str, label: np.ndarray, task: TaskSpec, png: PngSettings | None
) -> list[Problem]:
    allowed = task.label_values
    if not np.issubdtype(label.dtype, np.integer):
        if not np.all(np.isfinite(label)) or not np.array_equal(label, np.round(label)):
            return [
                Problem(rel, "label-value", "holds non-integer values; labels must be integers")
            ]
        label = label.astype(np.int64)
    if label.size and int(label.min()) < 0:
        values = np.unique(label)
    else:
        counts = np.bincount(label.ravel().astype(np.int64, copy=False))
        values = np.flatnonzero(counts)
    outside = [int(v) for v in values if int(v) not in allowed]
    problems = []
    if outside:
        problems.append(
            Problem(
                rel,
                "label-value",
                f"value(s) {outside} not in the label map "
                f"(0..{max(allowed)}: {', '.join(task.structure_names)})"
                + foreground_hint(rel, outside, task, png),
            )
        )
    present = {int(v) for v in values}
    empty = [name for name in task.required_labels or () if task.labels[name] not in present]
    if empty:
        problems.append(
            Problem(rel, "empty-reference", f"required structure(s) {empty} have no voxel")
        )
    return problems


# -- splits -----------------------------------------------------------------------------
def _check_splits(
    layout: Layout, task: TaskSpec, cases: pd.DataFrame, require: bool
) -> list[Problem]:
    try:
        splits = read_splits(layout.root)
    except UnsafePathError as exc:
        return [Problem(SPLITS_JSON, exc.rule, exc.message)]
    except ContractError as exc:
        return [Problem(SPLITS_JSON, "splits-task", str(exc).split(": ", 1)[-1])]
    if splits is None and layout.plain:
        try:
            splits, _ = raw_splits(layout, task, cases)
        except UnsafePathError as exc:
            return [Problem(SPLITS_FINAL_JSON, exc.rule, exc.message)]
        except ContractError as exc:
            return [Problem(SPLITS_FINAL_JSON, "splits-task", str(exc).split(": ", 1)[-1])]
        return check_splits(splits, task, cases, SPLITS_FINAL_JSON)
    if splits is None:
        return (
            [
                Problem(
                    SPLITS_JSON,
                    "splits-missing",
                    "missing; create it once with "
                    f"`bench data split {layout.root} --task {task.name}`",
                )
            ]
            if require
            else []
        )
    return check_splits(splits, task, cases)


def check_splits(
    splits: Splits, task: TaskSpec, cases: pd.DataFrame, file: str = SPLITS_JSON
) -> list[Problem]:
    """Problems of ``splits`` against the cases table (also used before writing new splits);
    ``file``: where the splits were read from, as problems name it."""

    def bad(rule: str, message: str) -> Problem:
        return Problem(file, rule, message)

    if splits.task != task.name:
        return [bad("splits-task", f"made for task {splits.task!r}, not {task.name!r}")]
    subject_of = dict(zip(cases["case_id"], cases["subject_id"], strict=True))
    named = {c for f in splits.folds for c in (*f.train, *f.test)} | set(splits.external)
    problems = [
        bad("case-id", f"names case id {problem}")
        for problem in sorted(filter(None, map(case_id_problem, named)))
    ]
    unknown = sorted(named - set(subject_of))
    if unknown:
        problems.append(
            bad("unknown-case-in-splits", f"names case(s) not in {CASES_CSV}: {unknown[:10]}")
        )
    external_site = task.split.external_site
    for case_id, site in zip(cases["case_id"], cases["site"], strict=True):
        in_folds = any(case_id in f.test or case_id in f.train for f in splits.folds)
        if external_site is not None and site == external_site:
            if case_id not in splits.external:
                problems.append(
                    bad(
                        "case-not-in-splits",
                        f"case {case_id!r} (site {site}) is not in the external set",
                    )
                )
        elif not in_folds:
            problems.append(bad("case-not-in-splits", f"case {case_id!r} is in no fold"))
    test_fold_of_subject: dict[str, int] = {}
    external = set(splits.external)
    for fold in splits.folds:
        problems += [
            bad(
                "train-test-overlap",
                f"fold {fold.index}: external case {case_id!r} is in a fold; the external "
                "set is never trained on nor tested in a fold",
            )
            for case_id in sorted(external & {*fold.train, *fold.test})
        ]
        train_subjects = {subject_of.get(c) for c in fold.train}
        for case_id in fold.test:
            subject = subject_of.get(case_id)
            if subject is None:
                continue
            if subject in train_subjects:
                problems.append(
                    bad(
                        "train-test-overlap",
                        f"fold {fold.index}: subject {subject!r} is in both train and test",
                    )
                )
            first = test_fold_of_subject.setdefault(subject, fold.index)
            if splits.kind == "kfold" and first != fold.index:
                problems.append(
                    bad(
                        "subject-in-two-folds",
                        f"subject {subject!r} is in the test sets of folds "
                        f"{first} and {fold.index}",
                    )
                )
    return sorted(set(problems))
