"""U-Net 2D and 3D of seed 003, both from MONAI's `DynUNet`.

One implementation for both so that, as the seed puts it, the 3D network is the 2D one
"with 3D convolutions instead of 2Ds". `DynUNet` is chosen over MONAI's `UNet` (whose first
layer already downsamples, so no block runs at full resolution) and `BasicUNet` (fixed at
five levels, which the seed's four-level 3D network is not): it builds the classic U-Net
with any number of levels and explicit widths. Each level: two 3×3(×3) conv-norm-ReLU
(the first strided 2 below the top level, as in nnU-Net, instead of max-pooling); decoder:
2×2(×2) transposed conv, concatenated skip, two conv-norm-ReLU; 1×1(×1) conv to logits.

Input ``(N, C, H, W)`` or ``(N, C, D, H, W)``, every spatial size a multiple of
``2 ** (len(channels) - 1)``; output logits ``(N, num_classes, *spatial)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.nets import DynUNet


def _build_unet(
    spatial_dims: int,
    in_channels: int,
    num_classes: int,
    channels: Sequence[int],
    norm: str,
) -> DynUNet:
    """A `DynUNet` with ``len(channels)`` levels, ReLU, no deep supervision."""
    levels = len(channels)
    return DynUNet(
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        out_channels=num_classes,
        kernel_size=[3] * levels,
        strides=[1] + [2] * (levels - 1),
        upsample_kernel_size=[2] * (levels - 1),
        filters=list(channels),
        norm_name=norm,
        act_name=("relu", {"inplace": True}),
    )


def build_unet2d(
    in_channels: int, num_classes: int, *, channels: Sequence[int], norm: str
) -> DynUNet:
    """2D U-Net for axial slices ``(N, C, H, W)``; H, W multiples of 2**(levels-1)."""
    return _build_unet(2, in_channels, num_classes, channels, norm)


def build_unet3d(
    in_channels: int, num_classes: int, *, channels: Sequence[int], norm: str
) -> DynUNet:
    """3D U-Net for volumes ``(N, C, D, H, W)``; pad D to a multiple of 8 first."""
    return _build_unet(3, in_channels, num_classes, channels, norm)
