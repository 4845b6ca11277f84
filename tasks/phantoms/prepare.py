"""Generate a task's phantom dataset once and cache it on disk under its fingerprint.

The fingerprint is the sha256 of (task name and version, generator reference and
version, profile parameters, seed): the same inputs always map to the same folder, and a
change that alters the data changes the folder. Datasets are written all-or-nothing
(`tasks.contract.write_dataset`), so an interrupted generation leaves no cache entry.

A task whose ``data_layout`` is ``mrnet`` gets its phantom in the public MRNet layout
(`mrnet_writer`), its provenance in a hidden file, so one reader serves phantom and real data.

Cache root: ``$MSKBENCH_CACHE`` if set, else ``~/.cache/mskbench``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mskbench.harness.registry import load_module, load_reference
from mskbench.tasks.contract.fingerprint import json_sha256
from mskbench.tasks.contract.layout import ContractError, read_dataset_json
from mskbench.tasks.contract.mrnet import read_meta
from mskbench.tasks.contract.mrnet_writer import write_mrnet
from mskbench.tasks.contract.writer import CaseArrays, write_dataset
from mskbench.tasks.spec import TaskSpec


def cache_root() -> Path:
    """Where phantoms (and other caches) live."""
    return Path(os.environ.get("MSKBENCH_CACHE", Path.home() / ".cache" / "mskbench")).expanduser()


def phantom_key(task: TaskSpec, profile: str, seed: int) -> dict[str, Any]:
    """Everything that determines a phantom dataset's content."""
    version = getattr(load_module(task.phantom), "VERSION", 0)
    phantom = task.profile(profile).phantom
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in phantom.items()}
    return {
        "task": task.name,
        "task_version": task.version,
        "generator": task.phantom,
        "generator_version": version,
        "profile": profile,
        "params": params,
        "seed": seed,
    }


def phantom_fingerprint(task: TaskSpec, profile: str, seed: int) -> str:
    return json_sha256(phantom_key(task, profile, seed))


def default_phantom_dir(task: TaskSpec, profile: str, seed: int) -> Path:
    fingerprint = phantom_fingerprint(task, profile, seed)
    return cache_root() / "phantoms" / f"{task.name}-{profile}-seed{seed}-{fingerprint[:12]}"


def phantom_cases(task: TaskSpec, profile: str, seed: int) -> Iterator[CaseArrays]:
    """The phantom's cases, generated lazily (nothing is written)."""
    generator = load_reference(task.phantom)
    return generator(**dict(task.profile(profile).phantom), seed=seed)


def n_phantom_cases(task: TaskSpec, profile: str) -> int:
    """How many cases the phantom of ``profile`` holds: the generator module's
    ``n_cases(**params)`` when it has one, else ``n_scans + n_external``."""
    params = task.profile(profile).phantom
    module = load_module(task.phantom)
    if hasattr(module, "n_cases"):
        return int(module.n_cases(**params))
    return int(params.get("n_scans", 0)) + int(params.get("n_external", 0))


def prepare_phantom(
    task: TaskSpec,
    profile: str = "quick",
    seed: int = 0,
    out: str | Path | None = None,
    on_case: Callable[[str], None] | None = None,
) -> tuple[Path, bool]:
    """Make sure the phantom for (task, profile, seed) exists; return ``(folder, created)``.

    An existing folder is reused only if its dataset.json carries the same fingerprint;
    any other non-empty folder is refused rather than overwritten.
    """
    fingerprint = phantom_fingerprint(task, profile, seed)
    dest = Path(out) if out is not None else default_phantom_dir(task, profile, seed)
    if dest.exists() and any(dest.iterdir()):
        if stored_phantom(dest).get("fingerprint") == fingerprint:
            return dest, False
        raise ContractError(
            f"{dest}: exists and is not the {task.name}/{profile}/seed {seed} phantom; "
            "choose an empty --out folder"
        )
    meta = {"phantom": {**phantom_key(task, profile, seed), "fingerprint": fingerprint}}
    cases = phantom_cases(task, profile, seed)
    if task.data_layout == "mrnet":
        write_mrnet(dest, task, cases, meta=meta, on_case=on_case)
    else:
        write_dataset(dest, task, cases, split_seed=seed, meta=meta, on_case=on_case)
    return dest, True


def stored_phantom(dest: Path) -> dict[str, Any]:
    """The ``phantom`` block a generated folder carries: in dataset.json's ``mskbench``
    block, or in an MRNet-layout folder's hidden `mrnet.META_FILE`; empty when none."""
    try:
        block = read_dataset_json(dest).get("mskbench", {})
    except ContractError:
        block = read_meta(dest)
    stored = block.get("phantom", {}) if isinstance(block, dict) else {}
    return stored if isinstance(stored, dict) else {}
