"""Cards of the shipped models, registered in pyproject's ``mskbench.models`` entry points
exactly as an external plugin registers its own. Torch-free: listing models imports only this.

The four networks of seed 003 (Hostin 2023) with the seed's training setup: Dice loss,
Adam, early stopping with patience 10 (from the profile), no augmentation.
"""

from __future__ import annotations

from mskbench.baselines.networks.catalog import NETWORKS
from mskbench.harness.models import ModelCard

_SEED_003 = "Hostin et al. 2023, J Magn Reson Imaging 58:1826, doi:10.1002/jmri.28708"
_IMPLEMENTATION = "mskbench.baselines.segmenter:NetworkSegmenter"


def _card(network: str, mode: str, batch_size: int) -> ModelCard:
    info = NETWORKS[network]
    return ModelCard(
        # a 2D network runs on slices of any task; a 3D network needs volumes
        spatial_dims=(2, 3) if info.spatial_dims == 2 else (3,),
        name=network,
        implementation=_IMPLEMENTATION,
        description=info.description,
        hyperparameters={
            "network": network,
            "mode": mode,
            "loss": "dice",
            "lr": 1e-3,
            "batch_size": batch_size,
        },
        citation=info.citation,
        details={
            "network (smoke, quick)": dict(info.hyper_parameters["small"]),
            "network (paper)": dict(info.hyper_parameters["paper"]),
            "implementation": info.implementation,
            "input multiple": info.input_multiple,
        },
    )


UNET2D = _card("unet2d", "2d", batch_size=8)
UNET3D = _card("unet3d", "3d", batch_size=1)
TRANSUNET = _card("transunet", "2d", batch_size=8)
HRNET = _card("hrnet", "2d", batch_size=8)
