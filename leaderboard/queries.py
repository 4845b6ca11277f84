"""Every SQL query of the leaderboard. Aggregation runs in DuckDB; only aggregates (and, where
a test needs them, the lists of values) come back to pandas.

Each function takes a `harness.store.Store` (read-only connection per query, lock retry)
and returns a DataFrame. Runs are passed as ``groups``: run id → group name (the profile,
or "a"/"b" in a comparison); the Tukey outlier fence is pooled per (group, metric).

Values follow `harness.summary`: HD95/ASSD of a missed or spurious structure become the
image diagonal (mm), never dropped; any other NaN (a map mean inside an empty mask) is
left out of the statistics and counted in ``n_excluded``. A stratum label comes from the
stratum's attribute: the structure's row of the ``attributes`` table, else the case's,
else the case-metric row of that name; no value → no stratum. A case group is the value
of a case-level attribute (a cases.csv column: site, side, level, ...). Units are the
metric catalogue's (rates in %).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
from mskbench.harness.metrics import METRICS
from mskbench.harness.metrics.aggregate import DISTANCE_METRICS
from mskbench.harness.store import CASE_LEVEL, Store
from mskbench.tasks.spec import Stratum

#: Per-structure flags joined to every value (names of case-metric rows).
FLAGS = {
    "absent": "absent",
    "spurious": "spurious",
    "diagonal": "image_diagonal_mm",
    "ref_voxels": "ref_voxels",
}
ABSENCE = "absence_rate"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
By = Literal["stratum", "structure", "case_group"] | None
#: Runs of a query and their group: a mapping run id → group, or (run id, group) pairs.
Groups = Mapping[str, str] | Sequence[tuple[str, str]]


def direction(metric: str) -> int:
    """1 higher is better, -1 lower is better, 0 a signed error (judged by its size) or a
    value outside the catalogue (a flag such as ``ref_voxels``)."""
    info = METRICS.get(metric)
    better = info.higher_is_better if info else None
    return 0 if better is None else (1 if better else -1)


def _bind(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> list[str]:
    """Placeholders ``$prefix0, ...`` for ``values``, which are added to ``params``."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    params.update(zip(names, values, strict=True))
    return [f"${n}" for n in names]


def _in(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    return ", ".join(_bind(prefix, values, params)) or "NULL"


def _rows(prefix: str, rows: Sequence[tuple[Any, ...]], params: dict[str, Any]) -> str:
    """``VALUES (..), (..)`` of ``rows`` with every value bound as a parameter."""
    cells = [_bind(f"{prefix}{i}_", row, params) for i, row in enumerate(rows)]
    return "VALUES " + ", ".join(f"({', '.join(c)})" for c in cells)


def _base(
    params: dict[str, Any],
    groups: Groups,
    split: str,
    metrics: Sequence[str],
    stratum: Stratum | None = None,
    case_attribute: str | None = None,
) -> str:
    """CTEs ``sel``, ``dirs``, ``flags`` and ``vals`` (one row per value of ``metrics`` of the
    runs in ``groups`` on ``split``, distances substituted, with its stratum label and the
    text of its case's ``case_attribute`` as ``case_group``)."""
    groups = dict(groups)
    if not groups or not metrics:
        raise ValueError("need at least one run and one metric")
    params["split"] = split
    params["attribute"] = stratum.attribute if stratum else None
    params["case_attribute"] = case_attribute
    params["case_level"] = CASE_LEVEL
    runs = _in("run", list(groups), params)
    flag_names = _bind("flag", list(FLAGS.values()), params)
    flags = ", ".join(
        f"max(value) FILTER (WHERE metric = {name}) AS {column}"
        for column, name in zip(FLAGS, flag_names, strict=True)
    )
    distance = _in("distance", DISTANCE_METRICS, params)
    attribute_joins, label = "", "NULL::VARCHAR"
    attribute_value = "NULL::DOUBLE"
    if stratum is not None:
        params.update(
            threshold=stratum.threshold,
            below=stratum.below,
            above=stratum.at_or_above,
        )
        attribute_value = "coalesce(a.value_num, c.value_num, f.attribute_metric)"
        attribute_joins = "\n".join(
            f"LEFT JOIN attributes {alias} ON {alias}.data_fingerprint = r.data_fingerprint "
            f"AND {alias}.case_id = m.case_id AND {alias}.structure = {structure} "
            f"AND {alias}.attribute = $attribute"
            for alias, structure in (("a", "m.structure"), ("c", "$case_level"))
        )
        label = (
            f"CASE WHEN {attribute_value} IS NULL OR isnan({attribute_value}) THEN NULL "
            f"WHEN {attribute_value} >= $threshold THEN $above ELSE $below END"
        )
    return f"""
        sel(run_id, grp) AS ({_rows("g", list(groups.items()), params)}),
        dirs(metric, dir) AS ({_rows("d", [(m, direction(m)) for m in metrics], params)}),
        flags AS (
            SELECT run_id, fold, case_id, structure, {flags},
                max(value) FILTER (WHERE metric = $attribute) AS attribute_metric
            FROM case_metrics
            WHERE run_id IN ({runs}) AND split = $split
                AND (metric IN ({", ".join(flag_names)}) OR metric = $attribute)
            GROUP BY run_id, fold, case_id, structure
        ),
        vals AS (
            SELECT m.run_id, s.grp, m.fold, m.case_id, m.structure, m.metric, d.dir,
                f.absent,
                CASE WHEN m.metric IN ({distance}) AND isnan(m.value)
                    AND (f.absent = 1 OR f.spurious = 1) THEN f.diagonal
                    ELSE m.value END AS value,
                {attribute_value} AS attribute_value,
                {label} AS stratum,
                coalesce(g.value_text, CAST(g.value_num AS VARCHAR)) AS case_group
            FROM case_metrics m
            JOIN sel s ON s.run_id = m.run_id
            JOIN dirs d ON d.metric = m.metric
            JOIN runs r ON r.run_id = m.run_id
            LEFT JOIN flags f ON f.run_id = m.run_id AND f.fold = m.fold
                AND f.case_id = m.case_id AND f.structure = m.structure
            {attribute_joins}
            LEFT JOIN attributes g ON g.data_fingerprint = r.data_fingerprint
                AND g.case_id = m.case_id AND g.structure = $case_level
                AND g.attribute = $case_attribute
            WHERE m.run_id IN ({runs}) AND m.split = $split
                AND m.metric IN ({_in("metric", metrics, params)})
        )"""


def metric_summary(
    store: Store,
    groups: Groups,
    split: str,
    metrics: Sequence[str],
    *,
    by: By = None,
    stratum: Stratum | None = None,
    with_values: bool = False,
    case_attribute: str | None = None,
) -> pd.DataFrame:
    """Per run and metric (and per ``by`` value): statistics of the values.

    Columns: ``grp, run_id, metric, part`` (None over all values, else the stratum label,
    the structure or the value of the case attribute ``case_attribute``), ``mean, sd, min,
    q1, median, q3, max, n, n_folds, n_excluded, outlier_rate`` (% of values beyond the fence
    pooled over the group's runs), ``n_absent``, and with ``with_values`` the list
    ``values`` (ordered by fold, case, structure). ``absence_rate``
    in ``metrics`` adds its rows: mean = % of reference structures (``ref_voxels`` > 0)
    with no predicted voxel, n = those structures, ``n_absent``.
    """
    if by == "stratum" and stratum is None:
        raise ValueError("by='stratum' needs a stratum")
    if by == "case_group" and case_attribute is None:
        raise ValueError("by='case_group' needs a case attribute")
    params: dict[str, Any] = {}
    plain = [m for m in metrics if m != ABSENCE]
    fetched = [*plain, FLAGS["ref_voxels"]] if ABSENCE in metrics else plain
    sets = "(grp, run_id, metric)" + (f", (grp, run_id, metric, {by})" if by else "")
    part = f"CASE WHEN grouping({by}) = 1 THEN NULL ELSE {by} END" if by else "NULL::VARCHAR"
    keep = f"HAVING grouping({by}) = 1 OR {by} IS NOT NULL" if by else ""
    valid = "FILTER (WHERE NOT isnan(value))"
    values = (
        f", list(value ORDER BY fold, case_id, structure) {valid} AS values" if with_values else ""
    )
    params["ref_voxels"] = FLAGS["ref_voxels"]
    selects = []
    if plain:
        selects.append(f"""
            SELECT grp, run_id, metric, {part} AS part,
                avg(value) {valid} AS mean, stddev_samp(value) {valid} AS sd,
                min(value) {valid} AS min, quantile_cont(value, 0.25) {valid} AS q1,
                median(value) {valid} AS median, quantile_cont(value, 0.75) {valid} AS q3,
                max(value) {valid} AS max,
                count(*) {valid} AS n, count(DISTINCT fold) {valid} AS n_folds,
                count(*) FILTER (WHERE isnan(value)) AS n_excluded,
                100 * avg(outlier::DOUBLE) AS outlier_rate,
                sum(absent) {valid} AS n_absent{values}
            FROM flagged WHERE metric <> $ref_voxels
            GROUP BY GROUPING SETS ({sets}) {keep}""")
    if ABSENCE in metrics:
        params["absence"] = ABSENCE
        present = "FILTER (WHERE value > 0)"
        selects.append(f"""
            SELECT grp, run_id, $absence AS metric, {part} AS part,
                100 * avg(absent) {present} AS mean, count(*) {present} AS n,
                count(DISTINCT fold) {present} AS n_folds, sum(absent) {present} AS n_absent
            FROM vals WHERE metric = $ref_voxels
            GROUP BY GROUPING SETS ({sets}) {keep}""")
    if not selects:
        raise ValueError("no metric asked for")
    sql = f"""
        WITH {_base(params, groups, split, fetched, stratum, case_attribute)},
        fence AS (
            SELECT grp, metric, quantile_cont(x, 0.25) AS q1, quantile_cont(x, 0.75) AS q3
            FROM (SELECT grp, metric, CASE WHEN dir = 0 THEN abs(value) ELSE value END AS x
                  FROM vals WHERE NOT isnan(value) AND metric <> $ref_voxels)
            GROUP BY grp, metric
        ),
        flagged AS (
            SELECT v.*, CASE WHEN isnan(v.value) THEN NULL
                WHEN v.dir = 1 THEN v.value < fence.q1 - 1.5 * (fence.q3 - fence.q1)
                WHEN v.dir = -1 THEN v.value > fence.q3 + 1.5 * (fence.q3 - fence.q1)
                ELSE abs(v.value) > fence.q3 + 1.5 * (fence.q3 - fence.q1) END AS outlier
            FROM vals v LEFT JOIN fence USING (grp, metric)
        )
        {" UNION ALL BY NAME ".join(selects)}
        ORDER BY grp, run_id, metric, part NULLS FIRST
    """
    return store.query(sql, params)


def paired_values(
    store: Store, run_a: str, run_b: str, split: str, metrics: Sequence[str]
) -> pd.DataFrame:
    """Values of runs ``run_a`` and ``run_b`` paired on (fold, case, structure), per metric
    (``structure`` None) and per (metric, structure).

    Signed errors (ΔFF, ΔV, ...) are compared by their size: their values are absolute.
    Columns: ``metric, structure, dir, n`` (valid pairs), ``n_excluded`` (pairs with a NaN),
    ``n_only_a, n_only_b`` (values without a partner), ``mean_a, mean_b``, and the aligned
    lists ``a`` and ``b``.
    """
    if run_a == run_b:
        raise ValueError("pick two different runs to compare")
    params: dict[str, Any] = {}
    both = "FILTER (WHERE NOT isnan(a) AND NOT isnan(b))"
    order = "ORDER BY fold, case_id, structure"
    sql = f"""
        WITH {_base(params, {run_a: "a", run_b: "b"}, split, metrics)},
        side AS (
            SELECT grp, fold, case_id, structure, metric, dir,
                CASE WHEN dir = 0 THEN abs(value) ELSE value END AS value
            FROM vals
        ),
        pairs AS (
            SELECT coalesce(a.fold, b.fold) AS fold, coalesce(a.case_id, b.case_id) AS case_id,
                coalesce(a.structure, b.structure) AS structure,
                coalesce(a.metric, b.metric) AS metric, coalesce(a.dir, b.dir) AS dir,
                a.value AS a, b.value AS b
            FROM (SELECT * FROM side WHERE grp = 'a') a
            FULL OUTER JOIN (SELECT * FROM side WHERE grp = 'b') b
            ON a.fold = b.fold AND a.case_id = b.case_id AND a.structure = b.structure
                AND a.metric = b.metric
        )
        SELECT metric, CASE WHEN grouping(structure) = 1 THEN NULL ELSE structure END AS structure,
            any_value(dir) AS dir,
            count(*) {both} AS n,
            count(*) FILTER (WHERE a IS NOT NULL AND b IS NOT NULL AND (isnan(a) OR isnan(b)))
                AS n_excluded,
            count(*) FILTER (WHERE b IS NULL) AS n_only_a,
            count(*) FILTER (WHERE a IS NULL) AS n_only_b,
            avg(a) {both} AS mean_a, avg(b) {both} AS mean_b,
            coalesce(list(a {order}) {both}, []) AS a, coalesce(list(b {order}) {both}, []) AS b
        FROM pairs
        GROUP BY GROUPING SETS ((metric), (metric, structure))
        ORDER BY metric, structure NULLS FIRST
    """
    return store.query(sql, params)


def point_values(
    store: Store,
    run_id: str,
    split: str,
    metrics: Sequence[str],
    stratum: Stratum | None = None,
) -> pd.DataFrame:
    """One row per (fold, case, structure) of run ``run_id``: a column per metric (NaN where
    none) and ``attribute_value`` (the stratum's attribute; NaN without a stratum)."""
    bad = [m for m in metrics if not _IDENTIFIER.match(m)]
    if bad:
        raise ValueError(f"metric names must be identifiers, got {bad}")
    params: dict[str, Any] = {}
    columns = ", ".join(
        f"coalesce(max(value) FILTER (WHERE metric = {p}), 'NaN'::DOUBLE) AS \"{m}\""
        for m, p in zip(metrics, _bind("column", metrics, params), strict=True)
    )
    sql = f"""
        WITH {_base(params, {run_id: run_id}, split, metrics, stratum)}
        SELECT fold, case_id, structure, {columns},
            coalesce(max(attribute_value), 'NaN'::DOUBLE) AS attribute_value,
            any_value(stratum) AS stratum
        FROM vals
        GROUP BY fold, case_id, structure
        ORDER BY fold, case_id, structure
    """
    return store.query(sql, params)


def task_counts(store: Store) -> pd.DataFrame:
    """Tasks in the database with their number of runs (all, finished)."""
    return store.query(
        "SELECT task, count(*) AS runs, count(*) FILTER (WHERE status = 'finished') AS finished "
        "FROM runs GROUP BY task ORDER BY task"
    )


def case_attributes(
    store: Store, data_fingerprints: Sequence[str], max_values: int = 12
) -> pd.DataFrame:
    """Case-level attributes of the data (cases.csv columns: site, side, level, ...) with 2
    to ``max_values`` distinct values: ``attribute, n_values``."""
    params: dict[str, Any] = {"case_level": CASE_LEVEL, "max": max_values}
    return store.query(
        "SELECT attribute, count(DISTINCT coalesce(value_text, CAST(value_num AS VARCHAR))) "
        "AS n_values FROM attributes "
        f"WHERE data_fingerprint IN ({_in('data', list(data_fingerprints), params)}) "
        "AND structure = $case_level GROUP BY attribute "
        "HAVING n_values BETWEEN 2 AND $max ORDER BY attribute",
        params,
    )


def runs_of_task(store: Store, task: str) -> pd.DataFrame:
    """`Store.runs` of ``task``: every column, JSON parsed, ``folds_finished`` listed."""
    return store.runs(task)


def folds_of_run(store: Store, run_id: str) -> pd.DataFrame:
    """The finished folds of ``run_id`` with their times (s), sizes and epochs."""
    return store.query("SELECT * FROM folds WHERE run_id = $run ORDER BY fold", {"run": run_id})


def case_metrics_of_run(store: Store, run_id: str) -> pd.DataFrame:
    """Every case-metric row of ``run_id`` (long form, for a CSV download)."""
    return store.query(
        "SELECT * FROM case_metrics WHERE run_id = $run ORDER BY fold, split, case_id, structure, metric",
        {"run": run_id},
    )


def predicted_cases(store: Store, run_id: str) -> pd.DataFrame:
    """Cases of ``run_id`` with a stored prediction: ``fold, case_id, split, path``."""
    return store.query(
        "SELECT fold, case_id, split, path FROM predictions WHERE run_id = $run "
        "ORDER BY split DESC, fold, case_id",
        {"run": run_id},
    )


def case_table(
    store: Store, run_id: str, fold: int, case_id: str, split: str, metrics: Sequence[str]
) -> pd.DataFrame:
    """One case's values: a row per structure, a column per metric (NaN where not stored)."""
    bad = [m for m in metrics if not _IDENTIFIER.match(m)]
    if bad:
        raise ValueError(f"metric names must be identifiers, got {bad}")
    params: dict[str, Any] = {"run": run_id, "fold": fold, "case": case_id, "split": split}
    columns = ", ".join(
        f"coalesce(max(value) FILTER (WHERE metric = {p}), 'NaN'::DOUBLE) AS \"{m}\""
        for m, p in zip(metrics, _bind("metric", metrics, params), strict=True)
    )
    return store.query(
        f"SELECT structure, {columns} FROM case_metrics "
        "WHERE run_id = $run AND fold = $fold AND case_id = $case AND split = $split "
        "GROUP BY structure ORDER BY structure",
        params,
    )
