"""Export a dataset as an nnU-Net v2 raw dataset, with mskbench's frozen folds.

``bench data export-nnunet DIR --id 501 --out nnUNet_raw/`` writes
``nnUNet_raw/Dataset501_<task>/``::

    dataset.json        channel_names, labels, numTraining (= the imagesTr cases), file_ending,
                        and "mskbench_source" (task, version, data and split fingerprints;
                        nnU-Net ignores it)
    imagesTr/<case>_<channel><ending>, labelsTr/<case><ending>
                        every case not of the task's external site
    imagesTs/..., labelsTs/...
                        the external-site cases (splits.json's "external"); nnU-Net never
                        trains or validates on them
    splits_final.json   mskbench's folds in nnU-Net's format, one entry per fold in fold order:
                        [{"train": splits.json fold k "train", "val": splits.json fold k "test"}, ...]

So nnU-Net's fold k trains on exactly the cases mskbench's fold k trains on, and its
``fold_k/validation/`` predictions are of mskbench's test cases of fold k (score them with
``bench score --layout nnunet``). Two differences to know: mskbench's runner holds out a
fraction of each fold's training subjects for early stopping (chosen at run time, not in
splits.json); nnU-Net trains on the whole ``train`` list. And nnU-Net uses its ``val``
cases, here mskbench's test cases, to monitor training and pick ``checkpoint_best.pth``:
predict with ``checkpoint_final.pth`` (its default) to keep them held out. nnU-Net reads
splits_final.json from ``nnUNet_preprocessed/Dataset<id>_<task>/``: copy it there after
``nnUNetv2_plan_and_preprocess`` and before the first ``nnUNetv2_train``, which would
otherwise write its own random five folds.

Files are symbolic links to the dataset's files by default (absolute targets), copies with
``copy=True``. Not exported: maps, extra masks (nnU-Net segments the label map only) and
cases.csv. Only tasks with a label map on one series, and file endings nnU-Net reads with
their geometry (`NNUNET_ENDINGS`), can be exported.

Everything is checked before anything is written: DIR against the whole data contract, the
target (an existing non-empty ``Dataset<id>_<task>`` is replaced only with ``force``;
another dataset of the same id is always refused, nnU-Net could not tell them apart; a
target inside DIR, or DIR itself, is refused). The
dataset is written into a hidden sibling folder and renamed into place, so a failure leaves
no half-written dataset.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mskbench.tasks.contract.dataset import Dataset
from mskbench.tasks.contract.errors import ContractError
from mskbench.tasks.contract.layout import (
    DATASET_JSON,
    IMAGES_DIR,
    IMAGES_TS_DIR,
    LABELS_DIR,
    LABELS_TS_DIR,
    SPLITS_FINAL_JSON,
)
from mskbench.tasks.contract.nnunet_raw import SINGLE_TEST
from mskbench.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

#: File endings nnU-Net v2 reads with their geometry (NibabelIO, SimpleITKIO).
NNUNET_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".mha")
#: nnU-Net names datasets ``Dataset%03d_<name>``: ids 1 to 999.
MAX_DATASET_ID = 999


def nnunet_splits(dataset: Dataset) -> list[dict[str, list[str]]]:
    """mskbench's folds as nnU-Net's splits_final.json: fold k's train → ``train``, its test
    → ``val``, in fold order. Raises `ContractError` unless the folds are numbered 0..n-1
    (nnU-Net numbers folds by their position in the list)."""
    folds = sorted(dataset.splits.folds, key=lambda f: f.index)
    if [f.index for f in folds] != list(range(len(folds))):
        raise ContractError(
            f"{dataset.layout.splits_json}: folds {[f.index for f in folds]} are not numbered "
            "0..n-1, as nnU-Net's fold k is entry k of splits_final.json"
        )
    return [{"train": list(f.train), "val": list(f.test)} for f in folds]


def _check_exportable(task: TaskSpec, dataset: Dataset, dataset_id: int) -> None:
    if not 1 <= dataset_id <= MAX_DATASET_ID:
        raise ContractError(f"--id {dataset_id}: nnU-Net dataset ids are 1 to {MAX_DATASET_ID}")
    if task.segmentation is None:
        raise ContractError(f"task {task.name} has no label map: nothing for nnU-Net to learn")
    if len(task.series) > 1:
        raise ContractError(
            f"task {task.name} has {len(task.series)} input series on different grids; nnU-Net "
            "needs every channel of a case on one grid"
        )
    if dataset.splits.kind == SINGLE_TEST:
        raise ContractError(
            f"{dataset.root}: one test set and no training folds ({dataset.splits_source}); "
            "split it first (`bench data split`)"
        )
    if dataset.layout.file_ending not in NNUNET_ENDINGS:
        raise ContractError(
            f"{dataset.layout.dataset_json}: file_ending {dataset.layout.file_ending!r} is not "
            f"one nnU-Net reads with its geometry ({', '.join(NNUNET_ENDINGS)})"
        )


def _check_target(root: Path, out: Path, name: str, dataset_id: int, force: bool) -> Path:
    """The target folder ``out/name`` once it may be written; raises `ContractError`. It
    must not overlap the dataset ``root``: written inside it, the export would change the
    dataset; replacing it, it would delete the files it links to."""
    target = out / name
    source, written = root.resolve(), target.resolve()
    if written.is_relative_to(source) or source.is_relative_to(written):
        raise ContractError(
            f"{target}: overlaps the dataset being exported ({root}); choose an --out outside it"
        )
    # out, or the nearest of its parents that is there (a dangling link is no folder)
    existing = next(p for p in (out, *out.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise ContractError(f"{existing}: not a folder")
    prefix = f"Dataset{dataset_id:03d}_"
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name.startswith(prefix) and p != target)
        if others:
            raise ContractError(
                f"{out}: already holds {others}, with the same dataset id {dataset_id}; nnU-Net "
                "could not tell them apart (choose another --id)"
            )
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ContractError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ContractError(f"{target}: exists and is not empty (--force replaces it)")
    return target


def _place(source: Path, dest: Path, copy: bool) -> None:
    if copy:
        shutil.copy2(source, dest)
    else:
        os.symlink(source.resolve(), dest)


def _dataset_json(task: TaskSpec, dataset: Dataset, n_training: int) -> dict[str, Any]:
    return {
        "channel_names": {str(i): name for i, name in enumerate(task.channels)},
        "labels": dict(task.labels),
        "numTraining": n_training,
        "file_ending": dataset.layout.file_ending,
        "mskbench_source": {
            "task": task.name,
            "version": task.version,
            "data_fingerprint": dataset.fingerprint,
            "split_fingerprint": dataset.split_fingerprint,
            "splits": "splits_final.json fold k: train = splits.json fold k train, "
            "val = splits.json fold k test; imagesTs = splits.json external",
        },
    }


def _write(folder: Path, task: TaskSpec, dataset: Dataset, copy: bool) -> None:
    """The whole nnU-Net dataset into the empty ``folder``."""
    external = set(dataset.splits.external)
    for sub in (IMAGES_DIR, LABELS_DIR, *((IMAGES_TS_DIR, LABELS_TS_DIR) if external else ())):
        (folder / sub).mkdir()
    layout = dataset.layout
    n_training = 0
    for case_id in dataset.case_ids:
        held_out = case_id in external
        images, labels = (IMAGES_TS_DIR, LABELS_TS_DIR) if held_out else (IMAGES_DIR, LABELS_DIR)
        n_training += not held_out
        for channel in range(len(task.channels)):
            source = layout.image(case_id, channel)
            _place(source, folder / images / source.name, copy)
        label = layout.label(case_id)
        _place(label, folder / labels / label.name, copy)
    content = _dataset_json(task, dataset, n_training)
    (folder / DATASET_JSON).write_text(json.dumps(content, indent=1) + "\n")
    splits = json.dumps(nnunet_splits(dataset), indent=1)
    (folder / SPLITS_FINAL_JSON).write_text(splits + "\n")


def export_nnunet(
    root: str | Path,
    task: TaskSpec,
    dataset_id: int,
    out: str | Path,
    copy: bool = False,
    force: bool = False,
) -> Path:
    """Write ``out/Dataset<id>_<task>`` from the dataset at ``root`` (see the module
    docstring) and return its path. Raises `ValidationError` or `ContractError` before
    writing anything when the dataset or the target is not fit."""
    dataset = Dataset(root, task)  # the whole contract, before anything is written
    _check_exportable(task, dataset, dataset_id)
    nnunet_splits(dataset)
    out = Path(out)
    name = f"Dataset{dataset_id:03d}_{task.name}"
    target = _check_target(dataset.root, out, name, dataset_id, force)
    ignored = [*(m.name for m in task.maps), *task.mask_names]
    if ignored:
        log.info("not exported (nnU-Net learns the label map only): %s", ", ".join(ignored))
    out.mkdir(parents=True, exist_ok=True)
    # a fresh hidden working folder: the leftover of a killed export never collides with it
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    tmp, old = work / name, work / "replaced"
    try:
        tmp.mkdir()
        _write(tmp, task, dataset, copy)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return target
