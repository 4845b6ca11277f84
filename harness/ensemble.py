"""``bench ensemble``: the external set predicted by the ensemble of a run's fold models.

A cross-validated run trains one model per fold and each predicts the external set; the
per-fold external numbers are what ``bench results --split external`` reports. Seed 004's
code instead predicted its external centre with the ensemble of the four fold models.
`ensemble_external` builds that ensemble from the label maps the run stored — a **majority
vote** per voxel over the folds (ties go to the lower label: with four folds a 2–2 split
stays background). It votes on label maps, not probabilities, because the harness stores
label maps only; soft voting (averaging probabilities) can differ from it at voxels where
the folds are unsure.

The ensemble is stored as its own run (kind ``scored``, model ``<model>_ensemble`` unless
``name`` is given, one fold numbered 0 holding external rows only), so it sits on the
leaderboard's external view beside — never mixed into — the per-fold numbers; its config
names the source run, the folds voted and the rule.

Checks before anything is read or written: the source run is a finished trained run of a
segmentation task whose every split fold is stored; the dataset at the run's data root
still has the run's fingerprint; every external case has one stored label map per fold
and each lies inside ``<db folder>/predictions/<source run>/`` (a path in the store is
not trusted: links are resolved) and on its reference's grid (`read_on_reference`, full
geometry). Nothing is written when any check fails.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.harness.evaluation import FoldRows
from mskbench.harness.naming import check_run_name
from mskbench.harness.prediction_folder import read_on_reference
from mskbench.harness.provenance import record_provenance
from mskbench.harness.runner import RunOutcome, _now, write_prediction
from mskbench.harness.store import FoldRecord, RunRecord, Store
from mskbench.tasks import get_task
from mskbench.tasks.case import Prediction
from mskbench.tasks.contract import ContractError, Dataset, json_sha256
from mskbench.tasks.contract.safepath import inside

log = logging.getLogger(__name__)

VOTE_RULE = "majority vote of the fold label maps per voxel; ties go to the lower label"


class EnsembleError(ValueError):
    """The source run or its stored predictions cannot be ensembled (the message says why)."""


def majority_vote(label_maps: list[np.ndarray], n_labels: int) -> np.ndarray:
    """Per-voxel mode of ``label_maps`` (equal shapes, values in ``[0, n_labels)``) as
    uint8; a tie goes to the lowest of the tied labels (`np.argmax` takes the first)."""
    stacked = np.stack(label_maps)
    votes = np.stack([(stacked == value).sum(axis=0) for value in range(n_labels)])
    return votes.argmax(axis=0).astype(np.uint8)


def find_source_run(
    store: Store, run_id: str | None, task: str, model: str | None, profile: str | None
) -> pd.Series:
    """The run to ensemble: ``run_id`` if given, else the newest trained run of ``model``
    on ``task`` (and ``profile``); `EnsembleError` names what is missing (whether its folds
    are all stored is `_check_source`'s question)."""
    runs = store.runs(task)
    if run_id is not None:
        chosen = runs[runs["run_id"] == run_id]
        if chosen.empty:
            raise EnsembleError(f"no run {run_id!r} of task {task!r} in {store.path}")
        return chosen.iloc[-1]
    if model is None:
        raise EnsembleError("name the source run: --run RUN_ID, or --model (and --profile)")
    chosen = runs[
        (runs["model"] == model)
        & (runs["kind"] == "trained")
        & ((runs["profile"] == profile) if profile else True)
    ]
    if chosen.empty:
        where = f" on profile {profile!r}" if profile else ""
        raise EnsembleError(f"no trained run of {model!r} on {task!r}{where} in {store.path}")
    return chosen.iloc[-1]


def _check_source(run: pd.Series, dataset: Dataset) -> list[int]:
    """The source run's folds, after checking it can be ensembled (see module docstring)."""
    task = dataset.task
    if run["kind"] != "trained":
        raise EnsembleError(f"run {run['run_id']} is {run['kind']!r}; only trained runs vote")
    if task.segmentation is None:
        raise EnsembleError(f"task {task.name!r} has no label map to vote on")
    if not dataset.splits.external:
        raise EnsembleError(f"the dataset at {dataset.root} has no external set")
    folds = sorted(f.index for f in dataset.splits.folds)
    missing = sorted(set(folds) - set(run["folds_finished"]))
    if missing:
        raise EnsembleError(
            f"run {run['run_id']} has no stored fold {missing} of the split's {folds}; "
            "run them first (bench run ... --folds K)"
        )
    if dataset.fingerprint != run["data_fingerprint"]:
        raise EnsembleError(
            f"the dataset at {dataset.root} changed since run {run['run_id']} "
            "(data fingerprint differs); its stored predictions may not match it"
        )
    return folds


def _stored_maps(
    store: Store, run: pd.Series, folds: list[int], external: list[str]
) -> dict[str, list[Path]]:
    """Case id → its stored external label map per fold (fold order), each checked to lie
    inside ``<db folder>/predictions/<run>/``."""
    rows = store.query(
        "SELECT fold, case_id, path FROM predictions WHERE run_id = ? AND split = 'external'",
        [run["run_id"]],
    )
    root = (Path(store.path).parent / "predictions" / str(run["run_id"])).resolve()
    by_case: dict[str, dict[int, Path]] = {}
    for fold, case_id, path in rows.itertuples(index=False):
        try:
            checked = inside(root, Path(path))
        except (ValueError, OSError) as exc:
            raise EnsembleError(f"stored prediction {path}: {exc}") from exc
        by_case.setdefault(str(case_id), {})[int(fold)] = checked
    out = {}
    for case_id in external:
        stored = by_case.get(case_id, {})
        lacking = [f for f in folds if f not in stored or not stored[f].is_file()]
        if lacking:
            raise EnsembleError(
                f"external case {case_id}: no stored label map of fold(s) {lacking} under {root}"
            )
        out[case_id] = [stored[f] for f in folds]
    return out


def ensemble_external(
    db: Path,
    task_name: str,
    run_id: str | None = None,
    model: str | None = None,
    profile: str | None = None,
    name: str | None = None,
) -> RunOutcome:
    """Vote the source run's fold predictions on the external set and store the result as
    a run of its own (see the module docstring)."""
    started = time.perf_counter()
    task = get_task(task_name)
    store = Store(db)
    source = find_source_run(store, run_id, task.name, model, profile)
    name = check_run_name(name or f"{source['model']}_ensemble")
    try:
        dataset = Dataset(source["data_root"], task)
    except (ContractError, OSError) as exc:
        raise EnsembleError(
            f"run {source['run_id']}'s data at {source['data_root']}: {exc}"
        ) from exc
    folds = _check_source(source, dataset)
    external = list(dataset.splits.external)
    maps = _stored_maps(store, source, folds, external)
    n_labels = max(task.labels.values()) + 1
    voted = {}
    for case_id in external:  # read and check everything before writing anything
        reference = dataset.layout.label(case_id)
        labels = []
        for path in maps[case_id]:
            try:
                label = np.asarray(read_on_reference(path, reference)[0], dtype=np.int64)
            except (ContractError, ValueError, OSError) as exc:
                raise EnsembleError(f"stored prediction {path}: {exc}") from exc
            if label.min() < 0 or label.max() >= n_labels:
                raise EnsembleError(f"stored prediction {path}: a label outside 0..{n_labels - 1}")
            labels.append(label)
        voted[case_id] = majority_vote(labels, n_labels)
    config = {
        "ensemble_of": str(source["run_id"]),
        "source_model": str(source["model"]),
        "source_config": source["config"],
        "folds": folds,
        "vote": VOTE_RULE,
    }
    record = RunRecord(
        run_key=json_sha256(
            {"task": task.name, "model": name, **config, "data": dataset.fingerprint}
        ),
        kind="scored",
        task=task.name,
        task_version=task.version,
        model=name,
        profile=str(source["profile"]),
        seed=int(source["seed"]),
        config=config,
        **record_provenance(dataset),
        device="none",
        device_name=f"ensemble of {len(folds)} fold predictions",
        folds_planned=[0],
    )
    stored = store.run_progress(record.run_key)
    if stored is not None and 0 in stored[2]:
        log.info("ensemble run %s is already stored", stored[0])
        return RunOutcome(stored[0], [], [0], time.perf_counter() - started, Path(db))
    new_run, _ = store.begin_run(record)
    fold_started, t0 = _now(), time.perf_counter()
    rows = FoldRows(task)
    for case_id in external:
        case = dataset.load(case_id)
        prediction = Prediction(label=voted[case_id])
        rows.add(case, prediction, "external")
        path = write_prediction(Path(db).parent / "predictions", new_run, 0, case, prediction)
        rows.add_path(case_id, "external", path)
    record_fold = FoldRecord(
        0, fold_started, _now(), time.perf_counter() - t0, None, None, None, None, 0, 0, 0
    )
    store.write_fold(new_run, record_fold, **rows.frames(), data_fingerprint=dataset.fingerprint)
    wall = time.perf_counter() - started
    store.finish_run(new_run, "finished", wall_time_s=wall)
    return RunOutcome(new_run, [0], [], wall, Path(db))
