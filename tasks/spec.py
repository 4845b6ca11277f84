"""`TaskSpec`: the frozen, validated description of one benchmark task.

A task is data, not code: the study it comes from, its inputs and label map, the
quantitative maps it carries, how its splits are made, which metrics it reports and
which one ranks models, how results are stratified, the numbers the paper published,
the phantom that is its default data, and the profiles (smoke / quick / paper).
Invalid metadata fails when the spec is constructed (at import), not at the end of a run.

Beyond the label map a task may declare extra binary reference targets (`MaskSpec`, e.g.
seed 002's intramuscular fat mask), a per-case evaluator that adds task-specific metric
rows to the generic ones, and a helper that lays its stored results out as the paper's
tables. Both are lazy ``"module:function"`` references, so listing tasks stays cheap.

Conventions: arrays are in array-axis order ``(z, y, x)`` for volumes and ``(y, x)`` for
slices; spacing is in mm in the same order; map units are stated on each `MapSpec`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from mskbench.harness.metrics.catalog import METRICS

PROFILES = ("smoke", "quick", "paper")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class TaskSpecError(ValueError):
    """Task metadata that breaks a rule; raised at construction."""


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``mapping``."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Citation:
    """The study a task reproduces (one of ``shared/seeds``)."""

    authors: str
    title: str
    journal: str
    year: int
    doi: str
    seed_file: str

    def label(self) -> str:
        """``"Hostin 2023 (seed 003)"``."""
        surname = self.authors.split(",")[0].split()[0]
        return f"{surname} {self.year} (seed {self.seed_file[:3]})"

    def short(self) -> str:
        first = self.authors.split(",")[0].strip()
        return f"{first} et al. {self.year}, {self.journal}, doi:{self.doi}"


@dataclass(frozen=True)
class MapSpec:
    """A quantitative map on the label grid (``maps/<case>_<name>.nii.gz``)."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class MaskSpec:
    """An extra binary reference target on the label grid (``masks/<case>_<name>.nii.gz``).

    Values are 0/1. ``within`` names the structures whose union (in the reference label
    map) is where the mask is annotated and scored — seed 002's raters marked fat only
    inside muscles; empty means the whole image. Pixel scores of a predicted mask are
    stored with the mask's name as the structure.
    """

    name: str
    description: str
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class SplitProtocol:
    """How frozen splits are made.

    ``kfold``: ``n_folds`` folds of subjects; each fold's test set is one group.
    ``holdout``: one train/test split with ``test_fraction`` of subjects held out.
    In both, cases from ``external_site`` are never in a fold: they form the external
    test set. ``val_fraction`` of the training subjects is held out for early stopping.
    """

    kind: Literal["kfold", "holdout"]
    description: str
    n_folds: int = 1
    test_fraction: float = 0.0
    group_by: str = "subject_id"
    stratify_by: str | None = None
    val_fraction: float = 0.1
    external_site: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "kfold" and self.n_folds < 2:
            raise TaskSpecError(f"kfold split needs n_folds >= 2, got {self.n_folds}")
        if self.kind == "holdout" and not 0.0 < self.test_fraction < 1.0:
            raise TaskSpecError(
                f"holdout split needs 0 < test_fraction < 1, got {self.test_fraction}"
            )
        if not 0.0 <= self.val_fraction < 0.5:
            raise TaskSpecError(f"val_fraction must be in [0, 0.5), got {self.val_fraction}")


@dataclass(frozen=True)
class Stratum:
    """A per-structure stratification, e.g. G20: reference FF < 20 % vs ≥ 20 %."""

    name: str
    attribute: str
    threshold: float
    unit: str
    below: str
    at_or_above: str

    def group(self, value: float) -> str:
        return self.at_or_above if value >= self.threshold else self.below


@dataclass(frozen=True)
class PublishedValue:
    """One number from the paper, kept beside ours and marked as other data.

    ``value`` and ``sd`` are in the metric's catalogue unit (rates in %). ``group`` is a
    stratum label (``G20+``), a split (``test`` = the paper's internal test set,
    ``external``) or a cohort name (``thigh``); ``structure`` is ``all`` or the structure it
    belongs to (a label, or a left/right pair pooled: ``PM``); ``subset`` restricts it to
    cases with the given cases.csv values, e.g. ``(("level", "L2/L3"),)``.
    """

    source: str
    model: str
    metric: str
    value: float
    sd: float | None = None
    group: str = "all"
    structure: str = "all"
    p_value: float | None = None
    note: str = "published, other data"
    subset: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProfileSpec:
    """Sizes of one profile: phantom parameters and the training budget.

    ``phantom`` holds keyword arguments of the task's phantom generator (grid, spacing,
    number of subjects, ...). ``folds`` is the subset of folds run by default (None: all).
    """

    name: str
    description: str
    phantom: Mapping[str, Any] = field(default_factory=frozen)
    folds: tuple[int, ...] | None = None
    max_epochs: int = 100
    patience: int = 10

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise TaskSpecError(f"profile {self.name!r} is not one of {PROFILES}")
        object.__setattr__(self, "phantom", frozen(self.phantom))
        if self.max_epochs < 1 or self.patience < 1:
            raise TaskSpecError(f"profile {self.name}: max_epochs and patience must be >= 1")


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark task. See the module docstring for conventions.

    ``masks``: extra binary reference targets (`MaskSpec`). ``evaluator``: optional
    ``"module:function"``, called as ``evaluator(task, case, prediction)`` for every scored
    case, returning extra long rows ``structure, metric, value`` (a DataFrame) that
    `harness.evaluation` adds to the generic ones. ``tables``: optional
    ``"module:function"``, called as ``tables(store, task, profile, split)``, returning the
    paper's tables from stored results (``{title: DataFrame}``).
    """

    name: str
    version: int
    title: str
    citation: Citation
    anatomy: str
    protocol: str
    channels: tuple[str, ...]
    spatial_dims: Literal[2, 3]
    labels: Mapping[str, int]
    split: SplitProtocol
    metrics: tuple[str, ...]
    primary_metric: str
    phantom: str
    profiles: Mapping[str, ProfileSpec]
    maps: tuple[MapSpec, ...] = ()
    required_labels: tuple[str, ...] | None = None
    case_columns: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    strata: tuple[Stratum, ...] = ()
    published: tuple[PublishedValue, ...] = ()
    nsd_tolerance_mm: float = 2.0
    masks: tuple[MaskSpec, ...] = ()
    evaluator: str | None = None
    tables: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozen(self.labels))
        object.__setattr__(self, "profiles", frozen(self.profiles))
        if self.required_labels is None:
            object.__setattr__(self, "required_labels", self.structure_names)
        self._validate()

    # -- derived views -------------------------------------------------------------
    @property
    def structure_names(self) -> tuple[str, ...]:
        """Foreground label names in label-value order."""
        return tuple(n for n, v in sorted(self.labels.items(), key=lambda kv: kv[1]) if v != 0)

    @property
    def label_values(self) -> dict[int, str]:
        return {v: n for n, v in self.labels.items()}

    @property
    def map_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.maps)

    @property
    def mask_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.masks)

    @property
    def higher_is_better(self) -> bool:
        """Direction of the primary metric."""
        return bool(METRICS[self.primary_metric].higher_is_better)

    def profile(self, name: str) -> ProfileSpec:
        if name not in self.profiles:
            raise KeyError(
                f"task {self.name} has no profile {name!r}; known: {', '.join(self.profiles)}"
            )
        return self.profiles[name]

    # -- validation ----------------------------------------------------------------
    def _validate(self) -> None:
        where = f"task {self.name!r}"
        if not _NAME.match(self.name):
            raise TaskSpecError(f"{where}: name must be lower_snake_case")
        if self.version < 1:
            raise TaskSpecError(f"{where}: version must be >= 1")
        if not self.channels:
            raise TaskSpecError(f"{where}: at least one input channel is required")
        if self.labels.get("background") != 0:
            raise TaskSpecError(f"{where}: labels must map 'background' to 0")
        values = sorted(self.labels.values())
        if values != list(range(len(values))):
            raise TaskSpecError(f"{where}: label values must be 0..K without gaps, got {values}")
        for label in self.labels:
            if not _LABEL.match(label):
                raise TaskSpecError(f"{where}: label name {label!r} is not an identifier")
        unknown = set(self.required_labels or ()) - set(self.structure_names)
        if unknown:
            raise TaskSpecError(
                f"{where}: required labels {sorted(unknown)} are not in the label map"
            )
        for metric in self.metrics:
            if metric not in METRICS:
                raise TaskSpecError(f"{where}: metric {metric!r} is not in the metric catalogue")
        if self.primary_metric not in self.metrics:
            raise TaskSpecError(
                f"{where}: primary metric {self.primary_metric!r} is not in metrics"
            )
        if METRICS[self.primary_metric].higher_is_better is None:
            raise TaskSpecError(f"{where}: primary metric must have a direction")
        if ":" not in self.phantom:
            raise TaskSpecError(f"{where}: phantom must be a 'module:function' reference")
        missing = set(PROFILES) - set(self.profiles)
        if missing:
            raise TaskSpecError(f"{where}: profiles {sorted(missing)} are missing")
        for key, prof in self.profiles.items():
            if key != prof.name:
                raise TaskSpecError(f"{where}: profile key {key!r} holds profile {prof.name!r}")
            if self.split.kind == "kfold" and prof.folds is not None:
                bad = [f for f in prof.folds if not 0 <= f < self.split.n_folds]
                if bad:
                    raise TaskSpecError(
                        f"{where}: profile {key} names folds {bad} "
                        f"outside 0..{self.split.n_folds - 1}"
                    )
        map_names = [m.name for m in self.maps]
        if len(set(map_names)) != len(map_names):
            raise TaskSpecError(f"{where}: duplicate map names {map_names}")
        self._validate_masks(where)
        for ref in (self.evaluator, self.tables):
            if ref is not None and ":" not in ref:
                raise TaskSpecError(f"{where}: {ref!r} must be a 'module:function' reference")
        for stratum in self.strata:
            # per-structure map means are the metrics engine's ``<map>_ref`` columns; a task
            # evaluator may add other ``<quantity>_ref`` rows (seed 002's ``fi_ref``)
            if (
                stratum.attribute.endswith("_ref")
                and stratum.attribute[:-4] not in map_names
                and self.evaluator is None
            ):
                raise TaskSpecError(
                    f"{where}: stratum {stratum.name} uses map "
                    f"{stratum.attribute[:-4]!r} the task lacks"
                )
        for pv in self.published:
            if pv.metric not in METRICS:
                raise TaskSpecError(f"{where}: published value for unknown metric {pv.metric!r}")
        if self.nsd_tolerance_mm <= 0:
            raise TaskSpecError(f"{where}: nsd_tolerance_mm must be > 0")

    def _validate_masks(self, where: str) -> None:
        names = [m.name for m in self.masks]
        if len(set(names)) != len(names):
            raise TaskSpecError(f"{where}: duplicate mask names {names}")
        for mask in self.masks:
            if not _NAME.match(mask.name):
                raise TaskSpecError(f"{where}: mask name {mask.name!r} must be lower_snake_case")
            if mask.name in self.labels:
                raise TaskSpecError(f"{where}: mask name {mask.name!r} is also a label name")
            unknown = sorted(set(mask.within) - set(self.structure_names))
            if unknown:
                raise TaskSpecError(
                    f"{where}: mask {mask.name!r} is scored within {unknown}, not in the label map"
                )
