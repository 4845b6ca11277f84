"""Is a file an mskbench results database, and of which schema version?

A ``--db`` path comes from outside and is hostile until checked (DESIGN "Data from outside
is hostile until checked"). Readers (`bench results`, the leaderboard) and writers
(`bench run`, `bench score`) check it before they use it and refuse it with an error
naming the file and the rule:

- ``not-duckdb``: not a DuckDB database file — a text file, random bytes, 0 bytes, a
  folder. A DuckDB file carries the magic bytes ``DUCK`` at byte 8 of its main header.
- ``unreadable``: it looks like DuckDB, but DuckDB cannot open it (corrupt, or written by
  an incompatible DuckDB); DuckDB's reason is quoted.
- ``not-mskbench``: a DuckDB database without mskbench's ``schema_version`` and ``runs``
  tables. Readers refuse an empty one too (there is nothing to read); a writer fills an
  empty one with the schema but refuses one that holds any other program's table or view,
  so mskbench never adds its tables to someone else's database.
- ``newer-schema``: written by a newer mskbench (`SchemaVersionError`, raised by
  `harness.store.schema.check_not_newer`).
- ``read-only``: a writer was given a file without any write-permission bit (``chmod
  444``; refused even where the user could write it anyway, e.g. as root) or one the
  system does not let it open for writing.

An older mskbench schema stays readable without writing it: `migrated_copy` migrates a
private copy for reading.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import duckdb

from mskbench.harness.store.connection import connect
from mskbench.harness.store.errors import NotAStoreError, ReadOnlyStoreError
from mskbench.harness.store.schema import check_not_newer, current_version, migrate

#: DuckDB's main header: an 8-byte checksum, then these magic bytes.
MAGIC = b"DUCK"
MAGIC_OFFSET = 8
#: Tables every mskbench results database has (schema version 1 on).
MSKBENCH_TABLES = ("schema_version", "runs")
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def check_duckdb_file(path: Path) -> None:
    """Raise `NotAStoreError` (rule ``not-duckdb``) unless ``path`` is a regular file that
    starts like a DuckDB database. Reads 12 bytes; DuckDB itself never sees a foreign file."""
    if not path.is_file():
        raise NotAStoreError(
            f"results database {path}: [not-duckdb] is not a regular file (a folder?); "
            "pass the .duckdb file with --db"
        )
    with path.open("rb") as handle:
        head = handle.read(MAGIC_OFFSET + len(MAGIC))
    if not head:
        raise NotAStoreError(
            f"results database {path}: [not-duckdb] the file is empty (0 bytes), not a DuckDB "
            "database; remove it or pass another --db"
        )
    if head[MAGIC_OFFSET:] != MAGIC:
        raise NotAStoreError(
            f"results database {path}: [not-duckdb] not a DuckDB database file (its header "
            "lacks DuckDB's magic bytes); pass mskbench's results file with --db"
        )


def open_database(path: Path, *, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """`connect` (lock wait included) with DuckDB's refusals turned into store errors:
    ``read-only`` (a writer denied permission) or ``unreadable`` (anything else)."""
    try:
        return connect(path, read_only=read_only, timeout_s=timeout_s)
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not read_only and "Permission denied" in reason:
            raise ReadOnlyStoreError(
                f"results database {path}: [read-only] cannot be opened for writing ({reason})"
            ) from exc
        raise NotAStoreError(
            f"results database {path}: [unreadable] DuckDB cannot open it: {reason}"
        ) from exc


def _objects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """User tables and views of the open database, ``schema.name`` outside ``main``."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT internal "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return sorted(name if schema == "main" else f"{schema}.{name}" for schema, name in rows)


def schema_version_of(con: duckdb.DuckDBPyConnection, path: Path, *, empty_ok: bool) -> int:
    """The mskbench schema version of the database open on ``con`` (``path`` names it).

    Returns 0 for an empty database when ``empty_ok`` (a writer creates the schema there);
    raises `NotAStoreError` (``not-mskbench``) for an empty one otherwise and for one of
    another program, `SchemaVersionError` for a newer mskbench schema.
    """
    objects = _objects(con)
    if MSKBENCH_TABLES[0] in objects:
        version = current_version(con)
        check_not_newer(version, str(path))
        if version >= 1 and all(t in objects for t in MSKBENCH_TABLES):
            return version
    if not objects:
        if empty_ok:
            return 0
        raise NotAStoreError(
            f"results database {path}: [not-mskbench] an empty DuckDB database, not an mskbench "
            "results database (nothing has been run or scored into it)"
        )
    shown = ", ".join(objects[:8]) + (f" and {len(objects) - 8} more" if len(objects) > 8 else "")
    raise NotAStoreError(
        f"results database {path}: [not-mskbench] a DuckDB database of another program "
        f"(holding {shown}), not an mskbench results database; mskbench neither reads it nor "
        "adds its tables to it"
    )


def probe(path: Path, lock_timeout_s: float) -> int:
    """The schema version (≥ 1) of the mskbench results database ``path``, for a reader.

    Opens it read-only (waiting up to ``lock_timeout_s`` s for a writer); raises
    `FileNotFoundError`, `NotAStoreError`, `SchemaVersionError` or `StoreLockedError`.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"no results database at {path} (nothing has been run or scored into it)"
        )
    check_duckdb_file(path)
    con = open_database(path, read_only=True, timeout_s=lock_timeout_s)
    try:
        return schema_version_of(con, path, empty_ok=False)
    finally:
        con.close()


def check_writable(path: Path) -> None:
    """For a writer: ``path`` is missing (it will be created) or a DuckDB file with a
    write-permission bit; raises `NotAStoreError` or `ReadOnlyStoreError` otherwise. The
    tables are checked once the file is open (`schema_version_of` with ``empty_ok``)."""
    if not path.exists():
        return
    check_duckdb_file(path)
    mode = path.stat().st_mode
    if not mode & _WRITE_BITS:
        raise ReadOnlyStoreError(
            f"results database {path}: [read-only] the file is read-only (mode "
            f"{stat.S_IMODE(mode):04o}), so mskbench does not write to it; make it writable "
            "(chmod u+w) or pass another --db"
        )


def migrated_copy(path: Path, folder: Path, lock_timeout_s: float) -> Path:
    """A copy of ``path`` (an older mskbench schema) in ``folder``, migrated to the current
    schema, for reading; ``path`` itself is never written.

    The file and its write-ahead log are copied while a read-only connection holds them,
    so no writer changes them during the copy (a writer waits for the copy's milliseconds).
    """
    target = folder / path.name
    wal = path.with_name(path.name + ".wal")
    con = open_database(path, read_only=True, timeout_s=lock_timeout_s)
    try:
        shutil.copyfile(path, target)
        if wal.is_file():
            shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    finally:
        con.close()
    con = duckdb.connect(str(target))
    try:
        migrate(con, f"{target} (a private copy of {path})")
    finally:
        con.close()
    return target
