"""Run records with placeholder provenance, for tests, benchmarks and demos that fill a
store without training anything. `bench run` and `bench score` never use them: their
records carry the real data, split, package and git fingerprints (`harness.runner`)."""

from __future__ import annotations

from typing import Any, Protocol

from mskbench.harness.store.records import RunRecord


class TaskIdentity(Protocol):
    """What a record needs of a task: a `tasks.TaskSpec` satisfies it (the store does not
    import `tasks`)."""

    name: str
    version: int


def synthetic_run_record(
    run_key: str, spec: TaskIdentity | None = None, **fields: Any
) -> RunRecord:
    """A trained-kind ``RunRecord`` (``unet2d``, quick profile, CPU) with placeholder
    fingerprints; any field can be overridden by keyword.

    ``spec``: the task whose name and *current* version the record carries, so that
    `harness.summary.select_runs` compares it; without one, ``nmd_thigh`` version 1."""
    defaults: dict[str, Any] = {
        "kind": "trained",
        "task": spec.name if spec else "nmd_thigh",
        "task_version": spec.version if spec else 1,
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
