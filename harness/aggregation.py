"""The one aggregation engine behind `bench results` and the leaderboard: per-case values
of chosen runs turned into statistics in DuckDB (`metric_summary`), paired on cases
(`paired_values`) or laid out per (case, structure) (`point_values`). Only aggregates
(and, where a test or an interval needs them, the lists of values) come back to pandas;
the CLI summary (`mskbench.harness.summary`) and the leaderboard pages then add CIs and
tests from `mskbench.harness.stats`.

Rules, in one place:

- **Worst-case distances**: HD95/ASSD of a missed or spurious structure (an ``absent`` or
  ``spurious`` flag row) become the image diagonal (mm), never dropped; any other NaN (a
  map mean inside an empty mask) is left out of the statistics and counted in
  ``n_excluded``.
- **Strata**: a value's stratum label comes from the stratum's attribute — the
  structure's row of the ``attributes`` table, else the case's, else the case-metric row
  of that name (``ff_ref`` is both); no value → no stratum.
- **Case groups**: the text of a case-level attribute (a cases.csv column: site, side,
  level, ...).
- **Outlier fences**: Tukey, direction-aware (below Q1 − k·IQR for higher-is-better
  metrics, above Q3 + k·IQR for lower-is-better ones, on |value| for signed errors),
  over the population the task declares (`mskbench.tasks.spec.OutlierFence`): each run's
  own values (``per_model``), the values of every run of its group (``pooled``), or the
  values of the group's runs of the reference models (``reference``).

Runs are passed as ``groups``: run id → group name (the profile, or "a"/"b" in a
comparison). Units are those of the task's metric catalogue (rates in %).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from mskbench.harness.metrics.aggregate import DISTANCE_METRICS
from mskbench.harness.store import CASE_LEVEL, Store
from mskbench.harness.store.sql import bind, in_list, values_rows
from mskbench.tasks.spec import Stratum, TaskSpec

#: Per-structure flags joined to every value (names of case-metric rows).
FLAGS = {
    "absent": "absent",
    "spurious": "spurious",
    "both_empty": "both_empty",
    "diagonal": "image_diagonal_mm",
    "ref_voxels": "ref_voxels",
}
ABSENCE = "absence_rate"
OUTLIER = "outlier_rate"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
By = Literal["stratum", "structure", "case_group"] | None
#: Runs of a query and their group: a mapping run id → group, or (run id, group) pairs.
Groups = Mapping[str, str] | Sequence[tuple[str, str]]


def as_values(cell: object) -> np.ndarray:
    """A list cell of an engine result (``values``, ``folds``) as an array; a missing list
    (NULL, or a row without values such as an absence rate) is empty."""
    return np.asarray(cell if isinstance(cell, list | np.ndarray) else [], dtype=float)


def direction(task: TaskSpec, metric: str) -> int:
    """1 higher is better, -1 lower is better, 0 a signed error (judged by its size) or a
    value outside the task's catalogue (a flag such as ``ref_voxels``)."""
    info = task.catalogue.get(metric)
    better = info.higher_is_better if info else None
    return 0 if better is None else (1 if better else -1)


def _fence_columns(task: TaskSpec, params: dict[str, Any]) -> tuple[str, str]:
    """SQL of a value's fence group and of whether it belongs to the fence's population
    (`mskbench.tasks.spec.OutlierFence`), over the columns of ``vals``."""
    fence = task.outlier_fence
    if fence.population == "per_model":
        return "m.run_id", "TRUE"
    if fence.population == "pooled":
        return "s.grp", "TRUE"
    return "s.grp", f"r.model IN ({in_list('reference', fence.reference_models, params)})"


def _base(
    params: dict[str, Any],
    task: TaskSpec,
    groups: Groups,
    split: str,
    metrics: Sequence[str],
    stratum: Stratum | None = None,
    case_attribute: str | None = None,
) -> str:
    """CTEs ``sel``, ``dirs``, ``flags`` and ``vals`` (one row per value of ``metrics`` of the
    runs in ``groups`` on ``split``, distances substituted, with its stratum label, the
    text of its case's ``case_attribute`` as ``case_group``, and its outlier-fence group
    ``fgrp`` and membership ``in_fence``)."""
    groups = dict(groups)
    if not groups or not metrics:
        raise ValueError("need at least one run and one metric")
    params["split"] = split
    params["attribute"] = stratum.attribute if stratum else None
    params["case_attribute"] = case_attribute
    params["case_level"] = CASE_LEVEL
    runs = in_list("run", list(groups), params)
    flag_names = bind("flag", list(FLAGS.values()), params)
    flags = ", ".join(
        f"max(value) FILTER (WHERE metric = {name}) AS {column}"
        for column, name in zip(FLAGS, flag_names, strict=True)
    )
    distance = in_list("distance", DISTANCE_METRICS, params)
    fence_group, in_fence = _fence_columns(task, params)
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
        sel(run_id, grp) AS ({values_rows("g", list(groups.items()), params)}),
        dirs(metric, dir) AS ({values_rows("d", [(m, direction(task, m)) for m in metrics], params)}),
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
                f.absent, f.both_empty, {fence_group} AS fgrp, {in_fence} AS in_fence,
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
                AND m.metric IN ({in_list("metric", metrics, params)})
        )"""


def metric_summary(
    store: Store,
    task: TaskSpec,
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
    q1, median, q3, max, n, n_folds, n_excluded, outlier_rate`` (% of values beyond the
    fence of the task's population, see the module docstring), ``n_absent``,
    ``n_both_empty``, and with ``with_values`` the lists ``values`` and their ``folds``
    (ordered by fold, case, structure). ``absence_rate``
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
    order = "ORDER BY fold, case_id, structure"
    values = (
        f", list(value {order}) {valid} AS values, list(fold {order}) {valid} AS folds"
        if with_values
        else ""
    )
    params["ref_voxels"] = FLAGS["ref_voxels"]
    params["k"] = task.outlier_fence.k
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
                sum(absent) {valid} AS n_absent, sum(both_empty) {valid} AS n_both_empty{values}
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
        WITH {_base(params, task, groups, split, fetched, stratum, case_attribute)},
        fence AS (
            SELECT fgrp, metric, quantile_cont(x, 0.25) AS q1, quantile_cont(x, 0.75) AS q3
            FROM (SELECT fgrp, metric, CASE WHEN dir = 0 THEN abs(value) ELSE value END AS x
                  FROM vals WHERE NOT isnan(value) AND metric <> $ref_voxels AND in_fence)
            GROUP BY fgrp, metric
        ),
        flagged AS (
            SELECT v.*, CASE WHEN isnan(v.value) THEN NULL
                WHEN v.dir = 1 THEN v.value < fence.q1 - $k * (fence.q3 - fence.q1)
                WHEN v.dir = -1 THEN v.value > fence.q3 + $k * (fence.q3 - fence.q1)
                ELSE abs(v.value) > fence.q3 + $k * (fence.q3 - fence.q1) END AS outlier
            FROM vals v LEFT JOIN fence USING (fgrp, metric)
        )
        {" UNION ALL BY NAME ".join(selects)}
        ORDER BY grp, run_id, metric, part NULLS FIRST
    """
    return store.query(sql, params)


def paired_values(
    store: Store, task: TaskSpec, run_a: str, run_b: str, split: str, metrics: Sequence[str]
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
        WITH {_base(params, task, {run_a: "a", run_b: "b"}, split, metrics)},
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
    task: TaskSpec,
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
        for m, p in zip(metrics, bind("column", metrics, params), strict=True)
    )
    sql = f"""
        WITH {_base(params, task, {run_id: run_id}, split, metrics, stratum)}
        SELECT fold, case_id, structure, {columns},
            coalesce(max(attribute_value), 'NaN'::DOUBLE) AS attribute_value,
            any_value(stratum) AS stratum
        FROM vals
        GROUP BY fold, case_id, structure
        ORDER BY fold, case_id, structure
    """
    return store.query(sql, params)
