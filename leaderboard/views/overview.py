"""Overview: per profile, the ranked models × metrics table (seed Table 1 shape) with the
paper's published numbers as marked reference rows, and the runs that are not ranked."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from mskbench.harness.report import metric_header
from mskbench.leaderboard import analysis, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import ABSENCE, ordered_metrics, stored_metrics
from mskbench.leaderboard.views import classification
from mskbench.leaderboard.widgets import number, show_table
from mskbench.tasks.spec import TaskSpec

TITLE = "Overview"
#: Column choices of the ranked tables: which companions of each mean are shown.
DETAILS = {"mean": (), "mean, SD": (" SD",), "mean, SD, 95 % CI": (" SD", " 95 % CI")}


def _column_config(task: TaskSpec, metrics: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Rank": st.column_config.NumberColumn(format="%d"),
        "n": st.column_config.NumberColumn(format="%d", help="values of the primary metric"),
    }
    for metric in metrics:
        header = metric_header(metric, task)
        config[header] = number(metric, task)
        config[f"{header} SD"] = number(metric, task)
    return config


def _not_ranked(ctx: PageContext) -> None:
    """The runs left out of the ranking, each with its reason and its primary metric."""
    st.subheader("Runs not ranked")
    if not ctx.excluded:
        st.caption("Every run of this task is ranked.")
        return
    table = pd.DataFrame(ctx.excluded).rename(columns=str.capitalize)
    table = table.rename(columns={"Run_id": "Run"})
    finished = ctx.runs[ctx.runs["status"] == "finished"]["run_id"]
    # runs on other data still show their primary per-case metric (classification metrics
    # are aggregates: the table of the compared runs has them)
    shown = [r for r in table["Run"] if r in set(finished)] if ctx.task.segmentation else []
    primary = ctx.task.primary_metric
    header = metric_header(primary, ctx.task)
    if shown:
        summary = ctx.source.get(
            queries.metric_summary,
            ctx.task.name,
            tuple((r, r) for r in shown),
            ctx.split,
            (primary,),
        )
        stats = summary[summary["part"].isna()].set_index("run_id")
        table[header] = table["Run"].map(stats["mean"])
        table[f"{header} SD"] = table["Run"].map(stats["sd"])
        table["n"] = table["Run"].map(stats["n"])
    show_table(
        table,
        key=f"not-ranked-{ctx.task.name}-{ctx.split}",
        column_config={
            header: number(primary, ctx.task),
            f"{header} SD": number(primary, ctx.task),
        },
        caption="Shown separately: other data or split fingerprints, an older task version, "
        "failed or still running.",
    )


def _segmentation(ctx: PageContext) -> None:
    """Per profile, the ranked models × metrics of the per-case metric rows."""
    task = ctx.task
    metrics = ordered_metrics(task)
    summary = ctx.source.get(
        queries.metric_summary, task.name, ctx.groups(), ctx.split, tuple(stored_metrics(task))
    )
    long = analysis.long_summary(summary, ctx.compared)
    published = analysis.published_table(task, metrics, ctx.split)
    config = _column_config(task, metrics)
    detail = st.radio("Columns", list(DETAILS), index=1, horizontal=True, key="overview-columns")
    hidden = [
        metric_header(m, task) + suffix
        for m in metrics
        for suffix in (" SD", " 95 % CI")
        if suffix not in DETAILS[detail]
    ]
    for profile in ctx.profiles:
        runs = ctx.compared_in(profile)
        st.subheader(f"Profile: {profile}")
        st.caption(
            f"{len(runs)} model(s) ranked on data fingerprint "
            f"{runs['data_fingerprint'].iloc[0][:12]}… and split fingerprint "
            f"{runs['split_fingerprint'].iloc[0][:12]}…; published rows are the "
            "paper's numbers on its own (other) data."
        )
        table = analysis.ranked_table(long[long["profile"] == profile], task, metrics)
        table = pd.concat([table, published], ignore_index=True)
        show_table(
            table.drop(columns=[c for c in hidden if c in table.columns]),
            key=f"overview-{task.name}-{ctx.split}-{profile}",
            column_config=config,
            caption="mean, SD and 95 % CI (t interval) over (case, structure) values; "
            f"{metric_header(ABSENCE, task)}: reference structures with no predicted voxel; "
            f"OR: primary-metric values beyond the {task.outlier_fence.describe()}. "
            "HD95/ASSD of a missed structure count as the image diagonal.",
        )
    with st.expander("All statistics (long form)"):
        show_table(long.drop(columns=["grp"]), key=f"overview-long-{task.name}-{ctx.split}")


def render(ctx: PageContext) -> None:
    """Draw the page."""
    task = ctx.task
    st.header(task.title)
    st.caption(
        f"{task.citation.short()} · primary metric {metric_header(task.primary_metric, task)} · "
        f"{ctx.split} split"
    )
    if ctx.compared.empty:
        st.info(f"No finished run of {task.name} yet.")
    else:
        if task.segmentation is not None:
            _segmentation(ctx)
        if task.classification:
            classification.render(ctx)
    _not_ranked(ctx)
