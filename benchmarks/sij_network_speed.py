"""Parameters, CPU training speed and peak memory of seed 004's networks (Li 2024).

For each network (1 input channel, 2 classes: background + fat metaplasia), ``small``
size: forward + backward of one training batch of the cards — 2 patches of the catalog's
small patch (16 × 96 × 96) — with the cards' loss (MONAI DiceCELoss); the optimizer step
is not timed. ``unet3d`` (seed 003) runs on the same patches as a yardstick. Parameter
counts are printed for both sizes (the paper size is only built, not run).

Times are the best of ``REPEATS`` steps after one warm-up step; on a shared machine the
minimum is the reproducible number, and the load average is printed. Each network runs
in its own subprocess so the peak resident set size is its own (torch included).

Run: ``.venv/bin/python benchmarks/sij_network_speed.py``
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import torch
from monai.losses import DiceCELoss

from mskbench.baselines.networks import NETWORKS, build_network

NETWORKS_004 = ("sij_attention25d", "resunet", "attention_unet", "unetr", "unet3d")
PATCH = NETWORKS["sij_attention25d"].patch_size["small"]
BATCH = 2
NUM_CLASSES = 2
REPEATS = 3


def _n_params(name: str, size: str) -> int:
    model = build_network(name, 1, NUM_CLASSES, size)
    return sum(p.numel() for p in model.parameters())


def measure(name: str) -> dict[str, Any]:
    torch.manual_seed(0)
    model = build_network(name, 1, NUM_CLASSES, "small").train()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    x = torch.randn(BATCH, 1, *PATCH)
    y = torch.randint(0, NUM_CLASSES, (BATCH, 1, *PATCH))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()

    step()  # warm-up (oneDNN kernel creation)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = min(times)
    return {
        "params_small": sum(p.numel() for p in model.parameters()),
        "params_paper": _n_params(name, "paper"),
        "seconds": seconds,
        "patches_per_s": BATCH / seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()}")
    print(f"batch {BATCH} × 1 × {'×'.join(map(str, PATCH))}, fwd+bwd, best of {REPEATS}")
    print(
        f"{'network':<18}{'params small':>13}{'params paper':>13}"
        f"{'s/batch':>9}{'patch/s':>9}{'peak GB':>9}"
    )
    for name in NETWORKS_004:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", name], capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(f"{name:<18}failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{name:<18}{r['params_small'] / 1e6:>12.2f}M{r['params_paper'] / 1e6:>12.2f}M"
            f"{r['seconds']:>9.2f}{r['patches_per_s']:>9.2f}{r['peak_rss_gb']:>9.2f}"
        )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
