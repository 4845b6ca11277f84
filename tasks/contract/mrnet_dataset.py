"""`Dataset` of a folder in the public MRNet layout (`mrnet`): same interface, other files.

`Dataset(root, task)` returns one of these when `mrnet.is_mrnet_root` holds, so the runner,
`bench data show` and `bench data validate` read MRNet-v1.0 (and the knee phantom, which
writes exactly that layout) without conversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mskbench.tasks.case import Case
from mskbench.tasks.contract.dataset import Dataset
from mskbench.tasks.contract.imageio import Grid
from mskbench.tasks.contract.layout import Layout
from mskbench.tasks.contract.mrnet import (
    VOLUME,
    MrnetIndex,
    index_mrnet,
    validate_mrnet,
)
from mskbench.tasks.contract.npy import read_volume
from mskbench.tasks.contract.validate import Problem, ValidationError
from mskbench.tasks.spec import TaskSpec

#: Nominal voxel spacing (mm, per axis): MRNet's files carry no geometry.
NOMINAL_SPACING_MM = 1.0
#: How `Layout.file_ending` names the layout's volumes (messages only).
NPY = ".npy"


def nominal_grid(shape: tuple[int, ...]) -> Grid:
    """A grid of ``shape`` at `NOMINAL_SPACING_MM`, origin 0, identity direction."""
    n = len(shape)
    identity = tuple(float(i == j) for i in range(n) for j in range(n))
    return Grid(tuple(shape), (NOMINAL_SPACING_MM,) * n, (0.0,) * n, identity)


class MrnetDataset(Dataset):
    """A folder in the MRNet layout: cases from its label files, the predefined split
    (fold 0 = MRNet train → valid), each plane read from its ``.npy`` after the header check.
    ``dataset_json`` is synthesised (task, layout, and a phantom's provenance) so code that
    reads a dataset's profile finds it."""

    def __init__(self, root: str | Path, task: TaskSpec, validate: bool = True) -> None:
        self.root = Path(root).resolve()
        self.task = task
        if validate:
            problems = validate_mrnet(self.root, task)
            if problems:
                raise ValidationError(self.root, [Problem(*p) for p in problems])
        self.index: MrnetIndex = index_mrnet(self.root, task)
        unsafe = [Problem(*p) for p in self.index.problems if p[1] in ("case-id", "symlink")]
        if unsafe:
            raise ValidationError(self.root, unsafe)
        self.dataset_json = {"mskbench": {"task": task.name, "layout": "mrnet", **self.index.meta}}
        self.layout = Layout(self.root, NPY)
        self.cases = self.index.cases.set_index("case_id", drop=False)
        self.splits = self.index.splits
        self.splits_source = "MRNet train (fold 0 train) / valid (fold 0 test)"

    def load(
        self, case_id: str, with_label: bool = True, with_maps: bool = True, with_masks: bool = True
    ) -> Case:
        """One exam: each plane ``(1, slices, 256, 256)`` float32 (the uint8 values), on a
        nominal grid; its labels as written (``"0"``/``"1"``) unless ``with_label`` is False."""
        if case_id not in self.cases.index:
            raise KeyError(f"case {case_id!r} is not in {self.root}'s label files")
        images, grids = {}, {}
        for plane in (s.name for s in self.task.series):  # the task's order
            volume = read_volume(self.index.volume(case_id, plane), VOLUME)
            images[plane] = volume[None].astype(np.float32)
            grids[plane] = nominal_grid(volume.shape)
        row = self.cases.loc[case_id]
        targets = {t.name: str(row[t.column]) for t in self.task.classification}
        return Case(
            case_id=case_id,
            subject_id=str(row["subject_id"]),
            site=str(row["site"]),
            images=images,
            grids=grids,
            primary=self.task.primary_series.name,
            attributes=row.to_dict(),
            targets=targets if with_label else {},
        )
