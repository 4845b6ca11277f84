"""The DuckDB results store: schema and migrations, runs, atomic fold writes, validation."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import mskbench.harness.store.schema as schema
from mskbench.harness.aggregation import point_values
from mskbench.harness.store import (
    CASE_LEVEL,
    FoldRecord,
    InvalidRecordError,
    RunRecord,
    SchemaVersionError,
    Store,
)
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.tasks.nmd.spec import NMD_THIGH

TABLES = ("runs", "folds", "case_metrics", "case_scores", "predictions", "attributes")


def run_record(key: str = "key-1", **changes: object) -> RunRecord:
    record = synthetic_run_record(
        key,
        profile="smoke",
        config={"lr": 1e-3, "size": "small"},
        data_fingerprint="data-fp",
        split_fingerprint="split-fp",
        data_root="/data/nmd_thigh",
        packages={"duckdb": "2.0.0"},
        device_name="CPU",
        folds_planned=[0, 1],
    )
    return replace(record, **changes)


def fold_record(fold: int) -> FoldRecord:
    start = datetime(2026, 1, 1, 12, 0, 0)
    return FoldRecord(fold, start, start + timedelta(seconds=90), 90.0, 12.5, 512.0, 5, 3, 8, 1, 3)


def metric_frame(fold: int = 0, n_cases: int = 3) -> pd.DataFrame:
    rows = []
    for c in range(n_cases):
        case = f"f{fold}c{c}"
        for structure in ("VL", "VM"):
            missed = structure == "VM" and c == 0
            rows += [
                (case, "test", structure, "dice", 0.0 if missed else 0.9),
                (case, "test", structure, "hd95", np.nan if missed else 3.0),
                (case, "test", structure, "absent", float(missed)),
            ]
        rows.append((case, "test", CASE_LEVEL, "pixel_accuracy", 0.99))
    rows.append(("ext0", "external", "VL", "dice", 0.8))
    return pd.DataFrame(rows, columns=["case_id", "split", "structure", "metric", "value"])


def counts(store: Store) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES)
    return dict(store.query(sql).itertuples(index=False))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "results" / "mskbench.duckdb")


@pytest.fixture
def run_id(store: Store) -> str:
    return store.begin_run(run_record())[0]


# -- schema and migrations ---------------------------------------------------------------


def test_schema_is_created_on_first_write_not_on_read(store: Store):
    with pytest.raises(FileNotFoundError, match="no results database"):
        store.runs()
    assert not store.path.parent.exists()
    store.begin_run(run_record())
    versions = store.query("SELECT version FROM schema_version")["version"].tolist()
    assert versions == list(range(1, schema.latest_version() + 1)) == [1, 2]
    assert set(TABLES) <= set(store.query("SELECT table_name FROM duckdb_tables()")["table_name"])


def _next(*statements: str) -> schema.Migration:
    return schema.Migration(schema.latest_version() + 1, "test: a note column on runs", statements)


def test_older_database_gets_the_missing_migrations_on_open(store: Store, monkeypatch):
    store.begin_run(run_record())
    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        [*schema.MIGRATIONS, _next("ALTER TABLE runs ADD COLUMN note VARCHAR")],
    )
    reopened = Store(store.path)
    runs = reopened.runs()  # a read sees the older file migrated (in a private copy)
    assert "note" in runs.columns and len(runs) == 1
    versions = reopened.query("SELECT version FROM schema_version ORDER BY 1")["version"]
    assert versions.tolist() == [1, 2, 3]


def test_a_failing_migration_leaves_the_older_schema_untouched(store: Store, monkeypatch):
    store.begin_run(run_record())
    broken = _next(
        "ALTER TABLE runs ADD COLUMN note VARCHAR", "ALTER TABLE no_such_table ADD COLUMN x INT"
    )
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    with pytest.raises(duckdb.CatalogException):
        Store(store.path).begin_run(run_record("key-2"))
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
    reopened = Store(store.path)
    assert reopened.query("SELECT version FROM schema_version")["version"].tolist() == [1, 2]
    assert "note" not in reopened.runs().columns


def test_a_newer_schema_raises_a_clear_error(store: Store):
    store.begin_run(run_record())
    with duckdb.connect(str(store.path)) as con:
        con.execute("INSERT INTO schema_version VALUES (7, now())")
    for action in (lambda s: s.runs(), lambda s: s.begin_run(run_record("key-2"))):
        with pytest.raises(SchemaVersionError, match=r"schema version 7, newer than the 2"):
            action(Store(store.path))


# -- runs ------------------------------------------------------------------------------


def test_begin_run_reuses_the_run_key_and_returns_its_finished_folds(store: Store):
    run_id, done = store.begin_run(run_record())
    assert done == set()
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    store.finish_run(run_id, "failed", error="RuntimeError: out of memory")
    again, done = store.begin_run(run_record(folds_planned=[0, 1, 2]))
    assert (again, done) == (run_id, {0})
    run = store.runs().iloc[0]
    assert run["status"] == "running" and pd.isna(run["error"]) and pd.isna(run["finished_at"])
    assert run["folds_planned"] == [0, 1, 2] and run["folds_finished"] == [0]


def test_a_new_run_key_is_a_new_readable_unique_run(store: Store):
    first, _ = store.begin_run(run_record())
    second, _ = store.begin_run(run_record("key-2", model="path/to/my_model.py:Net"))
    assert first.startswith("nmd_thigh-unet2d-smoke-") and len(first.rsplit("-", 1)[1]) == 8
    assert second.startswith("nmd_thigh-path_to_my_model.py_Net-smoke-")
    assert first != second


def test_a_run_key_cannot_be_reused_for_another_task_or_data(store: Store):
    store.begin_run(run_record())
    with pytest.raises(
        InvalidRecordError, match="data_fingerprint stored 'data-fp' vs new 'other'"
    ):
        store.begin_run(run_record(data_fingerprint="other"))


def test_runs_carry_provenance_parsed_and_filter_by_task(store: Store, run_id: str):
    store.begin_run(run_record("key-2", task="nmd_leg"))
    store.finish_run(
        run_id, "finished", wall_time_s=12.0, train_images_per_s=30.0, peak_memory_mb=900.0
    )
    runs = store.runs("nmd_thigh")
    assert runs["run_id"].tolist() == [run_id]
    run = runs.iloc[0]
    assert run["config"] == {"lr": 1e-3, "size": "small"} and run["packages"] == {"duckdb": "2.0.0"}
    assert (run["stored_status"], run["wall_time_s"], run["peak_memory_mb"]) == (
        "finished",
        12.0,
        900.0,
    )
    assert run["folds_finished"] == [] and isinstance(run["finished_at"], pd.Timestamp)
    assert run["status"] == "running"  # derived: planned folds 0 and 1 are not finished
    assert len(store.runs()) == 2


def test_run_status_is_derived_from_its_folds_not_from_the_last_writer(store: Store, run_id):
    """Two fold workers of one run (planned folds 0 and 1) finish in any order."""

    def status() -> tuple[str, str]:
        run = store.runs().iloc[0]
        return run["status"], run["stored_status"]

    store.write_fold(run_id, fold_record(1), metric_frame(1))
    store.finish_run(run_id, "finished")  # worker of fold 1 is done first
    assert status() == ("running", "finished")
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    assert status() == ("finished", "finished")
    store.finish_run(run_id, "failed", error="worker 0 lost its connection after the fold")
    assert status() == ("finished", "failed")  # every planned fold is stored


def test_finish_run_checks_its_arguments(store: Store, run_id: str):
    with pytest.raises(InvalidRecordError, match="'finished' or 'failed'"):
        store.finish_run(run_id, "done")
    with pytest.raises(InvalidRecordError, match="cannot carry an error"):
        store.finish_run(run_id, "finished", error="x")
    with pytest.raises(InvalidRecordError, match="does not exist"):
        store.finish_run("nope", "finished")


def test_records_are_validated_when_built():
    with pytest.raises(InvalidRecordError, match="kind must be one of"):
        run_record(kind="guessed")
    with pytest.raises(InvalidRecordError, match="not JSON-serialisable"):
        run_record(config={"f": object()})
    start = datetime(2026, 1, 1)
    with pytest.raises(InvalidRecordError, match="before started_at"):
        FoldRecord(0, start, start - timedelta(seconds=1), 1.0, None, None, None, None, 1, 1, 1)


# -- folds -----------------------------------------------------------------------------


def test_write_fold_stores_every_table_and_keeps_nan(store: Store, run_id: str):
    scores = pd.DataFrame(
        {
            "case_id": ["f0c0", "f0c1", "f0c0", "f0c0"],
            "split": "test",
            "target": ["risky", "risky", "grade", "grade"],
            "class": ["positive", "positive", "0", "1"],
            "score": [0.2, 0.9, 0.3, 0.7],
            "reference": ["0", None, "1", "1"],
        }
    )
    predictions = pd.DataFrame({"case_id": ["f0c0"], "split": ["test"], "path": ["/p/f0c0.nii.gz"]})
    attributes = pd.DataFrame(
        {
            "case_id": ["f0c0", "f0c0", "f0c0"],
            "structure": ["VL", "VM", CASE_LEVEL],
            "attribute": ["ff_ref", "ff_ref", "site"],
            "value_num": [12.5, np.nan, np.nan],
            "value_text": [None, None, "A"],
        }
    )
    tz = timezone(timedelta(hours=2))
    fold = replace(
        fold_record(0),
        started_at=datetime(2026, 1, 1, 14, tzinfo=tz),
        finished_at=datetime(2026, 1, 1, 15, tzinfo=tz),
    )
    store.write_fold(run_id, fold, metric_frame(0), scores, predictions, attributes)
    stored = store.query("SELECT * FROM case_metrics ORDER BY case_id, structure, metric")
    assert len(stored) == len(metric_frame(0)) and (stored["fold"] == 0).all()
    missing = stored[(stored["metric"] == "hd95") & stored["value"].isna()]
    assert len(missing) == 1
    assert store.query("SELECT count(*) AS n FROM case_metrics WHERE isnan(value)")["n"].item() == 1
    stored_scores = store.query("SELECT * FROM case_scores ORDER BY case_id, target, class")
    assert stored_scores["class"].tolist() == ["0", "1", "positive", "positive"]
    assert stored_scores["reference"].tolist()[:3] == ["1", "1", "0"]
    assert stored_scores["reference"].isna().tolist() == [False, False, False, True]
    attrs = store.query("SELECT * FROM attributes ORDER BY structure")
    assert (attrs["data_fingerprint"] == "data-fp").all() and attrs["value_text"].tolist()[2] == "A"
    folds = store.query("SELECT * FROM folds")
    assert folds["started_at"].item() == pd.Timestamp("2026-01-01 12:00:00")  # UTC
    assert (folds["epochs"].item(), folds["n_test"].item()) == (5, 3)


def test_attributes_are_inserted_or_ignored(store: Store, run_id: str):
    attributes = pd.DataFrame(
        {
            "case_id": ["ext0"],
            "structure": ["VL"],
            "attribute": ["ff_ref"],
            "value_num": [9.0],
            "value_text": [None],
        }
    )
    store.write_fold(run_id, fold_record(0), metric_frame(0), attributes=attributes)
    store.write_fold(run_id, fold_record(1), metric_frame(1), attributes=attributes)
    other, _ = store.begin_run(run_record("key-2", data_fingerprint="other-data"))
    store.write_fold(other, fold_record(0), metric_frame(0), attributes=attributes)
    assert store.query("SELECT data_fingerprint FROM attributes ORDER BY 1")[
        "data_fingerprint"
    ].tolist() == [
        "data-fp",
        "other-data",
    ]


def _bad(change: str) -> pd.DataFrame:
    frame = metric_frame(1)
    if change == "extra column":
        return frame.assign(structur="VL")
    if change == "missing column":
        return frame.drop(columns="structure")
    if change == "NULL case_id":
        frame.loc[2, "case_id"] = None
        return frame
    if change == "bad split":
        frame.loc[0, "split"] = "train"
        return frame
    if change == "text value":
        return frame.assign(value="0.9")
    if change == "infinite value":
        frame.loc[0, "value"] = np.inf
        return frame
    if change == "duplicate rows":
        return pd.concat([frame, frame.iloc[:2]])
    raise AssertionError(change)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("extra column", "unexpected \\['structur'\\]"),
        ("missing column", "missing \\['structure'\\]"),
        ("NULL case_id", "'case_id' has 1 NULL"),
        ("bad split", "must be one of \\('test', 'external'\\), got \\['train'\\]"),
        ("text value", "'value' must be numeric"),
        ("infinite value", "1 infinite"),
        ("duplicate rows", "2 duplicate row"),
    ],
)
def test_a_bad_frame_writes_nothing(store: Store, run_id: str, change: str, message: str):
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    before = counts(store)
    with pytest.raises(InvalidRecordError, match=message):
        store.write_fold(run_id, fold_record(1), _bad(change))
    assert counts(store) == before


def test_every_problem_is_reported_at_once(store: Store, run_id: str):
    predictions = pd.DataFrame({"case_id": [None], "split": ["test"], "path": [3]})
    with pytest.raises(InvalidRecordError, match="4 problem") as info:
        store.write_fold(
            run_id, fold_record(0), _bad("NULL case_id").assign(value="x"), predictions=predictions
        )
    assert "predictions rows: column 'path' must hold strings" in str(info.value)


def test_a_finished_fold_or_an_unknown_run_writes_nothing(store: Store, run_id: str):
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    before = counts(store)
    with pytest.raises(InvalidRecordError, match="fold 0 is already finished"):
        store.write_fold(run_id, fold_record(0), metric_frame(0))
    with pytest.raises(InvalidRecordError, match="run nope does not exist"):
        store.write_fold("nope", fold_record(1), metric_frame(1))
    assert counts(store) == before


class FailingStore(Store):
    """Raises inside the fold's transaction, right after the case metrics are inserted."""

    def _insert(self, con, table, rows, key):  # type: ignore[no-untyped-def]
        super()._insert(con, table, rows, key)
        if table == "case_metrics":
            raise RuntimeError("injected failure")


def test_a_failure_mid_transaction_leaves_no_rows_of_the_fold(store: Store, run_id: str):
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    before = counts(store)
    predictions = pd.DataFrame({"case_id": ["f1c0"], "split": ["test"], "path": ["/p.nii.gz"]})
    with pytest.raises(RuntimeError, match="injected failure"):
        FailingStore(store.path).write_fold(
            run_id, fold_record(1), metric_frame(1), predictions=predictions
        )
    assert counts(store) == before
    store.write_fold(run_id, fold_record(1), metric_frame(1), predictions=predictions)
    assert store.runs()["folds_finished"].item() == [0, 1]


def test_stale_rows_of_an_unfinished_fold_are_replaced(store: Store, run_id: str):
    with duckdb.connect(str(store.path)) as con:
        con.execute(
            "INSERT INTO case_metrics VALUES (?, 1, 'old', 'test', 'VL', 'dice', 0.1)", [run_id]
        )
        con.execute("INSERT INTO predictions VALUES (?, 1, 'old', 'test', '/old')", [run_id])
    store.write_fold(run_id, fold_record(1), metric_frame(1))
    assert "old" not in set(store.query("SELECT case_id FROM case_metrics")["case_id"])
    assert store.query("SELECT count(*) AS n FROM predictions")["n"].item() == 0


def test_query_is_read_only(store: Store, run_id: str):
    with pytest.raises(duckdb.Error, match="read-only"):
        store.query("DELETE FROM runs")
    assert (
        store.query("SELECT run_id FROM runs WHERE run_id = ?", [run_id])["run_id"].item() == run_id
    )


def test_timestamps_are_stored_as_utc(store: Store, run_id: str):
    started = store.runs()["started_at"].item()
    assert abs(started - pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))) < pd.Timedelta(
        minutes=1
    )


def test_the_engine_takes_strata_from_structure_case_then_metric_rows(store: Store, run_id: str):
    """`mskbench.harness.aggregation`: a value's stratum attribute is the structure's row of
    the attributes table, else the case's, else the case-metric row of that name; a missed
    structure's HD95 becomes the image diagonal."""
    attributes = pd.DataFrame(
        {
            "case_id": ["f0c0", "f0c1"],
            "structure": ["VL", CASE_LEVEL],
            "attribute": ["ff_ref", "ff_ref"],
            "value_num": [11.0, 33.0],
            "value_text": [None, None],
        }
    )
    extra = [
        ("f0c2", "test", "VM", "ff_ref", 44.0),
        ("f0c0", "test", "VM", "image_diagonal_mm", 99.0),
    ]
    metrics = pd.concat([metric_frame(0), pd.DataFrame(extra, columns=metric_frame(0).columns)])
    store.write_fold(run_id, fold_record(0), metrics, attributes=attributes)
    points = point_values(store, NMD_THIGH, run_id, "test", ["dice", "hd95"], NMD_THIGH.strata[0])
    by_key = points.set_index(["case_id", "structure"])
    assert by_key.loc[("f0c0", "VL"), "attribute_value"] == 11.0  # the structure's attribute
    assert by_key.loc[("f0c1", "VM"), "attribute_value"] == 33.0  # else the case's
    assert by_key.loc[("f0c2", "VM"), "attribute_value"] == 44.0  # else the metric row
    assert np.isnan(by_key.loc[("f0c2", "VL"), "attribute_value"])
    assert (
        by_key.loc[("f0c1", "VM"), "stratum"] == "G20+"
        and by_key.loc[("f0c0", "VL"), "stratum"] == "G20-"
    )
    assert pd.isna(by_key.loc[("f0c2", "VL"), "stratum"])
    assert by_key.loc[("f0c0", "VM"), "hd95"] == 99.0  # missed: the diagonal, not dropped
    assert len(points) == 6  # the external row is another split


def test_importing_the_store_does_not_import_torch():
    code = "import sys, mskbench.harness.store, mskbench.harness.summary, mskbench.harness.report; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_migration_2_keeps_version_1_scores_as_positive_class_probabilities(
    store: Store, run_id: str, monkeypatch
):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    old = Store(store.path)
    with duckdb.connect(str(store.path)) as con:
        con.execute("DROP TABLE case_scores")
        con.execute(
            "CREATE TABLE case_scores (run_id VARCHAR NOT NULL, fold INTEGER NOT NULL, "
            "case_id VARCHAR NOT NULL, split VARCHAR NOT NULL, target VARCHAR NOT NULL, "
            "score DOUBLE NOT NULL, label INTEGER)"
        )
        con.execute("DELETE FROM schema_version WHERE version > 1")
        con.execute(
            "INSERT INTO case_scores VALUES (?, 0, 'c1', 'test', 'risky', 0.8, 1), "
            "(?, 0, 'c2', 'test', 'risky', 0.1, NULL)",
            [run_id, run_id],
        )
    assert old.query("SELECT max(version) AS v FROM schema_version")["v"].item() == 1
    monkeypatch.undo()
    upgraded = Store(store.path)
    upgraded.begin_run(run_record("key-2"))  # a write migrates
    rows = upgraded.query("SELECT case_id, class, score, reference FROM case_scores ORDER BY 1")
    assert rows[["case_id", "class", "score"]].to_dict("list") == {
        "case_id": ["c1", "c2"],
        "class": ["positive", "positive"],
        "score": [0.8, 0.1],
    }
    assert rows["reference"].iloc[0] == "1" and pd.isna(rows["reference"].iloc[1])
