"""NumPy ``.npy`` volumes from outside, read safely: the header is checked before any voxel.

MRNet stores each plane of an exam as one ``.npy`` file (``uint8``, ``(slices, 256, 256)``).
A ``.npy`` header is a Python literal that may declare an object dtype — whose data is a
pickle, i.e. code — or a shape far larger than the file. `npy_header` parses only the
header (`numpy.lib.format.read_magic` and ``read_array_header_1_0/2_0``, bounded in size)
and checks, in this order, each with its rule:

``npy-format``  not a ``.npy`` file, an unsupported format version, an object dtype (a
                pickle; never loaded), or a file whose size is not the header's plus the
                array's bytes (truncated, or data appended)
``npy-dtype``   a dtype other than the expected one
``npy-shape``   another number of axes, or an in-plane size other than the expected one
``too-large``   more slices than the allowed maximum (or none)

`read_volume` loads the array only after `npy_header` passed, with ``allow_pickle=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mskbench.tasks.contract.errors import RuleError

#: Longest ``.npy`` header read (bytes); numpy's own default limit.
MAX_HEADER_BYTES = 10_000


@dataclass(frozen=True)
class VolumeRule:
    """What a stack of slices must be: ``dtype``, in-plane ``(rows, columns)`` and a slice
    count in ``[min_slices, max_slices]``."""

    dtype: np.dtype
    in_plane: tuple[int, int]
    min_slices: int
    max_slices: int


def npy_header(path: Path, rule: VolumeRule) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype declared by the ``.npy`` file at ``path``, checked against ``rule``;
    raises `RuleError` (rules in the module docstring). Reads the header only."""
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_HEADER_BYTES)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_HEADER_BYTES)
            else:
                raise RuleError(path, "npy-format", f".npy format version {version} not read")
            offset = fh.tell()
    except RuleError:
        raise
    except (ValueError, OSError, SyntaxError, TypeError) as exc:
        raise RuleError(path, "npy-format", f"not a readable .npy file ({exc})") from exc
    shape, _, dtype = header
    if dtype.hasobject:
        raise RuleError(
            path, "npy-format", f"dtype {dtype} holds Python objects (a pickle); never loaded"
        )
    expected = offset + math.prod(shape) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise RuleError(
            path,
            "npy-format",
            f"file holds {size} bytes, its header declares {expected} (shape {shape}, {dtype})",
        )
    if dtype != rule.dtype:
        raise RuleError(path, "npy-dtype", f"dtype {dtype}, expected {rule.dtype}")
    if len(shape) != 3 or tuple(shape[1:]) != rule.in_plane:
        raise RuleError(
            path,
            "npy-shape",
            f"shape {shape}, expected (slices, {rule.in_plane[0]}, {rule.in_plane[1]})",
        )
    if not rule.min_slices <= shape[0] <= rule.max_slices:
        raise RuleError(
            path,
            "too-large" if shape[0] > rule.max_slices else "npy-shape",
            f"{shape[0]} slices, allowed {rule.min_slices}-{rule.max_slices}",
        )
    return tuple(shape), dtype


def read_volume(path: Path, rule: VolumeRule) -> np.ndarray:
    """The array of ``path`` once its header passed `npy_header` (never unpickles)."""
    npy_header(path, rule)
    return np.load(path, allow_pickle=False)
