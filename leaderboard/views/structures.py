"""Per structure (seed Fig. 3): each model's distribution of the primary metric and of the
biomarker errors per structure, as median with Q1–Q3, and the seed's averaged lines. The
same per group of any case attribute of the data (a cases.csv column: site, side, level,
...) instead of the structure."""

from __future__ import annotations

import streamlit as st

from mskbench.harness.report import metric_header
from mskbench.leaderboard import analysis, charts, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import biomarkers, structure_label, value_metrics
from mskbench.leaderboard.widgets import no_values, number, pick_profile, show_table

TITLE = "Per structure"
STRUCTURE = "structure"


def _group_by(ctx: PageContext, profile: str) -> str:
    """``structure`` or a case attribute of the profile's data with 2–12 values."""
    fingerprints = tuple(sorted(set(ctx.compared_in(profile)["data_fingerprint"])))
    found = ctx.source.get(queries.case_attributes, fingerprints)
    return st.selectbox(
        "Group by",
        [STRUCTURE, *found["attribute"]],
        key="structure-by",
        help="The structure, or a case attribute of the data (cases.csv column).",
    )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Per structure")
    profile = pick_profile(ctx)
    if profile is None:
        return
    metrics = value_metrics(ctx.task)
    default = [ctx.task.primary_metric, *(m.delta for m in biomarkers(ctx.task))]
    left, right = st.columns([3, 1])
    with left:
        chosen = st.multiselect(
            "Metrics",
            metrics,
            default=[m for m in default if m in metrics],
            key="structure-metrics",
            format_func=lambda m: metric_header(m, ctx.task),
        )
    with right:
        by = _group_by(ctx, profile)
    if not chosen:
        return
    if by == STRUCTURE:
        summary = ctx.source.get(
            queries.metric_summary,
            ctx.task.name,
            ctx.groups(profile),
            ctx.split,
            tuple(chosen),
            by="structure",
        )
    else:
        summary = ctx.source.get(
            queries.metric_summary,
            ctx.task.name,
            ctx.groups(profile),
            ctx.split,
            tuple(chosen),
            by="case_group",
            case_attribute=by,
        )
    summary = analysis.long_summary(summary, ctx.compared)
    summary["part"] = summary["part"].map(structure_label, na_action="ignore")
    group = by.capitalize()
    for metric in chosen:
        st.subheader(metric_header(metric, ctx.task))
        parts = summary[(summary["metric"] == metric) & summary["part"].notna()]
        if parts.empty:
            no_values(metric_header(metric, ctx.task))
            continue
        lines = analysis.averaged_quartiles(summary, metric)
        st.altair_chart(
            charts.quartile_boxes(
                parts,
                "part",
                "model",
                (metric_header(metric, ctx.task), "Model"),
                {f"averaged {k}: {v:.3g}": v for k, v in lines.items()},
            ),
            width="stretch",
        )
        show_table(
            analysis.structure_table(summary, metric).rename(columns={"Structure": group}),
            key=f"structures-{ctx.task.name}-{ctx.split}-{profile}-{by}-{metric}",
            column_config={
                c: number(metric, ctx.task)
                for c in ("Median", "Q1", "Q3", "Min", "Max", "Mean", "SD")
            },
            caption=f"Per model and {by}: Q1–Q3 box, median tick, min–max whisker; dashed "
            f"lines: the median and quartiles averaged over every model and {by} (as in the "
            "seed's Fig. 3).",
        )
