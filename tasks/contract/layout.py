"""The on-disk dataset layout (close to nnU-Net v2 raw data) and its ``dataset.json``.

```
<root>/dataset.json                   nnU-Net keys + "mskbench": {"task", "version"}
<root>/imagesTr/<case>_0000<ending>   one file per input channel (_0001, ... for more)
<root>/labelsTr/<case><ending>        reference label map
<root>/maps/<case>_<map><ending>      quantitative maps (ff, mtr, t2), on the label grid
<root>/masks/<case>_<mask><ending>    extra binary reference masks the task declares (0/1)
<root>/cases.csv                      case_id, subject_id, site + task columns
<root>/splits.json                    frozen, subject-grouped folds
```
``<ending>`` is ``dataset.json``'s ``file_ending`` (``.nii.gz``, ``.nrrd``, ...); with
``"file_ending": "dicom"`` each of those paths is a directory holding a DICOM series. With
``".png"`` (2D tasks) dataset.json also gives the spacing, and maps stay NIfTI
(`png_dataset`).

A dataset.json without the ``"mskbench"`` block is a **plain nnU-Net v2 raw dataset**
(`nnunet_raw`): maps, cases.csv and splits.json become optional, and labelled test cases
(``imagesTs/<case>_0000<ending>`` with ``labelsTs/<case><ending>``) are read from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mskbench.tasks.contract.errors import ContractError
from mskbench.tasks.contract.imageio import FILE_ENDINGS
from mskbench.tasks.contract.png import PNG
from mskbench.tasks.contract.png_dataset import MAP_ENDING, PngSettings, png_settings
from mskbench.tasks.contract.safepath import case_id_problem, inside
from mskbench.tasks.spec import TaskSpec

DATASET_JSON = "dataset.json"
CASES_CSV = "cases.csv"
SPLITS_JSON = "splits.json"
SPLITS_FINAL_JSON = "splits_final.json"  # nnU-Net's folds, read in a plain dataset
IMAGES_DIR = "imagesTr"
LABELS_DIR = "labelsTr"
IMAGES_TS_DIR = "imagesTs"
LABELS_TS_DIR = "labelsTs"
MAPS_DIR = "maps"
MASKS_DIR = "masks"
DICOM = "dicom"
REQUIRED_CASE_COLUMNS = ("case_id", "subject_id", "site")


@dataclass(frozen=True)
class Layout:
    """Paths of one dataset folder.

    Every path built from a case id passes `safepath.inside`: it must stay inside ``root``,
    also with links resolved, or `UnsafePathError` is raised before anything is read.
    ``png``: what dataset.json says about a PNG dataset's files (None for other endings).
    ``plain``: a plain nnU-Net raw dataset (no ``"mskbench"`` block in dataset.json);
    ``test_cases``: its cases whose files lie in ``imagesTs``/``labelsTs`` (plain names only).
    """

    root: Path
    file_ending: str
    png: PngSettings | None = None
    plain: bool = False
    test_cases: frozenset[str] = frozenset()

    @property
    def maps_required(self) -> bool:
        """Whether a map the task requires must be present (not in a plain nnU-Net dataset,
        which has no maps: their metrics are then absent)."""
        return not self.plain

    @property
    def png_spacing(self) -> tuple[float, ...] | None:
        """The spacing PNG files are read with (`imageio.read_image`'s ``png_spacing``)."""
        return self.png.spacing if self.png is not None else None

    @property
    def dataset_json(self) -> Path:
        return self.root / DATASET_JSON

    @property
    def cases_csv(self) -> Path:
        return self.root / CASES_CSV

    @property
    def splits_json(self) -> Path:
        return self.root / SPLITS_JSON

    def _path(self, folder: str, stem: str, ending: str | None = None) -> Path:
        ending = ending or self.file_ending
        name = stem if ending == DICOM else stem + ending
        return inside(self.root, self.root / folder / name)

    def image(self, case_id: str, channel: int) -> Path:
        folder = IMAGES_TS_DIR if case_id in self.test_cases else IMAGES_DIR
        return self._path(folder, f"{case_id}_{channel:04d}")

    def label(self, case_id: str) -> Path:
        return self._path(LABELS_TS_DIR if case_id in self.test_cases else LABELS_DIR, case_id)

    def map(self, case_id: str, name: str) -> Path:
        """A map file; NIfTI in a PNG dataset (a PNG cannot hold a float map)."""
        return self._path(MAPS_DIR, f"{case_id}_{name}", self.map_ending)

    @property
    def map_ending(self) -> str:
        """The ending of map files: `MAP_ENDING` in a PNG dataset, else ``file_ending``."""
        return MAP_ENDING if self.file_ending == PNG else self.file_ending

    def mask(self, case_id: str, name: str) -> Path:
        return self._path(MASKS_DIR, f"{case_id}_{name}")

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, as messages show it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def image_case_ids(self, folder: str = IMAGES_DIR) -> list[str]:
        """Names before ``_0000<ending>`` of the files in ``folder`` (``imagesTr`` by
        default): case ids, not yet checked to be plain names."""
        return _first_channel_ids(self.root / folder, self.file_ending)


def _first_channel_ids(folder: Path, file_ending: str) -> list[str]:
    """Names before ``_0000<file_ending>`` of the entries of ``folder`` (none if absent)."""
    if not folder.is_dir():
        return []
    suffix = "_0000" + ("" if file_ending == DICOM else file_ending)
    return sorted(p.name[: -len(suffix)] for p in folder.iterdir() if p.name.endswith(suffix))


def labelled_test_cases(root: Path, file_ending: str) -> frozenset[str]:
    """Plain-named cases of ``root/imagesTs`` that have a label in ``root/labelsTs`` (an
    unlabelled test image cannot be scored and is not a case)."""
    labels = root / LABELS_TS_DIR
    return frozenset(
        case_id
        for case_id in _first_channel_ids(root / IMAGES_TS_DIR, file_ending)
        if case_id_problem(case_id) is None
        and (labels / (case_id if file_ending == DICOM else case_id + file_ending)).exists()
    )


def make_dataset_json(
    task: TaskSpec, file_ending: str, n_cases: int, **extra: Any
) -> dict[str, Any]:
    """The ``dataset.json`` content for ``task`` (nnU-Net v2 keys + an ``mskbench`` block)."""
    if task.masks:  # only then, so datasets of tasks without masks keep their bytes
        extra = {"masks": list(task.mask_names), **extra}
    return {
        "channel_names": {str(i): name for i, name in enumerate(task.channels)},
        "labels": dict(task.labels),
        "numTraining": n_cases,
        "file_ending": file_ending,
        "mskbench": {
            "task": task.name,
            "version": task.version,
            "maps": list(task.map_names),
            **extra,
        },
    }


def read_dataset_json(root: Path) -> dict[str, Any]:
    """Parse ``root/dataset.json``; raises `ContractError` naming the file and the rule
    (`UnsafePathError`, rule ``symlink``, for a link leading outside ``root``)."""
    path = inside(root, root / DATASET_JSON)
    if not path.is_file():
        raise ContractError(f"{path}: missing (every dataset needs a dataset.json)")
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(content, dict):
        raise ContractError(f"{path}: must hold a JSON object")
    return content


def layout_for(root: Path, dataset_json: dict[str, Any]) -> Layout:
    """The `Layout` of ``root``; raises `ContractError` if the file ending is unknown or a
    PNG dataset's keys are missing or broken (`png_dataset.png_settings`)."""
    ending = dataset_json.get("file_ending")
    if ending not in (*FILE_ENDINGS, DICOM):
        raise ContractError(
            f"{root / DATASET_JSON}: file_ending {ending!r} is not one of "
            f"{', '.join((*FILE_ENDINGS, DICOM))}"
        )
    plain = "mskbench" not in dataset_json
    tests = labelled_test_cases(root, ending) if plain else frozenset()
    return Layout(root, ending, png_settings(dataset_json, root / DATASET_JSON), plain, tests)
