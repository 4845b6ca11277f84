"""mskbench tasks: task specs and typed targets, the data contract, and the phantoms.

Each task is one package (``tasks/<name>/``: spec, phantom, evaluator, paper tables);
`mskbench.tasks.case` holds the model-facing `Case` and `Prediction` both the harness and
task code use. How to add a task: ``docs/adding-a-task.md``.
"""

from mskbench.tasks.registry import TASKS, get_task, task_names
from mskbench.tasks.spec import (
    PROFILES,
    Citation,
    MapSpec,
    OutlierFence,
    ProfileSpec,
    PublishedValue,
    SplitProtocol,
    Stratum,
    TaskSpec,
)
from mskbench.tasks.targets import (
    ClassificationTarget,
    MaskTarget,
    SegmentationTarget,
    SeriesSpec,
    Target,
    TaskSpecError,
    binary_target,
)

__all__ = [
    "PROFILES",
    "TASKS",
    "Citation",
    "ClassificationTarget",
    "MapSpec",
    "MaskTarget",
    "OutlierFence",
    "ProfileSpec",
    "PublishedValue",
    "SegmentationTarget",
    "SeriesSpec",
    "SplitProtocol",
    "Stratum",
    "Target",
    "TaskSpec",
    "TaskSpecError",
    "binary_target",
    "get_task",
    "task_names",
]
