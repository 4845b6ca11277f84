"""Seed 004's comparators (Li 2024) as MONAI networks: residual U-Net, Attention U-Net, UNETR.

All 3D, input ``(N, C, D, H, W)`` (D = slices), output logits ``(N, num_classes, D, H, W)``.
Each downsamples every axis four times by 2, so every size must be a multiple of 16; UNETR
takes exactly ``img_size`` (its position embedding is sized for it), which is why these
networks train on fixed patches and predict by sliding window (catalog ``patch_size``).
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.nets import UNETR, AttentionUnet, UNet


def build_resunet(
    in_channels: int, num_classes: int, *, channels: Sequence[int], num_res_units: int, norm: str
) -> UNet:
    """MONAI's residual U-Net: ``num_res_units`` residual units per level, stride 2 between."""
    return UNet(
        spatial_dims=3,
        in_channels=in_channels,
        out_channels=num_classes,
        channels=tuple(channels),
        strides=(2,) * (len(channels) - 1),
        num_res_units=num_res_units,
        norm=norm,
    )


def build_attention_unet(
    in_channels: int, num_classes: int, *, channels: Sequence[int]
) -> AttentionUnet:
    """MONAI's Attention U-Net with ``len(channels)`` levels, stride 2 between them."""
    return AttentionUnet(
        spatial_dims=3,
        in_channels=in_channels,
        out_channels=num_classes,
        channels=tuple(channels),
        strides=(2,) * (len(channels) - 1),
    )


def build_unetr(
    in_channels: int,
    num_classes: int,
    *,
    img_size: Sequence[int],
    feature_size: int,
    hidden_size: int,
    mlp_dim: int,
    num_heads: int,
) -> UNETR:
    """MONAI's UNETR for inputs of exactly ``img_size`` (multiples of 16), instance norm."""
    return UNETR(
        in_channels=in_channels,
        out_channels=num_classes,
        img_size=tuple(img_size),
        feature_size=feature_size,
        hidden_size=hidden_size,
        mlp_dim=mlp_dim,
        num_heads=num_heads,
        norm_name="instance",
    )
