"""Find models by name (entry-point group ``mskbench.models``) or by ``path/to/file.py:Class``."""

from __future__ import annotations

from pathlib import Path

from mskbench.harness.models.card import ModelCard, card_of
from mskbench.harness.registry import Registry, load_reference

MODELS: Registry[ModelCard] = Registry(
    "model", entry_point_group="mskbench.models", validate=card_of
)


def is_file_reference(name: str) -> bool:
    return ".py:" in name


def get_model_card(name: str) -> ModelCard:
    """The card of a registered model, or of ``path/to/file.py:Class``.

    An unknown name raises `UnknownNameError` listing the known models.
    """
    if is_file_reference(name):
        path, _, attr = name.rpartition(":")
        return card_of(f"{Path(path).stem}:{attr}", load_reference(name))
    return MODELS.get(name)


def model_names() -> list[str]:
    return MODELS.names()
