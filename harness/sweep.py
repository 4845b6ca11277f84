"""``bench sweep``: many runs at once, one Ray task per (task, model, seed, fold).

The driver (this process) plans every run with the runner's own code, so a sweep's runs
have exactly the keys ``bench run`` gives them: a fold finished by either is skipped by
both. It is the only process that opens the DuckDB file: workers fit, predict and score a
fold (`Runner.compute_fold`), write predictions and checkpoints beside the database (the
*results directory*, ``<db folder>/predictions`` and ``<db folder>/work``, which on a
cluster must be a shared filesystem) and send back the fold's record and its metric
frames (kilobytes); the driver stores each fold in one transaction as it arrives and marks
a run finished once all its folds are stored.

Scheduling: each fold asks Ray for ``cpus_per_fold`` CPUs and, where the cluster has GPUs
(and ``device`` is not ``cpu``), ``gpus_per_fold`` GPUs — a fraction such as 0.25 packs
four small 2D networks on one GPU. A fold runs in a fresh worker process (``max_calls=1``:
its peak memory is its own, a GPU is released when it ends). A fold whose worker raises or
dies (killed, out of memory, node lost) is logged and submitted again, up to ``retries``
more times; it resumes from the checkpoints its earlier attempt left in its work folder.
A fold that still fails marks its run failed (with the error); the run's other folds are
stored and stay.

A rerun plans the same runs; runs whose planned folds are all finished are skipped without
writing to the database, so a second invocation of a finished sweep does nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mskbench.harness.runner import (
    FoldResult,
    Runner,
    RunRequest,
    finish_finished_run,
    resolve_data,
)
from mskbench.harness.store import FoldRecord
from mskbench.tasks.contract import Dataset

log = logging.getLogger(__name__)

#: ``folds`` value meaning every fold in the dataset's splits (not only the profile's).
ALL_FOLDS = "all"


@dataclass(frozen=True)
class SweepRequest:
    """What ``bench sweep`` was asked. ``folds``: fold numbers, `ALL_FOLDS`, or None for
    each profile's default folds. ``address``: a Ray cluster (``ray://host:10001``,
    ``auto``) or None for a local Ray on this machine with ``local_cpus`` CPUs (None: all).
    ``device``: ``auto`` uses GPUs where the cluster has them, ``cpu`` never, ``cuda``
    requires them."""

    tasks: tuple[str, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    profile: str = "quick"
    folds: list[int] | str | None = None
    db: Path = Path("results/mskbench.duckdb")
    data_seed: int = 0
    max_epochs: int | None = None
    device: str = "auto"
    cpus_per_fold: float = 1.0
    gpus_per_fold: float = 1.0
    retries: int = 2
    address: str | None = None
    local_cpus: int | None = None
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        if not self.tasks or not self.models or not self.seeds:
            raise ValueError("a sweep needs at least one task, one model and one seed")
        if self.cpus_per_fold <= 0:
            raise ValueError(f"--cpus-per-fold {self.cpus_per_fold} must be > 0")
        if self.gpus_per_fold <= 0 or (
            self.gpus_per_fold > 1 and self.gpus_per_fold != int(self.gpus_per_fold)
        ):
            raise ValueError(
                f"--gpus-per-fold {self.gpus_per_fold}: a fraction of one GPU (0 < g <= 1) "
                "or a whole number of GPUs"
            )
        if self.retries < 0:
            raise ValueError(f"--retries {self.retries} must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device {self.device!r} is not one of auto, cpu, cuda")


@dataclass
class PlannedRun:
    """One run of the sweep: its runner (store of the driver), dataset, record and the
    folds left to do; ``run_id`` is set once the run is begun in the store."""

    runner: Runner
    dataset: Dataset
    record: Any
    folds: list[int]
    todo: list[int]
    run_id: str | None = None
    stored: list[FoldRecord] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        request = self.runner.request
        return f"{request.task}/{request.model}/seed {request.seed}"

    @property
    def resolved(self) -> bool:
        return len(self.stored) + len(self.failed) == len(self.todo)


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: runs planned, runs skipped (already finished), folds stored,
    folds given up after their retries (``(run_id, fold, error)``), attempts that failed
    and were retried, and the driver's wall time (s)."""

    runs: int
    runs_skipped: int
    folds_stored: int
    folds_failed: list[tuple[str, int, str]]
    retried: int
    wall_time_s: float
    db: Path


class SweepObserver:
    """Callbacks for the driver's progress display (each optional to override)."""

    def planned(self, total_folds: int, runs: int, runs_skipped: int) -> None: ...
    def fold_stored(self, run: PlannedRun, fold: int, wall_time_s: float) -> None: ...
    def fold_failed(self, run: PlannedRun, fold: int, error: str, retrying: bool) -> None: ...


def _run_requests(request: SweepRequest) -> list[RunRequest]:
    """One `RunRequest` per (task, model, seed), in that order; each task's phantom is
    prepared here, once, by the driver (workers get its folder), and ``folds="all"``
    becomes that dataset's fold list. Paths are made absolute: a worker's current folder
    is not the driver's."""
    from mskbench.harness.models import is_file_reference
    from mskbench.tasks import get_task

    requests = []
    data: dict[str, Path] = {}
    for task in request.tasks:
        for model in request.models:
            if is_file_reference(model):  # workers may start elsewhere; the key is the stem
                path, _, attr = model.rpartition(":")
                model = f"{Path(path).resolve()}:{attr}"
            for seed in request.seeds:
                run = RunRequest(
                    task=task, model=model, profile=request.profile, seed=seed,
                    db=Path(request.db).expanduser().absolute(), data_seed=request.data_seed,
                    max_epochs=request.max_epochs, keep_checkpoints=request.keep_checkpoints,
                    folds=None if request.folds in (None, ALL_FOLDS) else list(request.folds),
                )  # fmt: skip
                if task not in data:
                    data[task] = resolve_data(get_task(task), run).absolute()
                requests.append(replace(run, data=data[task]))
    return requests


def plan(request: SweepRequest) -> list[PlannedRun]:
    """Every run of the sweep with its folds left to do, read from the store without
    writing to it (a missing database has no runs). Unknown tasks or models, a model that
    does not run on a task, or a dataset that breaks the contract raise here, before Ray
    starts. The records' device is filled in once the cluster is known (it is not part of
    a run's key)."""
    runs = []
    datasets: dict[str, Dataset] = {}  # each task's data is checked once
    for run_request in _run_requests(request):
        runner = Runner(run_request)
        if run_request.task not in datasets:
            datasets[run_request.task] = Dataset(run_request.data, runner.task)
        dataset = datasets[run_request.task]
        if request.folds == ALL_FOLDS:
            folds = [f.index for f in dataset.splits.folds]
            runner = Runner(replace(run_request, folds=folds))
        dataset, folds, record = runner.prepare("cpu", "not placed yet", dataset)
        progress = runner.store.run_progress(record.run_key)
        finished = progress[2] if progress is not None else set()
        todo = [f for f in folds if f not in finished]
        runs.append(PlannedRun(runner, dataset, record, folds, todo))
    return runs


def compute_fold(request: RunRequest, run_id: str, fold: int, device: str) -> FoldResult:
    """A worker's job: one fold of one run (`Runner.compute_fold`), without the store.
    Torch, where the model uses it, gets as many threads as Ray gave the worker CPUs."""
    import os

    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        try:
            import torch
        except ImportError:  # a torch-free model
            pass
        else:
            torch.set_num_threads(max(1, int(threads)))
    runner = Runner(request)
    dataset = Dataset(request.data, runner.task)
    return runner.compute_fold(run_id, dataset, fold, device)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "bench sweep needs Ray: pip install 'mskbench[sweep]' (or 'ray[default]')"
        ) from exc
    return ray


def _start_ray(ray, request: SweepRequest) -> bool:
    """Connect to ``request.address`` or start a local Ray; True when this call started
    (and so must stop) it."""
    if ray.is_initialized():
        return False
    if request.address:
        try:
            ray.init(address=request.address, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise RuntimeError(
                f"--address {request.address}: no Ray cluster there ({exc})"
            ) from exc
    else:
        ray.init(num_cpus=request.local_cpus, include_dashboard=False, log_to_driver=False)
    return True


def _placement(ray, request: SweepRequest) -> tuple[str, str, dict[str, float]]:
    """``(device, device label, Ray resource options)`` of one fold on this cluster."""
    gpus = ray.cluster_resources().get("GPU", 0)
    if request.device == "cuda" and not gpus:
        raise RuntimeError("--device cuda: the Ray cluster has no GPU")
    if request.device != "cpu" and gpus:
        return (
            "cuda",
            f"Ray cluster, {request.gpus_per_fold:g} GPU per fold",
            {"num_cpus": request.cpus_per_fold, "num_gpus": request.gpus_per_fold},
        )
    return (
        "cpu",
        f"Ray cluster CPU, {request.cpus_per_fold:g} cores per fold",
        {"num_cpus": request.cpus_per_fold, "num_gpus": 0},
    )


def sweep(request: SweepRequest, observer: SweepObserver | None = None) -> SweepOutcome:
    """Run the sweep (see the module docstring). Raises before any work on bad input;
    a fold that fails beyond its retries is reported in the outcome, not raised."""
    observer = observer or SweepObserver()
    started = time.perf_counter()
    ray = _import_ray()
    runs = plan(request)
    pending = [run for run in runs if run.todo]
    observer.planned(sum(len(r.todo) for r in pending), len(runs), len(runs) - len(pending))
    if not pending:  # nothing to do: Ray is not even started
        return SweepOutcome(len(runs), len(runs), 0, [], 0, time.perf_counter() - started,
                            Path(request.db))  # fmt: skip
    owns_ray = _start_ray(ray, request)
    try:
        device, label, resources = _placement(ray, request)
        for run in pending:
            run.record = replace(run.record, device=device, device_name=label)
        worker = ray.remote(max_calls=1, max_retries=0, **resources)(compute_fold)
        return _drive(ray, worker, request, pending, len(runs), device, observer, started)
    finally:
        if owns_ray:
            ray.shutdown()


def _drive(
    ray,
    worker,
    request: SweepRequest,
    runs: list[PlannedRun],
    n_runs: int,
    device: str,
    observer: SweepObserver,
    started: float,
) -> SweepOutcome:
    """Submit every fold, store results as they come, retry failures, finish runs."""
    from ray.exceptions import RayError

    attempts: dict[Any, tuple[PlannedRun, int, int]] = {}

    def submit(run: PlannedRun, fold: int, attempt: int) -> None:
        ref = worker.remote(run.runner.request, run.run_id, fold, device)
        attempts[ref] = (run, fold, attempt)

    for run in runs:
        run.run_id, finished = run.runner.store.begin_run(run.record)
        run.todo = [f for f in run.todo if f not in finished]  # another process was quicker
        for fold in run.todo:
            submit(run, fold, 1)
        _finish_if_resolved(run, started)
    retried, stored = 0, 0
    try:
        while attempts:
            (ref,), _ = ray.wait(list(attempts), num_returns=1)
            run, fold, attempt = attempts.pop(ref)
            try:
                result: FoldResult = ray.get(ref)
            except RayError as exc:
                error = _short_error(exc)
                retrying = attempt <= request.retries
                log.warning(
                    "%s fold %d attempt %d failed: %s%s",
                    run.label, fold, attempt, error, "; retrying" if retrying else "",
                )  # fmt: skip
                observer.fold_failed(run, fold, error, retrying)
                if retrying:
                    retried += 1
                    submit(run, fold, attempt + 1)
                else:
                    run.failed[fold] = error
                    _finish_if_resolved(run, started)
                continue
            run.runner.store_fold(run.run_id, run.dataset, result)
            run.stored.append(result.record)
            stored += 1
            observer.fold_stored(run, fold, result.record.wall_time_s)
            _finish_if_resolved(run, started)
    except BaseException:
        for ref in attempts:
            ray.cancel(ref, force=True)
        for run in runs:
            if not run.resolved:
                run.runner.store.finish_run(
                    run.run_id, "failed", error="interrupted",
                    wall_time_s=time.perf_counter() - started,
                )  # fmt: skip
        raise
    failed = [(r.run_id, f, e) for r in runs for f, e in sorted(r.failed.items())]
    return SweepOutcome(
        n_runs, n_runs - len(runs), stored, failed, retried, time.perf_counter() - started,
        Path(request.db),
    )  # fmt: skip


def _finish_if_resolved(run: PlannedRun, started: float) -> None:
    """Once every fold of ``run`` is stored or given up: mark it finished, or failed with
    the errors of its failed folds."""
    if not run.resolved:
        return
    wall = time.perf_counter() - started
    if run.failed:
        error = "; ".join(f"fold {f}: {e}" for f, e in sorted(run.failed.items()))
        run.runner.store.finish_run(run.run_id, "failed", error=error, wall_time_s=wall)
    else:
        finish_finished_run(run.runner.store, run.run_id, wall, run.stored)


def _short_error(exc: BaseException) -> str:
    """The root cause of a Ray error in one line (a worker's exception, or how it died)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}".splitlines()[0][:500]
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
