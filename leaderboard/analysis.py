"""Tables the pages show, made from the aggregates of `leaderboard.queries` with the
statistics of `harness.stats` (one implementation of every test). Pure pandas in, pandas
out; no SQL and no Streamlit here.

95 % CIs of means are t intervals (mean ± t₀.₉₇₅,ₙ₋₁ · SD/√n) from the aggregates DuckDB
returns: `bench results` uses the BCa bootstrap, which needs every value and ~10⁴
resamples per number and would not render a page in 2 s; for the n of a benchmark
(hundreds of values) the two agree closely.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mskbench.harness.aggregation import as_values
from mskbench.harness.report import metric_header
from mskbench.harness.stats import bland_altman, compare_groups, compare_paired, holm
from mskbench.harness.stats.comparisons import MIN_PER_GROUP
from mskbench.harness.summary import published_rows
from mskbench.leaderboard.taskview import (
    ABSENCE,
    OUTLIER,
    Biomarker,
    compared_header,
    decimals,
    name_of_test,
)
from mskbench.tasks.spec import Stratum, TaskSpec

ALPHA = 0.05
NO_DIFFERENCE = "no significant difference"
TOO_FEW = "too few pairs"
#: Biomarkers are in %, p.u., ms or cm³: 2 decimals (as `harness.report`).
AGREEMENT_DECIMALS = 2


def t_interval(mean: pd.Series, sd: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    """95 % t interval of each mean; NaN for n < 2, the mean itself for SD 0."""
    n = pd.to_numeric(n, errors="coerce").astype(float)
    df = (n - 1).where(n >= 2)
    half = pd.Series(stats.t.ppf(0.975, df), index=mean.index) * sd / np.sqrt(n)
    return mean - half, mean + half


def ci_text(low: float, high: float, decimals: int) -> str:
    """``[low, high]`` with the metric's decimals; empty when there is no interval."""
    if pd.isna(low) or pd.isna(high):
        return ""
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def long_summary(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``summary`` rows with the model and profile of their run and the 95 % CI."""
    out = summary.merge(runs[["run_id", "model", "profile"]], on="run_id", how="left")
    out["ci_low"], out["ci_high"] = t_interval(out["mean"], out["sd"], out["n"])
    return out


def _rank_key(table: pd.DataFrame, column: str, higher_is_better: bool) -> pd.Series:
    key = table[column] if column in table else pd.Series(np.nan, index=table.index)
    return -key if higher_is_better else key


def ranked_table(summary: pd.DataFrame, task: TaskSpec, metrics: Sequence[str]) -> pd.DataFrame:
    """One profile's models × metrics (Table 1 shape), best primary metric first.

    ``summary``: `long_summary` rows over all values (``part`` None) of the profile's
    compared runs. Per metric: ``<header>`` the mean, ``<header> SD`` and ``<header> 95 % CI``;
    ``n`` = values of the primary metric; ``AR``/``OR`` headers for the rates (OR of the
    primary metric, against the fence pooled over the profile's models).
    """
    rows = []
    for run_id, group in summary[summary["part"].isna()].groupby("run_id", sort=False):
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        row = {"Model": first["model"], "Source": f"mskbench · {first['profile']}"}
        primary = (
            by_metric.loc[task.primary_metric] if task.primary_metric in by_metric.index else None
        )
        row["n"] = primary["n"] if primary is not None else pd.NA
        for metric in metrics:
            header = metric_header(metric, task)
            if metric == OUTLIER:
                row[header] = primary["outlier_rate"] if primary is not None else np.nan
            elif metric in by_metric.index:
                stat = by_metric.loc[metric]
                row[header] = stat["mean"]
                if metric != ABSENCE:
                    row[f"{header} SD"] = stat["sd"]
                    row[f"{header} 95 % CI"] = ci_text(
                        stat["ci_low"], stat["ci_high"], decimals(metric, task)
                    )
        row["Run"] = run_id
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["_key"] = _rank_key(
        table, metric_header(task.primary_metric, task), task.higher_is_better
    )
    table = table.sort_values(["_key", "Model"], kind="stable", na_position="last")
    table = table.drop(columns="_key")
    table.insert(0, "Rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def published_table(task: TaskSpec, metrics: Sequence[str], split: str) -> pd.DataFrame:
    """The paper's numbers over all cases and structures of ``split`` in `ranked_table`'s
    columns (no rank, no CI)."""
    rows = published_rows(task, [m for m in metrics if m in task.metrics], split=split)
    rows = rows[rows["stratum"].isna()]
    out = []
    for (model, reference), group in rows.groupby(["model", "reference"], sort=False):
        record: dict[str, object] = {"Model": model, "Source": group["source"].iloc[0]}
        for r in group.itertuples(index=False):
            header = metric_header(r.metric, task)
            record[header] = r.mean
            if r.metric not in (ABSENCE, OUTLIER):
                record[f"{header} SD"] = r.sd
        record["Reference"] = reference
        out.append(record)
    return pd.DataFrame(out)


def stratum_table(
    summary: pd.DataFrame, task: TaskSpec, stratum: Stratum, metrics: Sequence[str]
) -> pd.DataFrame:
    """Seed Table 2 shape: per model and metric, mean, SD and n of each stratum and the
    unpaired test (Shapiro–Wilk → Welch t or Mann–Whitney U) with its p-value.

    ``summary``: `long_summary` rows of `queries.metric_summary(by="stratum",
    with_values=True)`. No test when a stratum has fewer than 3 values.
    """
    below, above = stratum.below, stratum.at_or_above
    rows = []
    parts = summary[summary["part"].isin([below, above])]
    for (run_id, metric), group in parts.groupby(["run_id", "metric"], sort=False):
        if metric not in metrics or metric == ABSENCE:
            continue
        by_part = group.set_index("part")
        record: dict[str, object] = {
            "Model": group["model"].iloc[0],
            "Metric": metric_header(metric, task),
        }
        values = []
        for label in (below, above):
            stat = by_part.loc[label] if label in by_part.index else None
            record[f"{label} mean"] = stat["mean"] if stat is not None else np.nan
            record[f"{label} SD"] = stat["sd"] if stat is not None else np.nan
            record[f"{label} n"] = int(stat["n"]) if stat is not None else 0
            values.append(as_values(stat["values"] if stat is not None else None))
        with warnings.catch_warnings():  # Shapiro–Wilk on a constant group
            warnings.simplefilter("ignore", (UserWarning, RuntimeWarning))
            enough = min(v.size for v in values) >= MIN_PER_GROUP
            test = compare_groups(*values) if enough else None
        record["Test"] = name_of_test(test.test) if test else "–"
        record["p"] = test.p_value if test else np.nan
        record["Run"] = run_id
        record["_order"] = list(metrics).index(metric)
        rows.append(record)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return (
        table.sort_values(["Model", "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def published_stratum_table(
    task: TaskSpec, stratum: Stratum, metrics: Sequence[str], split: str
) -> pd.DataFrame:
    """The paper's per-stratum numbers of ``split`` (seed Table 2) in `stratum_table`'s
    columns."""
    rows = published_rows(task, [m for m in metrics if m in task.metrics], split=split)
    labels = (stratum.below, stratum.at_or_above)
    rows = rows[rows["stratum"].isin(labels)]
    out = []
    for (model, metric, reference), group in rows.groupby(
        ["model", "metric", "reference"], sort=False
    ):
        by_part = group.set_index("stratum")
        record: dict[str, object] = {"Model": model, "Metric": metric_header(metric, task)}
        for label in labels:
            record[f"{label} mean"] = by_part["mean"].get(label, np.nan)
            record[f"{label} SD"] = by_part["sd"].get(label, np.nan)
        record["p"] = group["p_value"].iloc[0]
        record["Source"] = group["source"].iloc[0]
        record["Reference"] = reference
        out.append(record)
    return pd.DataFrame(out)


def _better(direction: int, diff: float, name_a: str, name_b: str) -> str:
    """Which model a mean difference (a − b) favours; signed errors compare sizes."""
    a_higher = diff > 0
    return name_a if (a_higher if direction == 1 else not a_higher) else name_b


def paired_table(paired: pd.DataFrame, task: TaskSpec, name_a: str, name_b: str) -> pd.DataFrame:
    """Paired comparison of two runs on each row of ``paired`` (rows of
    `queries.paired_values`: one per metric, or one metric's rows per structure), with Holm
    across those rows.

    Differences are a − b; signed errors are compared by size (|ΔFF| ...). Test:
    Shapiro–Wilk on the differences → paired t or Wilcoxon signed-rank (no test below 3
    pairs); 95 % CI: t interval of the mean difference; ``better``: the favoured model where
    the Holm p < 0.05.
    """
    rows = []
    for r in paired.itertuples(index=False):
        a, b = as_values(r.a), as_values(r.b)
        diff = a - b
        with warnings.catch_warnings():  # Shapiro–Wilk on constant differences
            warnings.simplefilter("ignore", (UserWarning, RuntimeWarning))
            test = compare_paired(a, b) if a.size >= MIN_PER_GROUP else None
        low, high = t_interval(
            pd.Series([diff.mean() if diff.size else np.nan]),
            pd.Series([diff.std(ddof=1) if diff.size > 1 else np.nan]),
            pd.Series([diff.size]),
        )
        rows.append(
            {
                "metric": r.metric,
                "metric_label": compared_header(r.metric, int(r.dir), task),
                "structure": r.structure,
                "n": int(r.n),
                "mean_a": r.mean_a,
                "mean_b": r.mean_b,
                "diff": diff.mean() if diff.size else np.nan,
                "ci_low": low.iloc[0],
                "ci_high": high.iloc[0],
                "test": name_of_test(test.test) if test else "–",
                "p": test.p_value if test else np.nan,
                "dir": int(r.dir),
                "n_excluded": int(r.n_excluded),
                "n_unpaired": int(r.n_only_a + r.n_only_b),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    tested = table["p"].dropna()
    table["p_holm"] = np.nan
    if len(tested):
        table.loc[tested.index, "p_holm"] = holm(tested.to_dict())["p_holm"].to_numpy()
    table["better"] = [
        TOO_FEW
        if pd.isna(r.p)
        else _better(r.dir, r.diff, name_a, name_b)
        if r.p_holm < ALPHA
        else NO_DIFFERENCE
        for r in table.itertuples(index=False)
    ]
    return table


def agreement_table(points: pd.DataFrame, markers: Sequence[Biomarker]) -> pd.DataFrame:
    """Bland–Altman per biomarker of one run: bias, SD, limits of agreement with their 95 %
    CIs and the proportional-bias slope (difference on the reference value).

    ``points``: `queries.point_values` with each biomarker's reference and predicted
    columns. Pairs with a NaN (a structure the prediction missed has no map mean) are
    left out and counted in ``n_excluded``.
    """
    rows = []
    for marker in markers:
        ref = points[marker.reference].to_numpy(dtype=float)
        pred = points[marker.predicted].to_numpy(dtype=float)
        valid = ~(np.isnan(ref) | np.isnan(pred))
        record: dict[str, object] = {
            "Biomarker": marker.name,
            "Unit": marker.unit,
            "n": int(valid.sum()),
            "n_excluded": int((~valid).sum()),
        }
        if valid.sum() >= 3:
            ba = bland_altman(ref[valid], pred[valid], against="reference")
            record.update(
                {
                    "Bias": ba.bias,
                    "Bias 95 % CI": ci_text(*ba.bias_ci, AGREEMENT_DECIMALS),
                    "SD": ba.sd,
                    "LoA low": ba.loa_low,
                    "LoA low 95 % CI": ci_text(*ba.loa_low_ci, AGREEMENT_DECIMALS),
                    "LoA high": ba.loa_high,
                    "LoA high 95 % CI": ci_text(*ba.loa_high_ci, AGREEMENT_DECIMALS),
                    "Slope": ba.slope,
                    "Slope p": ba.slope_p,
                }
            )
        rows.append(record)
    return pd.DataFrame(rows)


STRUCTURE_COLUMNS = {
    "model": "Model",
    "part": "Structure",
    "median": "Median",
    "q1": "Q1",
    "q3": "Q3",
    "min": "Min",
    "max": "Max",
    "mean": "Mean",
    "sd": "SD",
    "n": "n",
    "n_excluded": "n excluded",
    "run_id": "Run",
}


def structure_table(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per model and structure: median [Q1, Q3], min, max, mean ± SD and n of ``metric``
    (seed Fig. 3)."""
    rows = summary[(summary["metric"] == metric) & summary["part"].notna()]
    table = rows[list(STRUCTURE_COLUMNS)].rename(columns=STRUCTURE_COLUMNS)
    return table.reset_index(drop=True)


def averaged_quartiles(summary: pd.DataFrame, metric: str) -> dict[str, float]:
    """Median, Q1 and Q3 of ``metric`` averaged over every model and structure (the seed's
    horizontal lines in Fig. 3)."""
    rows = summary[(summary["metric"] == metric) & summary["part"].notna()]
    return {
        name: float(rows[column].mean())
        for name, column in (("Q1", "q1"), ("median", "median"), ("Q3", "q3"))
    }
