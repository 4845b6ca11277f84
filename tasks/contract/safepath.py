"""Names from data stay plain names, and paths built from them stay inside their root.

A **case id** (cases.csv ``case_id``, the ids in splits.json) becomes part of file names
(``imagesTr/<case>_0000.nii.gz``, ``<results>/predictions/<run>/fold<k>/<case>.nii.gz``),
so it must be a plain name: ASCII letters, digits, ``.``, ``_`` and ``-``, not starting
with a dot (no ``.``, ``..`` or hidden files), at most `MAX_NAME_LENGTH` characters.
``subject_id`` and ``site`` never become paths but are shown and stored: they must be
printable text (no control characters such as NUL or newlines), of the same bounded length.

`inside` is the guard every path built from data passes before it is read or written: the
path, normalised without following links, must lie under its root (rule ``case-id``), and,
unless links may be followed, so must the path with every link resolved (rule ``symlink``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mskbench.tasks.contract.errors import UnsafePathError

#: Longest case id, subject id or site accepted (characters).
MAX_NAME_LENGTH = 128
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def case_id_problem(value: object) -> str | None:
    """Why ``value`` is not a usable case id, or None when it is one."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if not value:
        return "is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"{value[:20]!r}… is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    if not _PLAIN_NAME.fullmatch(value):
        return (
            f"{value!r} is not a plain name (letters, digits, '.', '_', '-'; not starting with '.')"
        )
    return None


def text_problem(value: object) -> str | None:
    """Why ``value`` is not sane text for a subject id or site, or None when it is."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if len(value) > MAX_NAME_LENGTH:
        return f"{value[:20]!r}… is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    if not value.isprintable():
        return f"{value!r} holds control characters"
    return None


def check_case_id(value: object) -> str:
    """``value`` when it is a usable case id; raises `UnsafePathError` (rule ``case-id``)."""
    problem = case_id_problem(value)
    if problem is not None:
        raise UnsafePathError("case id", "case-id", problem)
    return str(value)


def inside(root: Path, path: Path, *, follow_symlinks: bool = False) -> Path:
    """``path`` unchanged when it stays inside ``root``; raises `UnsafePathError` otherwise.

    ``case-id``: the path, normalised without touching the disk (``..`` and absolute parts
    collapsed), leaves ``root``, or holds a NUL byte. ``symlink``: with every link resolved
    it leaves ``root`` resolved, or it is a loop of links (skipped when
    ``follow_symlinks``). A ``root`` that is itself a link is fine; only what lies below it
    is checked.
    """
    text = os.fspath(path)
    if "\x00" in text:
        raise UnsafePathError(repr(text), "case-id", "holds a NUL byte")
    if not Path(os.path.abspath(text)).is_relative_to(os.path.abspath(root)):
        raise UnsafePathError(path, "case-id", f"lies outside its folder {root}")
    if not follow_symlinks:
        try:
            resolved = Path(text).resolve()
        except RuntimeError as exc:  # Python 3.11 resolves a loop of links to this
            raise UnsafePathError(
                path, "symlink", "is a link that never ends (a loop of links)"
            ) from exc
        if not resolved.is_relative_to(Path(root).resolve()):
            raise UnsafePathError(
                path, "symlink", f"is a link to {resolved}, outside its folder {root}"
            )
    return path
