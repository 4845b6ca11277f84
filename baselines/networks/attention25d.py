"""Seed 004's 2.5D Attention U-Net (Li 2024) for anisotropic volumes ``(N, C, D, H, W)``.

Sacroiliac-joint T1 volumes have thick slices (D) and fine pixels (H, W). The shallow
levels therefore convolve in-plane only (kernel 1 along D, e.g. 1×3×3) and downsample
in-plane only (stride 1×2×2), until the voxels are roughly isotropic; the deep levels
convolve and downsample in 3D (3×3×3, 2×2×2) — the 2.5D design of the seed's reference
26 (Wang 2019). Skips pass through additive attention gates (Oktay 2018) driven by the
upsampled decoder features; each decoder block ends in a squeeze-and-excitation channel
attention (the seed's "squeeze-and-attention" step, in MONAI's form).

Why assembled here and not a MONAI network: `DynUNet` takes per-level kernels and
strides but concatenates its skips inside `UnetUpBlock`, leaving no place for a gate;
`AttentionUnet` gates its skips but uses one kernel size at every level. The parts are
MONAI's: `UnetBasicBlock` (two conv-norm-LeakyReLU, the first strided, as in `DynUNet`),
`AttentionBlock`, `ChannelSELayer`, `UnetOutBlock`, and its transposed-conv factory.

Every spatial size must be a multiple of the product of ``strides`` along that axis
(catalog: D of 4, H and W of 16); output logits ``(N, num_classes, D, H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import ChannelSELayer, UnetBasicBlock, UnetOutBlock
from monai.networks.blocks.dynunet_block import get_conv_layer
from monai.networks.nets.attentionunet import AttentionBlock
from torch import nn

_ACT = ("leakyrelu", {"inplace": True, "negative_slope": 0.01})


class _DecoderLevel(nn.Module):
    """Upsample the deeper features, gate the skip with them, concatenate, convolve."""

    def __init__(
        self,
        deep_channels: int,
        channels: int,
        kernel_size: Sequence[int],
        up_stride: Sequence[int],
        norm: str,
        squeeze_excitation: bool,
    ) -> None:
        super().__init__()
        self.up = get_conv_layer(
            3,
            deep_channels,
            channels,
            kernel_size=up_stride,
            stride=up_stride,
            conv_only=True,
            is_transposed=True,
        )
        self.gate = AttentionBlock(3, f_int=max(channels // 2, 1), f_g=channels, f_l=channels)
        self.conv = UnetBasicBlock(
            3, 2 * channels, channels, kernel_size, stride=1, norm_name=norm, act_name=_ACT
        )
        self.se = ChannelSELayer(3, channels, r=2) if squeeze_excitation else nn.Identity()

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(deep)
        gated = self.gate(g=up, x=skip)
        return self.se(self.conv(torch.cat([gated, up], dim=1)))


class Attention25DUNet(nn.Module):
    """The 2.5D Attention U-Net (see the module docstring).

    ``channels[i]``, ``kernel_sizes[i]`` and ``strides[i]`` describe level ``i`` (``strides``
    is the downsampling into that level; level 0 has stride 1); all per-axis ``(D, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels: Sequence[int],
        kernel_sizes: Sequence[Sequence[int]],
        strides: Sequence[Sequence[int]],
        norm: str = "instance",
        squeeze_excitation: bool = True,
    ) -> None:
        super().__init__()
        if not len(channels) == len(kernel_sizes) == len(strides) >= 2:
            raise ValueError("channels, kernel_sizes and strides need one entry per level (>= 2)")
        if any(s != 1 for s in strides[0]):
            raise ValueError(f"the top level must not downsample, got strides[0]={strides[0]}")
        self.encoder = nn.ModuleList()
        previous = in_channels
        for width, kernel, stride in zip(channels, kernel_sizes, strides, strict=True):
            self.encoder.append(
                UnetBasicBlock(3, previous, width, kernel, stride, norm_name=norm, act_name=_ACT)
            )
            previous = width
        self.decoder = nn.ModuleList(
            _DecoderLevel(
                channels[level + 1],
                channels[level],
                kernel_sizes[level],
                strides[level + 1],
                norm,
                squeeze_excitation,
            )
            for level in range(len(channels) - 1)
        )
        self.head = UnetOutBlock(3, channels[0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for level in reversed(range(len(self.decoder))):
            x = self.decoder[level](x, skips[level])
        return self.head(x)
