"""``python -m mskbench.baselines.nnunet.driver JOB.json``: nnU-Net's pipeline for one fold.

Run by `mskbench.baselines.nnunet.model.NnUNet.fit` in a subprocess whose environment names
nnU-Net's three folders (``nnUNet_raw``, ``nnUNet_preprocessed``, ``nnUNet_results``,
inside the fold's work_dir); nnU-Net 2.8 reads them when used, older versions at import,
so a fresh process works with both. Steps, each through nnunetv2's Python API:

1. the dataset fingerprint (with nnU-Net's own ``verify_dataset_integrity`` first), the
   default ``ExperimentPlanner``'s plans, and preprocessing of the one configuration the job
   asks for — skipped when an earlier run of this job finished them;
2. ``splits_final.json`` with one fold (the harness's train / validation cases);
3. ``nnUNetTrainerMskbench`` on fold 0 with the job's schedule: from
   ``checkpoint_latest.pth`` when a killed run left one (nnU-Net's ``load_checkpoint``),
   then ``run_training()`` — which writes ``checkpoint_final.pth`` and skips nnU-Net's
   own validation export (the harness predicts and scores the test cases itself).

stdout is nnU-Net's verbose log plus one ``MSKBENCH_EPOCH {json}`` line per epoch and, at
the end, one ``MSKBENCH_SUMMARY {json}`` line; a problem of the job itself (e.g. a
configuration the plans do not have) is one ``MSKBENCH_ERROR message`` line and exit code 2.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

#: Prefixes of the lines the parent reads (the trainer prints the epoch lines).
EPOCH_MARKER = "MSKBENCH_EPOCH "
SUMMARY_MARKER = "MSKBENCH_SUMMARY "
ERROR_MARKER = "MSKBENCH_ERROR "
PREPROCESSED = ".mskbench_preprocessed_{configuration}"
#: nnU-Net's default plans (its ``ExperimentPlanner``) and the harness's trainer class.
DEFAULT_PLANS = "nnUNetPlans"
TRAINER = "nnUNetTrainerMskbench"
#: nnU-Net's environment variable for its augmentation worker processes (0: in-process).
AUGMENTATION_PROCESSES = "nnUNet_n_proc_DA"
#: The harness process's id, which the driver watches (`exit_with_parent`).
PARENT_PID = "MSKBENCH_PARENT_PID"


def trainer_folder(configuration: str) -> str:
    """The folder nnU-Net names a training after: ``<trainer>__<plans>__<configuration>``."""
    return f"{TRAINER}__{DEFAULT_PLANS}__{configuration}"


class JobError(ValueError):
    """The job asks for something nnU-Net's plans cannot give."""


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _set_augmentation_processes(value: int | None) -> None:
    if value is None:
        os.environ.pop(AUGMENTATION_PROCESSES, None)
    else:
        os.environ[AUGMENTATION_PROCESSES] = str(value)


def _quiet(function) -> dict[str, bool]:
    """``show_progress_bar=False`` where nnU-Net's function takes it (newer versions)."""
    import inspect

    return (
        {"show_progress_bar": False}
        if "show_progress_bar" in inspect.signature(function).parameters
        else {}
    )


def prepare(job: dict[str, Any]) -> Path:
    """Fingerprint, plan and preprocess (once); returns the preprocessed dataset folder."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprint_dataset,
        plan_experiment_dataset,
        preprocess_dataset,
    )
    from nnunetv2.paths import nnUNet_preprocessed

    configuration = job["configuration"]
    folder = Path(os.fspath(nnUNet_preprocessed)) / job["dataset_name"]
    done = folder / PREPROCESSED.format(configuration=configuration)
    if not done.is_file():
        processes = job["processes"]
        # nnU-Net's planner sets torch's thread count to its augmentation process count
        # while it sizes networks: 0 (single-threaded augmentation) would be refused there
        _set_augmentation_processes(max(1, job["augmentation_processes"] or 1))
        extract_fingerprint_dataset(
            job["dataset_id"],
            num_processes=processes,
            check_dataset_integrity=True,
            clean=True,
            verbose=False,
            **_quiet(extract_fingerprint_dataset),
        )
        plan_experiment_dataset(job["dataset_id"])
        plans = json.loads((folder / f"{DEFAULT_PLANS}.json").read_text())
        planned = sorted(plans["configurations"])
        if configuration not in planned:
            raise JobError(
                f"configuration {configuration!r} is not in nnU-Net's plans for this dataset "
                f"(planned: {', '.join(planned)})"
            )
        preprocess_dataset(
            job["dataset_id"],
            DEFAULT_PLANS,
            configurations=[configuration],
            num_processes=[processes],
            verbose=False,
            **_quiet(preprocess_dataset),
        )
        done.write_text(configuration + "\n")
    # after planning (which may copy a splits file of its own), before training
    (folder / "splits_final.json").write_text(json.dumps(job["splits"], indent=1) + "\n")
    return folder


def train(job: dict[str, Any], preprocessed: Path) -> dict[str, Any]:
    """Train fold 0 (resuming from checkpoint_latest.pth); returns the summary."""
    import torch

    from mskbench.baselines.nnunet.trainer import nnUNetTrainerMskbench

    _set_augmentation_processes(job["augmentation_processes"])
    from nnunetv2.paths import nnUNet_results

    plans = json.loads((preprocessed / f"{DEFAULT_PLANS}.json").read_text())
    dataset_json = json.loads((preprocessed / "dataset.json").read_text())
    device = torch.device(job["device"])
    output = (
        Path(os.fspath(nnUNet_results)) / job["dataset_name"] / trainer_folder(job["configuration"])
    )
    latest = output / "fold_0" / "checkpoint_latest.pth"
    plans["continue_training"] = latest.is_file()  # what nnU-Net's own --c would pass
    if job.get("batch_size"):  # the small size's override of the planned batch size
        plans["configurations"][job["configuration"]]["batch_size"] = job["batch_size"]
    trainer = nnUNetTrainerMskbench(
        plans=plans,
        configuration=job["configuration"],
        fold=0,
        dataset_json=dataset_json,
        device=device,
    )
    trainer.num_epochs = job["epochs"]
    trainer.num_iterations_per_epoch = job["iterations_per_epoch"]
    trainer.num_val_iterations_per_epoch = job["val_iterations_per_epoch"]
    trainer.save_every = job["save_every"]
    if Path(trainer.output_folder) != latest.parent:
        raise RuntimeError(f"nnU-Net writes to {trainer.output_folder}, not to {latest.parent}")
    resumed = latest.is_file()
    if resumed:
        print(f"resuming from {latest}", flush=True)
        trainer.load_checkpoint(str(latest))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started_epoch = trainer.current_epoch
    trainer.run_training()
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "epochs": trainer.num_epochs,
        "resumed_at_epoch": started_epoch if resumed else None,
        "batch_size": int(trainer.batch_size),
        "patch_size": [int(s) for s in trainer.configuration_manager.patch_size],
        "train_images_per_s": (
            trainer.train_images / trainer.train_seconds if trainer.train_seconds else None
        ),
        "peak_memory_mb": peak,
    }


def exit_with_parent(interval_s: float = 2.0) -> None:
    """End this process when the process that started it is gone: a ``bench run`` killed
    outright (SIGKILL, SIGTERM) runs no clean-up, and nnU-Net must not train on alone. The
    parent names itself in ``MSKBENCH_PARENT_PID`` (so a parent gone before this line runs
    is noticed too)."""
    import threading

    parent = int(os.environ.get(PARENT_PID, 0)) or os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                print("the harness process is gone; stopping", flush=True)
                os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m mskbench.baselines.nnunet.driver JOB.json", file=sys.stderr)
        return 2
    exit_with_parent()
    job = json.loads(Path(argv[0]).read_text())
    started = time.perf_counter()
    seed_everything(job["seed"])
    try:
        preprocessed = prepare(job)
    except JobError as exc:
        print(ERROR_MARKER + str(exc), flush=True)
        return 2
    prepared = time.perf_counter()
    summary = train(job, preprocessed)
    summary["prepare_seconds"] = prepared - started
    summary["train_seconds"] = time.perf_counter() - prepared
    print(SUMMARY_MARKER + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
