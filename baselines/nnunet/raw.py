"""One fold's cases as an nnU-Net v2 raw dataset (``nnUNet_raw/Dataset001_<task>/``).

The files are written from the arrays the harness loaded (`Case.image`, `Case.label`,
`Case.spacing`) with SimpleITK, never linked to the dataset's own files: nnU-Net then trains
on exactly the arrays `NnUNet.predict` later passes it, in array-axis order with spacing
in mm, whatever the dataset's file format (PNG slices, DICOM folders, NIfTI with any
orientation). Origin and direction are left at SimpleITK's defaults (0, identity): nnU-Net
uses the spacing only, and predictions are returned on the case's own grid by the harness.

A 2D task's slice ``(channels, y, x)`` is written as a one-slice volume ``(1, y, x)``
whose slice spacing is nnU-Net's own convention for 2D images (999 × the largest in-plane
spacing, as its SimpleITK reader reports a 2D file), and predicted the same way.

imagesTr holds the train and the validation cases of the fold; ``splits_final.json``
(`single_fold_splits`) names them as nnU-Net's fold 0. Test and external cases are never
written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mskbench.tasks.case import Case
from mskbench.tasks.spec import TaskSpec

#: nnU-Net names datasets ``Dataset%03d_<name>``; each fold has its own nnU-Net folders,
#: so one id is enough.
DATASET_ID = 1
FILE_ENDING = ".nii.gz"
#: Slice spacing of a 2D image, as a multiple of its largest in-plane spacing (nnU-Net's
#: SimpleITK and natural-image readers use the same factor).
SLICE_SPACING_2D = 999.0
COMPLETE = ".complete"


def dataset_name(task: TaskSpec) -> str:
    """``Dataset001_<task>``."""
    return f"Dataset{DATASET_ID:03d}_{task.name}"


def check_task(task: Any) -> None:
    """Raise ValueError unless nnU-Net can learn ``task``: a label map with values 0..n-1,
    one input series (all channels on one grid), 2D or 3D."""
    if getattr(task, "segmentation", None) is None:
        raise ValueError(f"nnunet: task {task.name} has no label map, nothing for nnU-Net to learn")
    if len(task.series) != 1:
        raise ValueError(
            f"nnunet: task {task.name} has {len(task.series)} input series on different grids; "
            "nnU-Net needs every channel of a case on one grid"
        )
    values = sorted(task.labels.values())
    if values != list(range(len(values))) or task.labels.get("background") != 0:
        raise ValueError(
            f"nnunet: task {task.name} has label values {values}; nnU-Net needs background = 0 "
            "and consecutive values 0..n-1"
        )
    if task.spatial_dims not in (2, 3):
        raise ValueError(
            f"nnunet: task {task.name} is {task.spatial_dims}D; nnU-Net takes 2D or 3D"
        )


def as_volume(
    image: np.ndarray, spacing: Sequence[float], spatial_dims: int
) -> tuple[np.ndarray, tuple[float, ...]]:
    """``(channels, *spatial)`` and its spacing as nnU-Net's ``(channels, z, y, x)`` volume:
    a 2D slice becomes one slice (see the module docstring)."""
    spacing = tuple(float(s) for s in spacing)
    if spatial_dims == 2:
        return image[:, None], (SLICE_SPACING_2D * max(spacing), *spacing)
    return image, spacing


def single_fold_splits(train_ids: Sequence[str], val_ids: Sequence[str]) -> list[dict]:
    """nnU-Net's ``splits_final.json`` with one fold: the fold's train and validation cases.
    Without validation cases (a task with no validation fraction) nnU-Net monitors the
    training cases: it needs some, and they pick nothing (predictions use the final
    checkpoint)."""
    overlap = sorted(set(train_ids) & set(val_ids))
    if overlap:
        raise ValueError(f"nnunet: cases {overlap} are both training and validation cases")
    return [{"train": list(train_ids), "val": list(val_ids) or list(train_ids)}]


def dataset_json(task: TaskSpec, n_training: int) -> dict[str, Any]:
    return {
        "channel_names": {str(i): name for i, name in enumerate(task.channels)},
        "labels": {name: int(value) for name, value in task.labels.items()},
        "numTraining": n_training,
        "file_ending": FILE_ENDING,
        "overwrite_image_reader_writer": "SimpleITKIO",
        "mskbench_source": {
            "task": task.name,
            "version": task.version,
            "written": "from the harness's loaded arrays (array-axis order, spacing in mm)",
        },
    }


def _write_case(folder: Path, case: Case, spatial_dims: int) -> None:
    from mskbench.tasks.contract.imageio import write_image

    if case.label is None:
        raise ValueError(f"nnunet: case {case.case_id} has no reference label map")
    image, spacing = as_volume(case.image, case.spacing, spatial_dims)
    label = case.label[None] if spatial_dims == 2 else case.label
    if label.shape != image.shape[1:]:
        raise ValueError(
            f"nnunet: case {case.case_id}: label map {case.label.shape} is not on the image grid "
            f"{case.image.shape[1:]}"
        )
    for channel, array in enumerate(image):
        path = folder / "imagesTr" / f"{case.case_id}_{channel:04d}{FILE_ENDING}"
        write_image(path, np.asarray(array, dtype=np.float32), spacing=spacing)
    write_image(
        folder / "labelsTr" / f"{case.case_id}{FILE_ENDING}",
        label.astype(np.uint8, copy=False),
        spacing=spacing,
    )


def write_raw_dataset(folder: Path, task: TaskSpec, cases: Iterable[Case]) -> list[str]:
    """Write ``cases`` (the fold's train + validation cases) as the nnU-Net raw dataset
    ``folder`` and return their ids. A folder left complete by an earlier call is kept as
    it is; a half-written one is replaced."""
    check_task(task)
    marker = folder / COMPLETE
    if marker.is_file():
        return json.loads(marker.read_text())["cases"]
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    ids = []
    for case in cases:
        if case.case_id in ids:
            raise ValueError(f"nnunet: case {case.case_id} is given twice")
        _write_case(folder, case, task.spatial_dims)
        ids.append(case.case_id)
    content = dataset_json(task, len(ids))
    (folder / "dataset.json").write_text(json.dumps(content, indent=1) + "\n")
    marker.write_text(json.dumps({"cases": ids}) + "\n")
    return ids
