"""Time per training step through the harness's `TrainingLoop` vs a bare PyTorch loop.

Same network (the unet2d baseline, small size), same batches (8 × 1 × 128 × 128, the quick
profile's slices), same loss (MONAI Dice, as the baselines use), same optimizer (Adam).
Both loops convert numpy batches to tensors and read the loss back each step, as any real
loop does. The two are timed in alternating rounds so load changes hit both alike.

    python benchmarks/harness_overhead.py [--steps 20] [--rounds 5]

Target (issue 4): overhead under 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from monai.losses import DiceLoss

from mskbench.baselines.networks import build_network
from mskbench.harness.training import LoopConfig, TrainingLoop


def make_batches(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(size=(8, 1, 128, 128)).astype(np.float32),
            rng.integers(0, 11, size=(8, 128, 128)).astype(np.uint8),
        )
        for _ in range(n)
    ]


def loss_fn() -> DiceLoss:
    return DiceLoss(to_onehot_y=True, softmax=True, batch=True)


def bare_epoch(network: torch.nn.Module, optimizer: torch.optim.Optimizer, batches) -> float:
    network.train()
    criterion = loss_fn()
    start = time.perf_counter()
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        x = torch.from_numpy(images)
        y = torch.from_numpy(labels[:, None]).long()
        loss = criterion(network(x), y)
        loss.backward()
        optimizer.step()
        float(loss.detach())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()
    batches = make_batches(args.steps)
    torch.manual_seed(0)
    bare_net = build_network("unet2d", 1, 11, "small")
    bare_opt = torch.optim.Adam(bare_net.parameters(), lr=1e-3)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        loop = TrainingLoop(
            build_network("unet2d", 1, 11, "small"),
            loss_fn(),
            LoopConfig(max_epochs=1, patience=1),
            Path(tmp) / "c.pt",
        )
        bare_epoch(bare_net, bare_opt, batches[:2])  # warm-up both
        loop._train_epoch(iter(batches[:2]))
        bare_times, harness_times = [], []
        for _ in range(args.rounds):
            bare_times.append(bare_epoch(bare_net, bare_opt, batches))
            start = time.perf_counter()
            loop._train_epoch(iter(batches))
            harness_times.append(time.perf_counter() - start)
    bare, harness = statistics.median(bare_times), statistics.median(harness_times)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; unet2d small, batch 8×1×128×128, {args.steps} steps × {args.rounds} rounds"
    )
    print(f"bare PyTorch loop : {1000 * bare / args.steps:7.1f} ms/step (median of rounds)")
    print(f"harness loop      : {1000 * harness / args.steps:7.1f} ms/step")
    print(f"overhead          : {100 * (harness / bare - 1):+.1f} %  (target < 5 %)")


if __name__ == "__main__":
    main()
