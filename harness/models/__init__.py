"""Model protocol, model cards and the model registry (no torch imports)."""

from mskbench.harness.models.card import ANY_SEGMENTATION_TASK, ModelCard, card_of
from mskbench.harness.models.protocol import (
    CaseSet,
    EpochReport,
    FitContext,
    FitReport,
    Model,
    Prediction,
    hyperparameters_of,
)
from mskbench.harness.models.registry import MODELS, get_model_card, is_file_reference, model_names

__all__ = [
    "ANY_SEGMENTATION_TASK",
    "MODELS",
    "CaseSet",
    "EpochReport",
    "FitContext",
    "FitReport",
    "Model",
    "ModelCard",
    "Prediction",
    "card_of",
    "get_model_card",
    "hyperparameters_of",
    "is_file_reference",
    "model_names",
]
