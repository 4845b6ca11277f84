"""A U-Net from segmentation-models-pytorch (smp): a ResNet or VGG encoder, U-Net decoder with
skips, trained from scratch (``encoder_weights=None``: nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
from torch import nn


def build_smp_unet(
    in_channels: int,
    num_classes: int,
    encoder: str,
    depth: int,
    decoder_channels: Sequence[int],
) -> nn.Module:
    """``smp.Unet`` with ``depth`` encoder stages and the given decoder widths; output raw
    logits ``(N, num_classes, H, W)``."""
    return smp.Unet(
        encoder_name=encoder,
        encoder_weights=None,
        encoder_depth=depth,
        decoder_channels=tuple(decoder_channels),
        in_channels=in_channels,
        classes=num_classes,
    )
