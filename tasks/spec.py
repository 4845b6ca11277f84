"""`TaskSpec`: the frozen, validated description of one benchmark task.

A task is data, not code: the study it comes from, its input series, its typed targets
(label map, extra masks, case-level classes: `mskbench.tasks.targets`), the quantitative
maps it carries, how its splits are made, which metrics it reports and which one ranks
models, how results are stratified and how outliers are fenced, the numbers the paper
published, the phantom that is its default data, and the profiles (smoke / quick / paper).
Invalid metadata fails when the spec is constructed (at import), not at the end of a run.

A task may also declare metric names of its own (``task_metrics``), a per-case evaluator
that adds task-specific metric rows to the generic ones, and a helper that lays the
results the harness selected out as the paper's tables. Both are lazy
``"module:function"`` references, so listing tasks stays cheap. How to add a task:
``docs/adding-a-task.md``.

Conventions: arrays are in array-axis order ``(z, y, x)`` for volumes and ``(y, x)`` for
slices; spacing is in mm in the same order; map units are stated on each `MapSpec`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mskbench.harness.metrics.catalog import METRICS, MetricInfo, map_metrics
from mskbench.tasks.targets import (
    ClassificationTarget,
    MaskTarget,
    SegmentationTarget,
    SeriesSpec,
    Target,
    TaskSpecError,
    frozen,
)

PROFILES = ("smoke", "quick", "paper")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Citation:
    """The study a task reproduces; ``seed_file`` names the paper's text it was built from."""

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
    """A quantitative map on the label grid (``maps/<case>_<name>.nii.gz``). A map that is
    not ``required`` may be missing from a dataset (the phantom knows the fat fraction,
    real data may lack it): its metrics are then absent, never made up."""

    name: str
    unit: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class SplitProtocol:
    """How frozen splits are made.

    ``kfold``: ``n_folds`` folds of subjects; each fold's test set is one group.
    ``holdout``: one train/test split with ``test_fraction`` of subjects held out.
    ``predefined``: the dataset's own train/test split (MRNet's ``train``/``valid``), read
    from its layout as one fold 0, never made by `bench data split`.
    In all, cases from ``external_site`` are never in a fold: they form the external
    test set. ``val_fraction`` of the training subjects is held out for early stopping.
    """

    kind: Literal["kfold", "holdout", "predefined"]
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
    cases with the given cases.csv values, e.g. ``(("level", "L2/L3"),)``. A case-level
    classification number names its ``target`` and may carry the paper's 95 % CI
    (``ci_low``, ``ci_high``) and the number of cases ``n``.
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
    target: str | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None


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
class OutlierFence:
    """Which values form the Tukey fence of a metric's outlier rate.

    ``per_model``: each run's own values (seed 003's definition: its OR column is each
    network's share of DSC values below Q1 − 1.5·IQR of that network). ``pooled``: the
    values of all compared runs of a profile (moves whenever a run is added).
    ``reference``: the values of the runs of ``reference_models`` (e.g. the task's shipped
    baselines), a fixed yardstick. ``k`` is the IQR multiple.
    """

    population: Literal["per_model", "pooled", "reference"] = "per_model"
    reference_models: tuple[str, ...] = ()
    k: float = 1.5

    def __post_init__(self) -> None:
        if self.population not in ("per_model", "pooled", "reference"):
            raise TaskSpecError(f"outlier fence population {self.population!r} is unknown")
        if (self.population == "reference") != bool(self.reference_models):
            raise TaskSpecError("a 'reference' outlier fence (and only it) names reference_models")
        if self.k <= 0:
            raise TaskSpecError(f"outlier fence k must be > 0, got {self.k}")

    def describe(self) -> str:
        """The fence in words, as tables print it under an outlier rate."""
        rule = f"Tukey fence Q1 − {self.k:g}·IQR / Q3 + {self.k:g}·IQR"
        if self.population == "per_model":
            return f"{rule} of each model's own values"
        if self.population == "pooled":
            return f"{rule} of the values of all compared models of the profile"
        return f"{rule} of the values of the reference models {', '.join(self.reference_models)}"


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark task. See the module docstring for conventions.

    ``series``: the input series (views), each with its channels and grid. ``targets``: what
    a model predicts (`SegmentationTarget`, `MaskTarget`, `ClassificationTarget`).
    ``task_metrics``: metric names the task's evaluator writes, beyond the harness's
    catalogue and the ``<map>_ref/_pred/_delta`` of each `MapSpec`. ``outlier_fence``: the
    population of every outlier rate's Tukey fence. ``summary_ci``: how `bench results`
    forms the 95 % CI of a per-case metric's mean — BCa bootstrap over the values, or the t
    interval over the fold means where the paper did that (seed 000). ``evaluator``: optional
    ``"module:function"``, called as ``evaluator(task, case, prediction)`` for every scored
    case, returning extra long rows ``structure, metric, value`` (a DataFrame) that
    `mskbench.harness.evaluation` adds to the generic ones. ``tables``: optional
    ``"module:function"``, called as ``tables(task, results)`` with the
    `mskbench.tasks.results.StoredResults` the harness selected, returning the paper's
    tables (``{title: DataFrame}``). ``data_layout``: the on-disk layout its phantom writes
    and a dataset folder without dataset.json is read in — ``contract`` (the mskbench
    layout) or ``mrnet`` (the public MRNet-v1.0 folders as they are,
    `mskbench.tasks.contract.mrnet`).
    """

    name: str
    version: int
    title: str
    citation: Citation
    anatomy: str
    protocol: str
    series: tuple[SeriesSpec, ...]
    targets: tuple[Target, ...]
    split: SplitProtocol
    metrics: tuple[str, ...]
    primary_metric: str
    phantom: str
    profiles: Mapping[str, ProfileSpec]
    maps: tuple[MapSpec, ...] = ()
    case_columns: tuple[str, ...] = ()
    strata: tuple[Stratum, ...] = ()
    published: tuple[PublishedValue, ...] = ()
    nsd_tolerance_mm: float = 2.0
    task_metrics: tuple[MetricInfo, ...] = ()
    outlier_fence: OutlierFence = field(default_factory=OutlierFence)
    summary_ci: Literal["bootstrap", "folds"] = "bootstrap"
    evaluator: str | None = None
    tables: str | None = None
    data_layout: Literal["contract", "mrnet"] = "contract"

    def __post_init__(self) -> None:
        object.__setattr__(self, "profiles", frozen(self.profiles))
        for name in ("series", "targets", "maps", "case_columns", "strata", "published"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self._validate()

    # -- targets and series ----------------------------------------------------------
    @property
    def segmentation(self) -> SegmentationTarget | None:
        """The label-map target, or None for a task without one."""
        return next((t for t in self.targets if isinstance(t, SegmentationTarget)), None)

    @property
    def masks(self) -> tuple[MaskTarget, ...]:
        return tuple(t for t in self.targets if isinstance(t, MaskTarget))

    @property
    def classification(self) -> tuple[ClassificationTarget, ...]:
        return tuple(t for t in self.targets if isinstance(t, ClassificationTarget))

    def target(self, name: str) -> Target:
        """The target called ``name``; the error lists the task's targets."""
        for target in self.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.targets)
        raise KeyError(f"task {self.name} has no target {name!r}; its targets: {known}")

    @property
    def labels(self) -> Mapping[str, int]:
        """The label map (empty for a task without a segmentation target)."""
        return self.segmentation.labels if self.segmentation else frozen()

    @property
    def structure_names(self) -> tuple[str, ...]:
        """Foreground label names in label-value order."""
        return self.segmentation.structure_names if self.segmentation else ()

    @property
    def required_labels(self) -> tuple[str, ...]:
        return tuple(self.segmentation.required or ()) if self.segmentation else ()

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
    def channels(self) -> tuple[str, ...]:
        """Every input channel, numbered over the series in order (file ``_0000`` first)."""
        return tuple(c for s in self.series for c in s.channels)

    @property
    def primary_series(self) -> SeriesSpec:
        """The series the label map, maps and masks lie on (the first when no label map)."""
        wanted = self.segmentation.series if self.segmentation else None
        return next((s for s in self.series if s.name == wanted), self.series[0])

    @property
    def spatial_dims(self) -> int:
        """Axes of the primary series (2 for slices, 3 for volumes)."""
        return self.primary_series.spatial_dims

    def channels_of(self, series: str) -> tuple[int, ...]:
        """Global channel numbers (file suffixes) of ``series``."""
        numbers, start = {}, 0
        for s in self.series:
            numbers[s.name] = tuple(range(start, start + len(s.channels)))
            start += len(s.channels)
        return numbers[series]

    @property
    def target_columns(self) -> tuple[str, ...]:
        """cases.csv columns the classification targets read (each once, in order)."""
        return tuple(dict.fromkeys(t.column for t in self.classification))

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Task columns cases.csv must have beyond case_id, subject_id and site."""
        return tuple(dict.fromkeys((*self.case_columns, *self.target_columns)))

    # -- metrics -------------------------------------------------------------------
    @property
    def catalogue(self) -> Mapping[str, MetricInfo]:
        """Every metric name this task's results may hold: the harness's catalogue, the
        ``<map>_ref/_pred/_delta`` of each map, and the task's own ``task_metrics``."""
        own = [m for spec in self.maps for m in map_metrics(spec.name, spec.unit)]
        return frozen({**METRICS, **{m.name: m for m in (*own, *self.task_metrics)}})

    def metric(self, name: str) -> MetricInfo:
        """What metric ``name`` means for this task; the error lists the known names."""
        try:
            return self.catalogue[name]
        except KeyError:
            raise KeyError(
                f"task {self.name} knows no metric {name!r}; known: {', '.join(sorted(self.catalogue))}"
            ) from None

    @property
    def higher_is_better(self) -> bool:
        """Direction of the primary metric."""
        return bool(self.metric(self.primary_metric).higher_is_better)

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
        self._validate_series(where)
        self._validate_targets(where)
        if self.split.kind == "predefined" and self.data_layout == "contract":
            raise TaskSpecError(
                f"{where}: a predefined split is read from a layout that holds one "
                "(data_layout 'mrnet'); the contract layout's splits are made by bench data split"
            )
        catalogue = self.catalogue
        clash = sorted({m.name for m in self.task_metrics} & set(METRICS))
        if clash:
            raise TaskSpecError(f"{where}: task metrics {clash} are already in the catalogue")
        for metric in self.metrics:
            if metric not in catalogue:
                raise TaskSpecError(f"{where}: metric {metric!r} is not in the metric catalogue")
        if self.primary_metric not in self.metrics:
            raise TaskSpecError(
                f"{where}: primary metric {self.primary_metric!r} is not in metrics"
            )
        if catalogue[self.primary_metric].higher_is_better is None:
            raise TaskSpecError(f"{where}: primary metric must have a direction")
        if ":" not in self.phantom:
            raise TaskSpecError(f"{where}: phantom must be a 'module:function' reference")
        self._validate_profiles(where)
        map_names = [m.name for m in self.maps]
        if len(set(map_names)) != len(map_names):
            raise TaskSpecError(f"{where}: duplicate map names {map_names}")
        if self.maps and self.segmentation is None:
            raise TaskSpecError(f"{where}: maps lie on the label grid; the task has no label map")
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
            if pv.metric not in catalogue:
                raise TaskSpecError(f"{where}: published value for unknown metric {pv.metric!r}")
            if pv.target is not None and pv.target not in {t.name for t in self.classification}:
                raise TaskSpecError(f"{where}: published value for unknown target {pv.target!r}")
        if self.nsd_tolerance_mm <= 0:
            raise TaskSpecError(f"{where}: nsd_tolerance_mm must be > 0")
        if self.summary_ci not in ("bootstrap", "folds"):
            raise TaskSpecError(f"{where}: summary_ci must be 'bootstrap' or 'folds'")

    def _validate_series(self, where: str) -> None:
        if not self.series:
            raise TaskSpecError(f"{where}: at least one input series is required")
        names = [s.name for s in self.series]
        if len(set(names)) != len(names):
            raise TaskSpecError(f"{where}: duplicate series names {names}")

    def _validate_profiles(self, where: str) -> None:
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

    def _validate_targets(self, where: str) -> None:
        if not self.targets:
            raise TaskSpecError(f"{where}: at least one target is required")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise TaskSpecError(f"{where}: duplicate target names {names}")
        if sum(isinstance(t, SegmentationTarget) for t in self.targets) > 1:
            raise TaskSpecError(f"{where}: at most one segmentation target")
        wanted = self.segmentation.series if self.segmentation else None
        if wanted is not None and wanted not in {s.name for s in self.series}:
            raise TaskSpecError(f"{where}: the label map's series {wanted!r} is not declared")
        for mask in self.masks:
            if mask.name in self.labels:
                raise TaskSpecError(f"{where}: mask name {mask.name!r} is also a label name")
            unknown = sorted(set(mask.within) - set(self.structure_names))
            if unknown:
                raise TaskSpecError(
                    f"{where}: mask {mask.name!r} is scored within {unknown}, not in the label map"
                )
        reserved = {"case_id", "subject_id", "site"}
        by_name = {t.name: t for t in self.classification}
        for target in self.classification:
            if target.column in reserved:
                raise TaskSpecError(
                    f"{where}: target {target.name!r} reads reserved column {target.column!r}"
                )
            if target.derived_from is not None:
                source = by_name.get(target.derived_from)
                if source is None or source.kind == "binary":
                    raise TaskSpecError(
                        f"{where}: target {target.name!r} is derived from {target.derived_from!r}, "
                        "which is not an ordinal or multiclass target of the task"
                    )
                if (source.column, source.classes) != (target.column, target.classes):
                    raise TaskSpecError(
                        f"{where}: target {target.name!r} must read {source.name}'s column and "
                        "classes to be derived from it"
                    )
