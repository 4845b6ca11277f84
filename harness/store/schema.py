"""The store's schema: an ordered list of migrations and the code that applies them.

Migration ``n`` moves a database from schema version ``n − 1`` to ``n``; migration 1
creates everything. `migrate` applies the missing ones in one transaction and records each
in ``schema_version``; a database whose version is newer than the code knows raises
`SchemaVersionError`. To change the schema, append a `Migration` (never edit one that
has shipped).

Units: times are naive UTC TIMESTAMPs, durations in s, throughput in training images/s,
memory in MiB. ``case_metrics.value`` is never NULL: a value that does not exist (HD95 of a
missed structure) is stored as NaN, so SQL aggregates cannot skip it silently.

Indexes: only the keys (``runs.run_id``, unique ``runs.run_key``, ``folds``, ``attributes``).
DuckDB answers the leaderboard's filters (``run_id = ?``, ``metric IN (...)``) and
aggregations with sequential scans pruned by per-row-group min/max (zone maps), which work
because a fold's rows are inserted together; an ART index on ``case_metrics (run_id,
metric)`` was measured with 200 runs × 5,000 rows: the planner never used it (EXPLAIN shows
a sequential scan) and it made every read-only open and query ~1.6× slower and the file 14 %
larger, so there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from mskbench.harness.store.errors import SchemaVersionError
from mskbench.harness.store.records import now_utc


@dataclass(frozen=True)
class Migration:
    """SQL statements that move the schema from ``version − 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        run_key VARCHAR NOT NULL,
        kind VARCHAR NOT NULL CHECK (kind IN ('trained', 'scored')),
        task VARCHAR NOT NULL,
        task_version INTEGER NOT NULL,
        model VARCHAR NOT NULL,
        profile VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        config JSON,
        data_fingerprint VARCHAR NOT NULL,
        split_fingerprint VARCHAR NOT NULL,
        data_root VARCHAR,
        mskbench_version VARCHAR,
        git_commit VARCHAR,
        packages JSON,
        device VARCHAR,
        device_name VARCHAR,
        folds_planned JSON,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
        error VARCHAR,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        wall_time_s DOUBLE,
        train_images_per_s DOUBLE,
        peak_memory_mb DOUBLE
    )""",
    "CREATE UNIQUE INDEX runs_run_key ON runs (run_key)",
    """CREATE TABLE folds (
        run_id VARCHAR NOT NULL,
        fold INTEGER NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP NOT NULL,
        wall_time_s DOUBLE NOT NULL,
        train_images_per_s DOUBLE,
        peak_memory_mb DOUBLE,
        epochs INTEGER,
        best_epoch INTEGER,
        n_train INTEGER NOT NULL,
        n_val INTEGER NOT NULL,
        n_test INTEGER NOT NULL,
        PRIMARY KEY (run_id, fold)
    )""",
    """CREATE TABLE case_metrics (
        run_id VARCHAR NOT NULL,
        fold INTEGER NOT NULL,
        case_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        structure VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        value DOUBLE NOT NULL
    )""",
    """CREATE TABLE case_scores (
        run_id VARCHAR NOT NULL,
        fold INTEGER NOT NULL,
        case_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        score DOUBLE NOT NULL,
        label INTEGER
    )""",
    """CREATE TABLE predictions (
        run_id VARCHAR NOT NULL,
        fold INTEGER NOT NULL,
        case_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        path VARCHAR NOT NULL
    )""",
    """CREATE TABLE attributes (
        data_fingerprint VARCHAR NOT NULL,
        case_id VARCHAR NOT NULL,
        structure VARCHAR NOT NULL,
        attribute VARCHAR NOT NULL,
        value_num DOUBLE,
        value_text VARCHAR,
        PRIMARY KEY (data_fingerprint, case_id, structure, attribute)
    )""",
)

# Version 2: case-level classification scores hold one probability per class (``class``:
# ``positive`` for a binary target's P(positive), else the class name) and the case's
# reference class as written in cases.csv (``reference``, NULL when missing) instead of an
# integer label. Version-1 rows (binary scores) keep their score as class ``positive``.
_V2 = (
    """CREATE TABLE case_scores_v2 (
        run_id VARCHAR NOT NULL,
        fold INTEGER NOT NULL,
        case_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        class VARCHAR NOT NULL,
        score DOUBLE NOT NULL,
        reference VARCHAR
    )""",
    "INSERT INTO case_scores_v2 SELECT run_id, fold, case_id, split, target, 'positive', score, "
    "CAST(label AS VARCHAR) FROM case_scores",
    "DROP TABLE case_scores",
    "ALTER TABLE case_scores_v2 RENAME TO case_scores",
)

MIGRATIONS: list[Migration] = [
    Migration(1, "runs, folds, case_metrics, case_scores, predictions, attributes", _V1),
    Migration(2, "case_scores: one probability per class and the reference class", _V2),
]

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMP NOT NULL
)"""


def latest_version() -> int:
    """The schema version this code writes."""
    return MIGRATIONS[-1].version


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open database; 0 for a database without the version table."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def check_not_newer(version: int, where: str) -> None:
    """Raise `SchemaVersionError` when ``version`` is newer than the code's schema."""
    if version > latest_version():
        raise SchemaVersionError(
            f"results database {where} has schema version {version}, newer than the "
            f"{latest_version()} this mskbench knows; upgrade mskbench to read it"
        )


def migrate(con: duckdb.DuckDBPyConnection, where: str) -> list[int]:
    """Bring the database on the read-write connection ``con`` to `latest_version`.

    All missing migrations run in one transaction (all or none). Returns the versions
    applied (empty when the schema is current). ``where`` names the file in errors.
    """
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n in order, got {versions}")
    con.begin()
    try:
        con.execute(_VERSION_TABLE)
        current = current_version(con)
        check_not_newer(current, where)
        applied = []
        for migration in MIGRATIONS[current:]:
            for statement in migration.statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [migration.version, now_utc()])
            applied.append(migration.version)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return applied
