"""The DuckDB results store (docs/architecture.md, "Results store"): schema and migrations, run and fold
records, atomic fold writes, lock-aware connections. No torch, no metrics code.

Tables (long form): ``runs``, ``folds`` (a row only for a finished fold), ``case_metrics``,
``case_scores``, ``predictions``, ``attributes`` and ``schema_version``; see
`harness.store.schema` for columns and units.
"""

from mskbench.harness.store.errors import (
    InvalidRecordError,
    NotAStoreError,
    ReadOnlyStoreError,
    SchemaVersionError,
    StoreError,
    StoreLockedError,
)
from mskbench.harness.store.records import (
    CASE_LEVEL,
    KINDS,
    SPLITS,
    STATUSES,
    FoldRecord,
    RunRecord,
)
from mskbench.harness.store.store import DEFAULT_LOCK_TIMEOUT_S, Store

__all__ = [
    "CASE_LEVEL",
    "DEFAULT_LOCK_TIMEOUT_S",
    "KINDS",
    "SPLITS",
    "STATUSES",
    "FoldRecord",
    "InvalidRecordError",
    "NotAStoreError",
    "ReadOnlyStoreError",
    "RunRecord",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "StoreLockedError",
]
