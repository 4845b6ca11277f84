"""Device choice, deterministic seeding and peak-memory readings for torch training."""

from __future__ import annotations

import os
import random
import resource

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU fails."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"--device {device}: no CUDA device is visible (torch {torch.__version__})"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device {device!r} is not one of {DEVICES} (or cuda:N)")
    return device


def device_name(device: str) -> str:
    """A readable name of the device (GPU model, or CPU core count)."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def seed_everything(seed: int) -> None:
    """Seed python, numpy's legacy global state and torch (CPU and CUDA); deterministic cuDNN."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory_mb(device: str) -> float:
    """Peak memory (MiB): allocated GPU memory since the last reset on CUDA; on the CPU, the
    process's peak resident set size since it started (Linux ``ru_maxrss``)."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
