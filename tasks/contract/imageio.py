"""Read and write medical images (NIfTI, NRRD, MetaImage, DICOM series, PNG) with SimpleITK.

Arrays are returned in array-axis order — ``(z, y, x)`` for volumes, ``(y, x)`` for
slices — and ``spacing`` is in mm in that same order (SimpleITK's own spacing is
``(x, y, z)``; we reverse it once, here). Origin and direction are kept in `Grid` so a
prediction can be written back on its image's grid.

A PNG (`mskbench.tasks.contract.png`) holds pixels only: it is read with the spacing its
dataset's ``dataset.json`` gives (``png_spacing``), origin 0 and identity direction.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from mskbench.tasks.contract.errors import ContractError, TooLargeError
from mskbench.tasks.contract.header import check_header
from mskbench.tasks.contract.png import PNG, is_png, read_png, read_png_header, write_png

#: File endings read as single files; a directory is read as a DICOM series.
FILE_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", PNG)
#: ``/path/to/file.cxx:99:`` in SimpleITK messages, and ``sitk::ERROR:`` /
#: ``ITK ERROR: NrrdImageIO(0x55...):`` prefixes.
_SOURCE_LOCATION = re.compile(r"\S+\.(?:cxx|hxx|cpp|h):\d+:?")
_ERROR_PREFIX = re.compile(r"^(?:sitk::ERROR:|ITK ERROR:(?: \w+\(0x[0-9a-f]+\):)?)\s*")


#: Two grids lie at the same place when their origins are this close (mm) and their
#: direction cosines agree to this (the tolerances of `mskbench.tasks.contract.orientation`).
ORIGIN_TOLERANCE_MM = 1e-3
DIRECTION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Grid:
    """Geometry of an image: shape and spacing in array-axis order, SimpleITK origin/direction."""

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def same_shape(self, other: Grid) -> bool:
        return self.shape == other.shape

    def same_spacing(self, other: Grid, rtol: float = 1e-4) -> bool:
        return len(self.spacing) == len(other.spacing) and bool(
            np.allclose(self.spacing, other.spacing, rtol=rtol, atol=1e-6)
        )

    def placement_difference(self, other: Grid) -> str | None:
        """What differs in where two grids of one shape and spacing lie in space — the
        origin (by more than `ORIGIN_TOLERANCE_MM`) or the direction cosines (by more than
        `DIRECTION_TOLERANCE`) — or None when they are the same physical grid."""
        if len(self.origin) != len(other.origin) or len(self.direction) != len(other.direction):
            return "the number of axes differs"
        distance = float(np.linalg.norm(np.subtract(self.origin, other.origin)))
        if distance > ORIGIN_TOLERANCE_MM:
            return f"origin differs by {distance:.3g} mm"
        if np.max(np.abs(np.subtract(self.direction, other.direction))) > DIRECTION_TOLERANCE:
            return "direction cosines differ (axes rotated or flipped)"
        return None

    def describe(self) -> str:
        shape = "×".join(map(str, self.shape))
        spacing = "×".join(f"{s:g}" for s in self.spacing)
        return f"shape {shape}, spacing {spacing} mm"


def _grid_of(image: sitk.Image) -> Grid:
    return Grid(
        shape=tuple(reversed(image.GetSize())),
        spacing=tuple(float(s) for s in reversed(image.GetSpacing())),
        origin=tuple(image.GetOrigin()),
        direction=tuple(image.GetDirection()),
    )


def png_grid(path: Path, shape: tuple[int, int], spacing: tuple[float, ...] | None) -> Grid:
    """The grid of a PNG of ``shape``: ``spacing`` from its dataset.json, origin 0, identity
    direction. Raises `ContractError` when no spacing is given (a PNG holds none)."""
    if spacing is None:
        raise ContractError(
            f"{path}: a PNG holds no spacing; it is read only as part of a PNG dataset, "
            'whose dataset.json gives "mskbench": {"spacing_mm": [y_mm, x_mm]}'
        )
    return Grid(
        shape=shape,
        spacing=tuple(float(s) for s in spacing),
        origin=(0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 1.0),
    )


def _read_sitk(path: Path) -> sitk.Image:
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        files = reader.GetGDCMSeriesFileNames(str(path))
        if not files:
            raise OSError(f"{path}: directory holds no DICOM series")
        reader.SetFileNames(files)
        return reader.Execute()
    return sitk.ReadImage(str(path))


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def _sitk_message(exc: RuntimeError) -> str:
    """SimpleITK's error text without its C++ source locations and ``ITK ERROR`` prefixes:
    the first meaningful line (and the last one when the first only introduces it)."""
    lines = []
    for line in str(exc).splitlines():
        line = _SOURCE_LOCATION.sub("", line).strip()
        line = _ERROR_PREFIX.sub("", line).strip()
        if line and not line.startswith("Exception thrown in SimpleITK"):
            lines.append(line)
    if not lines:
        return "SimpleITK could not read it"
    first = lines[0]
    return f"{first} {lines[-1]}" if first.endswith(":") and len(lines) > 1 else first


def _read_png(path: Path, spacing: tuple[float, ...] | None) -> tuple[np.ndarray, Grid]:
    grid = read_grid(path, spacing)  # before the pixels: without a spacing nothing is read
    return read_png(path), grid


def _read_voxels(path: Path) -> tuple[np.ndarray, Grid]:
    if _is_nifti(path):
        grid = read_grid(path)
        try:
            array = np.asanyarray(nib.load(path).dataobj)
        except (nib.filebasedimages.ImageFileError, EOFError, ValueError, zlib.error) as exc:
            raise OSError(f"{path}: {exc}") from exc
        if array.ndim != len(grid.shape):
            raise OSError(f"{path}: {array.ndim} axes of data, {len(grid.shape)} in the header")
        return np.ascontiguousarray(array.transpose(tuple(range(array.ndim))[::-1])), grid
    image = _read_sitk(path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise OSError(
            f"{path}: has {image.GetNumberOfComponentsPerPixel()} components per voxel, expected 1"
        )
    return sitk.GetArrayFromImage(image), _grid_of(image)


def read_image(
    path: str | Path,
    dtype: type | None = np.float32,
    png_spacing: tuple[float, ...] | None = None,
) -> tuple[np.ndarray, Grid]:
    """Read ``path`` and return ``(array, grid)``; ``dtype=None`` keeps the stored type.
    A PNG needs ``png_spacing`` (mm, ``(y, x)``: its dataset's ``spacing_mm``) and must be
    grey (rule ``colour-image``, `png.read_png`).

    The header is checked first (`header.check_header`: voxel count and decompression
    ratio, rule ``too-large``), and running out of memory while reading is the same
    `TooLargeError`, so no file can make the reader allocate without bound. Other failures
    are ``OSError`` with SimpleITK's message cleaned of its C++ source paths.

    NIfTI voxels are read with nibabel because SimpleITK's NIfTI reader silently replaces
    NaN and ±inf by 0 (SimpleITK 2.5), which would hide broken maps from validation; the
    geometry still comes from SimpleITK's header reader, so all formats share one grid
    convention.
    """
    path = Path(path)
    try:
        check_header(path)
        array, grid = _read_png(path, png_spacing) if is_png(path) else _read_voxels(path)
        return (array if dtype is None else array.astype(dtype, copy=False)), grid
    except MemoryError as exc:
        raise TooLargeError(path, "ran out of memory reading its voxels") from exc
    except ContractError:
        raise
    except RuntimeError as exc:
        message = _sitk_message(exc)
        if "allocate memory" in message:
            raise TooLargeError(path, f"ran out of memory reading its voxels ({message})") from exc
        raise OSError(f"{path}: {message}") from exc
    except (nib.filebasedimages.ImageFileError, EOFError, ValueError, zlib.error) as exc:
        raise OSError(f"{path}: {exc}") from exc


def read_grid(path: str | Path, png_spacing: tuple[float, ...] | None = None) -> Grid:
    """Read only the header of ``path`` (fast; no pixel data). A DICOM series is read
    whole, after its headers passed `header.check_header`; a PNG's grid is its IHDR size
    with ``png_spacing`` (`png_grid`)."""
    path = Path(path)
    if is_png(path):
        header = read_png_header(path)
        return png_grid(path, (header.height, header.width), png_spacing)
    if path.is_dir():
        check_header(path)
        return _grid_of(_read_sitk(path))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise OSError(f"{path}: {_sitk_message(exc)}") from exc
    return Grid(
        shape=tuple(reversed(reader.GetSize())),
        spacing=tuple(float(s) for s in reversed(reader.GetSpacing())),
        origin=tuple(reader.GetOrigin()),
        direction=tuple(reader.GetDirection()),
    )


def write_image(
    path: str | Path,
    array: np.ndarray,
    spacing: tuple[float, ...] | None = None,
    grid: Grid | None = None,
    compress: bool = True,
) -> None:
    """Write ``array`` (array-axis order) with ``spacing`` (mm, same order) or a full ``grid``.

    Output is deterministic: the same array and geometry give byte-identical files. A PNG
    takes a 2D uint8/uint16 array (`png.png_pixels` converts) and no origin or direction
    other than `png_grid`'s: its geometry lives in dataset.json, not in the file.
    """
    if is_png(path):
        if grid is not None and grid.placement_difference(
            png_grid(Path(path), grid.shape, grid.spacing)
        ):
            raise ValueError(f"{path}: a PNG cannot hold an origin or direction; write NIfTI")
        write_png(Path(path), array, grid.spacing if grid is not None else spacing)
        return
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    if grid is not None:
        if tuple(array.shape) != grid.shape:
            raise ValueError(f"{path}: array shape {array.shape} does not match grid {grid.shape}")
        image.SetSpacing(tuple(reversed(grid.spacing)))
        image.SetOrigin(grid.origin)
        image.SetDirection(grid.direction)
    elif spacing is not None:
        if len(spacing) != array.ndim:
            raise ValueError(f"{path}: spacing {spacing} does not match array ndim {array.ndim}")
        image.SetSpacing(tuple(float(s) for s in reversed(spacing)))
    sitk.WriteImage(image, str(path), compress)


def strip_ending(name: str) -> str:
    """``"c001_0000.nii.gz"`` → ``"c001_0000"`` for any known ending (``.png`` too)."""
    for ending in FILE_ENDINGS:
        if name.endswith(ending):
            return name[: -len(ending)]
    return name
