"""Checks of the bulk rows `Store.write_fold` takes, before anything is written.

Each frame must have exactly the columns of its table (less ``run_id``/``fold``, which the
store adds), text keys without NULLs, numbers where numbers go, and no duplicate keys.
Every problem of every frame is collected and reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mskbench.harness.store.errors import InvalidRecordError
from mskbench.harness.store.records import SPLITS

Kind = Literal["key", "text", "text_or_null", "number", "finite", "number_or_null"]


@dataclass(frozen=True)
class FrameSpec:
    """Columns (name → kind) of one table's rows and the columns that make a row unique.

    Kinds: ``key``/``text`` a string, never NULL; ``text_or_null``; ``number`` a float,
    NaN allowed, ±inf not; ``finite`` a finite float; ``number_or_null`` NaN stored as
    NULL.
    """

    table: str
    columns: Mapping[str, Kind]
    unique: tuple[str, ...]


METRICS = FrameSpec(
    "case_metrics",
    {"case_id": "key", "split": "key", "structure": "key", "metric": "key", "value": "number"},
    ("case_id", "split", "structure", "metric"),
)
SCORES = FrameSpec(
    "case_scores",
    {
        "case_id": "key",
        "split": "key",
        "target": "key",
        "class": "key",
        "score": "finite",
        "reference": "text_or_null",
    },
    ("case_id", "split", "target", "class"),
)
PREDICTIONS = FrameSpec(
    "predictions", {"case_id": "key", "split": "key", "path": "text"}, ("case_id", "split")
)
ATTRIBUTES = FrameSpec(
    "attributes",
    {
        "case_id": "key",
        "structure": "key",
        "attribute": "key",
        "value_num": "number_or_null",
        "value_text": "text_or_null",
    },
    ("case_id", "structure", "attribute"),
)


def _as_float(column: pd.Series) -> pd.Series | None:
    """``column`` as float64 (NULL → NaN), or None when it holds non-numbers."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.astype(np.float64)
    if pd.api.types.infer_dtype(column, skipna=True) in (
        "floating",
        "integer",
        "mixed-integer-float",
        "boolean",
        "empty",
    ):
        return pd.to_numeric(column).astype(np.float64)
    return None


def _check_column(name: str, kind: Kind, column: pd.Series, problems: list[str]) -> pd.Series:
    """The normalised column; problems found are appended to ``problems``."""
    if kind in ("key", "text", "text_or_null"):
        nulls = int(column.isna().sum())
        if nulls and kind != "text_or_null":
            problems.append(f"column {name!r} has {nulls} NULL value(s)")
        if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
            problems.append(f"column {name!r} must hold strings, got dtype {column.dtype}")
        return column.astype(object).where(column.notna(), None)
    values = _as_float(column)
    if values is None:
        problems.append(f"column {name!r} must be numeric, got dtype {column.dtype}")
        return column
    x = values.to_numpy()
    n_inf = int(np.isinf(x).sum())
    if n_inf:
        problems.append(f"column {name!r} has {n_inf} infinite value(s)")
    n_nan = int(np.isnan(x).sum())
    if kind == "finite" and n_nan:
        problems.append(f"column {name!r} has {n_nan} NaN/NULL value(s)")
    return values


def check_frame(spec: FrameSpec, frame: pd.DataFrame, problems: list[str]) -> pd.DataFrame:
    """``frame`` with its columns in table order and normalised dtypes.

    Problems are appended to ``problems`` prefixed by the table name; the caller raises.
    """
    where = f"{spec.table} rows"
    if not isinstance(frame, pd.DataFrame):
        problems.append(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
        return pd.DataFrame(columns=list(spec.columns))
    missing = [c for c in spec.columns if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in spec.columns]
    if missing or extra:
        problems.append(
            f"{where}: columns must be {list(spec.columns)}; missing {missing}, unexpected {extra}"
        )
        return pd.DataFrame(columns=list(spec.columns))
    found: list[str] = []
    out = pd.DataFrame(
        {name: _check_column(name, kind, frame[name], found) for name, kind in spec.columns.items()}
    ).reset_index(drop=True)
    if "split" in spec.columns and not found:
        bad = sorted(set(out["split"]) - set(SPLITS))
        if bad:
            found.append(f"column 'split' must be one of {SPLITS}, got {bad}")
    if not found:
        duplicated = int(out.duplicated(list(spec.unique)).sum())
        if duplicated:
            found.append(f"{duplicated} duplicate row(s) on {list(spec.unique)}")
    problems.extend(f"{where}: {p}" for p in found)
    return out


def raise_problems(problems: list[str], run_id: str, fold: int) -> None:
    """Raise one `InvalidRecordError` listing every problem (nothing has been written)."""
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise InvalidRecordError(
            f"run {run_id} fold {fold}: {len(problems)} problem(s), nothing written:\n{listing}"
        )
