"""Read and write medical images (NIfTI, NRRD, MetaImage, DICOM series) with SimpleITK.

Arrays are returned in array-axis order — ``(z, y, x)`` for volumes, ``(y, x)`` for
slices — and ``spacing`` is in mm in that same order (SimpleITK's own spacing is
``(x, y, z)``; we reverse it once, here). Origin and direction are kept in `Grid` so a
prediction can be written back on its image's grid.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

#: File endings read as single files; a directory is read as a DICOM series.
FILE_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


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


def read_image(path: str | Path, dtype: type | None = np.float32) -> tuple[np.ndarray, Grid]:
    """Read ``path`` and return ``(array, grid)``; ``dtype=None`` keeps the stored type.

    NIfTI voxels are read with nibabel because SimpleITK's NIfTI reader silently replaces
    NaN and ±inf by 0 (SimpleITK 2.5), which would hide broken maps from validation; the
    geometry still comes from SimpleITK's header reader, so all formats share one grid
    convention.
    """
    path = Path(path)
    if _is_nifti(path):
        grid = read_grid(path)
        try:
            array = np.asanyarray(nib.load(path).dataobj)
        except (nib.filebasedimages.ImageFileError, EOFError, ValueError, zlib.error) as exc:
            raise OSError(f"{path}: {exc}") from exc
        if array.ndim != len(grid.shape):
            raise OSError(f"{path}: {array.ndim} axes of data, {len(grid.shape)} in the header")
        array = np.ascontiguousarray(array.transpose(tuple(range(array.ndim))[::-1]))
        return (array if dtype is None else array.astype(dtype, copy=False)), grid
    image = _read_sitk(path)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise OSError(
            f"{path}: has {image.GetNumberOfComponentsPerPixel()} components per voxel, expected 1"
        )
    array = sitk.GetArrayFromImage(image)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return array, _grid_of(image)


def read_grid(path: str | Path) -> Grid:
    """Read only the header of ``path`` (fast; no pixel data)."""
    path = Path(path)
    if path.is_dir():
        return _grid_of(_read_sitk(path))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
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

    Output is deterministic: the same array and geometry give byte-identical files.
    """
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
    """``"c001_0000.nii.gz"`` → ``"c001_0000"`` for any known ending."""
    for ending in FILE_ENDINGS:
        if name.endswith(ending):
            return name[: -len(ending)]
    return name
