"""HRNetV2 segmentation (Sun et al. 2019, arXiv:1904.04514) on a timm HRNet backbone.

The backbone is timm's ``hrnet_*`` with ``features_only=True, feature_location=''``: the
raw outputs of the four parallel branches at 1/4, 1/8, 1/16 and 1/32 (timm's default
``'incre'`` location would pass them through the classification head's bottlenecks, which
HRNetV2 does not use). timm ships no segmentation head, so the HRNetV2 one is written
here as in the official code (github.com/HRNet/HRNet-Semantic-Segmentation): bilinear
upsampling of every branch to 1/4, concatenation, 1×1 conv-BN-ReLU, 1×1 conv to logits;
the logits are then upsampled bilinearly to the input size (the official code does that
in its loss and at inference). Deviation: bilinear upsampling with ``align_corners=False``
(the official PyTorch-1.1 branch sets it True in its configs); the parameter counts match
the published ones (tests/test_networks.py).

Input ``(N, C, H, W)`` with H, W multiples of 32; output logits ``(N, K, H, W)``.
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn


class HRNetV2(nn.Module):
    """HRNet backbone + HRNetV2 head; ``head_channels`` = sum of the branch widths."""

    def __init__(self, in_channels: int, num_classes: int, *, backbone: str) -> None:
        super().__init__()
        self.backbone = timm.create_model(
            backbone,
            pretrained=False,
            features_only=True,
            feature_location="",
            out_indices=(1, 2, 3, 4),
            in_chans=in_channels,
        )
        self.branch_channels: tuple[int, ...] = tuple(self.backbone.feature_info.channels())
        self.head_channels = sum(self.branch_channels)
        width = self.head_channels
        self.head = nn.Sequential(
            nn.Conv2d(width, width, kernel_size=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, num_classes, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = self.backbone(x)
        size = branches[0].shape[-2:]
        upsampled = [branches[0]] + [
            F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]
        ]
        logits = self.head(torch.cat(upsampled, dim=1))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
