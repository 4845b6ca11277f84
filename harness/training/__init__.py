"""The shared torch training loop and the `TorchSegmenter` base model (imports torch)."""

from harness.training.loop import LoopConfig, LoopResult, TrainingLoop
from harness.training.samples import MODES, SampleSpec, zscore
from harness.training.segmenter import LOSSES, TorchSegmenter

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
