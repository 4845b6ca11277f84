"""Fingerprints: sha256 of canonical JSON, of files, and of a whole dataset folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mskbench.tasks.contract.layout import SPLITS_FINAL_JSON, SPLITS_JSON

_CHUNK = 1 << 20


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal content ⇒ equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_sha256(obj: Any) -> str:
    """sha256 (hex) of `canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(root: Path) -> str:
    """sha256 over every file under ``root`` (relative path + content), except splits.json
    (and nnU-Net's splits_final.json).

    The splits have their own fingerprint, so re-splitting the same images keeps the data
    fingerprint; hidden files (``.``-prefixed) are skipped.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in (SPLITS_JSON, SPLITS_FINAL_JSON) or any(
            part.startswith(".") for part in path.relative_to(root).parts
        ):
            continue
        digest.update(f"{rel}\t{file_sha256(path)}\n".encode())
    return digest.hexdigest()
