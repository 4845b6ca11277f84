"""Parameter count, CPU speed and peak memory of the four networks of seed 003.

For each network (1 input channel, 11 classes: 10 thigh muscles + background):

* ``small`` size — forward + backward of one training batch of the ``quick`` profile:
  8 slices of 1 × 128 × 128 (2D networks), or 1 volume of 1 × 10 × 128 × 128 padded to
  16 slices by `harness.training.samples.pad_depth` and cropped back (unet3d; padding, crop included);
  the loss is a plain sum of logits squared, the optimizer step is not timed;
* ``paper`` size — forward only (``torch.inference_mode``) of one 1 × 320 × 320 slice, or
  one 1 × 20 × 320 × 320 volume padded to 24 slices (the seed's input), under a
  ``PAPER_RAM_GB`` data-segment limit: a network that does not fit is skipped with the
  reason printed.

``slices/s`` counts input slices (2D: images; 3D: the volume's real slices, padding
excluded). Times are the best of ``REPEATS`` calls after one warm-up call (which pays
for oneDNN kernel creation); on a shared machine the minimum is the reproducible number,
and the load average is printed. Each (network, size) runs in its own subprocess so that
the peak resident set size reported is its own (torch and the libraries included).

Run: ``.venv/bin/python benchmarks/network_speed.py``
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from mskbench.baselines.networks import NETWORKS, SIZES, build_network
from mskbench.harness.training.samples import pad_depth

IN_CHANNELS = 1
NUM_CLASSES = 11
QUICK_BATCH_2D = 8
QUICK_SHAPE_2D = (128, 128)
QUICK_SHAPE_3D = (10, 128, 128)
PAPER_SHAPE_2D = (320, 320)
PAPER_SHAPE_3D = (20, 320, 320)
PAPER_RAM_GB = 4.0
REPEATS = 5


def _best_time(step: Callable[[], None]) -> float:
    step()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def _input(name: str, size: str) -> tuple[torch.Tensor, int]:
    """The benchmark input of ``name`` at ``size`` and the number of real slices in it."""
    three_d = NETWORKS[name].spatial_dims == 3
    if size == "small":
        if three_d:
            return torch.randn(1, IN_CHANNELS, *QUICK_SHAPE_3D), QUICK_SHAPE_3D[0]
        return torch.randn(QUICK_BATCH_2D, IN_CHANNELS, *QUICK_SHAPE_2D), QUICK_BATCH_2D
    if three_d:
        return torch.randn(1, IN_CHANNELS, *PAPER_SHAPE_3D), PAPER_SHAPE_3D[0]
    return torch.randn(1, IN_CHANNELS, *PAPER_SHAPE_2D), 1


def measure(name: str, size: str) -> dict[str, Any]:
    """Build ``name`` at ``size`` and time its benchmark step (see the module docstring)."""
    torch.manual_seed(0)
    model = build_network(name, IN_CHANNELS, NUM_CLASSES, size)
    x, n_slices = _input(name, size)
    multiple = NETWORKS[name].input_multiple

    def forward() -> torch.Tensor:
        if NETWORKS[name].pads_depth:
            padded, (front, _) = pad_depth(x.numpy(), multiple, axis=2)
            return model(torch.from_numpy(padded))[:, :, front : front + x.shape[2]]
        return model(x)

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        forward().square().sum().backward()

    def infer_step() -> None:
        with torch.inference_mode():
            forward()

    if size == "small":
        model.train()
        seconds, mode = _best_time(train_step), "fwd+bwd"
    else:
        model.eval()
        seconds, mode = _best_time(infer_step), "fwd"
    dims = [str(s) for s in x.shape]
    if NETWORKS[name].pads_depth:
        dims[2] += f"→{x.shape[2] + -x.shape[2] % multiple}"
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "input": "×".join(dims),
        "mode": mode,
        "seconds": seconds,
        "slices_per_s": n_slices / seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def worker(name: str, size: str) -> None:
    """Measure one (network, size) and print it as one JSON line (run in a subprocess)."""
    if size == "paper":
        limit = int(PAPER_RAM_GB * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    try:
        result = measure(name, size)
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        result = {"skipped": f"does not fit in {PAPER_RAM_GB:g} GB RAM ({type(exc).__name__})"}
    print(json.dumps(result))


def _row(name: str, size: str) -> str:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, size], capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return f"{name:<10}{size:<7}skipped: worker failed: {tail[0]}"
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skipped" in r:
        return f"{name:<10}{size:<7}skipped: {r['skipped']}"
    return (
        f"{name:<10}{size:<7}{r['params'] / 1e6:>9.2f}  {r['input']:<20}{r['mode']:<9}"
        f"{r['seconds']:>9.3f}{r['slices_per_s']:>10.1f}{r['peak_rss_gb']:>10.2f}"
    )


def main() -> None:
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"best of {REPEATS} after 1 warm-up; {NUM_CLASSES} classes"
    )
    print(
        f"{'network':<10}{'size':<7}{'params M':>9}  {'input':<20}{'mode':<9}"
        f"{'s/batch':>9}{'slices/s':>10}{'peak GB':>10}"
    )
    # whole-volume networks only: the patch networks of seed 004 (UNETR takes exactly its
    # patch) are measured on their patches by benchmarks/sij_network_speed.py
    for name in (n for n, info in NETWORKS.items() if info.patch_size is None):
        for size in SIZES:
            print(_row(name, size), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
