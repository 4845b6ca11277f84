"""Errors of the results store; each message names the database file or the bad rows."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base class of the store's errors."""


class SchemaVersionError(StoreError):
    """The database was written by a newer mskbench (its schema version is unknown here)."""


class StoreLockedError(StoreError, TimeoutError):
    """Another process held the database file for longer than the lock timeout."""


class InvalidRecordError(StoreError, ValueError):
    """A record or a frame of rows breaks a rule; nothing was written."""


class NotAStoreError(StoreError):
    """The file is not an mskbench results database: not DuckDB at all (text, random bytes,
    0 bytes), or a DuckDB database without mskbench's tables (empty, or another program's)."""


class ReadOnlyStoreError(StoreError):
    """A writer was given a results file it must not or cannot write (no write permission)."""
