"""The cross-validation runner behind ``bench run``.

For each fold: hold out whole subjects of the training folds for validation, fit a fresh
model, predict the held-out fold (and the external site, when the task has one), score
every case with the metrics engine (`mskbench.harness.evaluation`: metric rows of the label
map and masks, score rows of the classification targets), write the predicted label maps
(and masks, as ``<case>_<mask>.nii.gz`` — the layout `bench score` reads), and store the
fold in DuckDB in one transaction. A run is identified by its key — task, model configuration,
profile, seed, data and split fingerprints — so running the same command again resumes
at the first unfinished fold; a failing run is recorded as failed with its error and its
finished folds stay.

Checkpoints live in each fold's private ``work_dir``, ``<db folder>/work/<run id>/fold<k>``
(beside the database, whatever the current directory), so an interrupted fold resumes
from them; once the fold is stored they are deleted unless ``keep_checkpoints``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mskbench.harness.evaluation import FoldRows
from mskbench.harness.models import (
    CaseSet,
    EpochReport,
    FitContext,
    FitReport,
    ModelCard,
    Prediction,
    get_model_card,
    hyperparameters_of,
)
from mskbench.harness.provenance import record_provenance
from mskbench.harness.store import FoldRecord, RunRecord, Store
from mskbench.tasks import get_task
from mskbench.tasks.contract import ContractError, Dataset, validation_subjects, write_image
from mskbench.tasks.contract.layout import SPLITS_FINAL_JSON, SPLITS_JSON
from mskbench.tasks.contract.nnunet_raw import SINGLE_TEST
from mskbench.tasks.contract.safepath import check_case_id, inside
from mskbench.tasks.phantoms import prepare_phantom
from mskbench.tasks.spec import TaskSpec

log = logging.getLogger(__name__)
DEFAULT_DB = Path("results/mskbench.duckdb")
#: Network size per profile: the quick profile must run on a 2-core CPU.
SIZE_OF_PROFILE = {"smoke": "small", "quick": "small", "paper": "paper"}


@dataclass
class RunRequest:
    """Everything ``bench run`` was asked (defaults are the CLI's)."""

    task: str
    model: str
    profile: str = "quick"
    seed: int = 0
    folds: list[int] | None = None
    device: str = "auto"
    db: Path = DEFAULT_DB
    data: Path | None = None
    data_seed: int = 0
    resume: bool = True
    max_epochs: int | None = None
    weights: Path | None = None
    size: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    keep_checkpoints: bool = False


class RunObserver:
    """Callbacks for progress displays; every method is optional to override."""

    def run_started(self, run_id: str, folds: list[int], skipped: list[int]) -> None: ...
    def fold_started(
        self, fold: int, n_train: int, n_val: int, n_test: int, max_epochs: int
    ) -> None: ...
    def epoch_finished(self, fold: int, report: EpochReport) -> None: ...
    def predicting(self, fold: int, n_cases: int) -> None: ...
    def case_predicted(self, fold: int, case_id: str) -> None: ...
    def fold_finished(self, fold: int, record: FoldRecord) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    folds_run: list[int]
    folds_skipped: list[int]
    wall_time_s: float
    db: Path


@dataclass
class FoldResult:
    """One computed fold, not yet stored: its record, the frames `Store.write_fold` takes,
    and its private work folder (checkpoints, deleted once the fold is stored)."""

    record: FoldRecord
    metrics: pd.DataFrame
    scores: pd.DataFrame
    predictions: pd.DataFrame
    attributes: pd.DataFrame
    work_dir: Path


class RunFailed(RuntimeError):
    """A run stopped by an error; the store holds it as failed with the error text."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def resolve_data(task: TaskSpec, request: RunRequest) -> Path:
    """The dataset folder: ``--data`` or the task's phantom for the profile (prepared if needed)."""
    if request.data is not None:
        return Path(request.data)
    root, _ = prepare_phantom(task, request.profile, request.data_seed)
    return root


def folds_to_run(task: TaskSpec, dataset: Dataset, request: RunRequest) -> list[int]:
    if dataset.splits.kind == SINGLE_TEST:
        raise ContractError(
            f"{dataset.root}: a plain nnU-Net dataset without {SPLITS_JSON} or "
            f"{SPLITS_FINAL_JSON} is one test set, nothing to train on; add nnU-Net's "
            f"{SPLITS_FINAL_JSON} or run `bench data split {dataset.root} --task {task.name}`"
        )
    available = [f.index for f in dataset.splits.folds]
    wanted = request.folds if request.folds is not None else task.profile(request.profile).folds
    wanted = list(dict.fromkeys(available if wanted is None else wanted))  # each fold once
    if not wanted:
        raise ValueError(f"no fold to run; {dataset.layout.splits_json} has folds {available}")
    unknown = [f for f in wanted if f not in available]
    if unknown:
        raise ValueError(
            f"folds {unknown} do not exist; {dataset.layout.splits_json} has folds {available}"
        )
    return wanted


def run_record(
    task: TaskSpec,
    card: ModelCard,
    request: RunRequest,
    dataset: Dataset,
    config: dict,
    device: str,
    device_name: str,
    folds: list[int],
) -> RunRecord:
    from mskbench.tasks.contract import json_sha256

    key = {
        "task": task.name,
        "task_version": task.version,
        "model": card.name,
        "config": config,
        "profile": request.profile,
        "seed": request.seed,
        "data": dataset.fingerprint,
        "split": dataset.split_fingerprint,
    }
    return RunRecord(
        run_key=json_sha256(key),
        kind="trained",
        task=task.name,
        task_version=task.version,
        model=card.name,
        profile=request.profile,
        seed=request.seed,
        config=config,
        **record_provenance(dataset),
        device=device,
        device_name=device_name,
        folds_planned=folds,
    )


def write_prediction(
    root: Path, run_id: str, fold: int, case, prediction: Prediction | np.ndarray
) -> Path | None:
    """Write a prediction on its case's grid: the label map as ``<case>.nii.gz`` and each
    mask as ``<case>_<mask>.nii.gz`` (0/1). Returns the label map's path, else the first
    mask's, else None (a prediction of case scores only writes no file). Every path must
    stay inside ``root`` (`safepath.inside`), links resolved, or nothing is written."""
    if not isinstance(prediction, Prediction):
        prediction = Prediction(label=prediction)
    if prediction.label is None and not prediction.masks:
        return None
    case_id = check_case_id(case.case_id)
    folder = inside(root, root / run_id / f"fold{fold}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    if prediction.label is not None:
        paths.append(inside(root, folder / f"{case_id}.nii.gz"))
        write_image(paths[-1], prediction.label.astype(np.uint8, copy=False), grid=case.grid)
    for name, mask in prediction.masks.items():
        paths.append(inside(root, folder / f"{case_id}_{name}.nii.gz"))
        write_image(paths[-1], (np.asarray(mask) != 0).astype(np.uint8), grid=case.grid)
    return paths[0]


def remove_work_dir(work_dir: Path) -> None:
    """Delete a stored fold's private folder (its checkpoints), then the run's and the
    ``work`` folder above it when they are left empty."""
    shutil.rmtree(work_dir, ignore_errors=True)
    for folder in (work_dir.parent, work_dir.parent.parent):
        with contextlib.suppress(OSError):  # not empty: another fold or run is there
            folder.rmdir()


class Runner:
    """Runs one `RunRequest` (see the module docstring)."""

    def __init__(self, request: RunRequest, observer: RunObserver | None = None) -> None:
        self.request = request
        self.observer = observer or RunObserver()
        self.task = get_task(request.task)
        self.card = get_model_card(request.model)
        if not self.card.supports(self.task):
            raise ValueError(
                f"model {self.card.name!r} runs on {self.card.describe_tasks()}, "
                f"not on {self.task.name!r}"
            )
        self.size = request.size or SIZE_OF_PROFILE[request.profile]
        self.store = Store(request.db)
        self.results_dir = Path(request.db).parent

    def _config(self, model: Any) -> dict[str, Any]:
        hyper = {
            k: list(v) if isinstance(v, tuple) else v for k, v in hyperparameters_of(model).items()
        }
        return {
            "hyperparameters": hyper,
            "size": self.size,
            "max_epochs": self.request.max_epochs
            or self.task.profile(self.request.profile).max_epochs,
            "weights": str(self.request.weights) if self.request.weights else None,
        }

    def prepare(
        self, device: str, device_label: str | None = None, dataset: Dataset | None = None
    ) -> tuple[Dataset, list[int], RunRecord]:
        """The dataset (checked against the contract, unless an already checked one of the
        request's data is given), the folds to run and the run's record (its key), for a
        run on ``device`` (named ``device_label``, default: this machine's name of it);
        touches neither the store nor a model's weights. `bench sweep` plans with it too."""
        from mskbench.harness.training.runtime import device_name

        request, task = self.request, self.task
        if dataset is None:
            dataset = Dataset(resolve_data(task, request), task)
        folds = folds_to_run(task, dataset, request)
        config = self._config(self.card.create(**request.overrides))
        record = run_record(
            task, self.card, request, dataset, config, device, device_label or device_name(device),
            folds,
        )  # fmt: skip
        return dataset, folds, record

    def run(self) -> RunOutcome:
        from mskbench.harness.training.runtime import resolve_device

        request = self.request
        started = time.perf_counter()
        device = resolve_device(request.device)
        dataset, folds, record = self.prepare(device)
        run_id, finished = self.store.begin_run(record)
        skipped = [f for f in folds if f in finished] if request.resume else []
        todo = [f for f in folds if f not in skipped]
        self.observer.run_started(run_id, todo, skipped)
        results = []
        try:
            for fold in todo:
                results.append(self.compute_fold(run_id, dataset, fold, device))
                self.store_fold(run_id, dataset, results[-1])
        except BaseException as exc:
            error = (
                "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else f"{type(exc).__name__}: {exc}"
            )
            log.error("run %s failed: %s\n%s", run_id, error, traceback.format_exc())
            self.store.finish_run(
                run_id, "failed", error=error, wall_time_s=time.perf_counter() - started
            )
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise RunFailed(f"run {run_id} failed: {error}") from exc
        wall = time.perf_counter() - started
        finish_finished_run(self.store, run_id, wall, [r.record for r in results])
        return RunOutcome(run_id, todo, skipped, wall, Path(request.db))

    def compute_fold(self, run_id: str, dataset: Dataset, fold: int, device: str) -> FoldResult:
        """Fit a fresh model on ``fold``, predict its test (and external) cases, write the
        predictions under ``<db folder>/predictions/<run>/fold<k>`` and score them; the
        store is not touched (`store_fold` writes the result). A `bench sweep` worker runs
        this on its own machine; only the small result travels back to the driver."""
        request, task = self.request, self.task
        started_at, started = _now(), time.perf_counter()
        split = dataset.fold(fold)
        val_ids = validation_subjects(
            list(split.train), dataset.subjects, task.split.val_fraction, request.seed * 1000 + fold
        )
        train_ids = [c for c in split.train if c not in set(val_ids)]
        ctx = FitContext(
            task=task,
            profile=task.profile(request.profile),
            device=device,
            seed=request.seed * 1000 + fold,
            work_dir=self.results_dir / "work" / run_id / f"fold{fold}",
            size=self.size,
            weights=request.weights,
            max_epochs=request.max_epochs,
            on_epoch=lambda report: self.observer.epoch_finished(fold, report),
        )
        self.observer.fold_started(fold, len(train_ids), len(val_ids), len(split.test), ctx.epochs)
        if not request.resume:  # from scratch: a kept checkpoint would be resumed otherwise
            remove_work_dir(ctx.work_dir)
        model = self.card.create(**request.overrides)
        report = (
            model.fit(CaseSet(dataset, train_ids), CaseSet(dataset, val_ids), ctx) or FitReport()
        )
        cases = [(c, "test") for c in split.test] + [
            (c, "external") for c in dataset.splits.external
        ]
        self.observer.predicting(fold, len(cases))
        rows = FoldRows(task)
        for case_id, role in cases:
            case = dataset.load(case_id)
            prediction = model.predict(case, ctx)
            rows.add(case, prediction, role)
            path = write_prediction(
                self.results_dir / "predictions", run_id, fold, case, prediction
            )
            rows.add_path(case_id, role, path)
            self.observer.case_predicted(fold, case_id)
        record = FoldRecord(
            fold=fold,
            started_at=started_at,
            finished_at=_now(),
            wall_time_s=time.perf_counter() - started,
            train_images_per_s=report.train_images_per_s,
            peak_memory_mb=report.peak_memory_mb,
            epochs=report.epochs,
            best_epoch=report.best_epoch,
            n_train=len(train_ids),
            n_val=len(val_ids),
            n_test=len(split.test),
        )
        return FoldResult(
            record=record,
            **rows.frames(),
            work_dir=ctx.work_dir,
        )

    def store_fold(self, run_id: str, dataset: Dataset, result: FoldResult) -> None:
        """Store a computed fold in one transaction, then delete its checkpoints (unless
        ``keep_checkpoints``)."""
        self.store.write_fold(
            run_id,
            result.record,
            result.metrics,
            scores=result.scores,
            predictions=result.predictions,
            attributes=result.attributes,
            data_fingerprint=dataset.fingerprint,
            replace=not self.request.resume,
        )
        if not self.request.keep_checkpoints:
            remove_work_dir(result.work_dir)
        self.observer.fold_finished(result.record.fold, result.record)


def finish_finished_run(
    store: Store, run_id: str, wall_time_s: float, records: list[FoldRecord]
) -> None:
    """Mark ``run_id`` finished with its wall time (s) and the mean training throughput
    (images/s) and the peak memory (MiB) of the folds ``records`` that report them."""
    throughput = [r.train_images_per_s for r in records if r.train_images_per_s is not None]
    peaks = [r.peak_memory_mb for r in records if r.peak_memory_mb is not None]
    store.finish_run(
        run_id,
        "finished",
        wall_time_s=wall_time_s,
        train_images_per_s=float(np.mean(throughput)) if throughput else None,
        peak_memory_mb=max(peaks) if peaks else None,
    )


def run(request: RunRequest, observer: RunObserver | None = None) -> RunOutcome:
    """Run ``request``; see `Runner`."""
    return Runner(request, observer).run()
