"""Run records with placeholder provenance, for tests, benchmarks and demos that fill a
store without training anything. `bench run` and `bench score` never use them: their
records carry the real data, split, package and git fingerprints (`harness.runner`)."""

from __future__ import annotations

from typing import Any

from harness.store.records import RunRecord


def synthetic_run_record(run_key: str, **fields: Any) -> RunRecord:
    """A trained-kind ``RunRecord`` for ``nmd_thigh`` (version 1, ``unet2d``, quick profile,
    CPU) with placeholder fingerprints; any field can be overridden by keyword."""
    defaults: dict[str, Any] = {
        "kind": "trained",
        "task": "nmd_thigh",
        "task_version": 1,
        "model": "unet2d",
        "profile": "quick",
        "seed": 0,
        "config": {},
        "data_fingerprint": "data",
        "split_fingerprint": "split",
        "data_root": "/data",
        "mskbench_version": "synthetic",
        "git_commit": "synthetic",
        "packages": {},
        "device": "cpu",
        "device_name": "cpu",
        "folds_planned": [],
    }
    return RunRecord(run_key=run_key, **(defaults | fields))
