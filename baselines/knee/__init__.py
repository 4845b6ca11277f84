"""Seed 001's baselines for `knee_mrnet` as model cards (torch-free; the models live in
`mskbench.baselines.knee.cnn` and `.floor`).

``mrnet_<net>`` is the seed's multi-view model (one CNN per plane, logistic-regression
fusion per label); ``mrnet_<net>_<plane>`` the single-view variant (``views=<plane>``).
Every network starts from scratch — the seed fine-tuned ImageNet weights; nothing can be
downloaded here, so ``--weights`` takes a local torchvision ImageNet state dict of the
backbone. ``mrnet_intensity_lr`` (and its single views) is the torch-free floor.
"""

from __future__ import annotations

from mskbench.harness.models import ModelCard

TASKS = ("knee_mrnet",)
PLANES = ("sagittal", "coronal", "axial")
_SEED_001 = "Irmakci et al. 2019, arXiv:1912.00311, doi:10.1109/IEEECONF44664.2019.9048671"
_NETS = {"alexnet": "AlexNet", "resnet18": "ResNet-18", "googlenet": "GoogLeNet"}
_SIZES = {
    "smoke, quick": "torchvision backbone (weights=None) on 112 × 112 slices",
    "paper": "torchvision backbone (weights=None) on 256 × 256 slices",
}


def _cnn(net: str, views: str) -> ModelCard:
    which = "multi-view (sagittal, coronal, axial)" if views == "all" else f"single view: {views}"
    return ModelCard(
        name=f"mrnet_{net}" if views == "all" else f"mrnet_{net}_{views}",
        implementation="mskbench.baselines.knee.cnn:MrnetCNN",
        description=(
            f"Seed 001's {_NETS[net]} per plane, pooled over slices (MRNet), logistic-"
            f"regression fusion per label; {which}"
        ),
        tasks=TASKS,
        hyperparameters={
            "backbone": net,
            "views": views,
            "lr": 1e-4,
            "weight_decay": 0.1,
            "decoupled_weight_decay": True,
            "per_label": False,
        },
        citation=_SEED_001,
        details=_SIZES,
    )


def _floor(views: str) -> ModelCard:
    which = "all planes" if views == "all" else f"the {views} plane"
    return ModelCard(
        name="mrnet_intensity_lr" if views == "all" else f"mrnet_intensity_lr_{views}",
        implementation="mskbench.baselines.knee.floor:MrnetIntensityLR",
        description=f"Torch-free floor: intensity statistics of {which} + logistic regression",
        tasks=TASKS,
        hyperparameters={"views": views, "c": 1.0},
        citation=_SEED_001,
    )


MRNET_ALEXNET = _cnn("alexnet", "all")
MRNET_ALEXNET_SAGITTAL = _cnn("alexnet", "sagittal")
MRNET_ALEXNET_CORONAL = _cnn("alexnet", "coronal")
MRNET_ALEXNET_AXIAL = _cnn("alexnet", "axial")
MRNET_RESNET18 = _cnn("resnet18", "all")
MRNET_RESNET18_SAGITTAL = _cnn("resnet18", "sagittal")
MRNET_RESNET18_CORONAL = _cnn("resnet18", "coronal")
MRNET_RESNET18_AXIAL = _cnn("resnet18", "axial")
MRNET_GOOGLENET = _cnn("googlenet", "all")
MRNET_GOOGLENET_SAGITTAL = _cnn("googlenet", "sagittal")
MRNET_GOOGLENET_CORONAL = _cnn("googlenet", "coronal")
MRNET_GOOGLENET_AXIAL = _cnn("googlenet", "axial")
MRNET_INTENSITY_LR = _floor("all")
MRNET_INTENSITY_LR_SAGITTAL = _floor("sagittal")
MRNET_INTENSITY_LR_CORONAL = _floor("coronal")
MRNET_INTENSITY_LR_AXIAL = _floor("axial")

#: Every card by name (entry points name the constants above).
CARDS = {
    card.name: card
    for card in (
        MRNET_ALEXNET,
        MRNET_ALEXNET_SAGITTAL,
        MRNET_ALEXNET_CORONAL,
        MRNET_ALEXNET_AXIAL,
        MRNET_RESNET18,
        MRNET_RESNET18_SAGITTAL,
        MRNET_RESNET18_CORONAL,
        MRNET_RESNET18_AXIAL,
        MRNET_GOOGLENET,
        MRNET_GOOGLENET_SAGITTAL,
        MRNET_GOOGLENET_CORONAL,
        MRNET_GOOGLENET_AXIAL,
        MRNET_INTENSITY_LR,
        MRNET_INTENSITY_LR_SAGITTAL,
        MRNET_INTENSITY_LR_CORONAL,
        MRNET_INTENSITY_LR_AXIAL,
    )
}
