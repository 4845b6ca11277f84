"""Presentation of `mskbench.harness.summary.summarize_task` frames: the seed's Table 1
(models × metrics, "mean ± SD") and Table 2 (stratum vs stratum with the test's p-value)
shapes, and `render` to the formats of ``bench results``: a rich text table, CSV, JSON or
Markdown; `render_classification` does the same for the classification summary
(`mskbench.harness.classification`). A task's own tables in its paper's shapes
(``TaskSpec.tables``, `mskbench.harness.tables`) are rendered by `render_tables`
(``bench results --tables``).

The primary metric comes first; headers carry the unit and the direction (↑ higher is
better, ↓ lower is better, →0 a signed error whose ideal is zero). Fractions are shown
with 3 decimals, other units (%, mm, cm³, ms, p.u.) with 2.
"""

from __future__ import annotations

import io
import json
from typing import Any, Literal

import numpy as np
import pandas as pd
from rich.console import Console

from mskbench.harness.csvsafe import to_csv
from mskbench.harness.labels import readable_metric
from mskbench.harness.metrics import METRICS, MetricInfo
from mskbench.harness.textlayout import render_table
from mskbench.tasks.spec import TaskSpec

Format = Literal["table", "csv", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "markdown")
ARROWS = {True: "↑", False: "↓", None: "→0"}
SHORT_NAMES = {
    "dice": "DSC",
    "iou": "IoU",
    "hd95": "HD95",
    "assd": "ASSD",
    "nsd": "NSD",
    "ff_delta": "ΔFF",
    "mtr_delta": "ΔMTR",
    "t2_delta": "ΔT2",
    "volume_delta_cm3": "ΔV",
    "absence_rate": "AR",
    "outlier_rate": "OR",
    "pixel_accuracy": "PA",
    "foreground_pixel_accuracy": "FG PA",
}
MISSING = "–"


def metric_info(metric: str, task: TaskSpec | None = None) -> MetricInfo:
    """What ``metric`` means: from the task's catalogue (its maps' and its own metrics
    included), else from the harness's."""
    if task is not None:
        return task.metric(metric)
    if metric not in METRICS:
        raise KeyError(f"metric {metric!r} is not in the harness catalogue; pass its task")
    return METRICS[metric]


def metric_header(metric: str, task: TaskSpec | None = None) -> str:
    """Column header of ``metric``: short name (else `readable_metric`), unit unless a
    fraction, direction arrow."""
    info = metric_info(metric, task)
    unit = "" if info.unit == "fraction" else f" ({info.unit})"
    name = SHORT_NAMES.get(metric) or readable_metric(metric)
    return f"{name}{unit} {ARROWS[info.higher_is_better]}"


def format_value(metric: str, value: float, task: TaskSpec | None = None) -> str:
    """``value`` with 3 decimals for fractions, 2 otherwise; NaN as a dash."""
    if value is None or pd.isna(value):
        return MISSING
    decimals = 3 if metric_info(metric, task).unit == "fraction" else 2
    return f"{value:.{decimals}f}"


def format_p(p: float) -> str:
    """A p-value: 3 decimals, scientific notation below 0.001, a dash when there is none."""
    if p is None or pd.isna(p):
        return MISSING
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def mean_sd(
    metric: str, row: pd.Series, task: TaskSpec | None = None, ci_separator: str | None = None
) -> str:
    """The cell text "mean ± SD" (the mean alone when there is no SD), followed by
    ``ci_separator`` and "[CI low, high]" when a separator is given and the CI exists."""

    def fmt(value: float) -> str:
        return format_value(metric, value, task)

    text = fmt(row["mean"])
    if not pd.isna(row["sd"]):
        text += f" ± {fmt(row['sd'])}"
    if ci_separator is not None and not pd.isna(row["ci_low"]):
        text += f"{ci_separator}[{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"
    return text


def _metrics(summary: pd.DataFrame) -> list[str]:
    """Metrics to show, primary first (the summary's order, else order of appearance)."""
    present = list(dict.fromkeys(summary["metric"]))
    order = summary.attrs.get("metrics") or present
    return [m for m in order if m in present]


def _source(row: pd.Series) -> str:
    return row["profile"] if row["source"] == "mskbench" else row["source"]


def _task_of(summary: pd.DataFrame) -> TaskSpec | None:
    """The task a summary frame belongs to (its ``attrs``), for its metric catalogue."""
    from mskbench.tasks import get_task

    name = summary.attrs.get("task")
    return get_task(name) if name else None


def table1(summary: pd.DataFrame, ci_separator: str | None = None) -> pd.DataFrame:
    """Seed Table 1 shape: one row per (model, source) of the all-cases rows, columns
    ``Model``, ``Source`` (the profile, or 'published, other data'), ``n`` (rows of the
    primary metric) and one "mean ± SD" column per metric (headers by `metric_header`)."""
    rows = summary[summary["stratum"].isna()]
    metrics = _metrics(rows)
    task = _task_of(summary)
    primary = summary.attrs.get("primary_metric", metrics[0] if metrics else None)
    out = []
    for _, group in rows.groupby(["source", "profile", "model"], sort=False, dropna=False):
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        n = by_metric["n"].get(primary, pd.NA)
        record = {
            "Model": first["model"],
            "Source": _source(first),
            "n": MISSING if pd.isna(n) else str(n),
        }
        for m in metrics:
            record[metric_header(m, task)] = (
                mean_sd(m, by_metric.loc[m], task, ci_separator)
                if m in by_metric.index
                else MISSING
            )
        out.append(record)
    headers = [metric_header(m, task) for m in metrics]
    return pd.DataFrame(out, columns=["Model", "Source", "n", *headers])


def table2(
    summary: pd.DataFrame, below: str, above: str, ci_separator: str | None = None
) -> pd.DataFrame:
    """Seed Table 2 shape for one stratum pair: one row per (model, source, metric) with
    "mean ± SD" and n of each stratum, the test chosen by the normality rule and its p."""
    rows = summary[summary["stratum"].isin([below, above])]
    task = _task_of(summary)
    out = []
    for (_, _, model), group in rows.groupby(
        ["source", "profile", "model"], sort=False, dropna=False
    ):
        for m in _metrics(group):
            cells = {}
            for label in (below, above):
                part = group[(group["metric"] == m) & (group["stratum"] == label)]
                if part.empty:
                    cells[label] = MISSING
                    continue
                row = part.iloc[0]
                n = "" if pd.isna(row["n"]) else f" (n={row['n']})"
                cells[label] = mean_sd(m, row, task, ci_separator) + n
            first = group[group["metric"] == m].iloc[0]
            out.append(
                {
                    "Model": model,
                    "Source": _source(first),
                    "Metric": metric_header(m, task),
                    **cells,
                    "Test": first["test"] if isinstance(first["test"], str) else MISSING,
                    "p": format_p(first["p_value"]),
                }
            )
    return pd.DataFrame(out, columns=["Model", "Source", "Metric", below, above, "Test", "p"])


def _title(summary: pd.DataFrame) -> str:
    a = summary.attrs
    profile = a.get("profile") or "all profiles"
    return (
        f"{a.get('task', 'task')} — {a.get('split', 'test')} split, {profile}: mean ± SD [95 % CI]"
    )


def _ci_note(summary: pd.DataFrame) -> str:
    note = f"95 % CI: {summary.attrs.get('ci_method', 'see the ci_method column')}"
    fence = summary.attrs.get("fence")
    return f"{note}. Outlier rates (OR): {fence}." if fence else note


def _excluded_lines(summary: pd.DataFrame) -> list[str]:
    return [
        f"{e['run_id']} ({e['model']}, {e['profile']}): {e['reason']}"
        for e in summary.attrs.get("excluded", [])
    ]


def _strata(summary: pd.DataFrame) -> list[tuple[str, str]]:
    pairs = [tuple(p[-2:]) for p in summary.attrs.get("strata", [])]
    return [(b, a) for b, a in pairs if summary["stratum"].isin([b, a]).any()]


def text_table(
    frame: pd.DataFrame,
    title: str,
    width: int,
    keys: int,
    units: list[list[int]] | None = None,
) -> str:
    """``frame`` as plain text ``width`` wide (`harness.textlayout`): the first ``keys``
    columns (model, source, ...) repeated in each part, ``units`` of value columns kept
    together; the first column (a model name) never wraps."""
    header = [str(c) for c in frame.columns]
    rows = [[str(v) for v in record] for record in frame.itertuples(index=False)]
    return render_table(header, rows, title, width, keys=keys, units=units, left=2)


def _render_table(summary: pd.DataFrame, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    text = text_table(table1(summary, "\n"), _title(summary), width, keys=3)
    console.print(text, end="", markup=False, highlight=False, crop=False)
    console.print(_ci_note(summary))
    for below, above in _strata(summary):
        console.print()
        text = text_table(
            table2(summary, below, above),
            f"{below} vs {above}: mean ± SD (n), unpaired test",
            width,
            keys=3,
            units=[[3, 4], [5, 6]],  # both strata side by side; the test beside its p
        )
        console.print(text, end="", markup=False, highlight=False, crop=False)
    excluded = _excluded_lines(summary)
    if excluded:
        console.print()
        console.print("Runs not compared:", markup=False)
        for line in excluded:
            console.print(f"  {line}", markup=False, highlight=False)
    return console.file.getvalue()


def _render_markdown(summary: pd.DataFrame) -> str:
    parts = [
        f"### {_title(summary)}",
        table1(summary, " ").to_markdown(index=False, disable_numparse=True),
        _ci_note(summary),
    ]
    for below, above in _strata(summary):
        parts += [
            f"### {below} vs {above}",
            table2(summary, below, above).to_markdown(index=False, disable_numparse=True),
        ]
    excluded = _excluded_lines(summary)
    if excluded:
        parts += ["### Runs not compared", "\n".join(f"- {line}" for line in excluded)]
    return "\n\n".join(parts) + "\n"


def _render_json(summary: pd.DataFrame) -> str:
    keys = (
        "task",
        "task_version",
        "split",
        "profile",
        "primary_metric",
        "metrics",
        "ci",
        "ci_method",
        "fence",
        "runs",
        "excluded",
    )
    document: dict[str, Any] = {k: summary.attrs.get(k) for k in keys}
    document["rows"] = json.loads(summary.to_json(orient="records", double_precision=15))
    return json.dumps(document, indent=2, ensure_ascii=False, default=json_default) + "\n"


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def render(summary: pd.DataFrame, fmt: Format, width: int = 160) -> str:
    """``summary`` (from `summarize_task`) as text in format ``fmt``.

    ``table``: Table 1 shape with the CI under each mean, one Table 2 per stratum pair, and
    the runs left out, as plain text ``width`` characters wide. ``markdown``: the same as
    pipe tables. ``csv``: the long rows. ``json``: ``attrs`` plus ``rows`` (NaN as null).
    """
    if fmt == "table":
        return _render_table(summary, width)
    if fmt == "markdown":
        return _render_markdown(summary)
    if fmt == "csv":
        return to_csv(summary)
    if fmt == "json":
        return _render_json(summary)
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def render_tables(tables: dict[str, pd.DataFrame], fmt: Format, width: int = 160) -> str:
    """`paper_tables` output as text: ``table`` (plain text ``width`` wide), ``markdown``
    (a heading and a pipe table each), ``csv`` (each table after a ``# title`` line) or
    ``json`` (title → list of records)."""
    if fmt == "table":
        return "".join(text_table(frame, title, width, keys=1) for title, frame in tables.items())
    if fmt == "markdown":
        return "".join(
            f"### {title}\n\n{frame.to_markdown(index=False, disable_numparse=True)}\n\n"
            for title, frame in tables.items()
        )
    if fmt == "csv":
        return "".join(f"# {title}\n{to_csv(frame)}" for title, frame in tables.items())
    if fmt == "json":
        document = {title: frame.to_dict(orient="records") for title, frame in tables.items()}
        return json.dumps(document, indent=2, ensure_ascii=False, default=json_default) + "\n"
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
