"""Wall time of N folds run serially (`bench run`) vs through `bench sweep` on a local Ray
with this machine's cores, and the sweep driver's overhead per fold.

    python benchmarks/sweep_scaling.py [--task nmd_thigh] [--model unet2d] [--profile smoke]
                                       [--folds 4] [--max-epochs 5]

1. *Scaling*: the same N folds of ``--model`` (CPU), once with the runner in this process
   (one fold after another, torch using every core), once through the sweep (one Ray task
   per fold, one core each, as many at once as there are cores). Ratio = serial / sweep.
2. *Overhead*: the same comparison with a model that does no work (``Background``, below:
   predicts background everywhere), the sweep given all cores per fold so that folds run
   one at a time as in the serial run. (sweep − serial) / N is what the sweep adds per
   fold: Ray's scheduling, a fresh worker process (importing mskbench), the result's trip
   back and the driver's store transaction. Ray's start-up is counted once in the sweep.

Every timing is one run into a fresh database; the load average is printed beside them
(other processes on the machine slow both sides, not alike).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mskbench.harness.models import FitReport, Prediction


class Background:
    """A model that learns nothing and predicts background: a fold costs only the harness."""

    tasks = ("*",)

    def fit(self, train, val, ctx):
        return FitReport(epochs=0)

    def predict(self, case, ctx):
        return Prediction(label=np.zeros(case.image.shape[1:], np.uint8))


def timed_run(task: str, model: str, profile: str, folds: list[int], epochs, db: Path) -> float:
    from mskbench.harness.runner import RunRequest, run

    request = RunRequest(
        task=task, model=model, profile=profile, folds=folds, device="cpu", max_epochs=epochs,
        db=db,
    )  # fmt: skip
    start = time.perf_counter()
    run(request)
    return time.perf_counter() - start


def timed_sweep(
    task: str, model: str, profile: str, folds: list[int], epochs, db: Path, cpus_per_fold: int
) -> float:
    from mskbench.harness.sweep import SweepRequest, sweep

    request = SweepRequest(
        tasks=(task,), models=(model,), profile=profile, folds=folds, db=db, max_epochs=epochs,
        device="cpu", cpus_per_fold=cpus_per_fold, local_cpus=os.cpu_count(),
    )  # fmt: skip
    start = time.perf_counter()
    outcome = sweep(request)
    if outcome.folds_failed:
        raise SystemExit(f"sweep failed: {outcome.folds_failed}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="nmd_thigh")
    parser.add_argument("--model", default="unet2d")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--folds", type=int, default=4, help="number of folds N")
    parser.add_argument("--max-epochs", type=int, default=5)
    args = parser.parse_args()
    folds, cores = list(range(args.folds)), os.cpu_count() or 1
    background = f"{Path(__file__).resolve()}:Background"
    print(f"{cores} cores; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        serial = timed_run(
            args.task, args.model, args.profile, folds, args.max_epochs, out / "s.duckdb"
        )
        swept = timed_sweep(
            args.task, args.model, args.profile, folds, args.max_epochs, out / "w.duckdb", 1
        )
        idle_serial = timed_run(args.task, background, args.profile, folds, 1, out / "b.duckdb")
        idle_swept = timed_sweep(
            args.task, background, args.profile, folds, 1, out / "c.duckdb", cores
        )
    n = len(folds)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{args.model} on {args.task} ({args.profile}, {args.max_epochs} epochs), {n} folds:")
    print(f"  serial (bench run, {cores} torch threads)  {serial:7.1f} s")
    print(f"  sweep  (local Ray, {cores} folds at once)  {swept:7.1f} s")
    print(f"  ratio serial / sweep                 {serial / swept:7.2f}")
    print(f"no-work model, {n} folds one at a time:")
    print(f"  serial {idle_serial:.1f} s, sweep {idle_swept:.1f} s")
    print(f"  sweep overhead per fold              {(idle_swept - idle_serial) / n:7.2f} s")


if __name__ == "__main__":
    main()
