"""Seed 000's baselines for `shoulder_supraspinatus` as model cards (torch-free; the models
live in `mskbench.baselines.shoulder.models` and `.threshold`).

All three train from scratch — the seed started its VGG-19 from ImageNet weights and
trained only the classifier; nothing can be downloaded here, so ``--weights`` takes a
local torchvision VGG-19 state dict for the paper size (its features are then frozen).
"""

from __future__ import annotations

from mskbench.harness.models import ModelCard

TASKS = ("shoulder_supraspinatus",)
_SEED_000 = "Saavedra et al. 2024, Front Med 11:1416169, doi:10.3389/fmed.2024.1416169"
_SIZES = {
    "U-Net (smoke, quick)": "smp U-Net, ResNet-18 encoder (3 stages), decoder 64/32/16",
    "U-Net (paper)": "smp U-Net, VGG-19-BN encoder (5 stages), decoder 256…16",
    "VGG-19 (smoke, quick)": "VGG-19 layout at 1/8 width, GAP head, 96 × 96 crops",
    "VGG-19 (paper)": "torchvision VGG-19, 1 output, 224 × 224 crops",
}

SHOULDER_UNET_VGG19 = ModelCard(
    name="shoulder_unet_vgg19",
    implementation="mskbench.baselines.shoulder.models:ShoulderUnetVgg19",
    description=(
        "Seed 000's two steps: U-Net segments the supraspinatus, VGG-19 scores risky "
        "(Goutallier 3-4 vs 0-1) on the predicted mask's box crop"
    ),
    tasks=TASKS,
    hyperparameters={"seg_lr": 1e-3, "cls_lr": 1e-4, "batch_size": 8},
    citation=_SEED_000,
    details=_SIZES,
)
SHOULDER_VGG19_REFROI = ModelCard(
    name="shoulder_vgg19_refroi",
    implementation="mskbench.baselines.shoulder.models:ShoulderVgg19RefRoi",
    description="VGG-19 on crops of the reference supraspinatus mask (the seed's manual-ROI arm)",
    tasks=TASKS,
    hyperparameters={"lr": 1e-4, "batch_size": 8},
    citation=_SEED_000,
    details={k: v for k, v in _SIZES.items() if k.startswith("VGG")},
)
SHOULDER_THRESHOLD = ModelCard(
    name="shoulder_threshold",
    implementation="mskbench.baselines.shoulder.threshold:ShoulderThreshold",
    description=(
        "Torch-free floor: Otsu fat share and relative area of the reference ROI, "
        "logistic regression to Goutallier grade probabilities"
    ),
    tasks=TASKS,
    hyperparameters={"c": 1.0},
    citation=_SEED_000,
)
