"""Compare two models: paired differences on the cases both scored, per metric with a CI
and a Holm-corrected p-value, and which model wins for each structure."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from mskbench.harness import classification
from mskbench.harness.report import metric_header
from mskbench.harness.store import Store
from mskbench.leaderboard import analysis, charts, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import structure_label, value_metrics
from mskbench.leaderboard.widgets import (
    P_VALUE,
    no_values,
    number,
    pick_model,
    pick_profile,
    show_table,
)
from mskbench.tasks import get_task

TITLE = "Compare two models"
COLUMNS = {
    "metric_label": "Metric",
    "n": "n pairs",
    "mean_a": "Mean A",
    "mean_b": "Mean B",
    "diff": "Mean A − B",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "test": "Test",
    "p": "p",
    "p_holm": "p (Holm)",
    "better": "Better",
    "n_excluded": "n excluded",
    "n_unpaired": "n unpaired",
}


def compared(
    store: Store,
    task_name: str,
    run_a: str,
    run_b: str,
    split: str,
    metrics: Sequence[str],
    names: tuple[str, str],
    structures: bool,
) -> pd.DataFrame:
    """`analysis.paired_table` of two runs: one row per metric (Holm across ``metrics``),
    or with ``structures`` one row per structure of the single metric in ``metrics``."""
    paired = queries.paired_values(store, task_name, run_a, run_b, split, metrics)
    rows = paired[paired["structure"].notna() == structures].reset_index(drop=True)
    return analysis.paired_table(rows, get_task(task_name), *names)


def _ordered(table: pd.DataFrame, column: str, order: Sequence[str]) -> pd.DataFrame:
    """``table`` sorted by ``column`` in ``order`` (values not in it last, by name)."""
    rank = table[column].map(lambda v: order.index(v) if v in order else len(order))
    return table.assign(_rank=rank).sort_values(["_rank", column]).drop(columns="_rank")


def _config() -> dict[str, object]:
    config: dict[str, object] = {
        c: number(4) for c in ("Mean A", "Mean B", "Mean A − B", "CI low", "CI high")
    }
    config.update({"p": P_VALUE, "p (Holm)": P_VALUE})
    return config


def _per_structure(ctx: PageContext, a: pd.Series, b: pd.Series, profile: str) -> None:
    st.subheader("Which model wins where")
    metrics = value_metrics(ctx.task)
    metric = st.selectbox(
        "Metric", metrics, key="compare-metric", format_func=lambda m: metric_header(m, ctx.task)
    )
    table = ctx.source.get(
        compared,
        ctx.task.name,
        a["run_id"],
        b["run_id"],
        ctx.split,
        (metric,),
        (a["model"], b["model"]),
        structures=True,
    )
    if table.empty:
        no_values(metric_header(metric, ctx.task))
        return
    table = _ordered(table, "structure", ctx.task.structure_names)
    table["structure"] = table["structure"].map(structure_label)
    st.altair_chart(charts.difference_bars(table, a["model"], b["model"]), width="stretch")
    columns = {"structure": "Structure", **COLUMNS}
    show_table(
        table[list(columns)].rename(columns=columns),
        key=f"compare-structures-{ctx.task.name}-{ctx.split}-{profile}-{metric}",
        column_config=_config(),
        caption="Per structure: mean difference A − B with its 95 % CI; Holm across the "
        "structures.",
    )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Compare two models")
    profile = pick_profile(ctx)
    if profile is None:
        return
    runs = ctx.compared_in(profile)
    if len(runs) < 2:
        st.info(f"Profile {profile} has one ranked model: nothing to compare.")
        return
    left, right = st.columns(2)
    with left:
        a = pick_model(runs, "Model A", "model-a", 0)
    with right:
        b = pick_model(runs, "Model B", "model-b", 1)
    if a["run_id"] == b["run_id"]:
        st.info("Pick two different models.")
        return
    st.subheader(f"A = {a['model']}, B = {b['model']}")
    if ctx.task.segmentation is not None:
        _per_metric(ctx, a, b, profile)
    if any(target.kind == "binary" for target in ctx.task.classification):
        _auroc_tests(ctx, a, b)


def auroc_tests(store: Store, task_name: str, run_a: str, run_b: str, split: str) -> pd.DataFrame:
    """DeLong test of the two runs' AUROCs for every binary target, on the cases both scored."""
    task = get_task(task_name)
    rows = queries.target_rows(store, (run_a, run_b), split)
    out = []
    for target in task.classification:
        if target.kind != "binary":
            continue
        result = classification.compare_auroc(
            target, rows[rows["run_id"] == run_a], rows[rows["run_id"] == run_b]
        )
        out.append({"Target": target.name, **(result or {"n": 0})})
    return pd.DataFrame(out)


def _auroc_tests(ctx: PageContext, a: pd.Series, b: pd.Series) -> None:
    st.subheader("AUROC: DeLong test")
    table = ctx.source.get(auroc_tests, ctx.task.name, a["run_id"], b["run_id"], ctx.split)
    table = table.rename(
        columns={"auroc_a": "AUROC A", "auroc_b": "AUROC B", "difference": "A − B", "se": "SE",
                 "p_value": "p", "n_positive": "n positive"}
    )  # fmt: skip
    show_table(
        table,
        key=f"delong-{ctx.task.name}-{ctx.split}-{a['run_id']}-{b['run_id']}",
        column_config={
            "p": P_VALUE,
            **{c: number(4) for c in ("AUROC A", "AUROC B", "A − B", "SE")},
        },
        caption="DeLong, DeLong & Clarke-Pearson (1988) on the (fold, case) pairs both models "
        "scored with a positive or negative reference; two-sided p. A test needs at least two "
        "cases of each class.",
    )


def _per_metric(ctx: PageContext, a: pd.Series, b: pd.Series, profile: str) -> None:
    table = ctx.source.get(
        compared,
        ctx.task.name,
        a["run_id"],
        b["run_id"],
        ctx.split,
        tuple(value_metrics(ctx.task)),
        (a["model"], b["model"]),
        structures=False,
    )
    if table.empty:
        no_values("these two models")
        return
    table = _ordered(table, "metric", value_metrics(ctx.task))
    show_table(
        table[list(COLUMNS)].rename(columns=COLUMNS),
        key=f"compare-{ctx.task.name}-{ctx.split}-{profile}",
        column_config=_config(),
        caption="Paired on the (fold, case, structure) values both models have. Signed "
        "errors are compared by size (|ΔFF| ...). Test: Shapiro–Wilk on the differences → "
        "paired t or Wilcoxon signed-rank; CI: t interval of the mean difference; Holm "
        "across metrics. Better: the favoured model where the Holm p < 0.05.",
    )
    _per_structure(ctx, a, b, profile)
