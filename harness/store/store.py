"""`Store`: the DuckDB results file behind `bench run`, `bench score`, `bench results` and
the leaderboard (docs/architecture.md, "Results store").

Every public method connects, does its work and closes, so a writer holds the file only
for one short transaction (one fold) and readers (read-only connections) can open it in
between; opening waits for another process's lock (`harness.store.connection`). The schema
is created on the first write, never by a read of a missing file, and migrated on a
writer's first use (`harness.store.schema`). A read never writes: the file is checked
first (`harness.store.identity`: a DuckDB file holding mskbench's tables, of a schema this
code knows), and an older schema is read through a migrated private copy.

A fold is written in one transaction: stale rows of that (run, fold) in the child tables
are deleted, the rows inserted, the ``folds`` row inserted last, then commit. A ``folds``
row therefore exists only for a finished fold, and a killed process leaves no partial fold.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from mskbench.harness.store import frames
from mskbench.harness.store.errors import InvalidRecordError
from mskbench.harness.store.identity import (
    check_writable,
    migrated_copy,
    open_database,
    probe,
    schema_version_of,
)
from mskbench.harness.store.records import (
    STATUSES,
    FoldRecord,
    RunRecord,
    now_utc,
    to_json,
    utc_naive,
)
from mskbench.harness.store.schema import latest_version, migrate

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT_S = 120.0
#: Child tables holding rows of one (run, fold); ``folds`` is written after them.
FOLD_TABLES = ("case_metrics", "case_scores", "predictions")
#: RunRecord fields that must agree when a run is reused through its run_key.
_IDENTITY = (
    "kind",
    "task",
    "task_version",
    "model",
    "profile",
    "seed",
    "data_fingerprint",
    "split_fingerprint",
)
_INSERT = {
    "case_metrics": "INSERT INTO case_metrics SELECT ?, ?, case_id, split, structure, metric, "
    "coalesce(value, 'NaN'::DOUBLE) FROM rows",
    "case_scores": "INSERT INTO case_scores SELECT ?, ?, case_id, split, target, class, score, "
    "reference FROM rows",
    "predictions": "INSERT INTO predictions SELECT ?, ?, case_id, split, path FROM rows",
    "attributes": "INSERT OR IGNORE INTO attributes SELECT ?, case_id, structure, attribute, "
    "value_num, value_text FROM rows",
}


def _maybe(kind: type, value: Any) -> Any:
    """``kind(value)`` (plain Python numbers for DuckDB, e.g. from numpy), None kept."""
    return None if value is None else kind(value)


def derived_status(stored: str, planned: list[int] | None, finished: list[int]) -> str:
    """A run's status from its folds, not from whichever process wrote last: ``finished``
    when every planned fold is finished (so fold workers may finish in any order);
    otherwise ``failed`` if a process recorded a failure, else ``running`` (also when a
    process marked it finished while planned folds are still missing)."""
    if planned and set(planned) <= set(finished):
        return "finished"
    return "failed" if stored == "failed" else "running"


def new_run_id(task: str, model: str, profile: str) -> str:
    """A short readable unique id: ``{task}-{model}-{profile}-{8 hex}``.

    The model part keeps letters, digits, ``_`` and ``.`` (a ``path/file.py:Class`` model
    becomes ``path_file.py_Class``), at most 40 characters.
    """
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", model).strip("_")[:40] or "model"
    return f"{task}-{slug}-{profile}-{secrets.token_hex(4)}"


class Store:
    """The results database at ``path`` (see the module docstring).

    ``lock_timeout_s``: how long (s) opening waits while another process holds the file.
    """

    def __init__(self, path: str | Path, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self.path = Path(path).expanduser()
        self.lock_timeout_s = float(lock_timeout_s)
        self._schema_current = False
        #: The file reads open: ``path``, or a migrated private copy of an older schema.
        self._read_path: Path | None = None
        self._copies: tempfile.TemporaryDirectory[str] | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------
    def _open(self, read_only: bool, path: Path | None = None) -> duckdb.DuckDBPyConnection:
        return open_database(path or self.path, read_only=read_only, timeout_s=self.lock_timeout_s)

    @contextmanager
    def _writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to a database with the current schema (created if new).
        A foreign, read-only or newer file raises (`harness.store.identity`)."""
        check_writable(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only=False)
        try:
            if not self._schema_current:
                schema_version_of(con, self.path, empty_ok=True)
                applied = migrate(con, str(self.path))
                if applied:
                    log.info(
                        "results database %s: applied schema migrations %s", self.path, applied
                    )
                self._schema_current = True
                self._read_path = self.path
            yield con
        finally:
            con.close()

    @contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection. A missing file raises `FileNotFoundError`, a file that is
        not an mskbench database `NotAStoreError`, a newer schema `SchemaVersionError`; an
        older schema is read through a migrated private copy (the file stays untouched)."""
        if self._read_path is None:
            self._read_path = self._readable_path()
        con = self._open(read_only=True, path=self._read_path)
        try:
            yield con
        finally:
            con.close()

    def _readable_path(self) -> Path:
        """The file reads open: the database itself when its schema is current, else a
        private copy migrated to it (deleted with this `Store`)."""
        if probe(self.path, self.lock_timeout_s) == latest_version():
            return self.path
        self._copies = tempfile.TemporaryDirectory(prefix="mskbench-read-")
        copy = migrated_copy(self.path, Path(self._copies.name), self.lock_timeout_s)
        log.info("results database %s has an older schema: reading a migrated copy", self.path)
        return copy

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with self._writer() as con:
            con.begin()
            try:
                yield con
                con.commit()
            except BaseException:
                con.rollback()
                raise

    def _insert(
        self, con: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame, key: list[Any]
    ) -> None:
        """Insert checked ``rows`` into ``table``; ``key`` fills the leading key columns."""
        con.register("rows", rows)
        try:
            con.execute(_INSERT[table], key)
        finally:
            con.unregister("rows")

    # -- runs --------------------------------------------------------------------------
    def begin_run(self, run: RunRecord) -> tuple[str, set[int]]:
        """Start ``run`` or resume the stored run with the same ``run_key``.

        A reused run gets status ``running``, its error cleared, ``finished_at`` reset and
        ``folds_planned`` extended to the union of the old and new lists; its provenance
        (commit, versions, device, ``started_at``) stays as first recorded, and a changed
        commit or version is logged as a warning. Returns ``(run_id, finished folds)``.
        """
        with self._transaction() as con:
            row = con.execute(
                f"SELECT run_id, status, folds_planned, git_commit, mskbench_version, {', '.join(_IDENTITY)} "
                "FROM runs WHERE run_key = ?",
                [run.run_key],
            ).fetchone()
            if row is None:
                run_id = new_run_id(run.task, run.model, run.profile)
                con.execute(
                    "INSERT INTO runs (run_id, run_key, kind, task, task_version, model, profile, seed, "
                    "config, data_fingerprint, split_fingerprint, data_root, mskbench_version, git_commit, "
                    "packages, device, device_name, folds_planned, status, started_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                    [
                        run_id,
                        run.run_key,
                        run.kind,
                        run.task,
                        run.task_version,
                        run.model,
                        run.profile,
                        run.seed,
                        to_json(run.config, "config"),
                        run.data_fingerprint,
                        run.split_fingerprint,
                        run.data_root,
                        run.mskbench_version,
                        run.git_commit,
                        to_json(run.packages, "packages"),
                        run.device,
                        run.device_name,
                        to_json(sorted(set(run.folds_planned)), "folds_planned"),
                        now_utc(),
                    ],
                )
                return run_id, set()
            run_id, status, planned, commit, version, *identity = row
            stored = dict(zip(_IDENTITY, identity, strict=True))
            differs = {k: (v, getattr(run, k)) for k, v in stored.items() if v != getattr(run, k)}
            if differs:
                raise InvalidRecordError(
                    f"run_key {run.run_key} belongs to run {run_id}, whose fields differ: "
                    + ", ".join(f"{k} stored {a!r} vs new {b!r}" for k, (a, b) in differs.items())
                )
            if (commit, version) != (run.git_commit, run.mskbench_version):
                log.warning(
                    "resuming run %s recorded with mskbench %s (%s); now %s (%s)",
                    run_id,
                    version,
                    commit,
                    run.mskbench_version,
                    run.git_commit,
                )
            if status == "running":
                log.warning(
                    "run %s was still marked running (interrupted, or running elsewhere)", run_id
                )
            folds = sorted(set(json.loads(planned) if planned else []) | set(run.folds_planned))
            con.execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, folds_planned = ? "
                "WHERE run_id = ?",
                [to_json(folds, "folds_planned"), run_id],
            )
            finished = {
                int(f)
                for (f,) in con.execute(
                    "SELECT fold FROM folds WHERE run_id = ?", [run_id]
                ).fetchall()
            }
            return run_id, finished

    def write_fold(
        self,
        run_id: str,
        fold: FoldRecord,
        metrics: pd.DataFrame,
        scores: pd.DataFrame | None = None,
        predictions: pd.DataFrame | None = None,
        attributes: pd.DataFrame | None = None,
        data_fingerprint: str | None = None,
        replace: bool = False,
    ) -> None:
        """Store one finished fold of run ``run_id`` in one transaction.

        ``metrics``: columns ``case_id, split, structure, metric, value`` (``split`` test or
        external; ``structure`` a label name or ``__case__``; ``value`` NaN allowed).
        ``scores``: ``case_id, split, target, class, score, reference`` (one probability
        per class; ``reference`` the case's class as text, NULL when unknown).
        ``predictions``: ``case_id, split, path``. ``attributes``: ``case_id, structure,
        attribute, value_num, value_text`` of the data ``data_fingerprint`` (default: the
        run's), inserted or ignored (same data, same values).

        Everything is checked first (columns, dtypes, NULL keys, duplicates, the run exists,
        the fold is not finished yet, unless ``replace``); any problem raises
        `InvalidRecordError` and nothing is written. Then stale rows of (run, fold) — with
        ``replace`` its finished ``folds`` row too (`bench run --no-resume`) — are deleted,
        all rows inserted and the ``folds`` row inserted last, and the transaction commits:
        a reader sees the old fold or the new one, never a mix.
        """
        problems: list[str] = []
        checked = {
            "case_metrics": frames.check_frame(frames.METRICS, metrics, problems),
            "case_scores": None
            if scores is None
            else frames.check_frame(frames.SCORES, scores, problems),
            "predictions": None
            if predictions is None
            else frames.check_frame(frames.PREDICTIONS, predictions, problems),
            "attributes": None
            if attributes is None
            else frames.check_frame(frames.ATTRIBUTES, attributes, problems),
        }
        number = int(fold.fold)
        frames.raise_problems(problems, run_id, number)
        with self._transaction() as con:
            row = con.execute(
                "SELECT data_fingerprint FROM runs WHERE run_id = ?", [run_id]
            ).fetchone()
            if row is None:
                raise InvalidRecordError(
                    f"run {run_id} does not exist in {self.path}; call begin_run first"
                )
            done = con.execute(
                "SELECT 1 FROM folds WHERE run_id = ? AND fold = ?", [run_id, number]
            ).fetchone()
            if done is not None and not replace:
                raise InvalidRecordError(
                    f"run {run_id} fold {number} is already finished in {self.path}"
                )
            if replace:
                con.execute("DELETE FROM folds WHERE run_id = ? AND fold = ?", [run_id, number])
            for table in FOLD_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id = ? AND fold = ?", [run_id, number])
            for table in FOLD_TABLES:
                if checked[table] is not None:
                    self._insert(con, table, checked[table], [run_id, number])
            if checked["attributes"] is not None:
                self._insert(con, "attributes", checked["attributes"], [data_fingerprint or row[0]])
            con.execute(
                "INSERT INTO folds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    number,
                    utc_naive(fold.started_at),
                    utc_naive(fold.finished_at),
                    float(fold.wall_time_s),
                    _maybe(float, fold.train_images_per_s),
                    _maybe(float, fold.peak_memory_mb),
                    _maybe(int, fold.epochs),
                    _maybe(int, fold.best_epoch),
                    int(fold.n_train),
                    int(fold.n_val),
                    int(fold.n_test),
                ],
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        error: str | None = None,
        wall_time_s: float | None = None,
        train_images_per_s: float | None = None,
        peak_memory_mb: float | None = None,
    ) -> None:
        """Mark run ``run_id`` ``finished`` or ``failed`` (with ``error``), stamping
        ``finished_at``. ``wall_time_s`` (s) is this invocation's; throughput in training
        images/s, peak memory in MiB. Finished folds stay whatever the status."""
        if status not in STATUSES or status == "running":
            raise InvalidRecordError(
                f"finish_run status must be 'finished' or 'failed', got {status!r}"
            )
        if status == "finished" and error is not None:
            raise InvalidRecordError(
                f"run {run_id}: a finished run cannot carry an error ({error!r})"
            )
        with self._transaction() as con:
            updated = con.execute(
                "UPDATE runs SET status = ?, error = ?, finished_at = ?, wall_time_s = ?, "
                "train_images_per_s = ?, peak_memory_mb = ? WHERE run_id = ? RETURNING run_id",
                [
                    status,
                    error,
                    now_utc(),
                    _maybe(float, wall_time_s),
                    _maybe(float, train_images_per_s),
                    _maybe(float, peak_memory_mb),
                    run_id,
                ],
            ).fetchall()
            if not updated:
                raise InvalidRecordError(f"run {run_id} does not exist in {self.path}")

    # -- reading ------------------------------------------------------------------------
    def run_progress(self, run_key: str) -> tuple[str, list[int], set[int]] | None:
        """``(run_id, folds planned, folds finished)`` of the run with ``run_key``, read
        only (a missing database file is no run); None when there is no such run."""
        if not self.path.exists():
            return None
        frame = self.query(
            "SELECT r.run_id, r.folds_planned, coalesce((SELECT list(f.fold) FROM folds f "
            "WHERE f.run_id = r.run_id), []) AS finished FROM runs r WHERE r.run_key = ?",
            [run_key],
        )
        if frame.empty:
            return None
        row = frame.iloc[0]
        planned = json.loads(row["folds_planned"]) if row["folds_planned"] else []
        return str(row["run_id"]), [int(f) for f in planned], {int(f) for f in row["finished"]}

    def runs(self, task: str | None = None) -> pd.DataFrame:
        """All runs (of ``task``), oldest first: every ``runs`` column, with ``config``,
        ``packages`` and ``folds_planned`` parsed from JSON, plus ``folds_finished`` (sorted
        list of fold numbers). ``status`` is derived from the folds (`derived_status`); the
        value last written by a process is ``stored_status``."""
        frame = self.query(
            "SELECT r.*, coalesce((SELECT list(f.fold ORDER BY f.fold) FROM folds f "
            "WHERE f.run_id = r.run_id), []) AS folds_finished "
            "FROM runs r WHERE ? IS NULL OR r.task = ? ORDER BY r.started_at, r.run_id",
            [task, task],
        )
        for column in ("config", "packages", "folds_planned"):
            frame[column] = [json.loads(v) if isinstance(v, str) else None for v in frame[column]]
        frame["folds_finished"] = [[int(f) for f in folds] for folds in frame["folds_finished"]]
        frame["stored_status"] = frame["status"]
        frame["status"] = [
            derived_status(status, planned, done)
            for status, planned, done in zip(
                frame["status"], frame["folds_planned"], frame["folds_finished"], strict=True
            )
        ]
        return frame

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run ``sql`` on a read-only connection and return the result as a DataFrame."""
        with self._reader() as con:
            return con.execute(sql, params).df()
