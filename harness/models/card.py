"""Model cards: what `bench list models` shows without importing a model's code (or torch).

An entry of the ``mskbench.models`` entry-point group (or ``--model path.py:Class``)
resolves either to a `ModelCard` — light metadata whose ``implementation`` is imported
only when the model is built — or directly to a model class, whose card is read from its
class attributes (``tasks``, ``description``, ``hyperparameters``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mskbench.harness.registry import load_reference

if TYPE_CHECKING:
    from mskbench.tasks.spec import TaskSpec

#: ``tasks`` value meaning "every task with a segmentation label map" (of the card's
#: ``spatial_dims``).
ANY_SEGMENTATION_TASK = "*"


@dataclass(frozen=True)
class ModelCard:
    """Light description of a model.

    ``implementation``: a model class or a lazy ``"module:Class"`` reference.
    ``hyperparameters``: the constructor's keyword arguments (shown by
    ``bench list models --verbose`` and stored with every run). ``details``: anything else
    worth showing there (e.g. the network's sizes per profile). ``spatial_dims``: the
    dimensionalities of the tasks ``"*"`` admits (a 3D network cannot run on slices).
    """

    name: str
    implementation: Any
    description: str = ""
    tasks: tuple[str, ...] = (ANY_SEGMENTATION_TASK,)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    citation: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    spatial_dims: tuple[int, ...] = (2, 3)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        object.__setattr__(self, "tasks", tuple(self.tasks))

    def supports(self, task: TaskSpec) -> bool:
        """Whether the model runs on ``task``: named in ``tasks``, or ``"*"`` and the task
        has a label map of one of the card's ``spatial_dims``."""
        if task.name in self.tasks:
            return True
        return (
            ANY_SEGMENTATION_TASK in self.tasks
            and task.segmentation is not None
            and task.spatial_dims in self.spatial_dims
        )

    def describe_tasks(self) -> str:
        """The tasks the model runs on, in words (``bench list models``)."""
        named = [t for t in self.tasks if t != ANY_SEGMENTATION_TASK]
        if ANY_SEGMENTATION_TASK in self.tasks:
            dims = "/".join(f"{d}D" for d in self.spatial_dims)
            named.insert(0, f"any {dims} segmentation task")
        return ", ".join(named)

    def model_class(self) -> type:
        cls = (
            load_reference(self.implementation)
            if isinstance(self.implementation, str)
            else self.implementation
        )
        if not inspect.isclass(cls):
            raise TypeError(
                f"model {self.name!r}: implementation {self.implementation!r} is not a class"
            )
        for method in ("fit", "predict"):
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"model {self.name!r}: {cls.__name__} has no {method}() method")
        return cls

    def create(self, **overrides: Any) -> Any:
        """A fresh, unfitted model with the card's hyper-parameters (plus ``overrides``)."""
        return self.model_class()(**{**self.hyperparameters, **overrides})


def card_of(name: str, obj: Any) -> ModelCard:
    """Turn a registry entry (card or class) into a `ModelCard`; anything else is refused."""
    if isinstance(obj, ModelCard):
        if obj.name != name:
            raise TypeError(f"model registered as {name!r} carries a card named {obj.name!r}")
        return obj
    if inspect.isclass(obj):
        doc = inspect.getdoc(obj) or ""
        return ModelCard(
            name=name,
            implementation=obj,
            description=getattr(obj, "description", doc.splitlines()[0] if doc else ""),
            tasks=tuple(getattr(obj, "tasks", (ANY_SEGMENTATION_TASK,))),
            hyperparameters=dict(getattr(obj, "hyperparameters", {})),
            spatial_dims=tuple(getattr(obj, "spatial_dims", (2, 3))),
        )
    raise TypeError(
        f"model {name!r} resolves to {type(obj).__name__}: expected a ModelCard or a model class"
    )
