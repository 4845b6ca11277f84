"""Presentation of the classification summary (`mskbench.harness.classification`): one table
per target — models (and the paper's published rows) × metrics, each "value [95 % CI]" —
with n, positives, negatives and excluded cases, the threshold and the CI method; in the
formats of ``bench results`` (text table, markdown, CSV, JSON). Fractions show 3
decimals, grade steps 2.
"""

from __future__ import annotations

import io
import json

import pandas as pd
from rich.console import Console

from mskbench.harness.csvsafe import to_csv
from mskbench.harness.report import FORMATS, MISSING, Format, json_default, text_table
from mskbench.tasks.spec import TaskSpec

NAMES = {
    "auroc": "AUROC",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "f1": "F1",
    "kappa": "Kappa",
    "qwk": "QWK",
    "mae_classes": "MAE (grades)",
    "macro_auroc": "Macro AUROC",
}


def _cell(value: float, low: float, high: float, decimals: int) -> str:
    if pd.isna(value):
        return MISSING
    text = f"{value:.{decimals}f}"
    if not pd.isna(low) and not pd.isna(high):
        text += f" [{low:.{decimals}f}, {high:.{decimals}f}]"
    return text


def _count(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else str(int(value))


def target_table(summary: pd.DataFrame, target: str) -> pd.DataFrame:
    """One target's rows as models × metrics ("value [CI]"), counts beside them."""
    rows = summary[summary["target"] == target]
    metrics = [m for m in NAMES if m in set(rows["metric"])]
    out = []
    for (source, model, profile), group in rows.groupby(
        ["source", "model", "profile"], sort=False, dropna=False
    ):
        by_metric = group.set_index("metric")
        first = group.iloc[0]
        record = {"Model": model, "Source": profile if source == "mskbench" else source}
        for m in metrics:
            if m in by_metric.index:
                r = by_metric.loc[m]
                record[NAMES[m]] = _cell(
                    r["value"], r["ci_low"], r["ci_high"], 2 if m == "mae_classes" else 3
                )
            else:
                record[NAMES[m]] = MISSING
        record["n"] = _count(first["n"])
        record["n+ / n−"] = (
            f"{_count(first['n_positive'])} / {_count(first['n_negative'])}"
            if not pd.isna(first["n_positive"])
            else MISSING
        )
        record["excluded"] = _count(first["n_excluded"])
        out.append(record)
    return pd.DataFrame(out)


def ci_methods(rows: pd.DataFrame) -> str:
    """The CI methods of a target's summary rows: the commonest plain, each other one with
    the cells it applies to — "t over 5 folds; PPV: undefined in all 5 folds", the model
    named when the rows hold several ("shoulder_threshold PPV: ...")."""
    rows = rows.dropna(subset=["ci_method"])
    if rows.empty:
        return ""
    several = "model" in rows and rows["model"].nunique() > 1
    order = {metric: i for i, metric in enumerate(NAMES)}
    names = rows["metric"].map(lambda m: NAMES.get(m, m))
    rows = rows.assign(
        rank=rows["metric"].map(lambda m: order.get(m, len(order))),
        cell=rows["model"] + " " + names if several else names,
    ).sort_values(["rank", "cell"])
    cells_of = rows.groupby("ci_method", sort=False)["cell"].agg(lambda c: list(dict.fromkeys(c)))
    main = max(cells_of.index, key=lambda method: (len(cells_of[method]), method))
    others = [
        f"{', '.join(cells_of[method])}: {method}"
        for method in sorted(cells_of.index)
        if method != main
    ]
    return "; ".join([main, *others])


def _notes(summary: pd.DataFrame, task: TaskSpec, target: str) -> list[str]:
    spec = task.target(target)
    rows = summary[(summary["target"] == target) & (summary["source"] == "mskbench")]
    notes = [f"95 % CI: {ci_methods(rows) or spec.ci}."]
    if spec.kind == "binary":
        view = f"positive = {', '.join(spec.positive)}; negative = {', '.join(spec.negative)}"
        if spec.excluded:
            view += f"; excluded from the metrics: {', '.join(spec.excluded)}"
        notes.append(f"{spec.column}: {view}; called positive when P ≥ {spec.threshold:g}.")
    else:
        notes.append(
            f"{spec.column}: {spec.kind} classes {', '.join(spec.classes)}; the "
            "predicted class is the most probable."
        )
    published = summary[(summary["target"] == target) & (summary["source"] != "mskbench")]
    for reference in sorted(set(published["reference"].dropna())):
        notes.append(f"Published, other data: {reference}.")
    return notes


def render_classification(
    summary: pd.DataFrame, task: TaskSpec, fmt: Format, width: int = 160, split: str = "test"
) -> str:
    """The classification ``summary`` of ``task`` as text (see the module docstring)."""
    if fmt == "csv":
        return to_csv(summary)
    if fmt == "json":
        document = {
            "task": task.name,
            "split": split,
            "rows": json.loads(summary.to_json(orient="records", double_precision=15)),
        }
        return json.dumps(document, indent=2, ensure_ascii=False, default=json_default) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    targets = [t.name for t in task.classification if t.name in set(summary["target"])]
    if fmt == "markdown":
        parts = []
        for target in targets:
            parts += [
                f"### {task.name} — {target} ({split} split): value [95 % CI]",
                target_table(summary, target).to_markdown(index=False, disable_numparse=True),
                "\n".join(_notes(summary, task, target)),
            ]
        return "\n\n".join(parts) + "\n"
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    for target in targets:
        title = f"{task.name} — {target} ({split} split): value [95 % CI]"
        text = text_table(target_table(summary, target), title, width, keys=2)
        console.print(text, end="", markup=False, highlight=False, crop=False)
        for note in _notes(summary, task, target):
            console.print(note, markup=False, highlight=False)
        console.print()
    return console.file.getvalue()
