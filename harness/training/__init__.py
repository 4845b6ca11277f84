"""The shared torch training loop and the `TorchSegmenter` base model (imports torch)."""

from mskbench.harness.training.loop import LoopConfig, LoopResult, TrainingLoop
from mskbench.harness.training.samples import MODES, SampleSpec, zscore
from mskbench.harness.training.segmenter import LOSSES, TorchSegmenter

__all__ = [
    "LOSSES",
    "MODES",
    "LoopConfig",
    "LoopResult",
    "SampleSpec",
    "TorchSegmenter",
    "TrainingLoop",
    "zscore",
]
