"""The model protocol: what the harness asks of every model, shipped or external.

A model is an object with ``fit(train, val, ctx)`` and ``predict(case, ctx) ->
Prediction`` (the scikit-learn idea for images): its constructor only stores
hyper-parameters, fitted state lives on the instance after ``fit``. The harness builds a
fresh instance per fold, so models never see a test case during ``fit``.

`Case` and `Prediction` live in `mskbench.tasks.case` (task code uses them too) and are
re-exported here: a `Case` holds one ``(channels, *spatial)`` array per input series and
the references of the task's targets; a `Prediction` holds any combination of a label
map, masks and per-target case scores (probability of the positive class, or one
probability per class) — see that module for shapes and conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mskbench.tasks.case import Case, Prediction
from mskbench.tasks.spec import ProfileSpec, TaskSpec

if TYPE_CHECKING:  # the data contract imports pandas, scikit-learn and SimpleITK
    from mskbench.tasks.contract.dataset import Dataset


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch, for progress displays."""

    epoch: int
    max_epochs: int
    train_loss: float
    val_loss: float | None
    best_epoch: int
    images_per_s: float


@dataclass
class FitContext:
    """What a model may use while fitting and predicting.

    ``work_dir`` is private to this (run, fold): checkpoints live there and survive a
    killed run, so ``fit`` can resume. ``on_epoch`` reports progress. ``size`` is the
    network size the profile asks for (``small`` for smoke/quick, ``paper`` for paper).
    ``weights`` is an optional local checkpoint to start from (never downloaded).
    """

    task: TaskSpec
    profile: ProfileSpec
    device: str
    seed: int
    work_dir: Path
    size: str = "small"
    weights: Path | None = None
    max_epochs: int | None = None
    on_epoch: Callable[[EpochReport], None] | None = None

    @property
    def epochs(self) -> int:
        """Epoch budget: the explicit override, else the profile's."""
        return self.max_epochs or self.profile.max_epochs


@dataclass
class FitReport:
    """What the harness records about a fit (None where a model has nothing to say)."""

    epochs: int | None = None
    best_epoch: int | None = None
    train_images_per_s: float | None = None
    peak_memory_mb: float | None = None


class CaseSet(Sequence[Case]):
    """The cases of one split, loaded from disk on access (with labels and maps)."""

    def __init__(self, dataset: Dataset, case_ids: Sequence[str]) -> None:
        self.dataset = dataset
        self.case_ids = list(case_ids)

    def __len__(self) -> int:
        return len(self.case_ids)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return CaseSet(self.dataset, self.case_ids[index])
        return self.dataset.load(self.case_ids[index])

    def __iter__(self) -> Iterator[Case]:
        for case_id in self.case_ids:
            yield self.dataset.load(case_id)


@runtime_checkable
class Model(Protocol):
    """The protocol every model implements."""

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport | None: ...

    def predict(self, case: Case, ctx: FitContext) -> Prediction: ...


def hyperparameters_of(model: Any) -> dict[str, Any]:
    """A model's hyper-parameters: ``get_params()`` if it has one, else its public attributes."""
    if hasattr(model, "get_params"):
        return dict(model.get_params())
    return {k: v for k, v in vars(model).items() if not k.startswith("_") and not k.endswith("_")}
