"""What the pages show of a task, derived from its `TaskSpec` only (labels, maps, metrics,
strata), so a new task appears on the leaderboard without code here."""

from __future__ import annotations

from dataclasses import dataclass

from mskbench.harness.report import SHORT_NAMES, metric_header
from mskbench.harness.store import CASE_LEVEL
from mskbench.tasks.spec import TaskSpec

#: Rates computed across cases, not stored per case.
OUTLIER = "outlier_rate"
ABSENCE = "absence_rate"
VOLUME_DELTA = "volume_delta_cm3"
PROFILE_ORDER = ("smoke", "quick", "paper")
#: `harness.stats` test names as the tables show them.
TEST_NAMES = {
    "welch_t": "Welch t",
    "mann_whitney_u": "Mann–Whitney U",
    "paired_t": "paired t",
    "wilcoxon_signed_rank": "Wilcoxon signed-rank",
    "none": "none (all differences 0)",
}


@dataclass(frozen=True)
class Biomarker:
    """A quantity measured inside a mask: reference, predicted and difference metric names."""

    name: str
    unit: str
    reference: str
    predicted: str
    delta: str


def ordered_metrics(task: TaskSpec) -> list[str]:
    """The task's metrics: the primary first, then its absence and outlier rates (when the
    task reports them), then the others in the task's order."""
    first = [task.primary_metric, *(m for m in (ABSENCE, OUTLIER) if m in task.metrics)]
    return [*first, *(m for m in task.metrics if m not in first)]


def stored_metrics(task: TaskSpec) -> list[str]:
    """Metrics with per-case values (everything but the outlier rate, which is derived)."""
    return [m for m in ordered_metrics(task) if m != OUTLIER]


def value_metrics(task: TaskSpec) -> list[str]:
    """Per-case metrics that have a distribution (no rates)."""
    return [m for m in stored_metrics(task) if m != ABSENCE]


def biomarkers(task: TaskSpec) -> list[Biomarker]:
    """Biomarkers whose error the task reports: each map with ``<map>_delta`` in the metrics,
    and the volume when ``volume_delta_cm3`` is."""
    out = [
        Biomarker(m.name.upper(), m.unit, f"{m.name}_ref", f"{m.name}_pred", f"{m.name}_delta")
        for m in task.maps
        if f"{m.name}_delta" in task.metrics
    ]
    if VOLUME_DELTA in task.metrics:
        out.append(Biomarker("volume", "cm³", "ref_volume_cm3", "pred_volume_cm3", VOLUME_DELTA))
    return out


def name_of_test(test: str) -> str:
    """A statistical test's name for people (the `harness.stats` name when not listed)."""
    return TEST_NAMES.get(test, test)


def structure_label(structure: str) -> str:
    """A structure name for people (image-level rows are the 'whole image')."""
    return "whole image" if structure == CASE_LEVEL else structure


def short_name(metric: str) -> str:
    """``DSC``, ``ΔFF``, ... (the metric name when it has no short form)."""
    return SHORT_NAMES.get(metric, metric)


def compared_header(metric: str, direction: int, task: TaskSpec) -> str:
    """`metric_header`, or for a signed error (direction 0) the header of its size:
    ``|ΔFF| (%) ↓`` (a comparison judges the error's magnitude)."""
    if direction != 0:
        return metric_header(metric, task)
    unit = unit_of(metric, task)
    return f"|{short_name(metric)}|" + (f" ({unit})" if unit and unit != "fraction" else "") + " ↓"


def with_unit(name: str, unit: str) -> str:
    """``name (unit)``; just the name for fractions and unitless values."""
    return name if unit in ("", "fraction") else f"{name} ({unit})"


def unit_of(metric: str, task: TaskSpec) -> str:
    """The unit of ``metric`` in the task's catalogue ('' when not catalogued)."""
    info = task.catalogue.get(metric)
    return info.unit if info else ""


def decimals(metric: str, task: TaskSpec) -> int:
    """3 decimals for fractions, 2 for everything else (as `mskbench.harness.report`)."""
    return 3 if unit_of(metric, task) == "fraction" else 2


def profile_key(profile: str) -> tuple[int, str]:
    """Sort key: smoke, quick, paper, then other profiles (e.g. 'custom') by name."""
    order = PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else len(PROFILE_ORDER)
    return (order, profile)
