"""Read queries shared by `bench results` and the leaderboard; reshaping and joins run in
DuckDB, only the rows asked for come back to pandas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from mskbench.harness.store.records import CASE_LEVEL

if TYPE_CHECKING:
    from mskbench.harness.store.store import Store

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _in_list(prefix: str, values: Sequence[str], params: dict[str, Any]) -> str:
    """``$prefix0, $prefix1, ...`` for an SQL IN list; the values go into ``params``."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    params.update(zip(names, values, strict=True))
    return ", ".join(f"${n}" for n in names)


def metric_rows(
    store: Store,
    run_ids: Sequence[str],
    split: str,
    metrics: Sequence[str],
    side_metrics: Sequence[str] = (),
    attributes: Sequence[str] = (),
) -> pd.DataFrame:
    """Case-metric rows of ``metrics`` of runs ``run_ids`` on ``split``, with context.

    One row per (run, fold, case, structure, metric) with ``value``, ordered by those
    keys; then, from the same (run, fold, case, structure), one column per name in
    ``side_metrics`` (e.g. the ``absent`` flag; NaN where not stored) and ``attribute_<k>``
    for ``attributes[k]``: the numeric value from the ``attributes`` table of the run's
    data (the structure's, else the case's ``__case__`` row), else the case-metric row of
    that name (``ff_ref`` is both), else NaN.
    """
    bad = [n for n in side_metrics if not _IDENTIFIER.match(n)]
    if bad:
        raise ValueError(f"side metric names must be identifiers, got {bad}")
    columns = ["run_id", "fold", "case_id", "structure", "metric", "value", *side_metrics]
    columns += [f"attribute_{k}" for k in range(len(attributes))]
    if not run_ids or not metrics:  # typed like a filled frame, so concatenation keeps floats
        text = {"run_id", "case_id", "structure", "metric"}
        dtypes = {c: "str" if c in text else "int32" if c == "fold" else "float64" for c in columns}
        return pd.DataFrame(columns=columns).astype(dtypes)
    params: dict[str, Any] = {"split": split}
    if attributes:  # DuckDB refuses a named parameter the SQL does not use
        params["case_level"] = CASE_LEVEL
    runs_in = _in_list("run", run_ids, params)
    metrics_in = _in_list("metric", metrics, params)
    side_in = _in_list("side", [*side_metrics, *attributes], params) or "NULL"
    side = [
        f'first(value) FILTER (WHERE metric = $side{i}) AS "{n}"'
        for i, n in enumerate(side_metrics)
    ]
    select = [f's."{n}"' for n in side_metrics]
    joins = []
    for k, attribute in enumerate(attributes):
        params[f"attribute{k}"] = attribute
        side.append(f"first(value) FILTER (WHERE metric = $attribute{k}) AS metric_attribute{k}")
        select.append(
            f"coalesce(a{k}.value_num, c{k}.value_num, s.metric_attribute{k}) AS attribute_{k}"
        )
        for alias, structure in ((f"a{k}", "m.structure"), (f"c{k}", "$case_level")):
            joins.append(
                f"LEFT JOIN attributes {alias} ON {alias}.data_fingerprint = r.data_fingerprint "
                f"AND {alias}.case_id = m.case_id AND {alias}.structure = {structure} "
                f"AND {alias}.attribute = $attribute{k}"
            )
    side_columns = "".join(f", {c}" for c in side)
    select_columns = "".join(f", {c}" for c in select)
    sql = f"""
        WITH sel AS (
            SELECT run_id, fold, case_id, structure, metric, value FROM case_metrics
            WHERE run_id IN ({runs_in}) AND split = $split
        ),
        side AS (
            SELECT run_id, fold, case_id, structure{side_columns}
            FROM sel WHERE metric IN ({side_in})
            GROUP BY run_id, fold, case_id, structure
        )
        SELECT m.run_id, m.fold, m.case_id, m.structure, m.metric, m.value{select_columns}
        FROM sel m
        JOIN runs r USING (run_id)
        LEFT JOIN side s USING (run_id, fold, case_id, structure)
        {" ".join(joins)}
        WHERE m.metric IN ({metrics_in})
        ORDER BY m.run_id, m.fold, m.case_id, m.structure, m.metric
    """
    return store.query(sql, params)
