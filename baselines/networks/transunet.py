"""TransUNet (Chen et al. 2021, arXiv:2102.04306), assembled from timm blocks.

No maintained library ships TransUNet (MONAI and segmentation-models-pytorch do not), so
the assembly — CNN skips, token bottleneck and cascaded upsampler — is written here; every
layer inside it is a library block:

* CNN encoder: timm `ResNetV2` (weight-standardised convs, GroupNorm, post-activation
  bottlenecks: the R50 of the ViT hybrid), three stages to 1/16. Skips: stem (1/2),
  stage 1 (1/4), stage 2 (1/8); stage 3 (1/16) feeds the transformer.
* `ViTBottleneck`: 1×1 conv patch embedding (patch size 1 on the 1/16 map), learned
  position embeddings, ``num_layers`` timm ViT `Block` (pre-norm MSA + MLP), LayerNorm.
* Cascaded upsampler: 3×3 conv-BN-ReLU to ``head_channels``, four `DecoderBlock`
  (bilinear ×2, concatenated skip, two 3×3 conv-BN-ReLU), 3×3 conv to logits.

Input ``(N, C, H, W)`` with H, W multiples of 16; output logits ``(N, K, H, W)``.

Deviations from the reference implementation (github.com/Beckschen/TransUNet), none of which
changes the parameter count: (1) the encoder uses PyTorch's symmetric padding (stem
max-pool padding 1) where the reference pads its feature maps after the fact; the sizes
agree for inputs that are multiples of 16. (2) timm's `Block` applies the 0.1 dropout after
the attention projection as well as in the MLP (reference: MLP and embeddings only).
(3) Training from scratch (no ImageNet weights can be fetched here): ViT layers use timm's
truncated-normal initialisation. (4) Position embeddings are resampled (bicubic) when
the input differs from ``img_size``, where the reference only accepts ``img_size``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from timm.layers import ConvNormAct, GroupNormAct, LayerNorm, StdConv2d, resample_abs_pos_embed
from timm.layers.weight_init import trunc_normal_
from timm.models import named_apply
from timm.models.resnetv2 import ResNetV2
from timm.models.vision_transformer import Block, init_weights_vit_timm
from torch import nn

_STRIDE = 16


class ViTBottleneck(nn.Module):
    """Transformer encoder on the 1/16 CNN map: ``(N, C, h, w) -> (N, hidden_size, h, w)``.

    The learned position embeddings are for a ``grid_size × grid_size`` token grid and
    are resampled for any other ``(h, w)``.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        grid_size: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        mlp_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.grid_size = grid_size
        self.patch_embed = nn.Conv2d(in_channels, hidden_size, kernel_size=1)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid_size * grid_size, hidden_size))
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(
            *(
                Block(
                    hidden_size,
                    num_heads,
                    mlp_ratio=mlp_dim / hidden_size,
                    qkv_bias=True,
                    proj_drop=dropout,
                )
                for _ in range(num_layers)
            )
        )
        self.norm = LayerNorm(hidden_size, eps=1e-6)
        trunc_normal_(self.pos_embed, std=0.02)
        named_apply(init_weights_vit_timm, self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        n, c, h, w = x.shape
        pos = self.pos_embed
        if (h, w) != (self.grid_size, self.grid_size):
            pos = resample_abs_pos_embed(
                pos, [h, w], [self.grid_size, self.grid_size], num_prefix_tokens=0
            )
        tokens = self.pos_drop(x.flatten(2).transpose(1, 2) + pos)
        tokens = self.norm(self.blocks(tokens))
        return tokens.transpose(1, 2).reshape(n, c, h, w)


class DecoderBlock(nn.Module):
    """Bilinear ×2, concatenate the skip (if any), two 3×3 conv-BN-ReLU.

    ``(N, in_channels, h, w)`` and skip ``(N, skip_channels, 2h, 2w)`` ->
    ``(N, out_channels, 2h, 2w)``.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.skip_channels = skip_channels
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv1 = ConvNormAct(in_channels + skip_channels, out_channels, kernel_size=3)
        self.conv2 = ConvNormAct(out_channels, out_channels, kernel_size=3)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = self.up(x)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class TransUNet(nn.Module):
    """CNN encoder + ViT bottleneck + cascaded upsampler with skips.

    ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` logits, H and W multiples of 16.
    ``skip_channels`` lists, per decoder block, the channels of the skip it receives
    (1/8, 1/4, 1/2, then none).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        img_size: int,
        stem_channels: int,
        cnn_layers: Sequence[int],
        cnn_channels: Sequence[int],
        group_norm_groups: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        mlp_dim: int,
        dropout: float,
        head_channels: int,
        decoder_channels: Sequence[int],
    ) -> None:
        super().__init__()
        if img_size % _STRIDE:
            raise ValueError(f"img_size must be a multiple of {_STRIDE}, got {img_size}")
        if len(cnn_layers) != 3 or len(cnn_channels) != 3:
            raise ValueError("cnn_layers and cnn_channels need 3 stages (to 1/4, 1/8, 1/16)")
        if len(decoder_channels) != 4:
            raise ValueError("decoder_channels needs 4 blocks (1/16 -> 1/1)")
        self.encoder = ResNetV2(
            layers=list(cnn_layers),
            channels=tuple(cnn_channels),
            num_classes=0,
            in_chans=in_channels,
            global_pool="",
            stem_chs=stem_channels,
            preact=False,
            conv_layer=StdConv2d,
            norm_layer=partial(GroupNormAct, num_groups=group_norm_groups),
        )
        self.transformer = ViTBottleneck(
            cnn_channels[-1],
            grid_size=img_size // _STRIDE,
            hidden_size=hidden_size,
            num_layers=num_layers,
            num_heads=num_heads,
            mlp_dim=mlp_dim,
            dropout=dropout,
        )
        self.conv_more = ConvNormAct(hidden_size, head_channels, kernel_size=3)
        self.skip_channels = (cnn_channels[1], cnn_channels[0], stem_channels, 0)
        block_inputs = (head_channels, *decoder_channels[:-1])
        self.decoder = nn.ModuleList(
            DecoderBlock(cin, skip, cout)
            for cin, skip, cout in zip(
                block_inputs, self.skip_channels, decoder_channels, strict=True
            )
        )
        self.segmentation_head = nn.Conv2d(
            decoder_channels[-1], num_classes, kernel_size=3, padding=1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem, s4, s8, s16 = self.encoder.forward_intermediates(
            x, indices=[0, 1, 2, 3], intermediates_only=True
        )
        y = self.conv_more(self.transformer(s16))
        for block, skip in zip(self.decoder, (s8, s4, stem, None), strict=True):
            y = block(y, skip)
        return self.segmentation_head(y)
