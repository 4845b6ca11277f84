"""Seed 004's networks (Li 2024): the 2.5D Attention U-Net and its 3D comparators.

Shapes on anisotropic inputs of the allowed multiples, gradients, the 2.5D design
(in-plane kernels and strides at the shallow levels, 3D deeper, attention gates), the
torch-free catalog and cards, the patch contract, the CE + Dice loss. CPU, tiny inputs;
speed lives in ``benchmarks/sij_network_speed.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from monai.networks.blocks import ChannelSELayer
from monai.networks.nets.attentionunet import AttentionBlock
from torch import nn
from typer.testing import CliRunner

from mskbench.baselines.networks import NETWORKS, SIZES, NetworkInfo, build_network
from mskbench.baselines.segmenter import NetworkSegmenter
from mskbench.harness.cli import app
from mskbench.harness.models import get_model_card
from mskbench.harness.training import TorchSegmenter
from mskbench.harness.training.samples import SampleSpec, pad_to_patch
from mskbench.tasks import get_task

SEED_004 = ["sij_attention25d", "resunet", "attention_unet", "unetr"]
NUM_CLASSES = 2  # background + fat metaplasia
# anisotropic: few slices, in-plane sizes that differ; each a multiple of the network's
SHAPES = {
    "sij_attention25d": (4, 32, 48),  # slices need only a multiple of 4
    "resunet": (16, 32, 48),
    "attention_unet": (16, 32, 48),
    "unetr": (16, 32, 48),  # fixed input: built for it below
}


def _small(name: str) -> nn.Module:
    overrides = {"img_size": SHAPES[name]} if name == "unetr" else {}
    torch.manual_seed(0)
    return build_network(name, in_channels=1, num_classes=NUM_CLASSES, **overrides)


@pytest.mark.parametrize("name", SEED_004)
def test_output_has_the_input_size_on_anisotropic_volumes_and_every_weight_trains(name):
    model = _small(name)
    x = torch.randn(2, 1, *SHAPES[name])
    logits = model(x)
    assert logits.shape == (2, NUM_CLASSES, *SHAPES[name])
    assert torch.isfinite(logits).all()
    logits.square().mean().backward()
    # MONAI's TransformerBlock always builds a cross-attention norm, used only with
    # cross-attention (UNETR has none): the one kind of weight allowed to stay untouched
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None and "norm_cross_attn" not in n
    ]
    assert not missing, f"parameters outside the graph: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _convs(module: nn.Module) -> list[nn.Conv3d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv3d)]


def test_attention25d_convolves_in_plane_at_shallow_levels_and_in_3d_deeper():
    model = _small("sij_attention25d")
    # UnetBasicBlock: conv1 (strided), conv2; a level's kernels are those of its two convs
    kernels = [{c.kernel_size for c in _convs(level)} for level in model.encoder]
    strides = [level.conv1.conv.stride for level in model.encoder]
    assert kernels == [{(1, 3, 3)}, {(1, 3, 3)}, {(3, 3, 3)}, {(3, 3, 3)}, {(3, 3, 3)}]
    assert strides == [(1, 1, 1), (1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
    # decoder level i convolves like encoder level i and upsamples what level i+1 reduced
    for level, decoder in enumerate(model.decoder):
        assert {c.kernel_size for c in _convs(decoder.conv)} == kernels[level]
        assert decoder.up.conv.stride == strides[level + 1]


def test_attention25d_gates_every_skip_and_reweights_decoder_channels():
    model = _small("sij_attention25d")
    gates = [m for m in model.modules() if isinstance(m, AttentionBlock)]
    assert len(gates) == len(model.encoder) - 1 == 4
    assert sum(isinstance(m, ChannelSELayer) for m in model.modules()) == 4
    # a gate multiplies the skip by a [0, 1] map: zeroing it removes the skip's signal
    decoder = model.decoder[0].eval()
    skip = torch.randn(1, 8, 4, 32, 48)
    deep = torch.randn(1, 16, 4, 16, 24)
    seen = {}
    decoder.gate.register_forward_hook(lambda m, i, o: seen.setdefault("gated", o))
    with torch.no_grad():
        decoder(deep, skip)
    ratio = seen["gated"] / skip
    assert ((ratio >= -1e-5) & (ratio <= 1 + 1e-5)).all()


@pytest.mark.parametrize("name", SEED_004)
def test_catalog_multiples_are_what_the_networks_downsample(name):
    info = NETWORKS[name]
    params = info.hyper_parameters["small"]
    if name == "sij_attention25d":
        expected = tuple(math.prod(s[axis] for s in params["strides"]) for axis in range(3))
    else:
        expected = (2 ** (len(params.get("channels", (0,) * 5)) - 1),) * 3
    assert info.multiples == expected
    assert info.pads_depth and info.spatial_dims == 3
    for size in SIZES:
        assert all(p % m == 0 for p, m in zip(info.patch_size[size], info.multiples, strict=True))


def test_a_network_with_a_fixed_input_must_take_its_patch():
    base = NETWORKS["unetr"]
    kwargs = {f: getattr(base, f) for f in base.__dataclass_fields__}
    wrong = {s: dict(hp) for s, hp in base.hyper_parameters.items()}
    wrong["small"]["img_size"] = (16, 64, 64)
    with pytest.raises(ValueError, match="img_size"):
        NetworkInfo(**{**kwargs, "hyper_parameters": wrong})
    with pytest.raises(ValueError, match="not a multiple"):
        NetworkInfo(**{**kwargs, "patch_size": {"small": (16, 90, 96), "paper": (16, 256, 256)}})
    with pytest.raises(ValueError, match="3D networks"):
        NetworkInfo(**{**kwargs, "spatial_dims": 2, "patch_size": None, "slice_multiple": 4})


def test_catalog_and_cards_of_seed_004_do_not_import_torch():
    code = (
        "import sys; import mskbench.baselines.networks as n, mskbench.baselines.cards as c; "
        "print(n.NETWORKS['sij_attention25d'].multiples, c.UNETR.hyperparameters['loss'], "
        "'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(4,", "16,", "16)", "dice_ce", "False"]


def test_seed_004_cards_are_listed_with_the_seeds_training_setup():
    result = CliRunner().invoke(app, ["list", "models", "--format", "json"])
    assert result.exit_code == 0, result.output
    for name in SEED_004:
        assert f'"{name}"' in result.output
        card = get_model_card(name)
        hp = card.hyperparameters
        assert (hp["network"], hp["mode"], hp["loss"], hp["lr"], hp["batch_size"]) == (
            name,
            "3d",
            "dice_ce",
            5e-4,
            2,
        )
        assert "10.1186/s13244-024-01659-y" in card.citation
        assert card.supports(get_task("nmd_thigh"))
        assert not card.supports(get_task("lumbar_paraspinal"))  # slices, not volumes


def test_segmenter_takes_the_catalog_patch_of_the_size_unless_given_one():
    model = NetworkSegmenter("sij_attention25d", mode="3d")
    assert model.training_patch_size("small") == (16, 96, 96)
    assert model.training_patch_size("paper") == (16, 256, 256)
    assert model.samples_.slice_multiple == 4 and model.samples_.multiple == 16
    given = NetworkSegmenter("sij_attention25d", mode="3d", patch_size=(8, 32, 32))
    assert given.training_patch_size("paper") == (8, 32, 32)
    assert NetworkSegmenter("unet3d", mode="3d").training_patch_size("small") is None


def test_slices_are_padded_to_the_slice_multiple_and_restored():
    spec = SampleSpec("3d", multiple=16, depth_multiple=4)
    image = np.random.default_rng(0).normal(size=(1, 10, 20, 30)).astype(np.float32)
    samples = spec.image_samples(image)
    assert samples.shape == (1, 1, 12, 32, 32)
    assert np.array_equal(spec.restore(samples, image.shape[1:]), image)


def test_a_volume_smaller_than_the_patch_is_padded_up_to_it():
    image = np.arange(2 * 6 * 10 * 12, dtype=np.float32).reshape(2, 6, 10, 12)
    label = (image[0] % 3).astype(np.uint8)
    x, y = pad_to_patch(image, label, (16, 8, 16))
    assert x.shape == (2, 16, 10, 16) and y.shape == (16, 10, 16)
    assert np.array_equal(x[:, 5:11, :, :12], image)  # 10 slices: 5 in front, 5 behind
    assert np.array_equal(x[:, 0], x[:, 5]) and np.array_equal(y[15], y[10])  # replicated
    assert not x[:, :, :, 12:].any() and not y[:, :, 12:].any()  # in-plane: 0, background


def test_validation_takes_the_same_patches_every_epoch_for_fixed_size_networks():
    model = NetworkSegmenter("unetr", mode="3d", batch_size=2, patches_per_volume=2)
    model.patch_size_ = model.training_patch_size("small")
    rng = np.random.default_rng(0)
    images = [rng.normal(size=(1, 1, 6, 64, 64)).astype(np.float32) for _ in range(2)]
    labels = [(x[:, 0] > 0).astype(np.uint8) for x in images]
    first = list(model._batches(images, labels, None))
    again = list(model._batches(images, labels, None))
    assert [x.shape for x, _ in first] == [(2, 1, 16, 96, 96), (2, 1, 16, 96, 96)]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again, strict=True))


def test_dice_ce_loss_is_cross_entropy_plus_batch_soft_dice():
    rng = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 8, 8, generator=rng)
    target = torch.randint(0, 3, (2, 1, 4, 8, 8), generator=rng)
    loss = TorchSegmenter(mode="3d", loss="dice_ce")._loss()(logits, target)
    # independent: mean voxel cross-entropy + mean over classes of 1 - soft Dice, the
    # Dice sums over the whole batch (MONAI batch=True), smoothing 1e-5 on both sides
    ce = nn.functional.cross_entropy(logits, target[:, 0])
    p = logits.softmax(1)
    onehot = nn.functional.one_hot(target[:, 0], 3).movedim(-1, 1).float()
    inter = (p * onehot).sum(dim=(0, 2, 3, 4))
    denominator = p.sum(dim=(0, 2, 3, 4)) + onehot.sum(dim=(0, 2, 3, 4))
    dice = (1 - (2 * inter + 1e-5) / (denominator + 1e-5)).mean()
    torch.testing.assert_close(loss, ce + dice)
