"""Check what an image file *declares* before a single voxel is read (rule ``too-large``).

Two limits, both checked on the header alone:

- **Voxel count**: at most `max_voxels` (default `DEFAULT_MAX_VOXELS` = 2²⁸ ≈ 268 M
  voxels, i.e. 645³ or 2.5 × a 512 × 512 × 400 high-resolution 3D MSK volume; 1 GiB as
  float32, the type channels and maps are read as). Set by ``--max-voxels`` on ``bench
  data validate | run | score`` (`voxel_limit`) or the environment variable
  ``MSKBENCH_MAX_VOXELS``.
- **Decompression ratio**: a file declaring more than `RATIO_MIN_BYTES` (256 MiB) of
  voxel data must hold at least 1/`DEFAULT_MAX_RATIO` (1/500) of it on disk. Deflate
  compresses at most ~1032:1, so only files that are >99.8 % one repeated value trip it —
  a decompression bomb, not an image. ``MSKBENCH_MAX_RATIO`` overrides the ratio.

NIfTI headers are read with nibabel (it also reads their voxels, see `imageio`), a PNG's
IHDR chunk by hand (`png.read_png_header`: libpng refuses huge sizes as a broken file), the
rest with SimpleITK's ``ReadImageInformation``; a DICOM series sums its files' headers. A
detached header (``.mhd``, ``.nhdr``) may only name a data file beside it, inside its own
folder (rule ``case-id`` / ``symlink`` of `safepath.inside`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import SimpleITK as sitk

from mskbench.tasks.contract.errors import ContractError, TooLargeError
from mskbench.tasks.contract.png import is_png, read_png_header
from mskbench.tasks.contract.safepath import inside

DEFAULT_MAX_VOXELS = 2**28
ENV_MAX_VOXELS = "MSKBENCH_MAX_VOXELS"
DEFAULT_MAX_RATIO = 500.0
ENV_MAX_RATIO = "MSKBENCH_MAX_RATIO"
#: Declared voxel bytes below which the ratio is not checked (sparse label maps compress
#: up to deflate's ~1000:1 and are small enough not to matter).
RATIO_MIN_BYTES = 2**28

_COMPONENT_BYTES = {
    sitk.sitkUInt8: 1, sitk.sitkInt8: 1, sitk.sitkUInt16: 2, sitk.sitkInt16: 2,
    sitk.sitkUInt32: 4, sitk.sitkInt32: 4, sitk.sitkUInt64: 8, sitk.sitkInt64: 8,
    sitk.sitkFloat32: 4, sitk.sitkFloat64: 8, sitk.sitkVectorUInt8: 1, sitk.sitkVectorInt8: 1,
    sitk.sitkVectorUInt16: 2, sitk.sitkVectorInt16: 2, sitk.sitkVectorUInt32: 4,
    sitk.sitkVectorInt32: 4, sitk.sitkVectorUInt64: 8, sitk.sitkVectorInt64: 8,
    sitk.sitkVectorFloat32: 4, sitk.sitkVectorFloat64: 8, sitk.sitkComplexFloat32: 8,
    sitk.sitkComplexFloat64: 16,
}  # fmt: skip
_DETACHED = {".mhd": ("elementdatafile", "="), ".nhdr": ("datafile", ":")}


@dataclass(frozen=True)
class Declared:
    """What a header declares: ``voxels`` (× components), ``nbytes`` of voxel data, and
    ``stored_bytes`` on disk that hold them (None when not known)."""

    voxels: int
    nbytes: int
    stored_bytes: int | None

    @property
    def ratio(self) -> float:
        """Declared bytes per stored byte (0 when the stored size is unknown)."""
        if not self.stored_bytes:
            return 0.0 if self.stored_bytes is None else math.inf
        return self.nbytes / self.stored_bytes


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text.replace("_", ""))
    except ValueError as exc:
        raise ContractError(f"environment variable {name}={text!r} is not a number") from exc
    if not value > 0:
        raise ContractError(f"environment variable {name}={text!r} must be positive")
    return value


def max_voxels() -> int:
    """The voxel limit in force: ``MSKBENCH_MAX_VOXELS`` or `DEFAULT_MAX_VOXELS`."""
    return int(_env_number(ENV_MAX_VOXELS, DEFAULT_MAX_VOXELS))


def max_ratio() -> float:
    """The decompression ratio limit in force: ``MSKBENCH_MAX_RATIO`` or the default."""
    return _env_number(ENV_MAX_RATIO, DEFAULT_MAX_RATIO)


@contextmanager
def voxel_limit(limit: int | None) -> Iterator[None]:
    """Within the block, `max_voxels` is ``limit`` (None: unchanged). It is set in the
    environment, so threads and child processes (data loaders) see it too."""
    if limit is None:
        yield
        return
    if limit < 1:
        raise ContractError(f"--max-voxels {limit} must be at least 1")
    before = os.environ.get(ENV_MAX_VOXELS)
    os.environ[ENV_MAX_VOXELS] = str(limit)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_MAX_VOXELS, None)
        else:
            os.environ[ENV_MAX_VOXELS] = before


def _detached_data_file(header: Path) -> Path | None:
    """The data file named by a detached header, None when the voxels follow the header."""
    key, separator = _DETACHED[next(e for e in _DETACHED if header.name.endswith(e))]
    with header.open("rb") as fh:
        text = fh.read(1 << 16).decode("latin-1")
    for line in text.splitlines():
        name, found, value = line.partition(separator)
        if not found or name.replace(" ", "").lower() != key or value.startswith("="):
            continue
        value = value.strip()
        if value == "LOCAL":
            return None
        if value.startswith("LIST") or "%" in value or " " in value:
            raise OSError(f"{header}: data file {value!r} (a list or pattern) is not supported")
        return inside(header.parent, header.parent / value)
    return None


def _sitk_declared(path: Path, files: list[str]) -> Declared:
    voxels = nbytes = 0
    for name in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(name)
        reader.ReadImageInformation()
        count = math.prod(reader.GetSize()) * reader.GetNumberOfComponents()
        voxels += count
        nbytes += count * _COMPONENT_BYTES.get(reader.GetPixelID(), 8)
    return Declared(voxels, nbytes, sum(os.path.getsize(f) for f in files))


def declared(path: Path) -> Declared:
    """Read the header(s) of ``path`` (a file, or a folder holding one DICOM series)."""
    if path.is_dir():
        files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path)))
        if not files:
            raise OSError(f"{path}: directory holds no DICOM series")
        return _sitk_declared(path, files)
    if is_png(path):
        png = read_png_header(path)
        return Declared(png.samples, png.nbytes, path.stat().st_size)
    if path.name.endswith((".nii", ".nii.gz")):
        header = nib.load(path).header
        voxels = math.prod(int(n) for n in header.get_data_shape())
        nbytes = voxels * header.get_data_dtype().itemsize
        return Declared(voxels, nbytes, path.stat().st_size)
    if path.name.endswith(tuple(_DETACHED)):
        data_file = _detached_data_file(path)
        found = _sitk_declared(path, [str(path)])
        stored = (data_file or path).stat().st_size if (data_file or path).exists() else 0
        return Declared(found.voxels, found.nbytes, stored)
    return _sitk_declared(path, [str(path)])


def check_declared(path: Path, found: Declared) -> None:
    """Raise `TooLargeError` naming ``path`` when ``found`` breaks a limit."""
    limit = max_voxels()
    if found.voxels > limit:
        raise TooLargeError(
            path,
            f"declares {found.voxels:,} voxels, more than the limit of {limit:,} "
            f"(raise it with --max-voxels or {ENV_MAX_VOXELS})",
        )
    ratio_limit = max_ratio()
    if found.nbytes > RATIO_MIN_BYTES and found.ratio > ratio_limit:
        stored = found.stored_bytes or 0
        raise TooLargeError(
            path,
            f"declares {found.nbytes / 2**20:,.0f} MiB of voxels in {stored / 2**20:,.2f} MiB "
            f"on disk (ratio {found.ratio:,.0f}, limit {ratio_limit:g}): a decompression bomb",
        )


def check_header(path: Path) -> None:
    """Read the header of ``path`` and raise `TooLargeError` if it breaks a limit."""
    check_declared(path, declared(path))
