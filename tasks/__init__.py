"""mskbench tasks: task specs, the data contract, and the procedural phantoms."""

from mskbench.tasks.registry import TASKS, get_task, task_names
from mskbench.tasks.spec import (
    PROFILES,
    Citation,
    MapSpec,
    MaskSpec,
    ProfileSpec,
    PublishedValue,
    SplitProtocol,
    Stratum,
    TaskSpec,
    TaskSpecError,
)

__all__ = [
    "PROFILES",
    "TASKS",
    "Citation",
    "MapSpec",
    "MaskSpec",
    "ProfileSpec",
    "PublishedValue",
    "SplitProtocol",
    "Stratum",
    "TaskSpec",
    "TaskSpecError",
    "get_task",
    "task_names",
]
