"""Seed 001's networks in the MRNet design: any slice count in, one logit per label out;
a local torchvision ImageNet state dict loads into the backbone (and a wrong one is
refused); augmentation keeps the stack's shape; the floor's views are checked; a
single-view model's network is the multi-view model's network of that plane; weight decay
is decoupled (AdamW) unless asked otherwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_knee_mrnet_layout import build_mrnet
from torchvision.models import alexnet, googlenet, resnet18

from mskbench.baselines.knee import MRNET_RESNET18
from mskbench.baselines.knee.cnn import MrnetCNN, network_input, resize_stack
from mskbench.baselines.knee.floor import parse_views, plane_features
from mskbench.baselines.knee.networks import PlaneNet, load_imagenet
from mskbench.harness.models.protocol import CaseSet, FitContext
from mskbench.harness.training.loop import LoopConfig, TrainingLoop
from mskbench.tasks.contract.dataset import Dataset
from mskbench.tasks.registry import get_task

PLANES = ("sagittal", "coronal", "axial")


@pytest.mark.parametrize("backbone", ["alexnet", "resnet18", "googlenet"])
def test_a_plane_network_pools_any_number_of_slices_to_one_exam(backbone):
    torch.manual_seed(0)
    network = PlaneNet(backbone, 3).eval()
    with torch.no_grad():
        few, many = network(torch.randn(2, 3, 112, 112)), network(torch.randn(7, 3, 112, 112))
    assert few.shape == many.shape == (1, 3)


def test_max_pooling_over_slices_ignores_slice_order():
    torch.manual_seed(0)
    network = PlaneNet("resnet18", 2).eval()
    stack = torch.randn(5, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(network(stack), network(stack.flip(0)), atol=1e-5)


@pytest.mark.parametrize(
    ("backbone", "build"),
    [("alexnet", alexnet), ("resnet18", resnet18), ("googlenet", lambda weights: googlenet(
        weights=weights, aux_logits=True, init_weights=True))],
)  # fmt: skip
def test_a_local_imagenet_state_dict_loads_into_the_backbone(tmp_path, backbone, build):
    path = tmp_path / f"{backbone}.pt"
    torch.save(build(weights=None).state_dict(), path)
    network = PlaneNet(backbone, 3)
    load_imagenet(network, path)
    state = torch.load(path, weights_only=True)
    first = next(iter(network.features.state_dict().values()))
    assert any(torch.equal(first, v) for v in state.values())


def test_a_state_dict_of_another_network_is_refused(tmp_path):
    path = tmp_path / "resnet18.pt"
    torch.save(resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="not a torchvision alexnet"):
        load_imagenet(PlaneNet("alexnet", 3), path)


def test_network_input_is_three_grey_channels_and_augmentation_keeps_the_shape():
    stack = resize_stack(np.random.default_rng(0).integers(0, 255, (4, 256, 256)), 112)
    assert stack.shape == (4, 112, 112) and stack.dtype == np.uint8
    plain = network_input(stack, None)
    moved = network_input(stack, np.random.default_rng(1))
    assert plain.shape == moved.shape == (4, 3, 112, 112)
    assert np.array_equal(plain[:, 0], plain[:, 2]) and not np.allclose(plain, moved)


def test_the_floor_reads_only_the_views_it_is_given():
    assert parse_views("all", PLANES) == PLANES
    assert parse_views("axial,sagittal", PLANES) == ("sagittal", "axial")
    with pytest.raises(ValueError, match="subset of"):
        parse_views("oblique", PLANES)
    stack = np.zeros((5, 256, 256), np.uint8)
    stack[:, 100:150, 100:150] = 250
    features = plane_features(stack)
    assert features.shape == (10,) and features[8] > 0  # share of bright pixels


def _fit(root, views: str, work_dir) -> MrnetCNN:
    """Two epochs of an AlexNet model of ``views`` on the hand-built folder's six train
    exams (four to train, two to validate)."""
    task = get_task("knee_mrnet")
    dataset = Dataset(root, task)
    train = [f"{i:04d}" for i in range(6)]
    model = MrnetCNN(backbone="alexnet", views=views)
    ctx = FitContext(task=task, profile=task.profiles["smoke"], device="cpu", seed=3,
                     work_dir=work_dir, max_epochs=2)  # fmt: skip
    model.fit(CaseSet(dataset, train[:4]), CaseSet(dataset, train[4:]), ctx)
    return model


def test_a_single_view_network_is_the_multi_view_network_of_that_plane(tmp_path):
    """The seed's multi- vs single-view comparison, paired: each plane network trains from
    its own seed, so the coronal-only model's network equals the three-plane model's."""
    root = build_mrnet(tmp_path / "MRNet-v1.0", n_train=6, n_valid=2, slices=2)
    multi = _fit(root, "all", tmp_path / "multi")
    single = _fit(root, "coronal", tmp_path / "single")
    (_, net_multi), (_, net_single) = multi.networks_["coronal"][0], single.networks_["coronal"][0]
    single_weights = net_single.state_dict()
    for name, weights in net_multi.state_dict().items():
        assert torch.equal(weights, single_weights[name]), name
    assert not torch.equal(
        next(iter(multi.networks_["sagittal"][0][1].parameters())),
        next(iter(net_multi.parameters())),
    )


@pytest.mark.parametrize("decoupled", [True, False])
def test_weight_decay_is_decoupled_adamw_by_default_and_adam_l2_when_asked(tmp_path, decoupled):
    config = LoopConfig(1, 1, weight_decay=0.1, decoupled_weight_decay=decoupled)
    loop = TrainingLoop(torch.nn.Linear(2, 1), torch.nn.MSELoss(), config, tmp_path / "c.pt")
    assert type(loop.optimizer) is (torch.optim.AdamW if decoupled else torch.optim.Adam)
    assert MRNET_RESNET18.hyperparameters["decoupled_weight_decay"] is True
