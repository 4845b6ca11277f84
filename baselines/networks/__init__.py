"""The four networks of seed 003 (U-Net 2D, U-Net 3D, TransUNet, HRNet) as ``nn.Module``s.

``build_network(name, in_channels, num_classes, size)`` returns an untrained network
(weights are never downloaded) whose output is raw logits ``(N, num_classes, *spatial)``
for input ``(N, in_channels, *spatial)``, every spatial size a multiple of
``required_multiple(name)``. The 3D network's slice axis is brought to that multiple by
replicating end slices (`harness.training.samples.pad_depth`, the seed's 20 → 24).

Importing this package does not import torch: the metadata (`NETWORKS`, `NetworkInfo`)
lives in the torch-free `catalog` and builders are imported when a network is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mskbench.baselines.networks.catalog import (
    NETWORKS,
    SIZES,
    NetworkInfo,
    hyper_parameters,
    network_info,
    required_multiple,
)
from mskbench.harness.registry import load_reference

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "NETWORKS",
    "SIZES",
    "NetworkInfo",
    "build_network",
    "hyper_parameters",
    "network_info",
    "required_multiple",
]


def build_network(
    name: str, in_channels: int, num_classes: int, size: str = "small", **overrides: Any
) -> nn.Module:
    """Build network ``name`` at ``size`` (``"small"`` or ``"paper"``), randomly initialised.

    ``overrides`` replace entries of that size's hyper-parameters (e.g. ``img_size=224``
    for transunet, ``backbone="hrnet_w18"`` for hrnet); unknown keys raise ``TypeError``.
    Construction is deterministic given ``torch.manual_seed``.
    """
    if in_channels < 1 or num_classes < 1:
        raise ValueError(
            f"in_channels and num_classes must be >= 1, got {in_channels}, {num_classes}"
        )
    params = hyper_parameters(name, size, **overrides)
    builder = load_reference(NETWORKS[name].builder)
    return builder(in_channels, num_classes, **params)
