"""Records of the results store: one run (`RunRecord`) and one finished fold (`FoldRecord`).

Times are UTC: timezone-aware datetimes are converted to UTC, naive ones are taken as UTC.
Durations are in seconds, throughput in training images per second, memory in MiB (MB).
Records are validated when constructed, so a bad record fails before anything is written.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mskbench.harness.store.errors import InvalidRecordError

KINDS = ("trained", "scored")
STATUSES = ("running", "finished", "failed")
SPLITS = ("test", "external")
#: ``structure`` of image-level values (pixel accuracy) and of case-level attributes (site).
CASE_LEVEL = "__case__"


def utc_naive(value: datetime) -> datetime:
    """``value`` as a naive UTC datetime (the store's TIMESTAMP convention)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def now_utc() -> datetime:
    """The current time as a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_json(value: Any, what: str) -> str:
    """Canonical JSON text (sorted keys) of ``value``; a value JSON cannot hold raises."""
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"{what} is not JSON-serialisable: {exc}") from exc


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidRecordError(message)


def _non_negative(name: str, value: float | None, optional: bool = False) -> None:
    ok = (value is None and optional) or (
        isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0
    )
    _require(
        ok, f"{name} must be a finite number >= 0{' or None' if optional else ''}, got {value!r}"
    )


@dataclass(frozen=True)
class RunRecord:
    """What identifies and describes one run; ``run_key`` decides reuse (resume).

    ``kind``: ``trained`` (`bench run`) or ``scored`` (`bench score`). ``folds_planned``:
    the folds this run was asked to produce. ``config`` and ``packages`` are stored as JSON.
    """

    run_key: str
    kind: str
    task: str
    task_version: int
    model: str
    profile: str
    seed: int
    config: dict[str, Any]
    data_fingerprint: str
    split_fingerprint: str
    data_root: str
    mskbench_version: str
    git_commit: str
    packages: dict[str, Any]
    device: str
    device_name: str
    folds_planned: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in (
            "run_key",
            "task",
            "model",
            "profile",
            "data_fingerprint",
            "split_fingerprint",
        ):
            value = getattr(self, name)
            _require(
                isinstance(value, str) and value != "",
                f"RunRecord.{name} must be a non-empty string",
            )
        _require(self.kind in KINDS, f"RunRecord.kind must be one of {KINDS}, got {self.kind!r}")
        _require(
            all(isinstance(f, int) and f >= 0 for f in self.folds_planned),
            f"RunRecord.folds_planned must hold integers >= 0, got {self.folds_planned!r}",
        )
        to_json(self.config, "RunRecord.config")
        to_json(self.packages, "RunRecord.packages")


@dataclass(frozen=True)
class FoldRecord:
    """Timings and sizes of one finished fold (a ``folds`` row)."""

    fold: int
    started_at: datetime
    finished_at: datetime
    wall_time_s: float
    train_images_per_s: float | None
    peak_memory_mb: float | None
    epochs: int | None
    best_epoch: int | None
    n_train: int
    n_val: int
    n_test: int

    def __post_init__(self) -> None:
        _require(self.fold >= 0, f"FoldRecord.fold must be >= 0, got {self.fold}")
        _require(
            utc_naive(self.finished_at) >= utc_naive(self.started_at),
            f"fold {self.fold}: finished_at {self.finished_at} is before started_at {self.started_at}",
        )
        _non_negative("FoldRecord.wall_time_s", self.wall_time_s)
        _non_negative("FoldRecord.train_images_per_s", self.train_images_per_s, optional=True)
        _non_negative("FoldRecord.peak_memory_mb", self.peak_memory_mb, optional=True)
        for name in ("n_train", "n_val", "n_test"):
            _non_negative(f"FoldRecord.{name}", getattr(self, name))
