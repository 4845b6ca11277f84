"""Frozen, subject-grouped splits: made once, stored in ``splits.json``, fingerprinted.

``splits.json``::

    {"task": "nmd_thigh", "kind": "kfold", "seed": 0, "group_by": "subject_id",
     "stratify_by": null,
     "folds": [{"fold": 0, "train": [...case ids...], "test": [...]}, ...],
     "external": [...case ids of the external site...]}

Every fold lists both its training and test cases so the file is self-contained. The
fingerprint is the sha256 of the canonical JSON of that content.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from mskbench.tasks.contract.fingerprint import json_sha256
from mskbench.tasks.contract.layout import SPLITS_JSON, ContractError
from mskbench.tasks.contract.safepath import inside
from mskbench.tasks.spec import TaskSpec

#: The highest fold number a split (or an nnU-Net ``fold_<k>`` folder) may carry: no
#: cross-validation has more folds, and the store keeps fold numbers as 32-bit integers.
MAX_FOLD = 999


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[str, ...]
    test: tuple[str, ...]


@dataclass(frozen=True)
class Splits:
    """The frozen splits of one dataset."""

    task: str
    kind: str
    seed: int
    group_by: str
    stratify_by: str | None
    folds: tuple[Fold, ...]
    external: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "kind": self.kind,
            "seed": self.seed,
            "group_by": self.group_by,
            "stratify_by": self.stratify_by,
            "folds": [
                {"fold": f.index, "train": list(f.train), "test": list(f.test)} for f in self.folds
            ],
            "external": list(self.external),
        }

    @property
    def fingerprint(self) -> str:
        return json_sha256(self.to_json())

    def fold(self, index: int) -> Fold:
        for fold in self.folds:
            if fold.index == index:
                return fold
        raise KeyError(f"no fold {index}; folds are {[f.index for f in self.folds]}")

    @classmethod
    def from_json(cls, content: Any, source: Path) -> Splits:
        """Parse ``splits.json`` content; a malformed file raises naming ``source`` (fold
        numbers must be distinct and within 0 to `MAX_FOLD`)."""
        try:
            folds = tuple(
                Fold(int(f["fold"]), tuple(map(str, f["train"])), tuple(map(str, f["test"])))
                for f in content["folds"]
            )
            numbers = [f.index for f in folds]
            if any(not 0 <= n <= MAX_FOLD for n in numbers) or len(set(numbers)) < len(numbers):
                raise ValueError(f"fold numbers {numbers} must be distinct, 0 to {MAX_FOLD}")
            return cls(
                task=str(content["task"]),
                kind=str(content["kind"]),
                seed=int(content["seed"]),
                group_by=str(content.get("group_by", "subject_id")),
                stratify_by=content.get("stratify_by"),
                folds=folds,
                external=tuple(map(str, content.get("external", []))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(
                f"{source}: malformed splits ({type(exc).__name__}: {exc})"
            ) from exc


def make_splits(task: TaskSpec, cases: pd.DataFrame, seed: int) -> Splits:
    """Split ``cases`` (a cases.csv table) by the task's protocol, grouped by subject.

    Cases of the protocol's external site are set aside as the external test set; the
    rest is split with scikit-learn's group-aware splitters (stratified when the task
    names a stratification column). Deterministic for ``seed``.
    """
    protocol = task.split
    if protocol.kind == "predefined":
        raise ContractError(
            f"task {task.name}'s split is predefined by its data layout ({task.data_layout}); "
            "there is nothing to make"
        )
    external_mask = (
        cases["site"].astype(str) == protocol.external_site
        if protocol.external_site
        else pd.Series(False, index=cases.index)
    )
    internal = cases[~external_mask].reset_index(drop=True)
    ids = internal["case_id"].astype(str).to_numpy()
    groups = internal[protocol.group_by].astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    strata = internal[protocol.stratify_by].astype(str).to_numpy() if protocol.stratify_by else None
    if protocol.kind == "kfold":
        if n_groups < protocol.n_folds:
            raise ContractError(
                f"{protocol.n_folds}-fold split needs at least {protocol.n_folds} subjects, "
                f"the dataset has {n_groups}"
            )
        if strata is not None:
            splitter = StratifiedGroupKFold(protocol.n_folds, shuffle=True, random_state=seed)
            index_pairs = splitter.split(ids, strata, groups)
        else:
            splitter = GroupKFold(protocol.n_folds, shuffle=True, random_state=seed)
            index_pairs = splitter.split(ids, groups=groups)
    else:
        if n_groups < 2:
            raise ContractError(
                f"a holdout split needs at least 2 subjects, the dataset has {n_groups}"
            )
        if strata is not None:
            index_pairs = [_stratified_holdout(groups, strata, protocol.test_fraction, seed)]
        else:
            splitter = GroupShuffleSplit(
                n_splits=1, test_size=protocol.test_fraction, random_state=seed
            )
            index_pairs = splitter.split(ids, groups=groups)
    folds = tuple(
        Fold(i, tuple(sorted(ids[train])), tuple(sorted(ids[test])))
        for i, (train, test) in enumerate(index_pairs)
    )
    external = tuple(sorted(cases.loc[external_mask, "case_id"].astype(str)))
    return Splits(
        task.name, protocol.kind, seed, protocol.group_by, protocol.stratify_by, folds, external
    )


def _stratified_holdout(
    groups: np.ndarray, strata: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices of a holdout split stratified by ``strata``: within each
    stratum (a subject's first case's value), ``round(test_fraction · n)`` of its subjects
    are drawn at random for the test set (seed 004's 129 of 648, 92 axSpA + 37 non-axSpA)."""
    rng = np.random.default_rng(seed)
    first = pd.DataFrame({"group": groups, "stratum": strata}).drop_duplicates("group")
    test_groups: set[str] = set()
    for _, members in first.groupby("stratum", sort=True):
        names = np.sort(members["group"].to_numpy())
        n_test = round(test_fraction * len(names))
        test_groups.update(rng.choice(names, size=n_test, replace=False).tolist())
    is_test = np.isin(groups, list(test_groups))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def read_splits(root: Path) -> Splits | None:
    """``root/splits.json`` parsed, or None when the file does not exist; a link leading
    outside ``root`` raises `UnsafePathError` (rule ``symlink``)."""
    path = inside(root, root / SPLITS_JSON)
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON ({exc})") from exc
    return Splits.from_json(content, path)


def write_splits(root: Path, splits: Splits, overwrite: bool = False) -> Path:
    """Write ``root/splits.json`` atomically; an existing file is never silently replaced."""
    path = root / SPLITS_JSON
    if path.exists() and not overwrite:
        raise ContractError(
            f"{path}: already exists; splits are frozen (`bench data split --force` replaces them)"
        )
    tmp = path.with_name(f".{SPLITS_JSON}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(splits.to_json(), indent=1) + "\n")
    os.replace(tmp, path)
    return path


def validation_subjects(
    train_ids: list[str], subjects: dict[str, str], fraction: float, seed: int
) -> list[str]:
    """Case ids of ``train_ids`` held out for early stopping: whole subjects, ``fraction`` of them.

    At least one subject is held out when ``fraction > 0`` and more than one subject trains.
    """
    if fraction <= 0:
        return []
    train_subjects = sorted({subjects[c] for c in train_ids})
    if len(train_subjects) < 2:
        return []
    rng = np.random.default_rng(seed)
    n_val = max(1, round(fraction * len(train_subjects)))
    chosen = set(rng.choice(train_subjects, size=n_val, replace=False).tolist())
    return sorted(c for c in train_ids if subjects[c] in chosen)
