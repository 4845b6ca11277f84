"""Opening the DuckDB file with a wait for the lock another process holds.

DuckDB lets one process open a file read-write *or* several open it read-only, never both
at once; a second process gets ``duckdb.IOException`` ("Could not set lock on file ...").
`connect` retries that error with exponential backoff and jitter until ``timeout_s``
(seconds) have passed, then raises `StoreLockedError` naming the file. Other errors pass.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import duckdb

from mskbench.harness.store.errors import StoreLockedError

log = logging.getLogger(__name__)

LOCK_MESSAGE = "Could not set lock on file"
FIRST_DELAY_S = 0.02
MAX_DELAY_S = 1.0


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB's "file is locked by another process" error."""
    return isinstance(exc, duckdb.IOException) and LOCK_MESSAGE in str(exc)


def connect(path: Path, *, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (read-only or read-write), waiting up to ``timeout_s`` s for its lock.

    The n-th retry sleeps ``uniform(0.5, 1) · min(1 s, 0.02 s · 2ⁿ)``, so waiting processes
    do not wake in step. The first retry is logged at INFO, the rest at DEBUG.
    """
    mode = "read-only" if read_only else "read-write"
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreLockedError(
                    f"results database {path} stayed locked by another process for "
                    f"{timeout_s:g} s ({mode} open gave up after {attempt + 1} attempts): {exc}"
                ) from exc
            delay = min(
                remaining, random.uniform(0.5, 1.0) * min(MAX_DELAY_S, FIRST_DELAY_S * 2**attempt)
            )
            attempt += 1
            log.log(
                logging.INFO if attempt == 1 else logging.DEBUG,
                "results database %s is locked by another process; %s open retry %d in %.2f s",
                path,
                mode,
                attempt,
                delay,
            )
            time.sleep(delay)
