"""Read a dataset folder (contract layout) into `Case` objects, one case at a time."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.tasks.case import Case
from mskbench.tasks.contract.fingerprint import data_fingerprint
from mskbench.tasks.contract.imageio import read_image
from mskbench.tasks.contract.layout import (
    CASES_CSV,
    ContractError,
    Layout,
    layout_for,
    read_dataset_json,
)
from mskbench.tasks.contract.mrnet import is_mrnet_root
from mskbench.tasks.contract.nnunet_raw import raw_cases, raw_splits
from mskbench.tasks.contract.png_dataset import as_label_values
from mskbench.tasks.contract.safepath import case_id_problem
from mskbench.tasks.contract.splits import Fold, Splits, read_splits
from mskbench.tasks.contract.validate import (
    Problem,
    ValidationError,
    read_cases_csv,
    validate_dataset,
)
from mskbench.tasks.spec import TaskSpec


class Dataset:
    """A dataset folder for one task: its cases table, frozen splits and fingerprints.

    ``validate=True`` (default) checks the whole folder first and raises
    `ValidationError` listing every problem. Even without it, case ids that are not plain
    names (rule ``case-id``) are refused, so no id from cases.csv can become a path
    outside the dataset.

    A folder in the public MRNet layout (a task with ``data_layout="mrnet"``, no
    dataset.json) is a `mrnet_dataset.MrnetDataset`: same interface.

    A plain nnU-Net raw dataset (`nnunet_raw`) may lack cases.csv and splits.json: its
    cases come from its image folders and its splits from splits_final.json or one test
    set; ``splits_source`` says which (``"splits.json"`` otherwise).
    """

    def __new__(cls, root: str | Path, task: TaskSpec, validate: bool = True) -> Dataset:
        """A `MrnetDataset` for a folder in the public MRNet layout (`mrnet.is_mrnet_root`),
        else a `Dataset`."""
        if cls is Dataset and is_mrnet_root(Path(root), task):
            from mskbench.tasks.contract.mrnet_dataset import MrnetDataset

            return super().__new__(MrnetDataset)
        return super().__new__(cls)

    def __init__(self, root: str | Path, task: TaskSpec, validate: bool = True) -> None:
        self.root = Path(root).resolve()
        self.task = task
        if validate:
            problems = validate_dataset(self.root, task)
            if problems:
                raise ValidationError(self.root, problems)
        self.dataset_json = read_dataset_json(self.root)
        self.layout: Layout = layout_for(self.root, self.dataset_json)
        if self.layout.plain and not self.layout.cases_csv.is_file():
            cases, _ = raw_cases(self.layout, task)  # files that are no plain names: no cases
        else:
            cases = read_cases_csv(self.layout.cases_csv, task)
        self.cases: pd.DataFrame = cases.set_index("case_id", drop=False)
        unsafe = [
            Problem(CASES_CSV, "case-id", f"case_id {problem}")
            for problem in map(case_id_problem, self.cases["case_id"])
            if problem is not None
        ]
        if unsafe:
            raise ValidationError(self.root, unsafe)
        splits = read_splits(self.root)
        self.splits_source = "splits.json"
        if splits is None and self.layout.plain:
            splits, self.splits_source = raw_splits(self.layout, task, self.cases)
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
        """Read one case from disk: every series' channels, and (for a task that has them)
        the reference label map with its masks, the maps and the classification targets."""
        if case_id not in self.cases.index:
            raise KeyError(f"case {case_id!r} is not in {self.layout.cases_csv}")
        images: dict[str, np.ndarray] = {}
        grids = {}
        png = self.layout.png_spacing  # PNG files take their spacing from dataset.json
        for series in self.task.series:
            channels = []
            for channel in self.task.channels_of(series.name):
                array, grid = read_image(self.layout.image(case_id, channel), png_spacing=png)
                channels.append(array)
                grids.setdefault(series.name, grid)
            images[series.name] = np.stack(channels)
        primary = self.task.primary_series.name
        label = None
        if with_label and self.task.segmentation is not None:
            path = self.layout.label(case_id)
            label_array, _ = read_image(path, dtype=None, png_spacing=png)
            label = as_label_values(label_array, path, self.layout.png).astype(np.uint8, copy=False)
        maps = {}
        if with_maps:
            for spec in self.task.maps:
                path = self.layout.map(case_id, spec.name)
                if (spec.required and self.layout.maps_required) or path.exists():
                    maps[spec.name], _ = read_image(path)
        masks = {}
        if with_label and with_masks:
            for name in self.task.mask_names:
                array, _ = read_image(self.layout.mask(case_id, name), dtype=None, png_spacing=png)
                masks[name] = array != 0  # a declared png_foreground is non-zero too
        row = self.cases.loc[case_id]
        targets = {}
        for target in self.task.classification:
            value = str(row[target.column]).strip()
            targets[target.name] = value or None
        return Case(
            case_id=case_id,
            subject_id=str(row["subject_id"]),
            site=str(row["site"]),
            images=images,
            grids=grids,
            primary=primary,
            label=label,
            maps=maps,
            masks=masks,
            attributes=row.to_dict(),
            targets=targets if with_label else {},
        )
