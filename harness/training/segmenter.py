"""`TorchSegmenter`: a segmentation model made of a network factory plus hyper-parameters.

Everything else — sampling, normalisation, loss, the training loop, checkpoints, inference
— is shared, so a new network is one subclass that implements `build_network` (and sets
`input_multiple`, and `depth_multiple` when the slice axis has its own). Losses are MONAI's: ``dice`` (seed 003: Dice loss) or ``dice_ce``
(Dice + cross-entropy, the harness default), softmax over labels, one-hot targets,
computed over the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss, DiceLoss
from torch import nn

from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport, Prediction
from mskbench.harness.training import runtime
from mskbench.harness.training.loop import LoopConfig, TrainingLoop
from mskbench.harness.training.samples import SampleSpec, pad_to_patch, random_patches, zscore
from mskbench.tasks.contract.dataset import Case

LOSSES = ("dice", "dice_ce")


class TorchSegmenter:
    """Base class of torch segmentation models (see the module docstring).

    Hyper-parameters: ``mode`` (2d | 2.5d | 3d), ``loss`` (dice | dice_ce), ``lr``,
    ``batch_size``, ``context`` (neighbour slices per side in 2.5d), ``patch_size`` (3d:
    random training patches, volumes smaller than a patch padded up to it, and
    sliding-window inference; None = whole volumes unless `training_patch_size` says
    otherwise),
    ``patches_per_volume``, ``patience`` (None: the profile's).
    """

    input_multiple = 16
    depth_multiple: int | None = None  # slice axis of 3d samples (None: input_multiple)

    def __init__(
        self,
        mode: str = "2d",
        loss: str = "dice_ce",
        lr: float = 1e-3,
        batch_size: int = 8,
        context: int = 1,
        patch_size: tuple[int, ...] | None = None,
        patches_per_volume: int = 2,
        patience: int | None = None,
        weight_decay: float = 0.0,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss {loss!r} is not one of {LOSSES}")
        self.mode = mode
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.context = context
        self.patch_size = tuple(patch_size) if patch_size else None
        self.patches_per_volume = patches_per_volume
        self.patience = patience
        self.weight_decay = weight_decay
        self.samples_ = SampleSpec(mode, self.input_multiple, context, self.depth_multiple)

    # -- what a subclass provides -----------------------------------------------------
    def build_network(self, in_channels: int, num_classes: int, size: str) -> nn.Module:
        raise NotImplementedError

    def training_patch_size(self, size: str) -> tuple[int, ...] | None:
        """The patch (and sliding window) used at network ``size``: ``patch_size`` here."""
        return self.patch_size

    def get_params(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "loss": self.loss,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "context": self.context,
            "patch_size": self.patch_size,
            "patches_per_volume": self.patches_per_volume,
            "patience": self.patience,
            "weight_decay": self.weight_decay,
        }

    # -- data -------------------------------------------------------------------------
    def _arrays(self, cases: CaseSet) -> tuple[list[np.ndarray], list[np.ndarray]]:
        images, labels = [], []
        for case_id in cases.case_ids:
            case = cases.dataset.load(case_id, with_maps=False)
            images.append(self.samples_.image_samples(zscore(case.image)))
            labels.append(self.samples_.label_samples(case.label))
        return images, labels

    def _batches(
        self, images, labels, rng: np.random.Generator | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Batches over all samples (shuffled when ``rng`` is given); 3D patches when set.

        Validation (``rng`` None) takes patches too, the same ones every epoch (a fixed
        seed): a network of fixed input size (UNETR) cannot take a whole volume.
        """
        if self.patch_size_:
            patch_rng = rng if rng is not None else np.random.default_rng(0)
            x_all, y_all = [], []
            for image, label in zip(images, labels, strict=True):
                image, label = pad_to_patch(image[0], label[0], self.patch_size_)
                x, y = random_patches(
                    patch_rng, image, label, self.patch_size_, self.patches_per_volume
                )
                x_all.append(x)
                y_all.append(y)
            x_all, y_all = np.concatenate(x_all), np.concatenate(y_all)
        else:
            x_all, y_all = np.concatenate(images), np.concatenate(labels)
        order = rng.permutation(len(x_all)) if rng is not None else np.arange(len(x_all))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield x_all[index], y_all[index]

    def _loss(self) -> nn.Module:
        kwargs = {"to_onehot_y": True, "softmax": True, "batch": True}
        return DiceLoss(**kwargs) if self.loss == "dice" else DiceCELoss(**kwargs)

    # -- the protocol -----------------------------------------------------------------
    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        runtime.seed_everything(ctx.seed)
        runtime.reset_peak_memory(ctx.device)
        self.num_classes_ = len(ctx.task.labels)
        self.in_channels_ = self.samples_.in_channels(len(ctx.task.channels))
        self.device_ = ctx.device
        self.patch_size_ = self.training_patch_size(ctx.size)
        network = self.build_network(self.in_channels_, self.num_classes_, ctx.size)
        if ctx.weights is not None:
            network.load_state_dict(torch.load(ctx.weights, map_location="cpu", weights_only=True))
        train_x, train_y = self._arrays(train)
        val_x, val_y = self._arrays(val) if len(val) else ([], [])
        fingerprint = json.dumps(
            {
                "params": self.get_params(),
                "size": ctx.size,
                "seed": ctx.seed,
                "train": train.case_ids,
                "val": val.case_ids,
            },
            sort_keys=True,
        )
        config = LoopConfig(
            max_epochs=ctx.epochs,
            patience=self.patience or ctx.profile.patience,
            lr=self.lr,
            weight_decay=self.weight_decay,
            device=ctx.device,
            fingerprint=fingerprint,
        )
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        loop = TrainingLoop(network, self._loss(), config, ctx.work_dir / "checkpoint.pt")
        result = loop.run(
            lambda rng: self._batches(train_x, train_y, rng),
            (lambda rng: self._batches(val_x, val_y, None)) if val_x else None,
            seed=ctx.seed,
            on_epoch=ctx.on_epoch,
        )
        self.network_ = loop.network.eval()
        return FitReport(
            epochs=result.epochs,
            best_epoch=result.best_epoch,
            train_images_per_s=result.images_per_s,
            peak_memory_mb=runtime.peak_memory_mb(ctx.device),
        )

    @torch.no_grad()
    def predict_probabilities(self, case: Case) -> np.ndarray:
        """Softmax probabilities ``(n_labels, *spatial)`` for one case."""
        samples = self.samples_.image_samples(zscore(case.image))
        outputs = []
        cuda = self.device_.startswith("cuda")
        for start in range(0, len(samples), self.batch_size):
            x = torch.from_numpy(samples[start : start + self.batch_size]).to(self.device_)
            if cuda and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=cuda):
                if self.patch_size_:
                    logits = sliding_window_inference(
                        x, self.patch_size_, self.batch_size, self.network_, overlap=0.25
                    )
                else:
                    logits = self.network_(x)
            outputs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        return self.samples_.restore(np.concatenate(outputs), case.image.shape[1:])

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        probabilities = self.predict_probabilities(case)
        return Prediction(
            label=probabilities.argmax(0).astype(np.uint8), probabilities=probabilities
        )
