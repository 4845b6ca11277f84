"""What a task asks a model to predict: its typed **targets** and input **series**.

A `TaskSpec` declares a tuple of targets, each of one kind:

- `SegmentationTarget` — the reference label map (``labelsTr/<case>``) on the grid of one
  input series; at most one per task.
- `MaskTarget` — an extra binary reference mask on the label grid
  (``masks/<case>_<name>``), e.g. seed 002's intramuscular fat, scored inside the
  reference structures it names.
- `ClassificationTarget` — a case-level class read from a ``cases.csv`` column: ``binary``
  (scored from the probability of the positive class), ``ordinal`` (ordered grades) or
  ``multiclass`` (scored from per-class probabilities). A binary *view* of an ordinal grade
  names which grades are positive, negative and excluded (seed 000: risky = Goutallier
  3–4, not risky = 0–1, grade 2 left out of the binary metrics).

`SeriesSpec` groups input channels that share one grid. A task with several series (MRNet's
sagittal, coronal and axial stacks) has one grid per series; channel files are numbered
over all series in declaration order (``_0000``, ``_0001``, ...), as nnU-Net numbers its
channels.

Pure Python: specs are validated at import, before numpy is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ClassKind = Literal["binary", "ordinal", "multiclass"]
CLASS_KINDS: tuple[ClassKind, ...] = ("binary", "ordinal", "multiclass")
#: How a classification target's summary forms its 95 % CIs: ``folds`` a t interval over
#: the CV folds' values (seed 000), ``bootstrap`` BCa over cases (seed 004), ``wald`` normal
#: approximations (to reproduce a paper that printed Wald intervals, seed 004's Table 4).
CiMethod = Literal["bootstrap", "folds", "wald"]
CI_METHODS: tuple[CiMethod, ...] = ("bootstrap", "folds", "wald")


class TaskSpecError(ValueError):
    """Task metadata (a spec, a target, a series) that breaks a rule; raised at construction."""


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``mapping``."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class SeriesSpec:
    """An input series (a view): ``channels`` that share one grid, in array-axis order.

    ``spatial_dims``: 2 for slices ``(y, x)``, 3 for volumes ``(z, y, x)``.
    """

    name: str
    channels: tuple[str, ...]
    spatial_dims: Literal[2, 3]
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not _NAME.match(self.name):
            raise TaskSpecError(f"series name {self.name!r} must be lower_snake_case")
        if not self.channels:
            raise TaskSpecError(f"series {self.name!r}: at least one channel is required")
        if self.spatial_dims not in (2, 3):
            raise TaskSpecError(f"series {self.name!r}: spatial_dims must be 2 or 3")


@dataclass(frozen=True)
class SegmentationTarget:
    """The reference label map: ``labels`` maps structure names to values 0..K
    (``background`` = 0); ``required`` structures must be present in every reference (None:
    all); ``series`` names the input series whose grid the label map shares (None: the first).
    """

    labels: Mapping[str, int]
    required: tuple[str, ...] | None = None
    series: str | None = None
    name: str = "label"
    kind = "segmentation"

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozen(self.labels))
        if self.labels.get("background") != 0:
            raise TaskSpecError("labels must map 'background' to 0")
        values = sorted(self.labels.values())
        if values != list(range(len(values))):
            raise TaskSpecError(f"label values must be 0..K without gaps, got {values}")
        for label in self.labels:
            if not _LABEL.match(label):
                raise TaskSpecError(f"label name {label!r} is not an identifier")
        if self.required is None:
            object.__setattr__(self, "required", self.structure_names)
        unknown = sorted(set(self.required or ()) - set(self.structure_names))
        if unknown:
            raise TaskSpecError(f"required labels {unknown} are not in the label map")

    @property
    def structure_names(self) -> tuple[str, ...]:
        """Foreground label names in label-value order."""
        ordered = sorted(self.labels.items(), key=lambda kv: kv[1])
        return tuple(name for name, value in ordered if value != 0)


@dataclass(frozen=True)
class MaskTarget:
    """An extra binary reference target on the label grid (``masks/<case>_<name>``).

    Values are 0/1. ``within`` names the structures whose union (in the reference label
    map) is where the mask is annotated and scored — seed 002's raters marked fat only
    inside muscles; empty means the whole image. Pixel scores of a predicted mask are
    stored with the mask's name as the structure.
    """

    name: str
    description: str
    within: tuple[str, ...] = ()
    kind = "mask"

    def __post_init__(self) -> None:
        object.__setattr__(self, "within", tuple(self.within))
        if not _NAME.match(self.name):
            raise TaskSpecError(f"mask name {self.name!r} must be lower_snake_case")


@dataclass(frozen=True)
class ClassificationTarget:
    """A case-level class read from the ``cases.csv`` column ``column``.

    ``classes``: the values the column may hold, as written in the file (text, e.g.
    ``"0"``..``"4"``); for an ordinal target in ascending order. A ``binary`` target also
    names its ``positive`` and ``negative`` classes and the ``excluded`` ones (cases of an
    excluded class are left out of its binary metrics but kept in per-class reports).
    ``allow_missing``: an empty cell is allowed (that case is then not scored on the
    target). ``threshold``: a binary case is called positive when P(positive) ≥ it.
    ``ci``: how the summary forms its 95 % CIs (`CI_METHODS`). ``derived_from``: for a
    binary view of an ordinal or multiclass target of the same column, that target's
    name — a model that predicts its class probabilities gets this view's score without
    predicting it: P(positive classes) / P(positive or negative classes).

    Predictions: a binary target takes the probability of the positive class; ordinal and
    multiclass targets take one probability per class (summing to 1).
    """

    name: str
    column: str
    kind: ClassKind
    classes: tuple[str, ...]
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    description: str = ""
    allow_missing: bool = False
    threshold: float = 0.5
    ci: CiMethod = "bootstrap"
    derived_from: str | None = None

    def __post_init__(self) -> None:
        for name in ("classes", "positive", "negative", "excluded"):
            object.__setattr__(self, name, tuple(str(c) for c in getattr(self, name)))
        where = f"classification target {self.name!r}"
        if not _NAME.match(self.name):
            raise TaskSpecError(f"{where}: name must be lower_snake_case")
        if not _COLUMN.match(self.column):
            raise TaskSpecError(f"{where}: column {self.column!r} is not a plain column name")
        if self.kind not in CLASS_KINDS:
            raise TaskSpecError(f"{where}: kind {self.kind!r} is not one of {CLASS_KINDS}")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise TaskSpecError(f"{where}: needs at least two distinct classes, got {self.classes}")
        if any(not c.strip() or c != c.strip() for c in self.classes):
            raise TaskSpecError(f"{where}: class names must be non-empty and unpadded")
        if self.ci not in CI_METHODS:
            raise TaskSpecError(f"{where}: ci {self.ci!r} is not one of {CI_METHODS}")
        if not 0.0 < self.threshold < 1.0:
            raise TaskSpecError(f"{where}: threshold must be in (0, 1), got {self.threshold}")
        self._check_binary_view(where)

    def _check_binary_view(self, where: str) -> None:
        named = (*self.positive, *self.negative, *self.excluded)
        if self.kind != "binary":
            if named:
                raise TaskSpecError(
                    f"{where}: only a binary target names positive/negative classes"
                )
            return
        if not self.positive or not self.negative:
            raise TaskSpecError(f"{where}: a binary target names its positive and negative classes")
        if len(set(named)) != len(named) or set(named) != set(self.classes):
            raise TaskSpecError(
                f"{where}: positive {self.positive}, negative {self.negative} and excluded "
                f"{self.excluded} must split the classes {self.classes} without overlap"
            )

    @property
    def score_classes(self) -> tuple[str, ...]:
        """The classes a prediction gives probabilities for: the positive view's single
        score (named ``positive``) for binary targets, every class otherwise."""
        return ("positive",) if self.kind == "binary" else self.classes

    def derive(self, probabilities: dict[str, float]) -> float:
        """This binary view's score from its source target's class probabilities (see
        ``derived_from``); 0.5 when neither side has any probability."""
        positive = sum(probabilities[c] for c in self.positive)
        negative = sum(probabilities[c] for c in self.negative)
        return positive / (positive + negative) if positive + negative > 0 else 0.5

    def outcome(self, value: str | None) -> int | None:
        """The reference of a case as the metrics use it: for a binary target 1 (positive),
        0 (negative) or None (excluded or missing); otherwise the class index (None if
        missing)."""
        if value is None or value == "":
            return None
        if self.kind == "binary":
            if value in self.positive:
                return 1
            return 0 if value in self.negative else None
        return self.classes.index(value)


def binary_target(
    name: str, column: str | None = None, positive: str = "1", negative: str = "0", **kw: Any
) -> ClassificationTarget:
    """A plain 0/1 target read from ``column`` (default: ``name``)."""
    return ClassificationTarget(
        name=name,
        column=column or name,
        kind="binary",
        classes=(negative, positive),
        positive=(positive,),
        negative=(negative,),
        **kw,
    )


Target = SegmentationTarget | MaskTarget | ClassificationTarget
