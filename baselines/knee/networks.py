"""Seed 001's per-plane networks in the MRNet design (imports torch).

A torchvision backbone — AlexNet, ResNet-18 or GoogLeNet, built with ``weights=None`` —
applied to every slice of one plane (the grey slice repeated to three channels), its
feature maps global-average-pooled per slice, then max-pooled over the slices (Bien et al.
2018's MRNet), and one linear layer to one logit per label the network scores. Input: a
stack ``(slices, 3, S, S)`` of one exam; output ``(1, n_labels)``.

Sizes: ``paper`` feeds 256 × 256 slices (MRNet's); ``small`` (smoke and quick, CPU)
feeds slices resized to 112 × 112 — the same backbones, a quarter of the pixels.
``--weights``: a local torchvision ImageNet state dict of the backbone is loaded (its
classifier left out); nothing is downloaded, and by default every network starts from
scratch (the seed fine-tuned from ImageNet).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import alexnet, googlenet, resnet18

#: Backbone name → (constructor, width of its pooled features).
BACKBONES = {"alexnet": (alexnet, 256), "resnet18": (resnet18, 512), "googlenet": (googlenet, 1024)}
#: Slice side (px) fed to the network per size.
INPUT_SIZE = {"small": 112, "paper": 256}


def _features(name: str) -> nn.Module:
    """The backbone without its classifier: ``(N, 3, S, S)`` → ``(N, C, h, w)``."""
    build, _ = BACKBONES[name]
    if name == "googlenet":
        net = build(weights=None, aux_logits=False, init_weights=True)
        return nn.Sequential(*list(net.children())[:-3])  # drop avgpool, dropout, fc
    net = build(weights=None)
    if name == "alexnet":
        return net.features
    return nn.Sequential(*list(net.children())[:-2])  # resnet: drop avgpool, fc


class PlaneNet(nn.Module):
    """Backbone per slice → average pool → max over slices → linear (module docstring)."""

    def __init__(self, backbone: str, n_labels: int) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone {backbone!r} is not one of {sorted(BACKBONES)}")
        self.backbone_name = backbone
        self.features = _features(backbone)
        self.head = nn.Linear(BACKBONES[backbone][1], n_labels)

    def forward(self, stack: torch.Tensor) -> torch.Tensor:
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(stack), 1), 1)
        return self.head(torch.amax(pooled, dim=0, keepdim=True))


def load_imagenet(network: PlaneNet, path: Path) -> None:
    """Load a local torchvision ImageNet state dict of the backbone into ``network``'s
    features (its classifier is not used); raises `ValueError` when it does not fit."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    reference = _features(network.backbone_name).state_dict()
    if network.backbone_name == "alexnet":
        mapped = {
            k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")
        }
    else:
        names = list(reference)
        keys = [k for k in state if not k.startswith(("fc.", "aux1.", "aux2."))]
        mapped = (
            dict(zip(names, (state[k] for k in keys), strict=False))
            if len(keys) == len(names)
            else {}
        )
    if set(mapped) != set(reference) or any(
        mapped[k].shape != reference[k].shape for k in reference
    ):
        raise ValueError(f"{path}: not a torchvision {network.backbone_name} ImageNet state dict")
    network.features.load_state_dict(mapped)
