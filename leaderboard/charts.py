"""Altair charts of the pages, drawn from small aggregated frames (quartiles, tests) or
from one run's per-structure points."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from mskbench.leaderboard.analysis import NO_DIFFERENCE, TOO_FEW

NEUTRAL = "#bbbbbb"


def difference_bars(table: pd.DataFrame, name_a: str, name_b: str) -> alt.LayerChart:
    """Mean difference A − B per structure with its 95 % CI, coloured by the better model
    (grey: no significant difference after Holm), and a rule at zero."""
    domain = [name_a, name_b, NO_DIFFERENCE, TOO_FEW]
    colours = ["#1f77b4", "#ff7f0e", NEUTRAL, "#eeeeee"]
    base = alt.Chart(table).encode(y=alt.Y("structure:N", title=None, sort=None))
    colour = alt.Color("better:N", title="Better", scale=alt.Scale(domain=domain, range=colours))
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X("diff:Q", title=f"{table['metric_label'].iloc[0]}: mean A − B"),
        color=colour,
        tooltip=["structure", "n", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_holm"],
    )
    bars = base.mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q", color=colour)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="black").encode(x="x:Q")
    return alt.layer(bars, points, zero).properties(height=alt.Step(24))


def quartile_boxes(
    table: pd.DataFrame,
    x: str,
    colour: str,
    titles: tuple[str, str],
    lines: dict[str, float] | None = None,
    colour_order: Sequence[str] | None = None,
) -> alt.LayerChart:
    """Box plots from precomputed columns ``min, q1, median, q3, max``: a box from Q1 to Q3
    with a median tick and a whisker from min to max, one per ``x`` value and ``colour``
    group (side by side, in ``colour_order``). ``titles``: of the y axis and of the colour
    legend; optional horizontal dashed ``lines`` (label → y)."""
    y_title, colour_title = titles
    stats = ["min", "q1", "median", "q3", "max", "mean", "sd", "n"]
    base = alt.Chart().encode(
        x=alt.X(f"{x}:N", title=None, sort=None, axis=alt.Axis(labelAngle=-30, labelLimit=240)),
        xOffset=alt.XOffset(f"{colour}:N", sort=colour_order),
        color=alt.Color(f"{colour}:N", title=colour_title, sort=colour_order),
        tooltip=[x, colour, *stats],
    )
    whiskers = base.mark_rule().encode(y=alt.Y("min:Q", title=y_title), y2="max:Q")
    boxes = base.mark_bar(opacity=0.7).encode(y="q1:Q", y2="q3:Q")
    medians = base.mark_tick(color="black", thickness=2).encode(y="median:Q")
    layers: list[alt.Chart] = [whiskers, boxes, medians]
    if lines:
        frame = pd.DataFrame({"label": list(lines), "y": list(lines.values())})
        rule = alt.Chart(frame).encode(y="y:Q", tooltip=["label", "y"])
        layers.append(rule.mark_rule(strokeDash=[4, 4], color="grey"))
    data = table[[x, colour, *stats]]  # only what is drawn: one small inline data set
    return alt.layer(*layers, data=data).properties(height=320)


def scatter(
    points: pd.DataFrame,
    x: str,
    y: str,
    colour: str,
    x_title: str,
    y_title: str,
    horizontal: Sequence[tuple[str, float]] = (),
    vertical: float | None = None,
    colour_domain: Sequence[str] | None = None,
) -> alt.LayerChart:
    """Points ``x`` vs ``y`` coloured by ``colour`` (``colour_domain``: every possible
    value, so colours agree between charts), with labelled horizontal rules (bias, limits
    of agreement) and an optional vertical rule (a stratum threshold)."""
    drawn = list(dict.fromkeys(["case_id", "structure", colour, x, y]))
    layers: list[alt.Chart] = [
        alt.Chart(points[drawn])  # only what is drawn: a small inline data set
        .mark_circle(size=36, opacity=0.75)
        .encode(
            x=alt.X(f"{x}:Q", title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title),
            color=alt.Color(
                f"{colour}:N",
                title=colour.capitalize(),
                scale=alt.Scale(domain=list(colour_domain)) if colour_domain else alt.Undefined,
            ),
            tooltip=["case_id", "structure", x, y],
        )
    ]
    if horizontal:
        rules = pd.DataFrame({"label": [h[0] for h in horizontal], "y": [h[1] for h in horizontal]})
        base = alt.Chart(rules).encode(y="y:Q")
        layers.append(
            base.mark_rule(strokeDash=[6, 3], color="black").encode(tooltip=["label", "y"])
        )
        layers.append(
            base.mark_text(align="left", dx=4, dy=-6, fontSize=10).encode(
                x=alt.value(0), text="label:N"
            )
        )
    if vertical is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"x": [vertical]})).mark_rule(color="#1f77b4").encode(x="x:Q")
        )
    return alt.layer(*layers).properties(height=300)


def roc_curves(points: pd.DataFrame, target: str) -> alt.LayerChart:
    """ROC curves (``fpr``, ``tpr`` per ``model``) on one chart, with the chance diagonal."""
    lines = (
        alt.Chart(points)
        .mark_line(interpolate="step-after", point=False)
        .encode(
            x=alt.X("fpr:Q", title="1 − specificity", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("tpr:Q", title="sensitivity", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("model:N", title="Model"),
            tooltip=["model", "fpr", "tpr", "threshold"],
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="grey")
        .encode(x="x:Q", y="y:Q")
    )
    return alt.layer(chance, lines).properties(height=320, title=f"ROC curves: {target}")


def confusion_heatmap(table: pd.DataFrame) -> alt.LayerChart:
    """Counts of reference (rows) × predicted class (columns) as a labelled heat map;
    ``table`` as `mskbench.harness.classification.confusion_table` returns it."""
    predicted = [c for c in table.columns if c not in ("reference", "n")]
    long = table.melt(id_vars="reference", value_vars=predicted, var_name="predicted",
                      value_name="count")  # fmt: skip
    base = alt.Chart(long).encode(
        x=alt.X("predicted:N", title="predicted", sort=predicted),
        y=alt.Y("reference:N", title="reference", sort=list(table["reference"])),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["reference", "predicted", "count"],
    )
    labels = base.mark_text().encode(text="count:Q")
    return alt.layer(cells, labels).properties(height=alt.Step(32))
