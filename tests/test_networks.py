"""The four networks of seed 003: shapes, gradients, the seed's 3D U-Net, padding, structure.

CPU only, small sizes, 11 classes (10 thigh muscles + background). Parameter counts of the
paper sizes are checked against published figures; speed lives in
``benchmarks/network_speed.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from timm.models.vision_transformer import Block

from mskbench.baselines.networks import NETWORKS, build_network, hyper_parameters, required_multiple
from mskbench.harness.registry import UnknownNameError
from mskbench.harness.training.samples import pad_depth

NUM_CLASSES = 11
NETS_2D = ["unet2d", "transunet", "hrnet"]


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_backward(model: torch.nn.Module, logits: torch.Tensor) -> None:
    logits.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters outside the graph: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", NETS_2D)
def test_2d_network_returns_finite_logits_at_input_size_and_trains(name):
    torch.manual_seed(0)
    model = build_network(name, in_channels=1, num_classes=NUM_CLASSES)
    logits = model(torch.randn(2, 1, 64, 64))
    assert logits.shape == (2, NUM_CLASSES, 64, 64)
    assert torch.isfinite(logits).all()
    _check_backward(model, logits)


def test_unet3d_on_20_slices_padded_to_24_returns_20_slices_and_trains():
    torch.manual_seed(0)
    model = build_network("unet3d", in_channels=1, num_classes=NUM_CLASSES)
    volume = torch.randn(1, 1, 20, 32, 32).numpy()
    padded, (front, _) = pad_depth(volume, required_multiple("unet3d"), axis=2)
    assert padded.shape == (1, 1, 24, 32, 32)
    logits = model(torch.from_numpy(padded))[:, :, front : front + 20]
    assert logits.shape == (1, NUM_CLASSES, 20, 32, 32)
    assert torch.isfinite(logits).all()
    _check_backward(model, logits)


@pytest.mark.parametrize("size", ["small", "paper"])
def test_unet3d_has_the_seeds_four_levels_of_24_48_96_192_channels(size):
    model = build_network("unet3d", in_channels=1, num_classes=NUM_CLASSES, size=size)
    encoder = [model.input_block, *model.downsamples, model.bottleneck]
    assert [block.conv1.conv.out_channels for block in encoder] == [24, 48, 96, 192]
    assert [block.conv1.conv.stride for block in encoder] == [(1, 1, 1)] + [(2, 2, 2)] * 3
    assert all(isinstance(block.conv1.conv, torch.nn.Conv3d) for block in encoder)
    decoder = [block.conv_block.conv2.conv.out_channels for block in model.upsamples]
    assert decoder == [96, 48, 24]


def test_transunet_has_the_configured_transformer_and_three_skips():
    hp = hyper_parameters("transunet", "small")
    model = build_network("transunet", in_channels=1, num_classes=NUM_CLASSES)
    blocks = list(model.transformer.blocks)
    assert len(blocks) == hp["num_layers"]
    assert all(isinstance(b, Block) for b in blocks)
    assert model.transformer.pos_embed.shape == (1, (hp["img_size"] // 16) ** 2, hp["hidden_size"])
    stem, (c4, c8, _) = hp["stem_channels"], hp["cnn_channels"]
    assert model.skip_channels == (c8, c4, stem, 0)

    seen: list[tuple[tuple[int, ...], tuple[int, ...] | None]] = []
    for block in model.decoder:
        block.register_forward_pre_hook(
            lambda _m, args: seen.append(
                (tuple(args[0].shape), None if args[1] is None else tuple(args[1].shape))
            )
        )
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 1, 128, 128))
    # decoder block k gets the 1/16, 1/8, 1/4, 1/2 map and the skip at twice its size
    assert [s for _, s in seen] == [(1, c8, 16, 16), (1, c4, 32, 32), (1, stem, 64, 64), None]
    assert [x[-1] for x, _ in seen] == [8, 16, 32, 64]


def test_transunet_paper_size_matches_r50_vit_b16_parameter_count():
    # R50-ViT-B/16 TransUNet at 224², 3 channels, 9 classes (Synapse): 105,276,066
    # parameters as tabulated by follow-up work (e.g. DA-TransUNet, Table 3; ≈105.3 M).
    model = build_network("transunet", 3, 9, size="paper", img_size=224)
    assert len(model.transformer.blocks) == 12
    assert model.transformer.pos_embed.shape == (1, 14 * 14, 768)
    assert abs(_n_params(model) - 105_276_066) / 105_276_066 < 1e-3


def test_hrnet_head_concatenates_the_four_branches():
    model = build_network("hrnet", in_channels=1, num_classes=NUM_CLASSES)
    assert model.backbone.feature_info.reduction() == [4, 8, 16, 32]
    assert model.branch_channels == (18, 36, 72, 144)
    assert model.head[0].in_channels == sum(model.branch_channels) == model.head_channels
    assert model.head[-1].out_channels == NUM_CLASSES


@pytest.mark.parametrize(
    ("backbone", "published_millions"),
    [("hrnet_w18_small", 1.5), ("hrnet_w18_small_v2", 3.9), ("hrnet_w48", 65.8)],
)
def test_hrnetv2_parameter_counts_match_the_published_ones(backbone, published_millions):
    # HRNet-Semantic-Segmentation README, Cityscapes (19 classes, RGB): HRNetV2-W18-Small-v1
    # 1.5 M, -Small-v2 3.9 M, HRNetV2-W48 65.8 M; one decimal, so allow 0.1 M.
    model = build_network("hrnet", 3, 19, size="paper", backbone=backbone)
    assert abs(_n_params(model) / 1e6 - published_millions) < 0.1


@pytest.mark.parametrize("name", NETS_2D)
def test_2d_network_runs_channels_last(name):
    torch.manual_seed(0)
    model = build_network(name, in_channels=1, num_classes=NUM_CLASSES).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        reference = model(x)
        model = model.to(memory_format=torch.channels_last)
        logits = model(x.to(memory_format=torch.channels_last))
    assert logits.shape == (2, NUM_CLASSES, 64, 64)
    # untrained eval-mode BN leaves logits of order 10²; compare at that scale
    scale = reference.abs().max().item()
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_construction_is_deterministic_given_the_seed(name):
    states = []
    for _ in range(2):
        torch.manual_seed(123)
        states.append(build_network(name, in_channels=2, num_classes=3).state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_catalog_states_dimensionality_and_input_multiples():
    assert {n: (i.spatial_dims, i.input_multiple) for n, i in NETWORKS.items()} == {
        "unet2d": (2, 16),
        "unet3d": (3, 8),
        "transunet": (2, 16),
        "hrnet": (2, 32),
        "smp_unet": (2, 32),
        "sij_attention25d": (3, 16),
        "resunet": (3, 16),
        "attention_unet": (3, 16),
        "unetr": (3, 16),
    }
    assert [n for n, i in NETWORKS.items() if i.pads_depth] == [
        "unet3d",
        "sij_attention25d",
        "resunet",
        "attention_unet",
        "unetr",
    ]
    assert NETWORKS["unet3d"].multiples == (8, 8, 8) and NETWORKS["hrnet"].multiples == (32, 32)
    assert NETWORKS["sij_attention25d"].multiples == (4, 16, 16)
    with pytest.raises(TypeError):
        NETWORKS["hrnet"].hyper_parameters["small"]["backbone"] = "hrnet_w64"  # type: ignore[index]


def test_build_network_refuses_unknown_names_sizes_and_hyper_parameters():
    with pytest.raises(
        UnknownNameError,
        match="known networks: attention_unet, hrnet, resunet, sij_attention25d, smp_unet, "
        "transunet, unet2d, unet3d, unetr",
    ):
        build_network("unet4d", 1, 2)
    with pytest.raises(ValueError, match="small"):
        build_network("hrnet", 1, 2, size="huge")
    with pytest.raises(TypeError, match="allowed: \\['backbone'\\]"):
        build_network("hrnet", 1, 2, width=18)


def test_importing_the_catalog_does_not_import_torch():
    code = (
        "import sys; import baselines.networks as n; "
        "print(n.hyper_parameters('transunet', 'paper')['hidden_size'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["768", "False"]
