"""Metadata of the shipped segmentation networks — the four of seed 003 (Hostin 2023), the
smp U-Net of seed 000's two-step model and the 3D patch networks of seed 004 (Li 2024):
torch-free, safe to import anywhere.

`NETWORKS` maps a network name to a frozen `NetworkInfo`: its dimensionality, what it is,
where it comes from, the hyper-parameters of each size, and the input-shape rule the
training loop must respect. `bench list models` reads this module without importing torch;
`baselines.networks.build_network` turns an entry into an ``nn.Module``.

Conventions shared by every network:

* input ``(N, in_channels, *spatial)``; output raw logits ``(N, num_classes, *spatial)``
  (no softmax), same spatial size as the input;
* 2D networks take axial slices, ``spatial = (H, W)``; the 3D network takes volumes in
  array-axis order, ``spatial = (D, H, W)`` with ``D`` the slice axis;
* every spatial size must be a multiple of `NetworkInfo.multiples` (per axis): the
  in-plane axes of `NetworkInfo.input_multiple`, the slice axis of a 3D network of
  `NetworkInfo.slice_multiple` (``sij_attention25d`` downsamples slices less than pixels);
  a 3D network's slice axis is brought there by replicating end slices (seed 003's
  20 → 24 slices; `harness.training.samples.pad_depth`), at training and at inference alike;
* a network with ``patch_size`` (seed 004's) trains on random 3D patches of that size and
  predicts by sliding-window inference; UNETR's fixed ``img_size`` is its patch size.

Sizes: ``small`` runs the ``quick`` profile on a 2-core CPU (128 × 128 slices, 10 slices
padded to 16; seed 004's networks: 16 × 96 × 96 patches); ``paper`` is the published
architecture (seed 003: 320 × 320 × 20 → 24).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from mskbench.harness.registry import UnknownNameError

SIZES = ("small", "paper")


@dataclass(frozen=True)
class NetworkInfo:
    """What the harness must know about one network without building it.

    ``hyper_parameters[size]`` holds the keyword arguments of ``builder`` for that size
    (read-only). ``input_multiple`` applies to every in-plane axis, and to the slice axis
    unless ``slice_multiple`` (3D networks only) says otherwise. ``patch_size[size]`` (3D
    networks only; None: whole volumes) is the training patch and sliding window
    ``(D, H, W)``; a network with a fixed input (``img_size`` hyper-parameter) must take
    its patch. ``builder`` is a lazy ``"package.module:function"`` reference with signature
    ``(in_channels: int, num_classes: int, **hyper_parameters) -> nn.Module``.
    """

    name: str
    spatial_dims: Literal[2, 3]
    description: str
    citation: str
    implementation: str
    builder: str
    input_multiple: int
    hyper_parameters: Mapping[str, Mapping[str, Any]]
    notes: str = ""
    slice_multiple: int | None = None
    patch_size: Mapping[str, tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        if set(self.hyper_parameters) != set(SIZES):
            raise ValueError(f"{self.name}: hyper_parameters must define sizes {SIZES}")
        frozen = {size: MappingProxyType(dict(hp)) for size, hp in self.hyper_parameters.items()}
        object.__setattr__(self, "hyper_parameters", MappingProxyType(frozen))
        if self.spatial_dims == 2 and (self.slice_multiple or self.patch_size):
            raise ValueError(f"{self.name}: slice_multiple and patch_size are for 3D networks")
        if self.patch_size is not None:
            self._check_patch_size()

    def _check_patch_size(self) -> None:
        patches = dict(self.patch_size or {})
        if set(patches) != set(SIZES):
            raise ValueError(f"{self.name}: patch_size must define sizes {SIZES}")
        for size, patch in patches.items():
            patch = tuple(patch)
            if len(patch) != 3 or any(p % m for p, m in zip(patch, self.multiples, strict=True)):
                raise ValueError(
                    f"{self.name}: {size} patch {patch} is not a multiple of {self.multiples}"
                )
            fixed = self.hyper_parameters[size].get("img_size")
            if fixed is not None and tuple(fixed) != patch:
                raise ValueError(f"{self.name}: {size} img_size {fixed} differs from patch {patch}")
            patches[size] = patch
        object.__setattr__(self, "patch_size", MappingProxyType(patches))

    @property
    def multiples(self) -> tuple[int, ...]:
        """The multiple of each spatial axis in array order: ``(H, W)`` or ``(D, H, W)``."""
        if self.spatial_dims == 2:
            return (self.input_multiple,) * 2
        return (self.slice_multiple or self.input_multiple,) + (self.input_multiple,) * 2

    @property
    def pads_depth(self) -> bool:
        """True when the slice axis is padded by replication (3D network) before the call."""
        return self.spatial_dims == 3


_RONNEBERGER = "Ronneberger et al. 2015, U-Net, MICCAI, doi:10.1007/978-3-319-24574-4_28"
_CICEK = "Çiçek et al. 2016, 3D U-Net, MICCAI, doi:10.1007/978-3-319-46723-8_49"
_SEED = "as compared in Hostin et al. 2023, J Magn Reson Imaging, doi:10.1002/jmri.28708"
_SEED_004 = "Li et al. 2024, Insights Imaging, doi:10.1186/s13244-024-01659-y"
# seed 004's networks share the patch of each size, so only the architecture differs; the
# seed's text does not state its patch size (D, H, W; D = slices)
_PATCH_004 = {"small": (16, 96, 96), "paper": (16, 256, 256)}
_WIDTHS_004 = {"small": (8, 16, 32, 64, 128), "paper": (32, 64, 128, 256, 512)}
# sij_attention25d: in-plane (1×3×3) convolutions and in-plane downsampling at the two
# shallow levels, 3×3×3 convolutions and isotropic downsampling at the three deep ones
_KERNELS_25D = ((1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))
_STRIDES_25D = ((1, 1, 1), (1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))

NETWORKS: Mapping[str, NetworkInfo] = MappingProxyType(
    {
        "unet2d": NetworkInfo(
            name="unet2d",
            spatial_dims=2,
            description=(
                "2D U-Net on axial slices: per level two 3×3 conv-norm-ReLU, stride-2 conv "
                "down, transposed-conv up, concatenated skips, 1×1 conv to logits."
            ),
            citation=f"{_RONNEBERGER}; {_SEED}",
            implementation="monai.networks.nets.DynUNet (spatial_dims=2)",
            builder="mskbench.baselines.networks.unet:build_unet2d",
            input_multiple=16,
            hyper_parameters={
                "small": {"channels": (16, 32, 64, 128, 256), "norm": "batch"},
                "paper": {"channels": (64, 128, 256, 512, 1024), "norm": "batch"},
            },
            notes=(
                "Paper size = Ronneberger's widths (the seed's Fig. 1 widths are not in its "
                "text). Same MONAI implementation as unet3d so the 2D-vs-3D comparison "
                "changes only the dimensionality, as the seed describes."
            ),
        ),
        "unet3d": NetworkInfo(
            name="unet3d",
            spatial_dims=3,
            description=(
                "3D U-Net, four levels with 24/48/96/192 channels (seed), 3×3×3 "
                "conv-norm-ReLU ×2 per level, three stride-2 downsamplings, symmetric decoder."
            ),
            citation=f"{_CICEK}; {_SEED}",
            implementation="monai.networks.nets.DynUNet (spatial_dims=3)",
            builder="mskbench.baselines.networks.unet:build_unet3d",
            input_multiple=8,
            hyper_parameters={
                "small": {"channels": (24, 48, 96, 192), "norm": "instance"},
                "paper": {"channels": (24, 48, 96, 192), "norm": "instance"},
            },
            notes=(
                "Slices padded by replicated end slices to a multiple of 8 "
                "(harness.training.samples.pad_depth; seed: 20 → 24); in-plane sizes must be "
                "multiples of 8 already. The seed's widths are small enough for the CPU, "
                "so both sizes are the seed's network. Instance norm: batches of 1 volume."
            ),
        ),
        "transunet": NetworkInfo(
            name="transunet",
            spatial_dims=2,
            description=(
                "TransUNet: ResNet-50-style CNN to 1/16, ViT encoder on 1/16 tokens (patch "
                "size 1), cascaded upsampler ×2 ×4 with skips at 1/8, 1/4, 1/2."
            ),
            citation=(
                "Chen et al. 2021, TransUNet, arXiv:2102.04306 (R50-ViT-B/16 hybrid); " + _SEED
            ),
            implementation=(
                "timm ResNetV2 (StdConv + GroupNorm, non-pre-activation) + timm ViT Block; "
                "assembly and decoder in baselines.networks.transunet"
            ),
            builder="mskbench.baselines.networks.transunet:TransUNet",
            input_multiple=16,
            hyper_parameters={
                "small": {
                    "img_size": 128,
                    "stem_channels": 32,
                    "cnn_layers": (1, 1, 2),
                    "cnn_channels": (64, 128, 256),
                    "group_norm_groups": 8,
                    "hidden_size": 192,
                    "num_layers": 4,
                    "num_heads": 3,
                    "mlp_dim": 768,
                    "dropout": 0.1,
                    "head_channels": 128,
                    "decoder_channels": (128, 64, 32, 16),
                },
                "paper": {
                    "img_size": 320,
                    "stem_channels": 64,
                    "cnn_layers": (3, 4, 9),
                    "cnn_channels": (256, 512, 1024),
                    "group_norm_groups": 32,
                    "hidden_size": 768,
                    "num_layers": 12,
                    "num_heads": 12,
                    "mlp_dim": 3072,
                    "dropout": 0.1,
                    "head_channels": 512,
                    "decoder_channels": (256, 128, 64, 16),
                },
            },
            notes=(
                "Learned position embeddings are sized for img_size // 16 tokens per side and "
                "resampled (bicubic) for other input sizes. Paper size ≈ 105 M parameters."
            ),
        ),
        "hrnet": NetworkInfo(
            name="hrnet",
            spatial_dims=2,
            description=(
                "HRNetV2: four parallel branches at 1/4, 1/8, 1/16, 1/32, all upsampled to "
                "1/4 and concatenated, 1×1 conv-BN-ReLU, 1×1 conv to logits, bilinear ×4."
            ),
            citation=(
                "Sun et al. 2019, High-Resolution Representations for Labeling Pixels and "
                "Regions, arXiv:1904.04514 (HRNetV2); " + _SEED
            ),
            implementation=(
                "timm hrnet_* (features_only, feature_location='', raw branch outputs); "
                "HRNetV2 head in baselines.networks.hrnet"
            ),
            builder="mskbench.baselines.networks.hrnet:HRNetV2",
            input_multiple=32,
            hyper_parameters={
                "small": {"backbone": "hrnet_w18_small_v2"},
                "paper": {"backbone": "hrnet_w48"},
            },
            notes=(
                "Paper size = HRNetV2-W48, the segmentation reference model (65.8 M); the "
                "seed does not state the width in its text. Override backbone='hrnet_w18' "
                "for HRNetV2-W18."
            ),
        ),
        "smp_unet": NetworkInfo(
            name="smp_unet",
            spatial_dims=2,
            description=(
                "2D U-Net of segmentation-models-pytorch: a ResNet-18 (small) or VGG-19-BN "
                "(paper) encoder, U-Net decoder with concatenated skips, 1×1 conv to logits."
            ),
            citation=(
                f"{_RONNEBERGER}; Iakubovskii, segmentation-models-pytorch; the U-Net step of "
                "Saavedra et al. 2024, Front Med, doi:10.3389/fmed.2024.1416169"
            ),
            implementation="segmentation_models_pytorch.Unet (encoder_weights=None)",
            builder="mskbench.baselines.networks.smp_unet:build_smp_unet",
            input_multiple=32,
            hyper_parameters={
                "small": {"encoder": "resnet18", "depth": 3, "decoder_channels": (64, 32, 16)},
                "paper": {
                    "encoder": "vgg19_bn",
                    "depth": 5,
                    "decoder_channels": (256, 128, 64, 32, 16),
                },
            },
            notes=(
                "The seed's U-Net follows Khouy et al. (widths not in its text); the paper "
                "size puts the VGG-19 family of the seed's classifier in the encoder. Inputs "
                "are padded to multiples of 32 (the paper size's five stages; 224 is one)."
            ),
        ),
        "sij_attention25d": NetworkInfo(
            name="sij_attention25d",
            spatial_dims=3,
            description=(
                "2.5D Attention U-Net on anisotropic 3D patches: five levels, 1×3×3 (in-plane) "
                "convolutions and in-plane downsampling at the two shallow levels, 3×3×3 "
                "convolutions and 2×2×2 downsampling deeper; additive attention gates on "
                "every skip, squeeze-and-excitation after every decoder block."
            ),
            citation=(
                f"{_SEED_004} (2.5D-AttentionUNet); Wang et al. 2019, MICCAI, "
                "doi:10.1007/978-3-030-32245-8_30 (2.5D design); Oktay et al. 2018, "
                "arXiv:1804.03999 (attention gates)"
            ),
            implementation=(
                "MONAI blocks (UnetBasicBlock, AttentionBlock, ChannelSELayer, UnetOutBlock) "
                "assembled in baselines.networks.attention25d"
            ),
            builder="mskbench.baselines.networks.attention25d:Attention25DUNet",
            input_multiple=16,
            slice_multiple=4,
            patch_size=_PATCH_004,
            hyper_parameters={
                size: {
                    "channels": _WIDTHS_004[size],
                    "kernel_sizes": _KERNELS_25D,
                    "strides": _STRIDES_25D,
                    "norm": "instance",
                    "squeeze_excitation": True,
                }
                for size in SIZES
            },
            notes=(
                "The seed's text says the network 'combines 2D and 3D convolutions' with "
                "spatial and channel (squeeze) attention; the per-level kernels and strides "
                "follow its reference 26 (Wang 2019). Widths and patch are not in the seed's "
                "text. Not implemented: the seed's attention loss (reference 26)."
            ),
        ),
        "resunet": NetworkInfo(
            name="resunet",
            spatial_dims=3,
            description=(
                "Residual 3D U-Net: five levels, two residual units per level (3×3×3 "
                "conv-norm-PReLU with a projected shortcut), stride-2 downsampling."
            ),
            citation=f"Kerfoot et al. 2019, STACOM, doi:10.1007/978-3-030-12029-0_40; {_SEED_004}",
            implementation="monai.networks.nets.UNet (num_res_units=2)",
            builder="mskbench.baselines.networks.seed004:build_resunet",
            input_multiple=16,
            patch_size=_PATCH_004,
            hyper_parameters={
                size: {"channels": _WIDTHS_004[size], "num_res_units": 2, "norm": "instance"}
                for size in SIZES
            },
            notes=(
                "MONAI's UNet downsamples in its first block, so no block runs at full "
                "resolution. The seed's discussion counts ResUNet among its 2D comparators; "
                "this is the 3D variant (same patches as the other seed-004 networks)."
            ),
        ),
        "attention_unet": NetworkInfo(
            name="attention_unet",
            spatial_dims=3,
            description=(
                "3D Attention U-Net: five levels of two 3×3×3 conv-BN-ReLU, stride-2 "
                "downsampling, additive attention gates on every skip connection."
            ),
            citation=f"Oktay et al. 2018, arXiv:1804.03999; {_SEED_004}",
            implementation="monai.networks.nets.AttentionUnet (spatial_dims=3)",
            builder="mskbench.baselines.networks.seed004:build_attention_unet",
            input_multiple=16,
            patch_size=_PATCH_004,
            hyper_parameters={size: {"channels": _WIDTHS_004[size]} for size in SIZES},
            notes=(
                "Batch norm inside MONAI's blocks (not configurable). The seed's discussion "
                "counts Attention U-Net among its 2D comparators; this is the 3D variant."
            ),
        ),
        "unetr": NetworkInfo(
            name="unetr",
            spatial_dims=3,
            description=(
                "UNETR: a 12-layer ViT on 16×16×16 patches of a fixed-size input, "
                "transformer outputs of layers 3, 6, 9, 12 decoded by a CNN with skips."
            ),
            citation=(
                "Hatamizadeh et al. 2022, UNETR, WACV, doi:10.48550/arXiv.2103.10504; " + _SEED_004
            ),
            implementation="monai.networks.nets.UNETR",
            builder="mskbench.baselines.networks.seed004:build_unetr",
            input_multiple=16,
            patch_size=_PATCH_004,
            hyper_parameters={
                "small": {
                    "img_size": _PATCH_004["small"],
                    "feature_size": 8,
                    "hidden_size": 96,
                    "mlp_dim": 384,
                    "num_heads": 4,
                },
                "paper": {
                    "img_size": _PATCH_004["paper"],
                    "feature_size": 16,
                    "hidden_size": 768,
                    "mlp_dim": 3072,
                    "num_heads": 12,
                },
            },
            notes=(
                "The position embedding fixes the input to img_size: training uses patches of "
                "that size and inference a sliding window of it. Paper size = UNETR's "
                "published ViT-B (MONAI's 12 layers are fixed); 16 slices are one token deep."
            ),
        ),
    }
)


def network_info(name: str) -> NetworkInfo:
    """The catalog entry of ``name``; unknown names fail with the known ones listed."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise UnknownNameError("network", name, sorted(NETWORKS)) from None


def required_multiple(name: str) -> int:
    """Every spatial input size of network ``name`` must be a multiple of this."""
    return network_info(name).input_multiple


def hyper_parameters(name: str, size: str = "small", **overrides: Any) -> dict[str, Any]:
    """The builder keyword arguments of ``name`` at ``size``, with ``overrides`` applied.

    Raises ``ValueError`` for an unknown size and ``TypeError`` for an override that is
    not one of that network's hyper-parameters; both messages list the allowed values.
    """
    info = network_info(name)
    if size not in SIZES:
        raise ValueError(f"size {size!r} is not one of {SIZES}")
    params = dict(info.hyper_parameters[size])
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise TypeError(f"{name}: unknown hyper-parameter(s) {unknown}; allowed: {sorted(params)}")
    params.update(overrides)
    return params
