"""The classification section of the Overview, for tasks with case-level targets: per
target, the compared models' metrics with the target's declared 95 % CIs and the paper's
published numbers beside them, ROC curves of every model on one chart (binary targets), and
a confusion table of reference × predicted class for a chosen model (an excluded grade of
a binary view kept as its own row)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mskbench.harness import classification
from mskbench.harness.report_classification import ci_methods, target_table
from mskbench.leaderboard import charts, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.widgets import pick_model, show_table
from mskbench.tasks.targets import ClassificationTarget


def _curves(target: ClassificationTarget, rows: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """ROC points of every run, with its model name."""
    parts = [
        classification.roc_points(target, rows[rows["run_id"] == run.run_id]).assign(
            model=run.model
        )
        for run in runs.itertuples(index=False)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _target(ctx: PageContext, target: ClassificationTarget, profile: str) -> None:
    runs = ctx.compared_in(profile)
    triples = tuple(zip(runs["run_id"], runs["model"], runs["profile"], strict=True))
    summary = ctx.source.get(queries.classification_summary, ctx.task.name, triples, ctx.split)
    st.subheader(f"{target.name} ({target.kind}) · profile {profile}")
    table = target_table(summary, target.name)
    ours = summary[summary["source"] == "mskbench"]
    if table.empty:
        st.info(f"No run of profile {profile} scored {target.name} on this split.")
        return
    show_table(
        table,
        key=f"classification-{ctx.task.name}-{ctx.split}-{profile}-{target.name}",
        caption="value [95 % CI]; CI method: "
        + (ci_methods(ours[ours["target"] == target.name]) or target.ci)
        + ". Published rows are the paper's numbers on its own (other) data.",
    )
    rows = ctx.source.get(queries.target_rows, tuple(runs["run_id"]), ctx.split)
    if target.kind == "binary":
        curves = _curves(target, rows, runs)
        if not curves.empty:
            st.altair_chart(charts.roc_curves(curves, target.name), width="stretch")
            st.caption(
                "Each curve pools the test cases of all the run's folds."
                + (
                    " The table's AUROC is the mean of the per-fold AUROCs (the seed's "
                    "protocol), so a model can rank every fold perfectly (1.000) and still "
                    "bend here, where scores of different folds' models meet."
                    if target.ci == "folds"
                    else ""
                )
            )
    run = pick_model(runs, "Confusion table of", f"confusion-{profile}-{target.name}", 0)
    counts = classification.confusion_table(target, rows[rows["run_id"] == run["run_id"]])
    left, right = st.columns([1, 1])
    with left:
        show_table(
            counts,
            key=f"confusion-{ctx.task.name}-{ctx.split}-{profile}-{target.name}",
            caption="Rows: reference class (cases.csv); columns: predicted class"
            + (f" at P ≥ {target.threshold:g}" if target.kind == "binary" else "")
            + ".",
        )
    with right:
        st.altair_chart(charts.confusion_heatmap(counts), width="stretch")


def render(ctx: PageContext) -> None:
    """Draw the classification section of every profile with compared runs."""
    for profile in ctx.profiles:
        for target in ctx.task.classification:
            _target(ctx, target, profile)
