"""Read a dataset folder (contract layout) into `Case` objects, one case at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mskbench.tasks.contract.fingerprint import data_fingerprint
from mskbench.tasks.contract.imageio import Grid, read_image
from mskbench.tasks.contract.layout import (
    CASES_CSV,
    ContractError,
    Layout,
    layout_for,
    read_dataset_json,
)
from mskbench.tasks.contract.safepath import case_id_problem
from mskbench.tasks.contract.splits import Fold, Splits, read_splits
from mskbench.tasks.contract.validate import (
    Problem,
    ValidationError,
    read_cases_csv,
    validate_dataset,
)
from mskbench.tasks.spec import TaskSpec


@dataclass
class Case:
    """One case in memory.

    ``image`` is ``(channels, *spatial)`` float32; ``label`` is ``spatial`` uint8 (None when
    the case has no reference); ``maps`` hold float32 maps on the label grid in their
    `MapSpec` units; ``masks`` the task's extra binary reference masks (`MaskSpec`) as
    bool arrays on the same grid; ``spacing`` is mm in array-axis order; ``attributes`` is
    the case's row of cases.csv.
    """

    case_id: str
    subject_id: str
    site: str
    image: np.ndarray
    label: np.ndarray | None
    spacing: tuple[float, ...]
    grid: Grid
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)


class Dataset:
    """A dataset folder for one task: its cases table, frozen splits and fingerprints.

    ``validate=True`` (default) checks the whole folder first and raises
    `ValidationError` listing every problem. Even without it, case ids that are not plain
    names (rule ``case-id``) are refused, so no id from cases.csv can become a path
    outside the dataset.
    """

    def __init__(self, root: str | Path, task: TaskSpec, validate: bool = True) -> None:
        self.root = Path(root).resolve()
        self.task = task
        if validate:
            problems = validate_dataset(self.root, task)
            if problems:
                raise ValidationError(self.root, problems)
        self.dataset_json = read_dataset_json(self.root)
        self.layout: Layout = layout_for(self.root, self.dataset_json)
        self.cases: pd.DataFrame = read_cases_csv(self.layout.cases_csv).set_index(
            "case_id", drop=False
        )
        unsafe = [
            Problem(CASES_CSV, "case-id", f"case_id {problem}")
            for problem in map(case_id_problem, self.cases["case_id"])
            if problem is not None
        ]
        if unsafe:
            raise ValidationError(self.root, unsafe)
        splits = read_splits(self.root)
        if splits is None:
            raise ContractError(
                f"{self.layout.splits_json}: missing; create it with `bench data split`"
            )
        self.splits: Splits = splits

    @property
    def case_ids(self) -> list[str]:
        return self.cases["case_id"].tolist()

    @property
    def subjects(self) -> dict[str, str]:
        """case id → subject id."""
        return dict(zip(self.cases["case_id"], self.cases["subject_id"], strict=True))

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over every data file (splits excluded), computed once per instance."""
        return data_fingerprint(self.root)

    @property
    def split_fingerprint(self) -> str:
        return self.splits.fingerprint

    def fold(self, index: int) -> Fold:
        return self.splits.fold(index)

    def load(
        self, case_id: str, with_label: bool = True, with_maps: bool = True, with_masks: bool = True
    ) -> Case:
        """Read one case from disk (reference masks come with the label)."""
        if case_id not in self.cases.index:
            raise KeyError(f"case {case_id!r} is not in {self.layout.cases_csv}")
        channels = []
        grid: Grid | None = None
        for channel in range(len(self.task.channels)):
            array, grid_c = read_image(self.layout.image(case_id, channel))
            channels.append(array)
            grid = grid or grid_c
        assert grid is not None
        label = None
        if with_label:
            label_array, _ = read_image(self.layout.label(case_id), dtype=None)
            label = label_array.astype(np.uint8, copy=False)
        maps = {}
        if with_maps:
            for name in self.task.map_names:
                maps[name], _ = read_image(self.layout.map(case_id, name))
        masks = {}
        if with_label and with_masks:
            for name in self.task.mask_names:
                array, _ = read_image(self.layout.mask(case_id, name), dtype=None)
                masks[name] = array != 0
        row = self.cases.loc[case_id]
        return Case(
            case_id=case_id,
            subject_id=str(row["subject_id"]),
            site=str(row["site"]),
            image=np.stack(channels),
            label=label,
            spacing=grid.spacing,
            grid=grid,
            maps=maps,
            attributes=row.to_dict(),
            masks=masks,
        )
