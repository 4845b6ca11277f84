"""Small helpers shared by test modules (importable because pytest puts ``tests/`` on
``sys.path`` for its rootdir ``conftest.py``)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_hashes(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root``: equal before and after means
    nothing was written, moved or removed."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
