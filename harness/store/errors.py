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
