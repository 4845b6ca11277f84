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
structure). HD95/ASSD of a missed or spurious structure are replaced by the image
diagonal (`with_worst_case_distances`), never dropped; any other NaN (a map mean of a
structure missing from a mask) is left out and counted in ``n_excluded``.

Per model and metric: mean, SD, median, n, 95 % CI (`summarize`: BCa bootstrap over rows
with a fixed seed, or ``ci="folds"``: t over fold means, seed 000's protocol), the outlier
rate (%) of that metric against one Tukey fence pooled over all compared models of the
profile (`outlier_rates`), and rows ``absence_rate`` (%, `absence_rate`) and
``outlier_rate`` (%, of the primary metric) as in seed 003's Table 1. For each stratum of
the task (G20: reference FF < 20 % vs ≥ 20 %, from the ``attributes`` table, else the
``ff_ref`` metric rows) the same per stratum, with the unpaired test of
`harness.stats.compare_groups` and its p-value on both stratum rows (seed 003's Table 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from mskbench.harness.metrics import (
    absence_rate,
    outlier_rates,
    summarize,
    with_worst_case_distances,
)
from mskbench.harness.metrics.aggregate import DISTANCE_METRICS
from mskbench.harness.stats import compare_groups
from mskbench.harness.stats.ci import DEFAULT_RESAMPLES, DEFAULT_SEED
from mskbench.harness.stats.comparisons import MIN_PER_GROUP
from mskbench.harness.store import SPLITS, Store
from mskbench.harness.store.queries import metric_rows
from mskbench.tasks.spec import TaskSpec

MSKBENCH = "mskbench"
RATE_METRICS = ("absence_rate", "outlier_rate")
#: Per-structure values the summary needs beside the metrics themselves.
FLAGS = ("absent", "spurious", "both_empty", "ref_voxels", "image_diagonal_mm")
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


def _stratum_of_rows(rows: pd.DataFrame, task: TaskSpec) -> dict[str, pd.Series]:
    """Per stratum name: each row's stratum label (None where the attribute is missing)."""
    labels = {}
    for k, stratum in enumerate(task.strata):
        value = rows[f"attribute_{k}"].to_numpy(dtype=np.float64)
        label = np.where(value >= stratum.threshold, stratum.at_or_above, stratum.below)
        labels[stratum.name] = pd.Series(
            np.where(np.isnan(value), None, label), index=rows.index, dtype=object
        )
    return labels


def _metric_table(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of ``metric`` ready for the engine: ``model, fold, <metric>, absent, both_empty``.

    Distances get the worst-case substitution (their flags must be stored); other NaN
    values stay NaN here and are left out, and counted, by `_summarize_metric`.
    """
    values = rows["value"]
    if metric in DISTANCE_METRICS:
        needed = ["absent", "spurious", "image_diagonal_mm"]
        lacking = rows[needed].isna().any(axis=1)
        if lacking.any():
            runs = sorted(rows.loc[lacking, "run_id"].unique())
            raise ValueError(
                f"{int(lacking.sum())} {metric} rows of runs {runs} lack the {needed} "
                "case-metric rows that the worst-case substitution needs"
            )
        flags = rows[needed].astype({"absent": bool, "spurious": bool})
        filled = with_worst_case_distances(flags.assign(**dict.fromkeys(DISTANCE_METRICS, values)))
        values = filled[metric]
    return pd.DataFrame(
        {
            "model": rows["model"],
            "fold": rows["fold"],
            metric: values,
            "absent": rows["absent"].fillna(0).astype(bool),
            "both_empty": rows["both_empty"].fillna(0).astype(bool),
        }
    )


def _summary(table: pd.DataFrame, metric: str, ci: CiMethod, n_resamples: int) -> dict[str, Any]:
    """`summarize` of the non-NaN values of ``table`` plus ``n_folds`` and ``n_excluded``
    (NaN values left out); NaN statistics and n = 0 when no value remains."""
    valid = table[table[metric].notna()]
    counts = {"n_folds": int(valid["fold"].nunique()), "n_excluded": len(table) - len(valid)}
    if valid.empty:
        return {"mean": np.nan, "sd": np.nan, "median": np.nan, "n": 0, **counts}
    out = summarize(valid, metric, fold="fold" if ci == "folds" else None, n_resamples=n_resamples)
    out.pop("metric")
    return {**out, **counts}


def _summarize_metric(
    table: pd.DataFrame,
    metric: str,
    strata: dict[str, tuple[str, str]],
    ci: CiMethod,
    n_resamples: int,
) -> list[dict[str, Any]]:
    """Rows (over all cases and per stratum label) of every model for one metric.

    ``table`` holds the rows of all compared models (for the pooled outlier fence) with a
    column per stratum name holding each row's label.
    """
    out = []
    pooled = table[table[metric].notna()].assign(_group=lambda t: t["model"].astype(str))
    for name in strata:
        pooled[f"_group_{name}"] = pooled["_group"] + "\x1f" + pooled[name].fillna("").astype(str)
    fence = {
        by: outlier_rates(pooled, metric, by=by) if len(pooled) else pd.Series(dtype=float)
        for by in ["_group", *(f"_group_{n}" for n in strata)]
    }
    for model, rows in table.groupby("model", sort=False):
        out.append(
            {
                "model": model,
                "stratum": None,
                "metric": metric,
                **_summary(rows, metric, ci, n_resamples),
                "outlier_rate": fence["_group"].get(model, np.nan),
            }
        )
        for name, labels in strata.items():
            groups = [rows[rows[name] == label] for label in labels]
            values = [g[metric].dropna() for g in groups]
            test = (
                compare_groups(values[0], values[1])
                if min(len(v) for v in values) >= MIN_PER_GROUP
                else None
            )
            for label, group in zip(labels, groups, strict=True):
                out.append(
                    {
                        "model": model,
                        "stratum": label,
                        "metric": metric,
                        **_summary(group, metric, ci, n_resamples),
                        "outlier_rate": fence[f"_group_{name}"].get(f"{model}\x1f{label}", np.nan),
                        "p_value": test.p_value if test else np.nan,
                        "test": test.test if test else None,
                    }
                )
    return out


def _absence_rows(rows: pd.DataFrame, strata: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """``absence_rate`` rows (%, n = reference structures) per model, overall and per stratum."""
    if rows["absent"].isna().any():
        raise ValueError("ref_voxels rows without an 'absent' row: the absence rate needs both")
    table = rows.assign(ref_voxels=rows["value"], absent=rows["absent"].astype(bool))
    out = []
    for model, group in table.groupby("model", sort=False):
        parts = [(None, group)] + [
            (label, group[group[name] == label])
            for name, labels in strata.items()
            for label in labels
        ]
        for label, part in parts:
            out.append(
                {
                    "model": model,
                    "stratum": label,
                    "metric": "absence_rate",
                    "mean": absence_rate(part),
                    "n": int((part["ref_voxels"] > 0).sum()),
                    "n_folds": int(part["fold"].nunique()),
                    "n_absent": int(part["absent"].sum()),
                }
            )
    return out


def _summarize_profile(
    rows: pd.DataFrame,
    task: TaskSpec,
    metrics: list[str],
    ci: CiMethod,
    n_resamples: int,
) -> list[dict[str, Any]]:
    """Summary rows of the compared runs of one profile (``rows`` from `metric_rows`)."""
    strata = {s.name: (s.below, s.at_or_above) for s in task.strata}
    labels = _stratum_of_rows(rows, task)
    rows = rows.assign(**labels)
    out = []
    present = set(rows["metric"])
    for metric in metrics:
        if metric in RATE_METRICS or metric not in present:
            continue
        of_metric = rows[rows["metric"] == metric]
        table = _metric_table(of_metric, metric).join(of_metric[list(strata)])
        for row in _summarize_metric(table, metric, strata, ci, n_resamples):
            out.append(row)
            if metric == task.primary_metric and "outlier_rate" in metrics:
                out.append(
                    {
                        "model": row["model"],
                        "stratum": row["stratum"],
                        "metric": "outlier_rate",
                        "mean": row["outlier_rate"],
                        "n": row["n"],
                        "n_folds": row["n_folds"],
                    }
                )
    if "absence_rate" in metrics and "ref_voxels" in present:
        out.extend(_absence_rows(rows[rows["metric"] == "ref_voxels"], strata))
    return out


def summarize_task(
    store: Store,
    task: TaskSpec,
    profile: str | None = None,
    split: str = "test",
    metrics: Sequence[str] | None = None,
    *,
    ci: CiMethod = "bootstrap",
    n_resamples: int = DEFAULT_RESAMPLES,
    published: bool = True,
) -> pd.DataFrame:
    """The per-model summary of ``task`` in long form (module docstring for the rules).

    One row per (model, profile, stratum, metric), columns `SUMMARY_COLUMNS`: ``stratum``
    is None for the rows over all cases, else a stratum label (``G20-``, ``G20+``); ``mean`` etc. in the
    metric's catalogue unit (rates in %); ``outlier_rate`` in %; ``p_value`` and ``test``
    of the stratum comparison on stratum rows. ``metrics``: a subset of the task's
    (default all). ``ci``: ``bootstrap`` (BCa over rows, ``n_resamples``, seed 0) or
    ``folds`` (t over fold means). ``published``: append `published_rows`.

    ``attrs``: ``task, task_version, split, profile, primary_metric, metrics`` (order to
    show, primary first), ``strata`` (label pairs), ``ci`` and ``ci_method`` (in words),
    ``runs`` (run ids compared) and ``excluded`` (list of dicts: ``run_id, model,
    profile, status, reason``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if ci not in ("bootstrap", "folds"):
        raise ValueError(f"ci must be 'bootstrap' or 'folds', got {ci!r}")
    wanted = _ordered_metrics(task, metrics)
    selection = select_runs(store.runs(task.name), task, profile)
    chosen = selection.runs
    out: list[dict[str, Any]] = []
    if not chosen.empty:
        fetch = [m for m in wanted if m not in RATE_METRICS]
        if "absence_rate" in wanted:
            fetch.append("ref_voxels")
        rows = metric_rows(
            store,
            list(chosen["run_id"]),
            split,
            fetch,
            side_metrics=FLAGS,
            attributes=[s.attribute for s in task.strata],
        )
        rows = rows.merge(chosen[["run_id", "model", "profile"]], on="run_id", how="left")
        for name, runs in chosen.groupby("profile", sort=True):
            for row in _summarize_profile(
                rows[rows["profile"] == name], task, wanted, ci, n_resamples
            ):
                run = runs[runs["model"] == row["model"]].iloc[0]
                out.append({**row, "source": MSKBENCH, "profile": name, "run_id": run["run_id"]})
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
            "p_value": np.nan if pv.p_value is None else pv.p_value,
            "reference": f"{task.citation.label()}, {pv.source}",
        }
        for pv in task.published
        if pv.metric in wanted
        and pv.structure == "all"
        and not pv.subset
        and pv.group not in other_splits
    ]
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    models = frame["model"].drop_duplicates()
    rank = pd.Series(range(len(models)), index="\x1f" + models.astype(str), dtype=float)
    return _typed(_sorted(frame, task, wanted, rank))
