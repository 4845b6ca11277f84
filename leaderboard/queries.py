"""Every query of the leaderboard. The statistics of per-case values come from the one
aggregation engine the CLI summary also uses (`mskbench.harness.aggregation`): the wrappers
here take a task *name* so that Streamlit can hash their arguments for its cache. The rest
are small reads of runs, folds, predictions and attributes. Each function takes a
`mskbench.harness.store.Store` (read-only connection per query, lock retry) and returns a
DataFrame.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mskbench.harness import aggregation, classification
from mskbench.harness.aggregation import By, Groups
from mskbench.harness.store import CASE_LEVEL, Store
from mskbench.harness.store.sql import bind, in_list
from mskbench.tasks import get_task
from mskbench.tasks.spec import Stratum

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def metric_summary(
    store: Store,
    task: str,
    groups: Groups,
    split: str,
    metrics: Sequence[str],
    *,
    by: By = None,
    stratum: Stratum | None = None,
    with_values: bool = False,
    case_attribute: str | None = None,
) -> pd.DataFrame:
    """`mskbench.harness.aggregation.metric_summary` of task ``task`` (a name)."""
    return aggregation.metric_summary(
        store, get_task(task), groups, split, metrics, by=by, stratum=stratum,
        with_values=with_values, case_attribute=case_attribute,
    )  # fmt: skip


def paired_values(
    store: Store, task: str, run_a: str, run_b: str, split: str, metrics: Sequence[str]
) -> pd.DataFrame:
    """`mskbench.harness.aggregation.paired_values` of task ``task`` (a name)."""
    return aggregation.paired_values(store, get_task(task), run_a, run_b, split, metrics)


def point_values(
    store: Store,
    task: str,
    run_id: str,
    split: str,
    metrics: Sequence[str],
    stratum: Stratum | None = None,
) -> pd.DataFrame:
    """`mskbench.harness.aggregation.point_values` of task ``task`` (a name)."""
    return aggregation.point_values(store, get_task(task), run_id, split, metrics, stratum)


def task_counts(store: Store) -> pd.DataFrame:
    """Tasks in the database with their number of runs (all, finished: status derived from
    the folds, `Store.runs`)."""
    runs = store.runs()
    counts = runs.groupby("task", sort=True)["status"].agg(
        runs="size", finished=lambda s: int((s == "finished").sum())
    )
    return counts.reset_index()


def case_attributes(
    store: Store, data_fingerprints: Sequence[str], max_values: int = 12
) -> pd.DataFrame:
    """Case-level attributes of the data (cases.csv columns: site, side, level, ...) with 2
    to ``max_values`` distinct values: ``attribute, n_values``."""
    params: dict[str, Any] = {"case_level": CASE_LEVEL, "max": max_values}
    return store.query(
        "SELECT attribute, count(DISTINCT coalesce(value_text, CAST(value_num AS VARCHAR))) "
        "AS n_values FROM attributes "
        f"WHERE data_fingerprint IN ({in_list('data', list(data_fingerprints), params)}) "
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
        for m, p in zip(metrics, bind("metric", metrics, params), strict=True)
    )
    return store.query(
        f"SELECT structure, {columns} FROM case_metrics "
        "WHERE run_id = $run AND fold = $fold AND case_id = $case AND split = $split "
        "GROUP BY structure ORDER BY structure",
        params,
    )


def classification_summary(
    store: Store, task: str, runs: tuple[tuple[str, str, str], ...], split: str
) -> pd.DataFrame:
    """`mskbench.harness.classification.summarize_classification` of the compared ``runs``
    (``(run_id, model, profile)`` triples, hashable for the cache) of task ``task``."""
    frame = pd.DataFrame(list(runs), columns=["run_id", "model", "profile"])
    return classification.summarize_classification(store, get_task(task), frame, split)


def target_rows(store: Store, run_ids: tuple[str, ...], split: str) -> pd.DataFrame:
    """The ``case_scores`` rows of ``run_ids`` on ``split``."""
    return classification.score_rows(store, list(run_ids), split)
