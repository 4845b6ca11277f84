"""What ``bench list tasks`` and ``bench list models`` print, as rows (one dict per task or
model) rendered as a text table, JSON or CSV.

Names are identifiers people pipe into ``grep`` and scripts: the first column of a table
never wraps and is never truncated (`harness.textlayout`), JSON keeps lists and numbers as
such, CSV cells are neutralised (`harness.csvsafe`). Imports no torch, pandas or DuckDB:
listing must answer at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from mskbench.harness.csvsafe import neutralise_cell
from mskbench.harness.textlayout import render_table

LIST_FORMATS = ("table", "json", "csv")
Row = dict[str, Any]


def _targets(spec: Any) -> str:
    """The task's targets in a few words: ``10 structures``, ``fat mask``, ``goutallier
    (ordinal)``, ``risky, grade_2 (binary)`` (classification targets grouped by kind)."""
    parts = []
    if spec.segmentation is not None:
        count = len(spec.structure_names)
        parts.append(f"{count} structure{'s' if count != 1 else ''}")
    parts += [f"{m.name} mask" for m in spec.masks]
    kinds = dict.fromkeys(t.kind for t in spec.classification)
    for kind in kinds:
        names = [t.name for t in spec.classification if t.kind == kind]
        parts.append(f"{', '.join(names)} ({kind})")
    return ", ".join(parts)


def task_rows(verbose: bool = False) -> list[Row]:
    """One row per registered task: ``task, study, input`` (its series), ``targets`` (in
    words), ``structures`` (a count, or the names when ``verbose``), ``split, primary``;
    ``verbose`` adds ``version``, ``series`` and ``profiles`` (name → description)."""
    from mskbench.tasks import get_task, task_names

    rows = []
    for name in task_names():
        spec = get_task(name)
        inputs = " | ".join(
            f"{'+'.join(s.channels)} {s.spatial_dims}D"
            + (f" {s.name}" if len(spec.series) > 1 else "")
            for s in spec.series
        )
        if spec.maps:
            inputs += " + " + "/".join(m.name.upper() for m in spec.maps)
        row: Row = {
            "task": name,
            "study": spec.citation.label(),
            "input": inputs,
            "targets": _targets(spec),
            "structures": list(spec.structure_names) if verbose else len(spec.structure_names),
            "split": spec.split.description
            if verbose
            else f"{spec.split.kind} ({spec.split.n_folds})",
            "primary": f"{spec.primary_metric} ({'↑' if spec.higher_is_better else '↓'})",
        }
        if verbose:
            row["version"] = spec.version
            row["series"] = {s.name: list(s.channels) for s in spec.series}
            row["profiles"] = {p.name: p.description for p in spec.profiles.values()}
        rows.append(row)
    return rows


def model_rows(verbose: bool = False) -> list[Row]:
    """One row per registered model: ``model, tasks`` (in words, `ModelCard.describe_tasks`),
    ``description``; ``verbose`` adds ``hyperparameters`` (name → value, with the card's
    details) and ``citation``. A plugin that cannot be loaded is listed with ``tasks``
    ``?`` and the error as its description, never hiding the others."""
    from mskbench.harness.models import get_model_card, model_names

    rows = []
    for name in model_names():
        try:
            card = get_model_card(name)
        except Exception as exc:  # a broken plugin must not hide the others
            row: Row = {
                "model": name,
                "tasks": "?",
                "description": f"cannot be loaded: {type(exc).__name__}: {exc}",
            }
            if verbose:
                row |= {"hyperparameters": {}, "citation": ""}
            rows.append(row)
            continue
        row = {"model": name, "tasks": card.describe_tasks(), "description": card.description}
        if verbose:
            row["hyperparameters"] = {**card.hyperparameters, **card.details}
            row["citation"] = card.citation
        rows.append(row)
    return rows


def _text(value: Any) -> str:
    """A cell of the table and CSV forms: lists joined by commas, mappings one
    ``key = value`` per line."""
    if isinstance(value, dict):
        return "\n".join(f"{k} = {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_rows(rows: Sequence[Row], fmt: str, title: str, width: int) -> str:
    """``rows`` as ``table`` (text ``width`` wide, the first column never wrapped),
    ``json`` (a list of objects) or ``csv`` (a header row, then one row each)."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, ensure_ascii=False, default=str) + "\n"
    header = list(rows[0]) if rows else []
    cells = [[_text(row[key]) for key in header] for row in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([neutralise_cell(h) for h in header])
        writer.writerows([[neutralise_cell(c) for c in line] for line in cells])
        return out.getvalue()
    if fmt == "table":
        return render_table(header, cells, title, width, keys=len(header), left=len(header))
    raise ValueError(f"format must be one of {LIST_FORMATS}, got {fmt!r}")
