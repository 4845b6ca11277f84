"""``bench score``: score a folder of predictions made by any tool, without model code.

``<predictions>/<case_id><ending>`` holds one predicted label map per case (any ending of
`tasks.contract.FILE_ENDINGS`), on the case's image grid, with the task's label values —
or the same files in nnU-Net's ``fold_<k>/validation/`` folders or MONAI's
``<case>/<case>_<postfix>`` folders (``--layout``, detected by default:
`harness.prediction_layouts`).

In the **nnU-Net layout** a case's file must lie in the fold whose test set holds it
(rule ``prediction-fold``: another fold's model may have trained on it); without
``--folds`` the folds scored are those with a ``fold_<k>`` folder; the external set is not
scored (nnU-Net's validation folders never hold it; score ``nnUNetv2_predict``'s output
for it as a flat folder). A plain nnU-Net dataset without splits (one test set) takes its
folds from the ``fold_<k>`` folders: fold k's test set is what ``fold_<k>/validation``
holds. The run's config records the layout, where the splits came from, what was not
scored and which maps were absent (their metrics are absent, never zeros).
PNG predictions are read against a PNG dataset only, with the spacing (and the
``png_foreground`` value) of its dataset.json (`harness.prediction_folder`).
Cases scored: the test cases of the chosen folds (default: all) and the external set.
Everything is validated first — every problem reported, naming the file and the rule —
and nothing is written for a rejected submission. A valid one is stored like a trained
run (kind ``scored``), one transaction per fold, so it sits on the leaderboard beside
the trained models.

For a task with extra binary targets (`tasks.spec.MaskTarget`, e.g. seed 002's ``fat``),
``<predictions>/<case_id>_<mask><ending>`` holds the predicted mask: 0/1, or a
probability in [0, 1] (then the mask is ``≥ 0.5`` and the values also give the AUROC).
A submission may hold label maps, masks, or both; whatever kind it holds, it must hold
for every evaluated case. A submission of masks only is measured on the reference
structures (seed 002's "manual segmentation" groups).

Case-level classification scores come as a CSV (``--scores``, `mskbench.harness.scores_csv`:
``case_id,target[,class],score``), alone (a pure classifier: no predictions folder) or
beside the files; they are stored as the runner stores a model's scores.

Every file naming a case is checked, also those of cases the chosen folds do not score.
Predictions are compared with their reference on the full geometry (shape, spacing,
direction cosines, origin; `tasks.contract.orientation`): one stored in another axis
order or with flipped axes of the same physical grid (LAS instead of RAS, axes permuted)
is reoriented onto the reference grid — logged, and kept in the run's config as
``reoriented`` — any other grid is rejected.

Rules: ``missing-prediction`` (an evaluated case without a file), ``unreadable``,
``too-large`` (a header declaring more voxels than ``--max-voxels``, or a decompression
bomb), ``prediction-grid`` (another physical grid than the reference: shape, spacing,
direction or origin differ; the message says which, e.g. "origin differs by 50.0 mm"),
``label-value`` (a value outside the label map, or non-integer), ``mask-value`` (a mask
value outside [0, 1]), ``non-finite`` (NaN/inf), ``unknown-case`` (a file naming no case
of the dataset), ``symlink`` (a link in the folder leading outside it, unless
``--follow-symlinks``), ``prediction-layout`` / ``duplicate-prediction`` (an ambiguous
folder, one case twice: `harness.prediction_layouts`), ``prediction-fold`` (above), and
for ``--scores`` CSVs those of `mskbench.harness.scores_csv`. ``--folds`` naming no
fold of splits.json is refused like ``bench run --folds``, before anything is read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mskbench.harness.evaluation import FoldRows
from mskbench.harness.prediction_folder import (
    prediction_files,
    read_on_reference,
    reorientations,
)
from mskbench.harness.prediction_layouts import NNUNET, PredictionSet
from mskbench.harness.provenance import record_provenance
from mskbench.harness.runner import RunOutcome, _now
from mskbench.harness.scores_csv import read_scores
from mskbench.harness.store import FoldRecord, RunRecord, Store
from mskbench.tasks import get_task
from mskbench.tasks.case import Prediction, Score
from mskbench.tasks.contract import (
    ContractError,
    Dataset,
    Fold,
    Problem,
    Splits,
    ValidationError,
    data_fingerprint,
    json_sha256,
)
from mskbench.tasks.contract.errors import RuleError
from mskbench.tasks.contract.fingerprint import file_sha256
from mskbench.tasks.contract.layout import MAPS_DIR
from mskbench.tasks.contract.nnunet_raw import SINGLE_TEST
from mskbench.tasks.contract.orientation import GridMismatch
from mskbench.tasks.contract.png_dataset import PngSettings, foreground_hint
from mskbench.tasks.spec import TaskSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """A validated submission: prediction files per evaluated case, by fold.

    ``files``: case → label map; ``mask_files``: case → mask name → mask file;
    ``splits``: the folds scored (the dataset's, or those of nnU-Net's fold folders) and
    ``splits_source`` where they came from; ``layout``: the predictions folder's layout;
    ``not_scored``: what was left out, and why.
    """

    files: dict[str, Path]
    cases_by_fold: dict[int, list[tuple[str, str]]]  # fold → [(case_id, split)]
    splits: Splits
    splits_source: str
    scores: dict[str, dict[str, Score]] = field(default_factory=dict)  # case → target → score
    mask_files: dict[str, dict[str, Path]] = field(default_factory=dict)
    reoriented: dict[str, str] = field(default_factory=dict)  # file name → how
    layout: str | None = None
    not_scored: dict[str, str] = field(default_factory=dict)

    def path_of(self, case_id: str) -> Path | None:
        """The case's label map, else its first mask file, else None (scores only)."""
        if case_id in self.files:
            return self.files[case_id]
        masks = self.mask_files.get(case_id)
        return next(iter(masks.values())) if masks else None


def _split_mask_files(
    files: dict[str, Path], known: set[str], masks: tuple[str, ...]
) -> tuple[dict[str, Path], dict[str, dict[str, Path]]]:
    """Label files (stem = a case id) apart from mask files (stem = ``<case>_<mask>``)."""
    labels, mask_files = {}, {}
    for stem, path in files.items():
        mask = next(
            (m for m in masks if stem.endswith(f"_{m}") and stem[: -len(m) - 1] in known), None
        )
        if stem in known or mask is None:
            labels[stem] = path
        else:
            mask_files.setdefault(stem[: -len(mask) - 1], {})[mask] = path
    return labels, mask_files


def evaluated_cases(
    splits: Splits, folds: list[int] | None, source: str, external: bool = True
) -> dict[int, list[tuple[str, str]]]:
    """Cases to score by fold: each fold's test cases; the external set (unless not
    ``external``) with the first fold. ``source``: where the splits came from, for messages.

    Raises `ContractError` when ``folds`` is empty or names a fold the splits lack."""
    available = [f.index for f in splits.folds]
    unknown = [f for f in folds or [] if f not in available]
    if unknown:
        raise ContractError(f"folds {unknown} do not exist; {source} has folds {available}")
    if folds == []:
        raise ContractError(f"no fold chosen; {source} has folds {available}")
    chosen = [f for f in splits.folds if folds is None or f.index in folds]
    out = {f.index: [(c, "test") for c in f.test] for f in chosen}
    if chosen and splits.external and external:
        out[chosen[0].index] += [(c, "external") for c in splits.external]
    return out


def _folds_of_predictions(
    dataset: Dataset, found: PredictionSet, folder: Path
) -> tuple[Splits, str, list[Problem]]:
    """The splits to score with, where they come from, and a ``prediction-fold`` problem per
    file that lies in another fold than the one whose test set holds its case (an external
    case in a fold folder among them). The dataset's own splits, unless they are one test
    set: then the fold folders' (fold k tests what ``fold_<k>/validation`` holds of the
    internal cases and trains on the others)."""
    splits = dataset.splits
    of_case = {_case_of(stem, dataset): fold for stem, fold in found.folds.items()}
    of_case.pop(None, None)
    if splits.kind == SINGLE_TEST:
        internal = set(splits.folds[0].test)
        folds = tuple(
            Fold(k, tuple(sorted(internal - tested)), tuple(sorted(tested)))
            for k in sorted(set(of_case.values()))
            if (tested := {c for c, fold in of_case.items() if fold == k and c in internal})
        )
        splits = Splits(splits.task, "kfold", 0, "subject_id", None, folds, splits.external)
        source = f"the fold_<k> folders of {folder}"
    else:
        source = dataset.splits_source
    test_fold = {c: f.index for f in splits.folds for c in f.test}
    problems = [
        Problem(
            found.files[stem].relative_to(folder).as_posix(),
            "prediction-fold",
            f"case {case_id!r} is "
            + (
                f"in the test set of fold {test_fold[case_id]}"
                if case_id in test_fold
                else "in no fold's test set"
            )
            + f" ({source}), not of fold {fold}: fold {fold}'s model may have trained on it",
        )
        for stem, fold in found.folds.items()
        if (case_id := _case_of(stem, dataset)) is not None and test_fold.get(case_id) != fold
    ]
    return splits, source, problems


def _case_of(stem: str, dataset: Dataset) -> str | None:
    """The case a prediction file's stem names (``<case>`` or ``<case>_<mask>``), if any."""
    if stem in dataset.cases.index:
        return stem
    for mask in dataset.task.mask_names:
        if stem.endswith(f"_{mask}") and stem[: -len(mask) - 1] in dataset.cases.index:
            return stem[: -len(mask) - 1]
    return None


def validate_submission(
    task: TaskSpec,
    dataset: Dataset,
    folder: Path | None,
    folds: list[int] | None,
    scores_csv: Path | None = None,
    follow_symlinks: bool = False,
    layout: str = "auto",
) -> Submission:
    """Check every prediction before anything is written; raises `ValidationError`.

    ``folder`` may be None for a submission of case scores only (``scores_csv``);
    ``layout``: the folder's layout (`harness.prediction_layouts`, ``auto`` detects it)."""
    if folder is None and scores_csv is None:
        raise ValueError("nothing to score: give a predictions folder, a scores CSV, or both")
    if folder is not None and not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such predictions folder")
    known = set(dataset.case_ids)
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    splits, source, not_scored = dataset.splits, dataset.splits_source, {}
    predictions = None
    if folder is not None:
        predictions, problems = prediction_files(folder, follow_symlinks, layout)
        if predictions.layout == NNUNET and not problems:
            splits, source, problems = _folds_of_predictions(dataset, predictions, folder)
        if problems:  # before any file is read: a link may lead anywhere
            raise ValidationError(folder, problems)
        found = predictions.files
        if task.segmentation is None:
            problems.append(
                Problem(folder.name, "unknown-case", f"task {task.name} has no label map or "
                        "masks to predict; give case scores with --scores")
            )  # fmt: skip
    nnunet = predictions is not None and predictions.layout == NNUNET
    if nnunet and folds is None:
        folds = sorted(set(predictions.fold_folders) & {f.index for f in splits.folds})
    cases_by_fold = evaluated_cases(splits, folds, source, external=not nnunet)
    if nnunet and splits.external:
        not_scored["external"] = (
            f"{len(splits.external)} external case(s): nnU-Net's fold_<k>/validation folders "
            "hold only held-out training cases; score nnUNetv2_predict's output for them as a "
            "flat folder"
        )
    files, mask_files = _split_mask_files(found, known, task.mask_names)
    submitted_masks = sorted({m for by_mask in mask_files.values() for m in by_mask})
    want_labels = bool(files) or not submitted_masks
    problems += [
        Problem(
            path.relative_to(folder).as_posix() if folder is not None else path.name,
            "unknown-case",
            f"names case {case_id!r}, which is not in {dataset.layout.cases_csv}"
            if dataset.layout.cases_csv.is_file()
            else f"names case {case_id!r}, which is not a case of {dataset.root}",
        )
        for case_id, path in files.items()
        if case_id not in known
    ]
    allowed = set(task.label_values)
    png = dataset.layout.png
    evaluated = {case_id for cases in cases_by_fold.values() for case_id, _ in cases}

    def shown(path: Path) -> str:
        return path.relative_to(folder).as_posix() if folder is not None else path.name

    for case_id in dataset.case_ids:  # files of cases no chosen fold scores are checked too
        if folder is None or task.segmentation is None:
            break
        reference = dataset.layout.label(case_id)
        for mask in submitted_masks:
            mask_path = mask_files.get(case_id, {}).get(mask)
            if mask_path is None:
                if case_id not in evaluated:
                    continue
                problems.append(
                    Problem(
                        f"{case_id}_{mask}.nii.gz",
                        "missing-prediction",
                        f"case {case_id!r} is evaluated but has no {mask!r} mask file",
                    )
                )
            else:
                problems += _check_mask_prediction(mask_path, shown(mask_path), reference, png)
        if not want_labels:
            continue
        path = files.get(case_id)
        if path is None:
            if case_id not in evaluated:
                continue
            problems.append(
                Problem(
                    f"{case_id}.nii.gz",
                    "missing-prediction",
                    f"case {case_id!r} is evaluated but has no prediction file",
                )
            )
            continue
        problems += _check_prediction(path, shown(path), reference, allowed, task, png)
    scores: dict[str, dict[str, Score]] = {}
    if scores_csv is not None:
        scored = [c for cases in cases_by_fold.values() for c, _ in cases]
        scores, score_problems = read_scores(Path(scores_csv), task, known, scored)
        problems += score_problems
    if problems:
        raise ValidationError(folder or Path(scores_csv), problems)
    labels = {c: p for c, p in files.items() if c in known}
    references = {p: dataset.layout.label(c) for c, p in labels.items()}
    references |= {p: dataset.layout.label(c) for c, m in mask_files.items() for p in m.values()}
    return Submission(
        labels,
        cases_by_fold,
        splits,
        source,
        scores,
        mask_files,
        reorientations(references, png),
        predictions.layout if predictions is not None else None,
        not_scored,
    )


def _read_on_grid(
    path: Path, shown: str, reference: Path, png: PngSettings | None
) -> tuple[np.ndarray | None, list[Problem]]:
    """The array of a prediction file on its reference grid, or the problems that stop
    reading or placing it (``shown``: the file as messages name it)."""
    try:
        array, _ = read_on_reference(path, reference, png)
    except RuleError as exc:
        return None, [Problem(shown, exc.rule, exc.message)]
    except GridMismatch as exc:
        return None, [Problem(shown, "prediction-grid", str(exc))]
    except (OSError, RuntimeError) as exc:
        return None, [
            Problem(shown, "unreadable", f"cannot be read as an image ({str(exc)[:160]})")
        ]
    return array, []


def _check_mask_prediction(
    path: Path, shown: str, reference: Path, png: PngSettings | None
) -> list[Problem]:
    array, problems = _read_on_grid(path, shown, reference, png)
    if array is None:
        return problems
    values = array.astype(np.float64, copy=False)
    non_finite = int(np.count_nonzero(~np.isfinite(values)))
    if non_finite:
        return [Problem(shown, "non-finite", f"{non_finite} voxel(s) are NaN or infinite")]
    outside = int(np.count_nonzero((values < 0) | (values > 1)))
    if outside:
        return [
            Problem(
                shown,
                "mask-value",
                f"{outside} voxel(s) outside [0, 1]; a mask holds 0/1 or a probability",
            )
        ]
    return []


def read_mask_prediction(
    path: Path, reference: Path, png: PngSettings | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A validated mask file on its ``reference``'s grid as ``(mask, probability)``: a file
    holding only 0 and 1 is a mask without probability; any other values in [0, 1] are a
    probability, mask ``≥ 0.5``."""
    array = read_on_reference(path, reference, png)[0].astype(np.float32, copy=False)
    if np.isin(array, (0.0, 1.0)).all():
        return array >= 0.5, None
    return array >= 0.5, array


def _check_prediction(
    path: Path,
    shown: str,
    reference: Path,
    allowed: set[int],
    task: TaskSpec,
    png: PngSettings | None,
) -> list[Problem]:
    array, problems = _read_on_grid(path, shown, reference, png)
    if array is None:
        return problems
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)):
            return [
                Problem(
                    shown,
                    "non-finite",
                    f"{int((~np.isfinite(array)).sum())} voxel(s) are NaN or infinite",
                )
            ]
        if not np.array_equal(array, np.round(array)):
            return [
                Problem(
                    shown,
                    "label-value",
                    "holds non-integer values; predictions must be label maps",
                )
            ]
    outside = sorted({int(v) for v in np.unique(array)} - allowed)
    if outside:
        return [
            Problem(
                shown,
                "label-value",
                f"value(s) {outside} not in the label map (0..{max(allowed)}: {', '.join(task.structure_names)})"
                + foreground_hint(shown, outside, task, png),
            )
        ]
    return []


def score(
    task_name: str,
    data: Path,
    predictions: Path | None,
    name: str,
    db: Path,
    folds: list[int] | None = None,
    scores_csv: Path | None = None,
    follow_symlinks: bool = False,
    layout: str = "auto",
) -> RunOutcome:
    """Validate and score a predictions folder and/or a scores CSV into the store (see the
    module docstring)."""
    started = time.perf_counter()
    task = get_task(task_name)
    dataset = Dataset(data, task)
    folder = Path(predictions) if predictions is not None else None
    submission = validate_submission(
        task, dataset, folder, folds, scores_csv, follow_symlinks, layout
    )
    if submission.reoriented:
        shown = [f"{file} ({how})" for file, how in list(submission.reoriented.items())[:5]]
        log.warning(
            "%d prediction file(s) on their reference's grid in another axis order were "
            "reoriented onto it: %s%s",
            len(submission.reoriented),
            ", ".join(shown),
            ", ..." if len(submission.reoriented) > len(shown) else "",
        )
    profile = dataset.dataset_json.get("mskbench", {}).get("phantom", {}).get("profile", "custom")
    prediction_fp = _submission_fingerprint(folder, scores_csv)
    split_fp = submission.splits.fingerprint
    absent = absent_maps(dataset, submission)
    for map_name, reason in absent.items():
        log.warning("map %s: %s", map_name, reason)
    record = RunRecord(
        run_key=json_sha256(
            {
                "task": task.name,
                "model": name,
                "predictions": prediction_fp,
                "data": dataset.fingerprint,
                "split": split_fp,
            }
        ),
        kind="scored",
        task=task.name,
        task_version=task.version,
        model=name,
        profile=profile,
        seed=0,
        config={
            "predictions": str(folder.resolve()) if folder is not None else None,
            "scores": str(Path(scores_csv).resolve()) if scores_csv is not None else None,
            "predictions_fingerprint": prediction_fp,
            **({"reoriented": submission.reoriented} if submission.reoriented else {}),
            **({"layout": submission.layout} if submission.layout is not None else {}),
            "splits": submission.splits_source,
            **({"not_scored": submission.not_scored} if submission.not_scored else {}),
            **({"absent_maps": absent} if absent else {}),
        },
        **{**record_provenance(dataset), "split_fingerprint": split_fp},
        device="none",
        device_name="scored predictions",
        folds_planned=sorted(submission.cases_by_fold),
    )
    store = Store(db)
    run_id, finished = store.begin_run(record)
    for fold, cases in submission.cases_by_fold.items():
        if fold in finished:
            continue
        fold_started, t0 = _now(), time.perf_counter()
        rows = FoldRows(task)
        for case_id, role in cases:
            case = dataset.load(case_id)
            prediction = _prediction_of(
                submission, case_id, dataset.layout.label(case_id), dataset.layout.png
            )
            rows.add(case, prediction, role)
            rows.add_path(case_id, role, submission.path_of(case_id))
        n_test = sum(1 for _, role in cases if role == "test")
        record_fold = FoldRecord(
            fold, fold_started, _now(), time.perf_counter() - t0, None, None, None, None, 0, 0,
            n_test,
        )  # fmt: skip
        store.write_fold(run_id, record_fold, **rows.frames(), data_fingerprint=dataset.fingerprint)
    wall = time.perf_counter() - started
    store.finish_run(run_id, "finished", wall_time_s=wall)
    done = sorted(submission.cases_by_fold)
    return RunOutcome(
        run_id,
        [f for f in done if f not in finished],
        [f for f in done if f in finished],
        wall,
        Path(db),
    )


def absent_maps(dataset: Dataset, submission: Submission) -> dict[str, str]:
    """Map name → why its metrics are absent, for each map of the task that some scored
    case lacks (a plain nnU-Net dataset has no maps)."""
    scored = [c for cases in submission.cases_by_fold.values() for c, _ in cases]
    if dataset.task.segmentation is None:
        return {}
    plain = " (a plain nnU-Net dataset: maps are optional)" if dataset.layout.plain else ""
    out = {}
    for spec in dataset.task.maps:
        lacking = [c for c in scored if not dataset.layout.map(c, spec.name).exists()]
        if lacking:
            out[spec.name] = (
                f"no {MAPS_DIR}/<case>_{spec.name} file for {len(lacking)} of {len(scored)} "
                f"scored case(s){plain}: {spec.name}_ref, {spec.name}_pred and "
                f"{spec.name}_delta are absent for them"
            )
    return out


def _submission_fingerprint(folder: Path | None, scores_csv: Path | None) -> str:
    """sha256 of what was submitted: the folder's files, the scores CSV, or both."""
    files = data_fingerprint(folder) if folder is not None else None
    scores = file_sha256(Path(scores_csv)) if scores_csv is not None else None
    if scores is None:
        return str(files)
    return scores if files is None else json_sha256({"files": files, "scores": scores})


def _prediction_of(
    submission: Submission, case_id: str, reference: Path, png: PngSettings | None
) -> Prediction:
    """The submitted label map and masks of one case as a `Prediction` on the grid of its
    ``reference`` label map (``png``: a PNG dataset's settings)."""
    label = None
    if case_id in submission.files:
        label = read_on_reference(submission.files[case_id], reference, png)[0].astype(np.uint8)
    masks, probabilities = {}, {}
    for name, path in submission.mask_files.get(case_id, {}).items():
        masks[name], probability = read_mask_prediction(path, reference, png)
        if probability is not None:
            probabilities[name] = probability
    return Prediction(
        label=label,
        masks=masks,
        mask_probabilities=probabilities,
        scores=submission.scores.get(case_id, {}),
    )
