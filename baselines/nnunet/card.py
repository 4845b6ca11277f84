"""The card of the ``nnunet`` model (torch-free and nnunetv2-free: ``bench list models``
imports only this module; the model lives in `mskbench.baselines.nnunet.model`).

Schedule. nnU-Net's own is 1000 epochs × 250 iterations, hours on a GPU; the paper size
runs it. At the small size (smoke, quick) the harness's epoch budget applies (smoke 2,
quick 30, or ``--max-epochs``) with ``iterations_per_epoch`` training batches per epoch.
The default 25 was measured on the 2-core CPU this project's profiles are sized for
(nmd_thigh quick phantom, 2d plans: batch 37? of 128 × 128 patches; see SMALL_SCHEDULE).
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
    "training batches + val_iterations_per_epoch validation batches"
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
