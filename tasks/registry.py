"""The task registry: built-in tasks by lazy reference, the ``mskbench.tasks`` entry points
of installed packages, and tasks named in the environment variable ``MSKBENCH_TASKS``
(``name=module:ATTR`` or ``name=path/to/file.py:ATTR``, comma-separated: a task under
development, or a private one, without a package; `docs/adding-a-task.md`).

Listing names imports nothing; `get_task` imports only the (pure-Python) spec module.
"""

from __future__ import annotations

import os
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
    "shoulder_supraspinatus": "mskbench.tasks.shoulder.spec:SHOULDER_SUPRASPINATUS",
    "knee_mrnet": "mskbench.tasks.knee.spec:KNEE_MRNET",
    "sij_fat_metaplasia": "mskbench.tasks.sij.spec:SIJ_FAT_METAPLASIA",
    "sij_axspa": "mskbench.tasks.sij.spec:SIJ_AXSPA",
}
ENVIRONMENT_VARIABLE = "MSKBENCH_TASKS"


def _from_environment() -> dict[str, str]:
    """``name → reference`` of the tasks named in ``$MSKBENCH_TASKS``."""
    out = {}
    for entry in filter(
        None, (e.strip() for e in os.environ.get(ENVIRONMENT_VARIABLE, "").split(","))
    ):
        name, sep, reference = entry.partition("=")
        if not sep or ":" not in reference:
            raise TaskSpecError(
                f"${ENVIRONMENT_VARIABLE}: {entry!r} is not 'name=module:ATTR' or 'name=file.py:ATTR'"
            )
        out[name.strip()] = reference.strip()
    return out


for _name, _ref in [*_BUILTIN.items(), *_from_environment().items()]:
    TASKS.register(_name, _ref)  # a second task under a built-in name is refused


def get_task(name: str) -> TaskSpec:
    """The `TaskSpec` called ``name``; an unknown name raises with the list of known ones."""
    return TASKS.get(name)


def task_names() -> list[str]:
    """All task names, sorted."""
    return TASKS.names()
