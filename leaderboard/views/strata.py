"""Fat infiltration strata (seed Table 2): per model, each metric in the task's strata (G20−
vs G20+: reference FF < 20 % vs ≥ 20 %) with the unpaired test, box plots per stratum and
the per-structure values against the stratum's attribute."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mskbench.harness.report import metric_header
from mskbench.leaderboard import analysis, charts, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import value_metrics, with_unit
from mskbench.leaderboard.widgets import (
    P_VALUE,
    no_values,
    number,
    pick_model,
    pick_profile,
    show_table,
)
from mskbench.tasks.spec import Stratum

TITLE = "Fat infiltration strata"


def describe(stratum: Stratum) -> str:
    """``G20: ff_ref < 20 % (G20-) vs ≥ 20 % (G20+)``."""
    unit = "" if stratum.unit == "fraction" else stratum.unit
    threshold = f"{stratum.threshold:g} {unit}".strip()
    return (
        f"{stratum.name}: {stratum.attribute} < {threshold} ({stratum.below}) "
        f"vs ≥ {threshold} ({stratum.at_or_above})"
    )


def _config(stratum: Stratum) -> dict[str, object]:
    config: dict[str, object] = {"p": P_VALUE}
    for label in (stratum.below, stratum.at_or_above):
        config[f"{label} mean"] = number(3)
        config[f"{label} SD"] = number(3)
    return config


def _plots(
    ctx: PageContext, summary: pd.DataFrame, stratum: Stratum, run: pd.Series, metric: str
) -> None:
    parts = summary[(summary["metric"] == metric) & summary["part"].notna()]
    if parts.empty:
        no_values(metric_header(metric, ctx.task))
        return
    boxes, points = st.columns(2)
    with boxes:
        st.caption(
            f"{metric_header(metric, ctx.task)} of every model: Q1–Q3 box, median tick, min–max whisker"
        )
        st.altair_chart(
            charts.quartile_boxes(
                parts,
                "model",
                "part",
                (metric_header(metric, ctx.task), "Stratum"),
                colour_order=[stratum.below, stratum.at_or_above],
            ),
            width="stretch",
        )
    with points:
        values = ctx.source.get(
            queries.point_values, ctx.task.name, run["run_id"], ctx.split, (metric,), stratum
        )
        st.caption(f"{run['model']}: each (case, structure) value against its {stratum.attribute}")
        st.altair_chart(
            charts.scatter(
                values.dropna(subset=[metric, "attribute_value"]),
                "attribute_value",
                metric,
                "structure",
                with_unit(stratum.attribute, stratum.unit),
                metric_header(metric, ctx.task),
                vertical=stratum.threshold,
                colour_domain=ctx.task.structure_names,
            ),
            width="stretch",
        )


def _stratum(ctx: PageContext, stratum: Stratum, profile: str) -> None:
    metrics = value_metrics(ctx.task)
    summary = ctx.source.get(
        queries.metric_summary,
        ctx.task.name,
        ctx.groups(profile),
        ctx.split,
        tuple(metrics),
        by="stratum",
        stratum=stratum,
        with_values=True,
    )
    summary = analysis.long_summary(summary, ctx.compared)
    table = analysis.stratum_table(summary, ctx.task, stratum, metrics)
    if table.empty:
        no_values(stratum.name)
        return
    table.insert(1, "Source", f"mskbench · {profile}")
    left, right = st.columns(2)
    with left:
        run = pick_model(ctx.compared_in(profile), "Model", f"strata-model-{stratum.name}")
    with right:
        metric = st.selectbox(
            "Metric (plots)",
            metrics,
            key=f"strata-metric-{stratum.name}",
            format_func=lambda m: metric_header(m, ctx.task),
        )
    published = analysis.published_stratum_table(ctx.task, stratum, metrics, ctx.split)
    key = f"strata-{ctx.task.name}-{ctx.split}-{profile}-{stratum.name}"
    show_table(
        pd.concat([table[table["Model"] == run["model"]], published], ignore_index=True),
        key=key,
        column_config=_config(stratum),
        caption=f"(case, structure) values grouped by their {stratum.attribute}; test: "
        "Shapiro–Wilk on each group → Welch t (both normal) or Mann–Whitney U; none below 3 "
        "values per group. Published rows: the paper's numbers on its own data.",
    )
    _plots(ctx, summary, stratum, run, metric)
    with st.expander("Every model"):
        show_table(table, key=f"{key}-all", column_config=_config(stratum))


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Fat infiltration strata")
    if not ctx.task.strata:
        st.info(f"Task {ctx.task.name} defines no strata.")
        return
    profile = pick_profile(ctx)
    if profile is None:
        return
    for stratum in ctx.task.strata:
        st.subheader(describe(stratum))
        _stratum(ctx, stratum, profile)
