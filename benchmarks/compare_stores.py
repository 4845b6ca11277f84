"""Compare the per-case numbers of two results databases, row by row.

Runs are matched by (task, model, profile, kind) — run ids are random — and their rows by
(fold, case, split, structure, metric) in ``case_metrics`` and by (fold, case, split,
target, class) in ``case_scores``. Prints, per matched run, the number of rows on each side,
the rows only one side has, the rows whose NaN-ness differs, and the largest absolute
difference of the values; then the overall maximum. A refactoring that must not change a
number (issue 12's acceptance) shows 0 everywhere.

    .venv/bin/python benchmarks/compare_stores.py before.duckdb after.duckdb

Both files are opened read-only through copies (an older schema is readable).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

RUN_KEY = ["task", "model", "profile", "kind"]
TABLES = {
    "case_metrics": (["fold", "case_id", "split", "structure", "metric"], "value"),
    "case_scores": (["fold", "case_id", "split", "target", "class"], "score"),
}


def _read(path: Path, table: str) -> pd.DataFrame:
    """``table`` joined with its run's key columns (an empty frame when the table or its
    columns are missing, e.g. ``case_scores`` of schema version 1)."""
    keys, value = TABLES[table]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        with duckdb.connect(str(copy), read_only=True) as con:
            columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            if not set(keys) <= columns:
                return pd.DataFrame(columns=[*RUN_KEY, *keys, value])
            runs = "SELECT run_id, task, model, profile, kind FROM runs"
            sql = f"SELECT r.task, r.model, r.profile, r.kind, {', '.join('t.' + k for k in keys)}, t.{value} FROM {table} t JOIN ({runs}) r USING (run_id)"
            return con.execute(sql).df()


def compare(before: Path, after: Path) -> float:
    """Print the comparison (module docstring); return the largest absolute difference."""
    worst = 0.0
    for table, (keys, value) in TABLES.items():
        a, b = _read(before, table), _read(after, table)
        both = a.merge(b, on=[*RUN_KEY, *keys], how="outer", suffixes=("_a", "_b"), indicator=True)
        if both.empty:
            print(f"{table}: no rows on either side")
            continue
        print(f"{table}:")
        for run, rows in both.groupby(RUN_KEY, sort=True):
            x, y = rows[f"{value}_a"].to_numpy(float), rows[f"{value}_b"].to_numpy(float)
            paired = rows["_merge"] == "both"
            nan_differs = int((np.isnan(x) != np.isnan(y))[paired].sum())
            finite = paired & ~np.isnan(x) & ~np.isnan(y)
            diff = float(np.max(np.abs(x[finite] - y[finite]))) if finite.any() else 0.0
            worst = max(worst, diff)
            print(
                f"  {' / '.join(map(str, run))}: rows {int((rows['_merge'] != 'right_only').sum())}"
                f" vs {int((rows['_merge'] != 'left_only').sum())}, only before "
                f"{int((rows['_merge'] == 'left_only').sum())}, only after "
                f"{int((rows['_merge'] == 'right_only').sum())}, NaN differs {nan_differs}, "
                f"max |difference| {diff:.3g}"
            )
    print(f"largest absolute difference over all rows: {worst:.3g}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    compare(args.before, args.after)


if __name__ == "__main__":
    main()
