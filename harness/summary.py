"""Per-model summaries of a task's stored results: what ``bench results`` prints and the
leaderboard reuses. Numbers come from the metrics engine (`harness.metrics`,
`harness.stats`); this module only chooses the rows and arranges the output.

Runs compared (`select_runs`): finished runs of the task's current version. Per profile, the
most recently finished run fixes the data and split fingerprints; runs with other
fingerprints are excluded and listed with the reason, as are failed and running runs (a
failed run's finished folds are not summarised: rerunning resumes it). Per (model,
profile) the latest finished run remains; older runs of that model are listed as
superseded by it.

Rows summarised: the ``split`` rows (``test`` by default; ``external`` pools every fold's
predictions of the external site) of each selected run, one value per (fold, case,
structure), aggregated by the one engine the leaderboard also uses
(`mskbench.harness.aggregation`: worst-case distances, strata, outlier fences). This module
adds what needs every value: the 95 % CI (BCa bootstrap over the values with a fixed
seed, or ``ci="folds"``: t over the fold means, seed 000's protocol) and the unpaired test
of `mskbench.harness.stats.compare_groups` between the two labels of each stratum.

Per model and metric: mean, SD, median, n, CI, the outlier rate (%) of that metric against
the task's Tukey fence (`mskbench.tasks.spec.OutlierFence`: each model's own values for
seed 003, whose OR column is defined that way), and rows ``absence_rate`` (%) and
``outlier_rate`` (%, of the primary metric) as in seed 003's Table 1. For each stratum of
the task (G20: reference FF < 20 % vs ≥ 20 %) the same per stratum label, with the test's
p-value on both stratum rows (seed 003's Table 2). Case-level classification targets are
summarised by `mskbench.harness.classification_summary`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mskbench.harness import aggregation
from mskbench.harness.aggregation import ABSENCE, OUTLIER, as_values
from mskbench.harness.stats import bootstrap_interval, compare_groups, t_interval
from mskbench.harness.stats.ci import DEFAULT_RESAMPLES, DEFAULT_SEED
from mskbench.harness.stats.comparisons import MIN_PER_GROUP
from mskbench.harness.store import SPLITS, Store
from mskbench.tasks.spec import TaskSpec

MSKBENCH = "mskbench"
RATE_METRICS = (ABSENCE, OUTLIER)
SUMMARY_COLUMNS = (
    "source",
    "model",
    "profile",
    "run_id",
    "stratum",
    "metric",
    "mean",
    "sd",
    "median",
    "n",
    "n_folds",
    "n_excluded",
    "n_absent",
    "n_both_empty",
    "ci_low",
    "ci_high",
    "ci_method",
    "outlier_rate",
    "p_value",
    "test",
    "reference",
    "fence",
)
_COUNTS = ("n", "n_folds", "n_excluded", "n_absent", "n_both_empty")
CiMethod = Literal["bootstrap", "folds"]


@dataclass(frozen=True)
class RunSelection:
    """Runs chosen for a summary (one per model and profile) and those left out.

    ``excluded``: one dict per run with ``run_id, model, profile, status, reason``.
    """

    runs: pd.DataFrame
    excluded: list[dict[str, Any]]


def select_runs(runs: pd.DataFrame, task: TaskSpec, profile: str | None = None) -> RunSelection:
    """Choose the comparable runs among ``runs`` (a `Store.runs` frame of ``task``)."""
    if profile is not None:
        runs = runs[runs["profile"] == profile]
    excluded: list[dict[str, Any]] = []

    def exclude(rows: pd.DataFrame, reason: Callable[[Any], str]) -> None:
        for r in rows.itertuples(index=False):
            excluded.append(
                {
                    "run_id": r.run_id,
                    "model": r.model,
                    "profile": r.profile,
                    "status": r.status,
                    "reason": reason(r),
                }
            )

    finished = runs["status"] == "finished"
    exclude(
        runs[~finished],
        lambda r: f"status {r.status}" + (f": {r.error}" if isinstance(r.error, str) else ""),
    )
    runs = runs[finished]
    current = runs["task_version"] == task.version
    exclude(
        runs[~current], lambda r: f"task version {r.task_version}; the current is {task.version}"
    )
    chosen = []
    for name, group in runs[current].groupby("profile", sort=True):
        group = group.sort_values(["finished_at", "run_id"])
        latest = group.iloc[-1]
        same_data = group["data_fingerprint"] == latest["data_fingerprint"]
        same_split = group["split_fingerprint"] == latest["split_fingerprint"]

        def reason(r: Any, latest: pd.Series = latest, name: str = name) -> str:
            differs = [
                f"{what} fingerprint {getattr(r, col)} ≠ {latest[col]}"
                for what, col in (("data", "data_fingerprint"), ("split", "split_fingerprint"))
                if getattr(r, col) != latest[col]
            ]
            return f"{' and '.join(differs)} of the latest {name} run {latest['run_id']}"

        exclude(group[~(same_data & same_split)], reason)
        comparable = group[same_data & same_split]
        newest = comparable.groupby("model").tail(1)
        newest_of = dict(zip(newest["model"], newest["run_id"], strict=True))
        exclude(
            comparable.drop(newest.index),
            lambda r, newest_of=newest_of: f"superseded by run {newest_of[r.model]} (newer)",
        )
        chosen.append(newest)
    selected = pd.concat(chosen, ignore_index=True) if chosen else runs.iloc[:0]
    return RunSelection(selected.reset_index(drop=True), excluded)


def _ordered_metrics(task: TaskSpec, metrics: Sequence[str] | None) -> list[str]:
    """``metrics`` (default: the task's) in the task's order, primary metric first."""
    wanted = list(task.metrics) if metrics is None else list(metrics)
    unknown = [m for m in wanted if m not in task.metrics]
    if unknown:
        raise ValueError(
            f"metrics {unknown} are not metrics of task {task.name}: {', '.join(task.metrics)}"
        )
    ordered = [m for m in task.metrics if m in wanted]
    if task.primary_metric in ordered:
        ordered.remove(task.primary_metric)
        ordered.insert(0, task.primary_metric)
    return ordered


def _interval(
    values: np.ndarray, folds: np.ndarray, ci: CiMethod, n_resamples: int
) -> tuple[float, float, str | None]:
    """95 % CI of the mean of ``values`` and its method in words: BCa bootstrap (fixed
    seed) or t over the fold means."""
    if values.size == 0:
        return np.nan, np.nan, None
    if ci == "folds":
        means = pd.Series(values).groupby(folds).mean().to_numpy()
        return (*t_interval(means), f"t over {means.size} folds")
    low, high = bootstrap_interval((values,), np.mean, n_resamples=n_resamples, seed=DEFAULT_SEED)
    method = f"BCa bootstrap over {values.size} rows, {n_resamples} resamples, seed {DEFAULT_SEED}"
    return float(low[0]), float(high[0]), method


def _count(value: Any) -> int:
    """A count column of the engine (NULL where no value had the flag) as an int."""
    return 0 if value is None or pd.isna(value) else int(value)


def _statistics(row: Any, ci: CiMethod, n_resamples: int) -> dict[str, Any]:
    """Summary columns of one engine row (with its ``values`` and ``folds`` lists)."""
    values, folds = as_values(row.values), as_values(row.folds)
    low, high, method = _interval(values, folds, ci, n_resamples)
    return {
        "mean": row.mean, "sd": row.sd, "median": row.median, "n": _count(row.n),
        "n_folds": _count(row.n_folds), "n_excluded": _count(row.n_excluded),
        "n_absent": _count(row.n_absent), "n_both_empty": _count(row.n_both_empty),
        "ci_low": low, "ci_high": high, "ci_method": method, "outlier_rate": row.outlier_rate,
    }  # fmt: skip


def _stratum_tests(rows: pd.DataFrame, labels: tuple[str, str]) -> dict[tuple[str, str], Any]:
    """The unpaired test of each (run, metric) between the two stratum labels' values."""
    tests = {}
    for (run_id, metric), group in rows.groupby(["run_id", "metric"], sort=False):
        by_part = {r.part: as_values(r.values) for r in group.itertuples()}
        values = [by_part.get(label, np.empty(0)) for label in labels]
        if min(v.size for v in values) >= MIN_PER_GROUP:
            tests[(run_id, metric)] = compare_groups(values[0], values[1])
    return tests


def _summarize_runs(
    store: Store,
    task: TaskSpec,
    runs: pd.DataFrame,
    split: str,
    metrics: list[str],
    ci: CiMethod,
    n_resamples: int,
) -> list[dict[str, Any]]:
    """Summary rows of the compared ``runs`` of one profile (see the module docstring)."""
    groups = dict.fromkeys(runs["run_id"], "compared")
    fetch = [m for m in metrics if m != OUTLIER]
    model_of = dict(zip(runs["run_id"], runs["model"], strict=True))
    parts = [
        (
            None,
            None,
            aggregation.metric_summary(store, task, groups, split, fetch, with_values=True),
        )
    ]
    for stratum in task.strata:
        frame = aggregation.metric_summary(
            store, task, groups, split, fetch, by="stratum", stratum=stratum, with_values=True
        )
        parts.append((stratum, _stratum_tests(frame, (stratum.below, stratum.at_or_above)), frame))
    out = []
    for stratum, tests, frame in parts:
        if stratum is None:
            rows = frame
        else:  # every (run, metric) gets both labels, an empty one with n = 0
            labels = pd.DataFrame({"part": [stratum.below, stratum.at_or_above]})
            keys = frame[frame["part"].isna()][["run_id", "metric"]].merge(labels, how="cross")
            rows = keys.merge(frame, on=["run_id", "metric", "part"], how="left")
        for row in rows.itertuples(index=False):
            record = {"model": model_of[row.run_id], "run_id": row.run_id,
                      "stratum": row.part, "metric": row.metric}  # fmt: skip
            if row.metric == ABSENCE:
                record |= {"mean": row.mean, "n": _count(row.n), "n_folds": _count(row.n_folds),
                           "n_absent": _count(row.n_absent)}  # fmt: skip
                out.append(record)
                continue
            record |= _statistics(row, ci, n_resamples)
            if tests is not None and (row.run_id, row.metric) in tests:
                test = tests[(row.run_id, row.metric)]
                record |= {"p_value": test.p_value, "test": test.test}
            out.append(record)
            if row.metric == task.primary_metric and OUTLIER in metrics:
                out.append({**{k: record[k] for k in ("model", "run_id", "stratum", "n", "n_folds")},
                            "metric": OUTLIER, "mean": record["outlier_rate"]})  # fmt: skip
    return out


def summarize_task(
    store: Store,
    task: TaskSpec,
    profile: str | None = None,
    split: str = "test",
    metrics: Sequence[str] | None = None,
    *,
    ci: CiMethod | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    published: bool = True,
) -> pd.DataFrame:
    """The per-model summary of ``task`` in long form (module docstring for the rules).

    One row per (model, profile, stratum, metric), columns `SUMMARY_COLUMNS`: ``stratum``
    is None for the rows over all cases, else a stratum label (``G20-``, ``G20+``); ``mean`` etc. in the
    metric's catalogue unit (rates in %); ``outlier_rate`` in %; ``p_value`` and ``test``
    of the stratum comparison on stratum rows. ``metrics``: a subset of the task's
    (default all). ``ci``: ``bootstrap`` (BCa over rows, ``n_resamples``, seed 0) or
    ``folds`` (t over fold means); default the task's ``summary_ci``. ``published``: append `published_rows`.

    ``attrs``: ``task, task_version, split, profile, primary_metric, metrics`` (order to
    show, primary first), ``strata`` (label pairs), ``ci`` and ``ci_method`` (in words),
    ``fence`` (the outlier fence in words; also the ``fence`` column of rate rows),
    ``runs`` (run ids compared) and ``excluded`` (list of dicts: ``run_id, model,
    profile, status, reason``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    ci = task.summary_ci if ci is None else ci
    if ci not in ("bootstrap", "folds"):
        raise ValueError(f"ci must be 'bootstrap' or 'folds', got {ci!r}")
    wanted = _ordered_metrics(task, metrics)
    selection = select_runs(store.runs(task.name), task, profile)
    chosen = selection.runs
    fence = task.outlier_fence.describe()
    out: list[dict[str, Any]] = []
    for name, runs in chosen.groupby("profile", sort=True):
        for row in _summarize_runs(store, task, runs, split, wanted, ci, n_resamples):
            rate = row["metric"] == OUTLIER or not pd.isna(row.get("outlier_rate", np.nan))
            out.append(
                {**row, "source": MSKBENCH, "profile": name, "fence": fence if rate else None}
            )
    frame = pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))
    frame = _sorted(frame, task, wanted, _by_primary_metric(frame, task))
    if published:
        frame = pd.concat([frame, published_rows(task, wanted, split)], ignore_index=True)
    frame = _typed(frame)
    frame.attrs = {
        "task": task.name,
        "task_version": task.version,
        "split": split,
        "profile": profile,
        "primary_metric": task.primary_metric,
        "metrics": wanted,
        "strata": [[s.below, s.at_or_above] for s in task.strata],
        "ci": ci,
        "ci_method": (
            f"BCa bootstrap over (case, structure) rows, {n_resamples} resamples, seed {DEFAULT_SEED}"
            if ci == "bootstrap"
            else "t interval over the fold means"
        ),
        "fence": fence,
        "runs": list(chosen["run_id"]),
        "excluded": selection.excluded,
    }
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts as nullable integers, the rest as stored."""
    return frame.astype({c: "Int64" for c in _COUNTS})


def _sorted(
    frame: pd.DataFrame, task: TaskSpec, metrics: list[str], rank: pd.Series
) -> pd.DataFrame:
    """``frame`` ordered by profile, model ``rank`` (indexed by "profile\x1fmodel"), stratum
    (all rows first) and metric in ``metrics`` order."""
    strata = {label: i + 1 for i, label in enumerate(_strata_labels_of(task))}
    profile = pd.Series(
        [p if isinstance(p, str) else "" for p in frame["profile"]], index=frame.index
    )
    model_key = profile + "\x1f" + frame["model"].astype(str)
    keys = pd.DataFrame(
        {
            "profile": profile,
            "rank": model_key.map(rank),
            "model": frame["model"],
            "stratum": frame["stratum"].map(strata).fillna(0),
            "metric": frame["metric"].map({m: i for i, m in enumerate(metrics)}),
        },
        index=frame.index,
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _strata_labels_of(task: TaskSpec) -> list[str]:
    return [label for s in task.strata for label in (s.below, s.at_or_above)]


def _by_primary_metric(frame: pd.DataFrame, task: TaskSpec) -> pd.Series:
    """Rank of each (profile, model): best overall mean of the primary metric first."""
    primary = frame[(frame["metric"] == task.primary_metric) & frame["stratum"].isna()]
    sign = -1.0 if task.higher_is_better else 1.0
    key = primary["profile"].astype(str) + "\x1f" + primary["model"].astype(str)
    return pd.Series((primary["mean"] * sign).to_numpy(), index=key).fillna(np.inf)


def published_rows(
    task: TaskSpec, metrics: Sequence[str] | None = None, split: str | None = None
) -> pd.DataFrame:
    """The task's published numbers in the summary's long shape (``source`` 'published,
    other data'; ``reference`` names the paper and table). A ``group`` that is a stratum
    label becomes ``stratum``; any other group (``thigh``) is the paper's whole cohort.

    Only numbers over all structures and all cases are summary rows: values of one
    structure or of a subset of cases (seed 002's per-muscle, per-level tables) are left
    to the task's own tables. With ``split``, a number whose group is another split
    (``external`` when ``split`` is ``test``) is left out."""
    wanted = _ordered_metrics(task, metrics)
    labels = set(_strata_labels_of(task))
    other_splits = {s for s in SPLITS if s != split} if split is not None else set()
    rows = [
        {
            "source": pv.note,
            "model": pv.model,
            "stratum": pv.group if pv.group in labels else None,
            "metric": pv.metric,
            "mean": pv.value,
            "sd": np.nan if pv.sd is None else pv.sd,
            "ci_low": np.nan if pv.ci_low is None else pv.ci_low,
            "ci_high": np.nan if pv.ci_high is None else pv.ci_high,
            "n": pv.n,
            "p_value": np.nan if pv.p_value is None else pv.p_value,
            "reference": f"{task.citation.label()}, {pv.source}",
        }
        for pv in task.published
        if pv.metric in wanted
        and pv.target is None
        and pv.structure == "all"
        and not pv.subset
        and pv.group not in other_splits
    ]
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    models = frame["model"].drop_duplicates()
    rank = pd.Series(range(len(models)), index="\x1f" + models.astype(str), dtype=float)
    return _typed(_sorted(frame, task, wanted, rank))
