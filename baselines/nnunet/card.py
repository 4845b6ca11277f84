"""The card of the ``nnunet`` model (torch-free and nnunetv2-free: ``bench list models``
imports only this module; the model lives in `mskbench.baselines.nnunet.model`).

Schedule. nnU-Net's own is 1000 epochs × 250 iterations (hours on a GPU); the paper size
runs it. The small size (smoke, quick) runs the harness's epoch budget (smoke 2, quick 30,
or ``--max-epochs``) with ``iterations_per_epoch`` training batches and
``val_iterations_per_epoch`` validation batches per epoch. The defaults, 3 and 1, were
measured on the 2-core CPU the quick profile is sized for (2026-12-01, the other core
busy): nnU-Net plans the nmd_thigh quick phantom's 2d configuration as batches of
18 × 128 × 128 patches for a PlainConvUNet of 5 stages (32-512 features), which trains at
about 2 images/s, 8-9 s per batch; 3 + 1 batches make an epoch of about 26 s, 30 epochs
13 minutes, so the three quick folds with planning, preprocessing and prediction take about
45 minutes. That is 30 × 3 × 18 = 1,620 patches per fold, under 0.04 % of nnU-Net's own
schedule (1000 × 250 × 18): a smoke-sized nnU-Net, not the one of the paper. Test-time
mirroring is off at the small size (it runs every 2D slice 4 times, 0.4 s per 128 × 128
forward pass on that CPU) and on at the paper size, as in nnU-Net.
"""

from __future__ import annotations

from mskbench.harness.models import ANY_SEGMENTATION_TASK, ModelCard

CITATION = (
    "Isensee et al. 2021, nnU-Net: a self-configuring method for deep learning-based "
    "biomedical image segmentation, Nat Methods 18:203, doi:10.1038/s41592-020-01008-z"
)
#: Keep in step with `mskbench.baselines.nnunet.model` (SMALL_ITERATIONS, ...).
SMALL_SCHEDULE = (
    "the profile's epochs (smoke 2, quick 30; --max-epochs overrides) × iterations_per_epoch "
    "training batches + val_iterations_per_epoch validation batches, no test-time mirroring; "
    "sized for a 2-core CPU: quick (3 folds, 2d plans of 18 × 128 × 128 batches at about "
    "2 images/s) in about 45 minutes"
)

NNUNET = ModelCard(
    name="nnunet",
    implementation="mskbench.baselines.nnunet.model:NnUNet",
    description=(
        "nnU-Net v2 (the nnunetv2 package): fingerprint, default plans and preprocessing of "
        "the fold's training cases, nnU-Net's trainer on one fold (train = the fold's "
        "training cases, val = the harness's validation cases), sliding-window prediction "
        "with its final checkpoint. Needs pip install 'mskbench[nnunet]'."
    ),
    tasks=(ANY_SEGMENTATION_TASK,),
    spatial_dims=(2, 3),
    hyperparameters={
        "configuration": "2d",
        "iterations_per_epoch": 3,
        "val_iterations_per_epoch": 1,
        "mirroring": False,
        "batch_size": None,
    },
    citation=CITATION,
    details={
        "schedule (smoke, quick)": SMALL_SCHEDULE,
        "schedule (paper)": (
            "nnU-Net's own: 1000 epochs (--max-epochs overrides) × 250 iterations, 50 "
            "validation iterations, test-time mirroring"
        ),
        "network": (
            "nnU-Net's planned PlainConvUNet (ExperimentPlanner, nnUNetPlans) for the "
            "configuration: 2d, or 3d_fullres on 3D tasks"
        ),
        "training": (
            "nnUNetTrainer unchanged (Dice + CE with deep supervision, SGD Nesterov 0.99, "
            "poly LR from 0.01, foreground oversampling, full augmentation); CPU: "
            "single-threaded augmentation, no torch.compile"
        ),
        "deviation": (
            "one fold on the harness's split instead of nnU-Net's 5-fold ensemble; no "
            "post-processing; only the label map (extra masks of a task are not predicted)"
        ),
        "needs": "nnunetv2 (pip install 'mskbench[nnunet]'), only when a model is fitted",
    },
)
