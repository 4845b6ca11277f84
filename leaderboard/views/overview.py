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
from mskbench.leaderboard.widgets import number, show_table

TITLE = "Overview"
#: Column choices of the ranked tables: which companions of each mean are shown.
DETAILS = {"mean": (), "mean, SD": (" SD",), "mean, SD, 95 % CI": (" SD", " 95 % CI")}


def _column_config(metrics: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Rank": st.column_config.NumberColumn(format="%d"),
        "n": st.column_config.NumberColumn(format="%d", help="values of the primary metric"),
    }
    for metric in metrics:
        header = metric_header(metric)
        config[header] = number(metric)
        config[f"{header} SD"] = number(metric)
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
    shown = [r for r in table["Run"] if r in set(finished)]
    primary = ctx.task.primary_metric
    header = metric_header(primary)
    if shown:
        summary = ctx.source.get(
            queries.metric_summary, tuple((r, r) for r in shown), ctx.split, (primary,)
        )
        stats = summary[summary["part"].isna()].set_index("run_id")
        table[header] = table["Run"].map(stats["mean"])
        table[f"{header} SD"] = table["Run"].map(stats["sd"])
        table["n"] = table["Run"].map(stats["n"])
    show_table(
        table,
        key=f"not-ranked-{ctx.task.name}-{ctx.split}",
        column_config={header: number(primary), f"{header} SD": number(primary)},
        caption="Shown separately: other data or split fingerprints, an older task version, "
        "failed or still running.",
    )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    task = ctx.task
    metrics = ordered_metrics(task)
    st.header(task.title)
    st.caption(
        f"{task.citation.short()} · primary metric {metric_header(task.primary_metric)} · "
        f"{ctx.split} split"
    )
    if ctx.compared.empty:
        st.info(f"No finished run of {task.name} yet.")
    else:
        summary = ctx.source.get(
            queries.metric_summary, ctx.groups(), ctx.split, tuple(stored_metrics(task))
        )
        long = analysis.long_summary(summary, ctx.compared)
        published = analysis.published_table(task, metrics, ctx.split)
        config = _column_config(metrics)
        detail = st.radio(
            "Columns", list(DETAILS), index=1, horizontal=True, key="overview-columns"
        )
        hidden = [
            metric_header(m) + suffix
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
                f"{metric_header(ABSENCE)}: reference structures with no predicted voxel; "
                "OR: primary-metric values beyond the Tukey fence pooled over the profile's "
                "models. HD95/ASSD of a missed structure count as the image diagonal.",
            )
        with st.expander("All statistics (long form)"):
            show_table(
                long.drop(columns=["grp"]),
                key=f"overview-long-{task.name}-{ctx.split}",
            )
    _not_ranked(ctx)
