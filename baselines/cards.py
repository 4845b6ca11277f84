"""Cards of the shipped models, registered in pyproject's ``mskbench.models`` entry points
exactly as an external plugin registers its own. Torch-free: listing models imports only this.

The four networks of seed 003 (Hostin 2023) with the seed's training setup: Dice loss,
Adam, early stopping with patience 10 (from the profile), no augmentation.

The 2.5D Attention U-Net of seed 004 (Li 2024) and the 3D comparators it reports (ResUNet,
Attention U-Net, UNETR), with that seed's setup: cross-entropy + Dice loss, Adam at
lr 5·10⁻⁴, batches of 2 random 3D patches (the network's catalog ``patch_size`` per size),
sliding-window inference. Not reproduced (the shared loop has no such options): the
seed's attention loss and its step schedule (lr halved every 3800 iterations; the loop
halves it on a validation-loss plateau), and 400 epochs (the profile sets epochs).
"""

from __future__ import annotations

from mskbench.baselines.networks.catalog import NETWORKS
from mskbench.harness.models import ModelCard

_SEED_003 = "Hostin et al. 2023, J Magn Reson Imaging 58:1826, doi:10.1002/jmri.28708"
_SEED_004 = "Li et al. 2024, Insights Imaging, doi:10.1186/s13244-024-01659-y"
_IMPLEMENTATION = "mskbench.baselines.segmenter:NetworkSegmenter"


def _card(
    network: str, mode: str, batch_size: int, loss: str = "dice", lr: float = 1e-3
) -> ModelCard:
    info = NETWORKS[network]
    details = {
        "network (smoke, quick)": dict(info.hyper_parameters["small"]),
        "network (paper)": dict(info.hyper_parameters["paper"]),
        "implementation": info.implementation,
        "input multiple": info.input_multiple,
    }
    if info.slice_multiple:
        details["slice multiple"] = info.slice_multiple
    if info.patch_size:
        details["patch, sliding window (smoke, quick)"] = info.patch_size["small"]
        details["patch, sliding window (paper)"] = info.patch_size["paper"]
    return ModelCard(
        # a 2D network runs on slices of any task; a 3D network needs volumes
        spatial_dims=(2, 3) if info.spatial_dims == 2 else (3,),
        name=network,
        implementation=_IMPLEMENTATION,
        description=info.description,
        hyperparameters={
            "network": network,
            "mode": mode,
            "loss": loss,
            "lr": lr,
            "batch_size": batch_size,
        },
        citation=info.citation,
        details=details,
    )


def _seed004_card(network: str) -> ModelCard:
    """Seed 004's training setup: CE + Dice, Adam 5e-4, batch 2, 3D patches."""
    return _card(network, "3d", batch_size=2, loss="dice_ce", lr=5e-4)


UNET2D = _card("unet2d", "2d", batch_size=8)
UNET3D = _card("unet3d", "3d", batch_size=1)
TRANSUNET = _card("transunet", "2d", batch_size=8)
HRNET = _card("hrnet", "2d", batch_size=8)
SIJ_ATTENTION25D = _seed004_card("sij_attention25d")
RESUNET = _seed004_card("resunet")
ATTENTION_UNET = _seed004_card("attention_unet")
UNETR = _seed004_card("unetr")
