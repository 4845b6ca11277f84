"""Where a predictions folder keeps its files: the three layouts tools write.

``flat``    ``<folder>/<case><ending>`` (and ``<case>_<mask><ending>``): mskbench's own, and
            what ``nnUNetv2_predict -o <folder>`` writes.
``nnunet``  ``<folder>/fold_<k>/validation/<case><ending>``: an nnU-Net v2 training output
            folder (``nnUNet_results/DatasetXXX/<trainer>__<plans>__<config>/``), each fold's
            predictions of the cases its model did not train on. The fold is read from the
            folder name (`PredictionSet.folds`); ``fold_all`` (trained on every case) is
            refused, and so is a fold number beyond `MAX_FOLD` (no cross-validation has
            that many folds; the store keeps fold numbers as 32-bit integers).
``monai``   ``<folder>/<case>/<case>_<postfix><ending>``: MONAI ``SaveImage`` with its default
            ``separate_folder=True`` (``postfix``: its ``output_postfix``, e.g. ``trans``,
            ``seg``); label maps only.

Only files with an image ending (`FILE_ENDINGS`) count; anything else (nnU-Net's
checkpoints, JSON, PNG progress plots at a fold's top, MONAI's metadata) is ignored.
``auto`` picks the one layout the folder shows; a folder showing two (image files at the top
and ``fold_*`` folders, say) is ambiguous.

File and folder names are only compared with the dataset's case ids: the paths read are
the ones listed here, never built from a name. Rules: ``prediction-layout`` (ambiguous,
``fold_all``, a fold number beyond `MAX_FOLD`, a MONAI file not named after its folder),
``duplicate-prediction`` (one case twice: two files of one stem at the top, in two folds,
or in one MONAI folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mskbench.tasks.contract import Problem
from mskbench.tasks.contract.imageio import FILE_ENDINGS, strip_ending
from mskbench.tasks.contract.splits import MAX_FOLD

FLAT, NNUNET, MONAI = "flat", "nnunet", "monai"
LAYOUTS = ("auto", FLAT, NNUNET, MONAI)
_FOLD = re.compile(r"fold_(\d+)")
_ALL_FOLDS = "fold_all"


@dataclass(frozen=True)
class PredictionSet:
    """The prediction files of a folder: ``files`` stem → path (a stem is a case id or
    ``<case>_<mask>``), and for the ``nnunet`` layout the fold of each stem and
    ``fold_folders``, the fold of every ``fold_<k>`` folder (one without its
    ``validation`` folder too: a fold still training)."""

    layout: str
    files: dict[str, Path]
    folds: dict[str, int] = field(default_factory=dict)
    fold_folders: tuple[int, ...] = ()


def _images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(FILE_ENDINGS))


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _rel(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _by_stem(paths: list[Path], folder: Path) -> tuple[dict[str, Path], list[Problem]]:
    """Stem → file, and a ``duplicate-prediction`` problem per stem held by two files."""
    files: dict[str, Path] = {}
    problems = []
    for path in paths:
        stem = strip_ending(path.name)
        if stem in files:
            problems.append(
                Problem(
                    _rel(path, folder),
                    "duplicate-prediction",
                    f"case {stem!r} also has {_rel(files[stem], folder)}: one file per case",
                )
            )
        else:
            files[stem] = path
    return files, problems


def _flat(folder: Path) -> tuple[PredictionSet, list[Problem]]:
    files, problems = _by_stem(_images(folder), folder)
    return PredictionSet(FLAT, files), problems


def _fold_folders(folder: Path) -> list[Path]:
    return [p for p in _subfolders(folder) if _FOLD.fullmatch(p.name) or p.name == _ALL_FOLDS]


def _nnunet(folder: Path) -> tuple[PredictionSet, list[Problem]]:
    files: dict[str, Path] = {}
    folds: dict[str, int] = {}
    fold_folders: list[int] = []
    problems = []
    for fold_folder in _fold_folders(folder):
        if fold_folder.name == _ALL_FOLDS:
            problems.append(
                Problem(
                    fold_folder.name,
                    "prediction-layout",
                    "fold_all was trained on every case: its validation predictions are not "
                    "held out; move it out of the folder or score fold_0 ... fold_k",
                )
            )
            continue
        fold = int(_FOLD.fullmatch(fold_folder.name)[1])  # type: ignore[index]
        if fold > MAX_FOLD:
            problems.append(
                Problem(
                    fold_folder.name,
                    "prediction-layout",
                    f"fold number {fold} is beyond any cross-validation (0 to {MAX_FOLD})",
                )
            )
            continue
        fold_folders.append(fold)
        validation = fold_folder / "validation"
        if not validation.is_dir():
            continue  # a fold still training: its cases are reported missing
        found, problems_here = _by_stem(_images(validation), folder)
        problems += problems_here
        for stem, path in found.items():
            if stem in files:
                problems.append(
                    Problem(
                        _rel(path, folder),
                        "duplicate-prediction",
                        f"case {stem!r} is also in {_rel(files[stem], folder)}: a case is "
                        "held out by one fold only",
                    )
                )
                continue
            files[stem], folds[stem] = path, fold
    return PredictionSet(NNUNET, files, folds, tuple(fold_folders)), problems


def _monai_folders(folder: Path) -> list[Path]:
    """Subfolders holding image files that are not nnU-Net fold folders."""
    fold_names = {p.name for p in _fold_folders(folder)}
    return [p for p in _subfolders(folder) if p.name not in fold_names and _images(p)]


def _monai(folder: Path) -> tuple[PredictionSet, list[Problem]]:
    files: dict[str, Path] = {}
    problems = []
    for case_folder in _monai_folders(folder):
        case_id = case_folder.name
        paths = _images(case_folder)
        named = [p for p in paths if p.name.startswith(f"{case_id}_")]
        problems += [
            Problem(
                _rel(p, folder),
                "prediction-layout",
                f"a MONAI prediction in {case_id}/ is named {case_id}_<postfix><ending>",
            )
            for p in paths
            if p not in named
        ]
        if len(named) > 1:
            shown = ", ".join(p.name for p in named)
            problems.append(
                Problem(
                    case_id,
                    "duplicate-prediction",
                    f"case {case_id!r} has {len(named)} files ({shown}): one file per case",
                )
            )
        elif named:
            files[case_id] = named[0]
    return PredictionSet(MONAI, files), problems


def detect_layout(folder: Path) -> tuple[str | None, list[str]]:
    """The layout ``folder`` shows, or None with what was seen when it shows several
    (an empty folder is ``flat``)."""
    seen = []
    if _images(folder):
        seen.append(f"{FLAT} (image files at the top)")
    if _fold_folders(folder):
        seen.append(f"{NNUNET} (fold_* folders)")
    if _monai_folders(folder):
        seen.append(f"{MONAI} (case folders holding image files)")
    if len(seen) > 1:
        return None, seen
    return (seen[0].split()[0] if seen else FLAT), seen


def find_predictions(folder: Path, layout: str = "auto") -> tuple[PredictionSet, list[Problem]]:
    """The prediction files of ``folder`` in ``layout`` (``auto``: `detect_layout`) and the
    problems of their arrangement. Raises `ValueError` for an unknown layout name."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        found, seen = detect_layout(folder)
        if found is None:
            problem = Problem(
                folder.name,
                "prediction-layout",
                f"ambiguous: the folder shows {' and '.join(seen)}; choose one with "
                f"--layout {'|'.join(LAYOUTS[1:])}",
            )
            return PredictionSet("auto", {}), [problem]
        layout = found
    return {FLAT: _flat, NNUNET: _nnunet, MONAI: _monai}[layout](folder)
