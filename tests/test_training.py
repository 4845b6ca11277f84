"""The shared training loop: samples, early stopping with patience, and exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mskbench.harness.models import CaseSet, FitContext
from mskbench.harness.training import LoopConfig, SampleSpec, TorchSegmenter, TrainingLoop, zscore
from mskbench.harness.training.samples import pad_depth, random_patches, stack_context
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset

TASK = get_task("nmd_thigh")


# -- samples -------------------------------------------------------------------------------
def test_zscore_is_per_channel():
    image = np.stack([np.arange(24.0).reshape(2, 3, 4), 5 + 2 * np.arange(24.0).reshape(2, 3, 4)])
    out = zscore(image)
    assert np.allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-6)
    assert np.allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-6)


def test_volumes_are_padded_by_replicated_end_slices_like_the_seed():
    volume = np.arange(20)[:, None, None] * np.ones((20, 2, 2))
    padded, (front, back) = pad_depth(volume, 8, axis=0)
    assert padded.shape[0] == 24 and (front, back) == (2, 2)
    assert np.all(padded[:3] == 0) and np.all(padded[-3:] == 19)


def test_two_and_a_half_d_stacks_neighbours_as_channels():
    volume = np.arange(5)[None, :, None, None] * np.ones((1, 5, 2, 2))
    stacked = stack_context(volume, 1)
    assert stacked.shape == (5, 3, 2, 2)
    assert stacked[0, :, 0, 0].tolist() == [0, 0, 1] and stacked[4, :, 0, 0].tolist() == [3, 4, 4]


@pytest.mark.parametrize(
    ("mode", "samples_shape"),
    [("2d", (6, 1, 32, 48)), ("2.5d", (6, 3, 32, 48)), ("3d", (1, 1, 16, 32, 48))],
)
def test_sample_padding_is_undone_exactly(mode, samples_shape):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 6, 30, 45)).astype(np.float32)
    label = rng.integers(0, 3, size=(6, 30, 45))
    spec = SampleSpec(mode, multiple=16)
    samples = spec.image_samples(image)
    assert samples.shape == samples_shape
    assert spec.label_samples(label).shape == (samples_shape[0], *samples_shape[2:])
    one_hot = np.eye(3, dtype=np.float32)[spec.label_samples(label)]  # (S, *spatial, K)
    restored = spec.restore(np.moveaxis(one_hot, -1, 1), label.shape)
    assert np.array_equal(restored.argmax(0), label)


def test_random_patches_are_crops_of_the_sample():
    rng = np.random.default_rng(0)
    image = np.arange(2 * 8 * 16 * 16, dtype=np.float32).reshape(2, 8, 16, 16)
    label = (image[0] % 3).astype(np.uint8)
    x, y = random_patches(rng, image, label, (4, 8, 8), 3)
    assert x.shape == (3, 2, 4, 8, 8) and y.shape == (3, 4, 8, 8)
    assert np.array_equal((x[:, 0] % 3).astype(np.uint8), y)


# -- the loop -------------------------------------------------------------------------------
def _toy_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(24, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def batches(r):
        order = r.permutation(len(x)) if r is not None else np.arange(len(x))
        for i in range(0, len(x), 6):
            yield x[order[i : i + 6]], y[order[i : i + 6]]

    return batches


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))


class _CE(nn.Module):
    def forward(self, logits, target):
        return nn.functional.cross_entropy(logits, target[:, 0])


def test_early_stopping_waits_patience_epochs_after_the_best(tmp_path, monkeypatch):
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    loop = TrainingLoop(_net(), _CE(), LoopConfig(max_epochs=20, patience=3), tmp_path / "ckpt.pt")
    monkeypatch.setattr(loop, "_evaluate", lambda batches: next(losses))
    batches = _toy_problem()
    result = loop.run(batches, batches, seed=0)
    assert (result.best_epoch, result.epochs) == (2, 5)  # epochs 3, 4, 5 did not improve


def test_a_killed_run_resumes_to_exactly_the_same_weights(tmp_path):
    batches = _toy_problem()
    config = LoopConfig(max_epochs=6, patience=10, fingerprint="toy")
    straight = TrainingLoop(_net(), _CE(), config, tmp_path / "a.pt")
    uninterrupted = straight.run(batches, batches, seed=1)
    first = TrainingLoop(
        _net(), _CE(), LoopConfig(max_epochs=3, patience=10, fingerprint="toy"), tmp_path / "b.pt"
    )
    first.run(batches, batches, seed=1)
    state = torch.load(tmp_path / "b.pt", weights_only=True)
    state["finished"] = False  # as if killed right after epoch 3's checkpoint
    torch.save(state, tmp_path / "b.pt")
    resumed_loop = TrainingLoop(_net(), _CE(), config, tmp_path / "b.pt")
    resumed = resumed_loop.run(batches, batches, seed=1)
    assert [h["train_loss"] for h in resumed.history] == [
        h["train_loss"] for h in uninterrupted.history
    ]
    assert [h["lr"] for h in resumed.history] == [h["lr"] for h in uninterrupted.history]
    assert resumed.best_epoch == uninterrupted.best_epoch
    for name, weights in straight.network.state_dict().items():
        assert torch.equal(weights, resumed_loop.network.state_dict()[name]), name


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    batches = _toy_problem()
    TrainingLoop(
        _net(), _CE(), LoopConfig(max_epochs=2, patience=5, fingerprint="A"), tmp_path / "c.pt"
    ).run(batches, None, seed=0)
    result = TrainingLoop(
        _net(), _CE(), LoopConfig(max_epochs=2, patience=5, fingerprint="B"), tmp_path / "c.pt"
    ).run(batches, None, seed=0)
    assert [h["epoch"] for h in result.history] == [1, 2]


# -- a TorchSegmenter end to end on the smoke phantom ---------------------------------------
class TinySegmenter(TorchSegmenter):
    input_multiple = 4

    def build_network(self, in_channels: int, num_classes: int, size: str) -> nn.Module:
        conv = nn.Conv3d if self.mode == "3d" else nn.Conv2d
        return nn.Sequential(conv(in_channels, 8, 3, padding=1), nn.ReLU(), conv(8, num_classes, 1))


@pytest.mark.parametrize(
    ("mode", "extra"),
    [("2d", {}), ("2.5d", {"context": 1}), ("3d", {"batch_size": 1, "patch_size": (8, 32, 32)})],
)
def test_torch_segmenter_fits_and_predicts_every_mode(smoke_thigh, tmp_path, mode, extra):
    dataset = Dataset(smoke_thigh, TASK)
    fold = dataset.fold(0)
    model = TinySegmenter(mode=mode, **extra)
    ctx = FitContext(
        task=TASK,
        profile=TASK.profile("smoke"),
        device="cpu",
        seed=0,
        work_dir=tmp_path,
        max_epochs=2,
    )
    report = model.fit(
        CaseSet(dataset, list(fold.train[:4])), CaseSet(dataset, list(fold.train[4:5])), ctx
    )
    assert report.epochs == 2 and report.train_images_per_s > 0 and report.peak_memory_mb > 0
    case = dataset.load(fold.test[0])
    prediction = model.predict(case, ctx)
    assert prediction.label.shape == case.label.shape
    assert prediction.probabilities.shape == (len(TASK.labels), *case.label.shape)
    assert np.allclose(prediction.probabilities.sum(0), 1.0, atol=1e-4)
    assert (tmp_path / "checkpoint.pt").is_file()
