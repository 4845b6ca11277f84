"""The store across processes: a SIGKILL inside a fold's transaction, two writers at once,
a reader waiting for a writer's lock (docs/architecture.md, "Results store")."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_store import fold_record, metric_frame, run_record

from mskbench.harness.store import Store, StoreLockedError

TESTS = Path(__file__).resolve().parent


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    """Run ``script`` in a fresh Python process (args in ``sys.argv[1:]``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=TESTS.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"child exited early:\n{process.stdout.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"child did not get ready in {timeout_s} s")
        time.sleep(0.02)


SLOW_WRITER = """
    import sys, time
    from pathlib import Path
    from mskbench.harness.store import Store
    from test_store import fold_record, metric_frame

    class SlowStore(Store):
        # sleeps inside write_fold's transaction, after the case metrics are inserted
        def _insert(self, con, table, rows, key):
            super()._insert(con, table, rows, key)
            if table == "case_metrics":
                Path(sys.argv[3]).touch()
                time.sleep(120)

    SlowStore(sys.argv[1]).write_fold(sys.argv[2], fold_record(1), metric_frame(1, n_cases=200))
"""


def test_sigkill_inside_write_fold_leaves_no_partial_fold_and_the_run_resumes(tmp_path: Path):
    store = Store(tmp_path / "results.duckdb")
    run_id, _ = store.begin_run(run_record())
    store.write_fold(run_id, fold_record(0), metric_frame(0))
    ready = tmp_path / "inside-transaction"
    child = spawn(SLOW_WRITER, str(store.path), run_id, str(ready))
    wait_for(ready, child)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    after = Store(store.path)  # read-only open of the killed writer's file
    assert after.query("SELECT DISTINCT fold FROM case_metrics")["fold"].tolist() == [0]
    assert after.query("SELECT fold FROM folds")["fold"].tolist() == [0]
    run_id_again, finished = after.begin_run(run_record())
    assert (run_id_again, finished) == (run_id, {0})
    after.write_fold(run_id, fold_record(1), metric_frame(1, n_cases=200))
    n = after.query("SELECT fold, count(*) AS n FROM case_metrics GROUP BY fold ORDER BY fold")
    assert n["n"].tolist() == [len(metric_frame(0)), len(metric_frame(1, n_cases=200))]


WRITER = """
    import sys
    from mskbench.harness.store import Store
    from test_store import fold_record, metric_frame, run_record

    store = Store(sys.argv[1], lock_timeout_s=60)
    run_id, _ = store.begin_run(run_record(sys.argv[2]))
    for fold in range(int(sys.argv[3])):
        store.write_fold(run_id, fold_record(fold), metric_frame(fold, n_cases=300))
    store.finish_run(run_id, "finished")
"""


def test_two_processes_writing_at_once_both_finish_with_all_rows(tmp_path: Path):
    path, n_folds = tmp_path / "results.duckdb", 6
    writers = [spawn(WRITER, str(path), key, str(n_folds)) for key in ("writer-a", "writer-b")]
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0, out
    store = Store(path)
    runs = store.runs()
    assert sorted(runs["run_key"]) == ["writer-a", "writer-b"]
    assert (runs["status"] == "finished").all()
    assert all(f == list(range(n_folds)) for f in runs["folds_finished"])
    per_fold = len(metric_frame(0, n_cases=300))
    assert (
        store.query("SELECT count(*) AS n FROM case_metrics")["n"].item() == 2 * n_folds * per_fold
    )


HOLDER = """
    import sys, time
    from pathlib import Path
    import duckdb

    con = duckdb.connect(sys.argv[1])  # read-write: holds the file's lock
    Path(sys.argv[2]).touch()
    time.sleep(float(sys.argv[3]))
    con.close()
"""


def test_a_reader_waits_while_a_writer_holds_the_lock_then_succeeds(tmp_path: Path, caplog):
    store = Store(tmp_path / "results.duckdb")
    store.begin_run(run_record())
    ready = tmp_path / "locked"
    holder = spawn(HOLDER, str(store.path), str(ready), "1.5")
    wait_for(ready, holder)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="mskbench.harness.store.connection"):
        runs = Store(store.path, lock_timeout_s=60).runs()
    assert len(runs) == 1
    assert time.monotonic() - started > 0.5
    assert "is locked by another process" in caplog.text
    assert holder.wait(timeout=30) == 0


def test_the_lock_timeout_raises_naming_the_file(tmp_path: Path):
    store = Store(tmp_path / "results.duckdb")
    store.begin_run(run_record())
    ready = tmp_path / "locked"
    holder = spawn(HOLDER, str(store.path), str(ready), "30")
    try:
        wait_for(ready, holder)
        with pytest.raises(StoreLockedError, match=f"results database {store.path} stayed locked"):
            Store(store.path, lock_timeout_s=0.3).runs()
    finally:
        holder.kill()
        holder.wait(timeout=30)
