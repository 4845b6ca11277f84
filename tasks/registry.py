"""The task registry: built-in tasks by lazy reference, plus the ``mskbench.tasks`` entry points.

Listing names imports nothing; `get_task` imports only the (pure-Python) spec module.
"""

from __future__ import annotations

from typing import Any

from mskbench.harness.registry import Registry
from mskbench.tasks.spec import TaskSpec, TaskSpecError


def _validate(name: str, obj: Any) -> TaskSpec:
    if not isinstance(obj, TaskSpec):
        raise TaskSpecError(f"task {name!r} resolves to {type(obj).__name__}, not a TaskSpec")
    if obj.name != name:
        raise TaskSpecError(f"task registered as {name!r} is named {obj.name!r}")
    return obj


TASKS: Registry[TaskSpec] = Registry("task", entry_point_group="mskbench.tasks", validate=_validate)

_BUILTIN = {
    "nmd_thigh": "mskbench.tasks.nmd.spec:NMD_THIGH",
    "nmd_leg": "mskbench.tasks.nmd.spec:NMD_LEG",
    "lumbar_paraspinal": "mskbench.tasks.lumbar.spec:LUMBAR_PARASPINAL",
}
for _name, _ref in _BUILTIN.items():
    TASKS.register(_name, _ref)


def get_task(name: str) -> TaskSpec:
    """The `TaskSpec` called ``name``; an unknown name raises with the list of known ones."""
    return TASKS.get(name)


def task_names() -> list[str]:
    """All task names, sorted."""
    return TASKS.names()
