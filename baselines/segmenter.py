"""`NetworkSegmenter`: a catalog network plus the harness's shared training loop (imports torch)."""

from __future__ import annotations

from typing import Any

from torch import nn

from mskbench.baselines.networks import build_network
from mskbench.baselines.networks.catalog import network_info
from mskbench.harness.training import TorchSegmenter


class NetworkSegmenter(TorchSegmenter):
    """Segment with network ``network`` (``baselines.networks.NETWORKS``), trained by
    `harness.training.TorchSegmenter`; other keyword arguments are its hyper-parameters."""

    def __init__(self, network: str, **hyperparameters: Any) -> None:
        info = network_info(network)
        self.network = network
        self.input_multiple = info.input_multiple
        self.depth_multiple = info.slice_multiple
        super().__init__(**hyperparameters)
        if (info.spatial_dims == 3) != (self.mode == "3d"):
            raise ValueError(
                f"network {network} is {info.spatial_dims}D; mode {self.mode!r} does not fit it"
            )

    def build_network(self, in_channels: int, num_classes: int, size: str) -> nn.Module:
        return build_network(self.network, in_channels, num_classes, size)

    def training_patch_size(self, size: str) -> tuple[int, ...] | None:
        """``patch_size`` if given, else the catalog's patch of the network at ``size``."""
        patches = network_info(self.network).patch_size
        if self.patch_size or patches is None:
            return self.patch_size
        return patches[size]

    def get_params(self) -> dict[str, Any]:
        return {"network": self.network, **super().get_params()}
