"""`NnUNet`: the model plugin that trains and predicts with the real nnunetv2 package.

``fit(train, val, ctx)``:

1. writes the fold's train + validation cases as ``<work_dir>/nnUNet_raw/Dataset001_<task>/``
   (`mskbench.baselines.nnunet.raw`, from the loaded arrays);
2. runs `mskbench.baselines.nnunet.driver` in a subprocess (fingerprint, plans,
   preprocessing of one configuration, ``splits_final.json`` with one fold = the harness's
   train / validation cases, training of fold 0), its environment pointing nnU-Net's three
   folders into ``work_dir``; nnU-Net's verbose output goes to ``<work_dir>/nnunet.log``, its
   per-epoch lines to ``ctx.on_epoch``; a failure raises with the log's last lines;
3. is resumable: with ``checkpoint_final.pth`` present nothing is run again, with
   ``checkpoint_latest.pth`` nnU-Net continues from it.

``predict(case, ctx)`` runs nnU-Net's ``nnUNetPredictor`` (sliding window with Gaussian
weighting, test-time mirroring; built once per fitted model from ``checkpoint_final.pth``)
on the case's image array and returns the label map on the case's grid.

The validation cases are what nnU-Net monitors (its pseudo Dice and ``checkpoint_best``);
predictions use ``checkpoint_final.pth``, nnU-Net's default, so the validation cases pick no
weights and FitReport's ``best_epoch`` stays empty.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mskbench.baselines.nnunet import raw
from mskbench.harness.models.protocol import (
    CaseSet,
    EpochReport,
    FitContext,
    FitReport,
    Prediction,
)
from mskbench.tasks.case import Case

#: Configurations the plugin trains (nnU-Net's cascade is not offered).
CONFIGURATIONS = ("2d", "3d_fullres")
#: nnU-Net's own schedule, used for the paper size.
NNUNET_EPOCHS = 1000
NNUNET_ITERATIONS = 250
NNUNET_VAL_ITERATIONS = 50
NNUNET_SAVE_EVERY = 50
#: Training iterations per epoch at the small size (smoke, quick); see the card's details.
SMALL_ITERATIONS = 3
SMALL_VAL_ITERATIONS = 1
#: Lines of nnunet.log quoted when nnU-Net fails.
LOG_TAIL = 40
INSTALL_HINT = "pip install 'mskbench[nnunet]'"


#: What a job's result depends on; the rest (processes, device) may differ on resuming.
JOB_IDENTITY = (
    "task",
    "dataset_name",
    "configuration",
    "epochs",
    "iterations_per_epoch",
    "val_iterations_per_epoch",
    "batch_size",
    "seed",
    "splits",
)


def _identity(job: dict[str, Any]) -> dict[str, Any]:
    return {key: job.get(key) for key in JOB_IDENTITY}


def require_nnunetv2() -> None:
    """Raise ModuleNotFoundError with the install command when nnunetv2 is missing."""
    if importlib.util.find_spec("nnunetv2") is None:
        raise ModuleNotFoundError(
            f"model nnunet needs the nnunetv2 package, which is not installed: {INSTALL_HINT}",
            name="nnunetv2",
        )


class NnUNetError(RuntimeError):
    """nnU-Net's pipeline failed; the message quotes the end of its log."""


class NnUNet:
    """nnU-Net v2 on the harness's folds (see the module docstring).

    Hyper-parameters: ``configuration`` (``2d``, or ``3d_fullres`` for 3D tasks);
    ``iterations_per_epoch`` / ``val_iterations_per_epoch`` (training / validation batches
    per epoch at the small size; the paper size uses nnU-Net's 250 / 50); ``mirroring``
    (test-time mirroring at the small size; always on at the paper size, as in nnU-Net);
    ``batch_size`` (small size only: replaces the planned batch size in the plans this fold
    trains with; None keeps nnU-Net's).
    """

    def __init__(
        self,
        configuration: str = "2d",
        iterations_per_epoch: int = SMALL_ITERATIONS,
        val_iterations_per_epoch: int = SMALL_VAL_ITERATIONS,
        mirroring: bool = False,
        batch_size: int | None = None,
    ) -> None:
        if configuration not in CONFIGURATIONS:
            raise ValueError(
                f"nnunet: configuration {configuration!r} is not one of {', '.join(CONFIGURATIONS)}"
            )
        for name, value in (
            ("iterations_per_epoch", iterations_per_epoch),
            ("val_iterations_per_epoch", val_iterations_per_epoch),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"nnunet: {name} must be a positive integer, got {value!r}")
        self.configuration = configuration
        self.iterations_per_epoch = iterations_per_epoch
        self.val_iterations_per_epoch = val_iterations_per_epoch
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(f"nnunet: batch_size must be a positive integer, got {batch_size!r}")
        self.mirroring = bool(mirroring)
        self.batch_size = batch_size
        self._predictor = None

    def get_params(self) -> dict[str, Any]:
        return {
            "configuration": self.configuration,
            "iterations_per_epoch": self.iterations_per_epoch,
            "val_iterations_per_epoch": self.val_iterations_per_epoch,
            "mirroring": self.mirroring,
            "batch_size": self.batch_size,
        }

    # -- schedule and folders -----------------------------------------------------------
    def schedule(self, ctx: FitContext) -> dict[str, int]:
        """Epochs, iterations and checkpoint interval for ``ctx.size``: the harness's epoch
        budget at the small size, nnU-Net's own schedule at the paper size (its 1000
        epochs unless ``--max-epochs`` says otherwise)."""
        if ctx.size == "paper":
            return {
                "epochs": ctx.max_epochs or NNUNET_EPOCHS,
                "iterations_per_epoch": NNUNET_ITERATIONS,
                "val_iterations_per_epoch": NNUNET_VAL_ITERATIONS,
                "save_every": NNUNET_SAVE_EVERY,
            }
        return {
            "epochs": ctx.epochs,
            "iterations_per_epoch": self.iterations_per_epoch,
            "val_iterations_per_epoch": self.val_iterations_per_epoch,
            "batch_size": self.batch_size,
            "save_every": 5,
        }

    @staticmethod
    def folders(ctx: FitContext) -> dict[str, Path]:
        """nnU-Net's three folders, named as its environment variables, inside the fold's
        work_dir."""
        work = Path(ctx.work_dir)
        return {
            name: work / name for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
        }

    def model_dir(self, ctx: FitContext) -> Path:
        """The trained model's folder (plans.json, dataset.json, fold_0/checkpoints)."""
        from mskbench.baselines.nnunet.driver import trainer_folder

        name = raw.dataset_name(ctx.task)
        return self.folders(ctx)["nnUNet_results"] / name / trainer_folder(self.configuration)

    # -- fit ----------------------------------------------------------------------------
    def _check(self, ctx: FitContext) -> None:
        raw.check_task(ctx.task)
        if self.configuration.startswith("3d") and ctx.task.spatial_dims != 3:
            raise ValueError(
                f"nnunet: configuration {self.configuration} needs a 3D task; {ctx.task.name} is "
                f"{ctx.task.spatial_dims}D (use configuration 2d)"
            )
        if ctx.weights is not None:
            raise ValueError("nnunet: --weights is not supported; nnU-Net trains from scratch")

    def _job(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> dict[str, Any]:
        from mskbench.baselines.nnunet.driver import AUGMENTATION_PROCESSES

        processes = max(1, min(4, (os.cpu_count() or 2) // 2))
        cpu = not str(ctx.device).startswith("cuda")
        user_da = os.environ.get(AUGMENTATION_PROCESSES)
        return {
            "task": ctx.task.name,
            "dataset_id": raw.DATASET_ID,
            "dataset_name": raw.dataset_name(ctx.task),
            "configuration": self.configuration,
            **self.schedule(ctx),
            "seed": int(ctx.seed),
            "device": "cpu" if cpu else "cuda",
            "processes": processes,
            # single-threaded augmentation on the CPU (workers would compete with training)
            "augmentation_processes": int(user_da) if user_da else (0 if cpu else None),
            "splits": raw.single_fold_splits(train.case_ids, val.case_ids),
        }

    def _environment(self, ctx: FitContext) -> dict[str, str]:
        from mskbench.baselines.nnunet.driver import PARENT_PID

        env = dict(os.environ)
        for name, folder in self.folders(ctx).items():
            folder.mkdir(parents=True, exist_ok=True)
            env[name] = str(folder.resolve())
        env["PYTHONUNBUFFERED"] = "1"
        env[PARENT_PID] = str(os.getpid())
        device = str(ctx.device)
        if device.startswith("cuda:"):  # nnU-Net trains on cuda:0 of what it sees
            env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        if not device.startswith("cuda") or ctx.size != "paper":
            # torch.compile: nnU-Net skips it on the CPU; on a GPU it costs minutes that a
            # short schedule never wins back
            env.setdefault("nnUNet_compile", "f")
        return env

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        require_nnunetv2()
        self._check(ctx)
        work = Path(ctx.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        job = self._job(train, val, ctx)
        job_file = work / "nnunet_job.json"
        if job_file.is_file() and _identity(json.loads(job_file.read_text())) != _identity(job):
            # another job's folders (other cases, schedule or seed): start over
            for folder in self.folders(ctx).values():
                shutil.rmtree(folder, ignore_errors=True)
            (work / "nnunet_summary.json").unlink(missing_ok=True)
        job_file.write_text(json.dumps(job, indent=1) + "\n")
        self._predictor = None
        final = self.model_dir(ctx) / "fold_0" / "checkpoint_final.pth"
        summary_file = work / "nnunet_summary.json"
        if not final.is_file():
            ids = job["splits"][0]["train"] + job["splits"][0]["val"]
            cases = (train.dataset.load(c, with_maps=False, with_masks=False) for c in ids)
            dataset = self.folders(ctx)["nnUNet_raw"] / raw.dataset_name(ctx.task)
            raw.write_raw_dataset(dataset, ctx.task, cases)
            summary = self._run_driver(job_file, ctx)
            summary_file.write_text(json.dumps(summary, indent=1) + "\n")
            if not final.is_file():
                raise NnUNetError(f"nnU-Net finished without writing {final}")
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
        return FitReport(
            epochs=job["epochs"],
            best_epoch=None,
            train_images_per_s=summary.get("train_images_per_s"),
            peak_memory_mb=summary.get("peak_memory_mb"),
        )

    def _command(self, job_file: Path, ctx: FitContext) -> list[str]:
        """The driver's command line (this interpreter, so the same packages)."""
        return [sys.executable, "-m", "mskbench.baselines.nnunet.driver", str(job_file)]

    def _run_driver(self, job_file: Path, ctx: FitContext) -> dict[str, Any]:
        from mskbench.baselines.nnunet.driver import EPOCH_MARKER, ERROR_MARKER, SUMMARY_MARKER

        log_path = Path(ctx.work_dir) / "nnunet.log"
        command = self._command(job_file, ctx)
        tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)
        summary: dict[str, Any] = {}
        error = None
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environment(ctx),
                text=True,
                errors="replace",
                bufsize=1,
            )
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    log.write(line)
                    log.flush()
                    tail.append(line.rstrip("\n"))
                    if line.startswith(EPOCH_MARKER):
                        self._report_epoch(json.loads(line[len(EPOCH_MARKER) :]), ctx)
                    elif line.startswith(SUMMARY_MARKER):
                        summary = json.loads(line[len(SUMMARY_MARKER) :])
                    elif line.startswith(ERROR_MARKER):
                        error = line[len(ERROR_MARKER) :].strip()
                code = process.wait()
            finally:
                if process.poll() is None:  # interrupted: nnU-Net must not train on alone
                    process.terminate()
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        if error is not None:
            raise ValueError(f"nnunet: {error}")
        if code != 0:
            last = "\n".join(tail)
            raise NnUNetError(
                f"nnU-Net failed (exit code {code}); the last lines of {log_path}:\n{last}"
            )
        return summary

    @staticmethod
    def _report_epoch(report: dict[str, Any], ctx: FitContext) -> None:
        if ctx.on_epoch is None:
            return
        ctx.on_epoch(
            EpochReport(
                epoch=int(report["epoch"]),
                max_epochs=int(report["max_epochs"]),
                train_loss=float(report["train_loss"]),
                val_loss=None if report["val_loss"] is None else float(report["val_loss"]),
                best_epoch=int(report["best_epoch"]),
                images_per_s=float(report["images_per_s"]),
            )
        )

    # -- predict --------------------------------------------------------------------------
    def _load_predictor(self, ctx: FitContext):
        """nnU-Net's predictor with the trained fold 0.

        The same steps as ``nnUNetPredictor.initialize_from_trained_model_folder``, which
        looks the trainer class up by name inside nnunetv2 (or ``nnUNet_extTrainer``) and
        would not find ``nnUNetTrainerMskbench``; it builds the network with the class itself.
        """
        import torch
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
        from nnunetv2.utilities.label_handling.label_handling import (
            determine_num_input_channels,
        )
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        from mskbench.baselines.nnunet.trainer import nnUNetTrainerMskbench

        folder = self.model_dir(ctx)
        device = torch.device(ctx.device)
        predictor = nnUNetPredictor(
            tile_step_size=0.5,
            use_gaussian=True,
            use_mirroring=self.mirroring or ctx.size == "paper",
            perform_everything_on_device=device.type == "cuda",
            device=device,
            verbose=False,
            verbose_preprocessing=False,
            allow_tqdm=False,
        )
        dataset_json = json.loads((folder / "dataset.json").read_text())
        plans_manager = PlansManager(json.loads((folder / "plans.json").read_text()))
        checkpoint = torch.load(
            folder / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=False
        )
        configuration = plans_manager.get_configuration(checkpoint["init_args"]["configuration"])
        network = nnUNetTrainerMskbench.build_network_architecture(
            plans_manager,
            configuration,
            determine_num_input_channels(plans_manager, configuration, dataset_json),
            plans_manager.get_label_manager(dataset_json).num_segmentation_heads,
            enable_deep_supervision=False,
        )
        network.load_state_dict(checkpoint["network_weights"])
        predictor.manual_initialization(
            network,
            plans_manager,
            configuration,
            [checkpoint["network_weights"]],
            dataset_json,
            checkpoint["trainer_name"],
            checkpoint.get("inference_allowed_mirroring_axes"),
        )
        return predictor

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        require_nnunetv2()
        if self._predictor is None:
            self._predictor = self._load_predictor(ctx)
        dims = ctx.task.spatial_dims
        image, spacing = raw.as_volume(case.image, case.spacing, dims)
        label = self._predictor.predict_single_npy_array(
            np.ascontiguousarray(image, dtype=np.float32), {"spacing": list(spacing)}
        )
        label = np.asarray(label)
        if dims == 2:
            label = label[0]
        grid = tuple(case.grid.shape)
        if label.shape != grid:
            raise NnUNetError(
                f"nnunet: predicted {label.shape} for case {case.case_id}, whose grid is {grid}"
            )
        return Prediction(label=label.astype(np.uint8))
