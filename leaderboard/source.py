"""The results database as the app sees it: a private snapshot, never the live file.

DuckDB lets one process write a file *or* several read it. The app never runs a query on
the file `bench run` writes: when that file has changed (modification time or size of the
file or of its write-ahead log), the app opens it read-only just long enough to copy it
(waiting up to ``lock_timeout_s`` seconds while a writer finishes a fold's transaction,
with `harness.store`'s lock retry), closes it and queries the copy. A writer therefore
waits at most for one file copy (milliseconds), however long a page's queries take and
however many people are looking. While a writer holds the file for longer than the
timeout, the pages keep showing the last snapshot (``Source.stale``); only a first look
at a busy file raises `harness.store.StoreLockedError`, which the app turns into a
message with a retry button. A file that is not an mskbench results database, or of a
newer schema, is refused before it is copied (`harness.store.identity`; the app shows
the `harness.store.StoreError`).

Snapshots live in a temporary folder of the server process; a replaced one is deleted
`GRACE_S` seconds later (a page still drawing may read it). Query results are cached per
snapshot.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import streamlit as st

from mskbench.harness.store import Store, StoreLockedError
from mskbench.harness.store.identity import check_duckdb_file, open_database, schema_version_of

DEFAULT_LOCK_TIMEOUT_S = 3.0
#: Seconds a replaced snapshot is kept for pages still drawing from it (each takes < 2 s).
GRACE_S = 30.0


def wal_of(path: Path) -> Path:
    """DuckDB's write-ahead log of database ``path``."""
    return path.with_name(path.name + ".wal")


def file_stamp(path: Path) -> tuple[int, ...]:
    """Modification times (ns) and sizes of ``path`` and its write-ahead log (0 if absent)."""
    out: list[int] = []
    for part in (path, wal_of(path)):
        try:
            status = part.stat()
        except FileNotFoundError:
            out += [0, 0]
        else:
            out += [status.st_mtime_ns, status.st_size]
    return tuple(out)


@st.cache_resource(show_spinner=False, max_entries=8)
def _store(path: str) -> Store:
    """One `Store` per snapshot (it remembers that the schema version was checked)."""
    return Store(path)


@st.cache_data(show_spinner=False, max_entries=2000)
def _cached(
    module: str,
    name: str,
    path: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
) -> Any:
    """``module.name(store of snapshot path, *args, **kwargs)``."""
    function = getattr(import_module(module), name)
    return function(_store(path), *args, **dict(kwargs))


@dataclass(frozen=True)
class Source:
    """A snapshot of the results database ``original``: queries read the copy ``path``.

    ``stamp``: `file_stamp` of ``original`` when copied, at ``taken_at`` (UTC);
    ``stale``: the original has changed since, but a writer held it too long to copy.
    """

    original: Path
    path: Path
    stamp: tuple[int, ...]
    taken_at: datetime
    stale: bool = False

    def get(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(store, *args, **kwargs)`` (a module-level function), cached per
        snapshot. Arguments must be hashable by Streamlit."""
        return _cached(
            function.__module__,
            function.__qualname__,
            str(self.path),
            args,
            tuple(sorted(kwargs.items())),
        )


class Snapshots:
    """The snapshots of one database file (one instance per file and server process)."""

    def __init__(self, original: Path, lock_timeout_s: float) -> None:
        self.original = original
        self.lock_timeout_s = lock_timeout_s
        self._folder = tempfile.TemporaryDirectory(prefix="mskbench-leaderboard-")
        self._lock = threading.Lock()
        self._latest: Source | None = None
        self._retired: list[tuple[float, Source]] = []  # (monotonic time replaced, snapshot)
        self._count = 0

    def current(self) -> Source:
        """The snapshot of the file as it is now: copied if it changed since the last one;
        the last one marked stale if a writer holds the file. Raises `StoreLockedError`
        when the file is busy and there is no snapshot yet, `FileNotFoundError` when it
        does not exist."""
        stamp = file_stamp(self.original)
        with self._lock:
            latest = self._latest
            if latest is not None and latest.stamp == stamp:
                return latest
            try:
                fresh = self._copy()
            except StoreLockedError:
                if latest is None:
                    raise
                return replace(latest, stale=True)
            now = time.monotonic()
            if latest is not None:
                self._retired.append((now, latest))
            for retired_at, old in self._retired:
                if now - retired_at > GRACE_S:
                    old.path.unlink(missing_ok=True)
                    wal_of(old.path).unlink(missing_ok=True)
            self._retired = [(t, old) for t, old in self._retired if now - t <= GRACE_S]
            self._latest = fresh
            return fresh

    def _copy(self) -> Source:
        """Copy the file and its write-ahead log while holding a read-only connection, so
        no writer changes them during the copy. A file that is not an mskbench database
        (or of a newer schema) raises `harness.store.StoreError` and is not copied."""
        if not self.original.is_file():
            raise FileNotFoundError(f"no results database at {self.original}")
        check_duckdb_file(self.original)
        con = open_database(self.original, read_only=True, timeout_s=self.lock_timeout_s)
        try:
            schema_version_of(con, self.original, empty_ok=False)
            stamp = file_stamp(self.original)
            self._count += 1
            target = Path(self._folder.name) / f"snapshot-{self._count}.duckdb"
            shutil.copyfile(self.original, target)
            if wal_of(self.original).is_file():
                shutil.copyfile(wal_of(self.original), wal_of(target))
        finally:
            con.close()
        return Source(self.original, target, stamp, datetime.now(UTC))


@st.cache_resource(show_spinner=False)
def snapshots(original: str, lock_timeout_s: float) -> Snapshots:
    """The server's `Snapshots` of database ``original``."""
    return Snapshots(Path(original), lock_timeout_s)
