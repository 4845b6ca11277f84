"""Bland–Altman (seed Fig. 5): per biomarker (each map's mean and the volume) the bias and
limits of agreement of one model against the reference, points coloured by structure."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from mskbench.leaderboard import analysis, charts, queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import Biomarker, biomarkers, with_unit
from mskbench.leaderboard.widgets import (
    P_VALUE,
    no_values,
    number,
    pick_model,
    pick_profile,
    show_table,
)

TITLE = "Bland–Altman"
OWN_REFERENCE = "the biomarker's reference value"


def _chart(
    points: pd.DataFrame,
    marker: Biomarker,
    row: pd.Series,
    axis: tuple[str, str, float | None],
    domain: Sequence[str],
) -> alt.LayerChart:
    """One biomarker's points (difference against ``axis``: column, title, threshold)."""
    x, x_title, threshold = axis
    frame = points.assign(difference=points[marker.predicted] - points[marker.reference])
    frame = frame.dropna(subset=["difference", x])
    rules = []
    if "Bias" in row and row["n"] >= 3:
        rules = [
            (f"bias {row['Bias']:.2f}", row["Bias"]),
            (f"−1.96 SD {row['LoA low']:.2f}", row["LoA low"]),
            (f"+1.96 SD {row['LoA high']:.2f}", row["LoA high"]),
        ]
    return charts.scatter(
        frame,
        x,
        "difference",
        "structure",
        x_title,
        f"{marker.name}: predicted − reference ({marker.unit})",
        horizontal=rules,
        vertical=threshold,
        colour_domain=domain,
    )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Bland–Altman")
    markers = biomarkers(ctx.task)
    if not markers:
        st.info(f"Task {ctx.task.name} reports no biomarker (map mean or volume) errors.")
        return
    profile = pick_profile(ctx)
    if profile is None:
        return
    left, right = st.columns(2)
    with left:
        run = pick_model(ctx.compared_in(profile), "Model", "agreement-model")
    axes = {f"{s.attribute} ({s.name} attribute)": s for s in ctx.task.strata}
    with right:
        axis = st.radio("x axis", [*axes, OWN_REFERENCE], key="agreement-x", horizontal=True)
    stratum = axes.get(axis)
    columns = tuple(c for m in markers for c in (m.reference, m.predicted))
    points = ctx.source.get(
        queries.point_values, ctx.task.name, run["run_id"], ctx.split, columns, stratum
    )
    if points.empty:
        no_values("the biomarkers")
        return
    table = analysis.agreement_table(points, markers)
    config = {c: number(analysis.AGREEMENT_DECIMALS) for c in ("Bias", "SD", "LoA low", "LoA high")}
    config.update({"Slope": number(4), "Slope p": P_VALUE})
    show_table(
        table,
        key=f"agreement-{ctx.task.name}-{ctx.split}-{profile}-{run['model']}",
        column_config=config,
        caption="Difference = predicted − reference mean inside the structure. Bias ± 1.96 SD "
        "(limits of agreement) with t CIs; slope: regression of the difference on the "
        "reference value (proportional bias). Structures the model missed have no "
        "predicted map mean and are counted in n_excluded.",
    )
    grid = st.columns(2)
    for i, (marker, (_, row)) in enumerate(zip(markers, table.iterrows(), strict=True)):
        if stratum is not None:
            x_axis = (
                "attribute_value",
                with_unit(stratum.attribute, stratum.unit),
                stratum.threshold,
            )
        else:
            x_axis = (marker.reference, with_unit(f"reference {marker.name}", marker.unit), None)
        with grid[i % 2]:
            chart = _chart(points, marker, row, x_axis, ctx.task.structure_names)
            st.altair_chart(chart, width="stretch")
