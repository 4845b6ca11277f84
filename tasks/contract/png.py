"""PNG files: 8- or 16-bit grey slices, read and written with SimpleITK.

A PNG holds pixels only; mskbench takes no geometry from it (any ``sCAL``/``pHYs`` chunk
is ignored): a PNG dataset's spacing comes from its ``dataset.json``
(`mskbench.tasks.contract.png_dataset`). What a PNG may hold (rule ``colour-image``):

- grey, 8 or 16 bits per pixel (1-, 2- and 4-bit grey is widened to 8 bits by libpng,
  which scales it: a 1-bit mask reads as 0/255);
- RGB, RGBA or a palette whose colour channels are equal in every pixel and whose alpha
  (if any) is opaque everywhere — an editor's grey export — read as its grey channel;
- nothing else: a colour image (channels differ), transparent pixels, or grey + alpha /
  grey with a transparency chunk (which SimpleITK cannot read at all) are refused, saying
  which.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from mskbench.tasks.contract.errors import RuleError

PNG = ".png"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Samples per pixel by IHDR colour type; a palette (3) is expanded to RGB when read.
_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


class ColourImageError(RuleError):
    """A PNG that is not a grey image (rule ``colour-image``)."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(path, "colour-image", message)


@dataclass(frozen=True)
class PngHeader:
    """What a PNG's IHDR chunk declares."""

    width: int
    height: int
    bit_depth: int
    colour_type: int

    @property
    def samples(self) -> int:
        """Decoded samples (pixels × channels) the file declares."""
        return self.width * self.height * _CHANNELS[self.colour_type]

    @property
    def nbytes(self) -> int:
        """Bytes of decoded samples (16-bit samples take two)."""
        return self.samples * (2 if self.bit_depth == 16 else 1)


def is_png(path: str | Path) -> bool:
    return str(path).endswith(PNG)


def read_png_header(path: Path) -> PngHeader:
    """The IHDR chunk of ``path`` (its first 33 bytes), read by hand: libpng, through
    SimpleITK, refuses a width or height over 1 000 000 as a broken file before mskbench
    could report it as ``too-large``, and IHDR is a fixed 13-byte record (PNG spec
    §11.2.2). Raises ``OSError`` for a file that does not start like a PNG."""
    with path.open("rb") as fh:
        head = fh.read(33)
    if len(head) < 33 or not head.startswith(_SIGNATURE) or head[12:16] != b"IHDR":
        raise OSError(f"{path}: not a PNG file (no PNG signature and IHDR chunk)")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", head[16:26])
    if colour_type not in _CHANNELS or bit_depth not in (1, 2, 4, 8, 16):
        raise OSError(f"{path}: IHDR colour type {colour_type}, bit depth {bit_depth} is not PNG")
    return PngHeader(width, height, bit_depth, colour_type)


def read_png(path: Path) -> np.ndarray:
    """The grey pixels of ``path`` as a ``(y, x)`` uint8/uint16 array (see the module
    docstring for what is accepted); raises `ColourImageError` or SimpleITK's
    ``RuntimeError``."""
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        # libpng hands grey + alpha (and grey with a tRNS chunk) over as two samples per
        # pixel, a pixel type SimpleITK has no image for ("Unknown PixelType").
        if "Unknown PixelType" in str(exc):
            raise ColourImageError(
                path,
                "is grey with an alpha channel or transparency, which mskbench cannot read; "
                "export it as 8- or 16-bit grey without transparency",
            ) from exc
        raise
    array = sitk.GetArrayFromImage(image)
    if array.ndim == 2:
        return array
    colour, alpha = array[..., :3], array[..., 3:]
    if alpha.size and not np.all(alpha == np.iinfo(array.dtype).max):
        n = int(np.count_nonzero(alpha != np.iinfo(array.dtype).max))
        raise ColourImageError(
            path, f"has {n} transparent pixel(s); export it without the alpha channel"
        )
    differ = int(np.count_nonzero((colour != colour[..., :1]).any(axis=-1)))
    if differ:
        raise ColourImageError(
            path,
            f"is a colour image ({differ} pixel(s) with unequal R, G, B); mskbench reads "
            "grey PNGs only (8 or 16 bits) — export the grey image",
        )
    return np.ascontiguousarray(colour[..., 0])


def png_pixels(array: np.ndarray) -> np.ndarray:
    """``array`` as PNG pixels: uint8/uint16 (and bool) kept, other integers kept when they
    fit in uint16, floats rescaled from their min–max to 0–65535 (a PNG export's windowing).
    """
    if array.dtype in (np.uint8, np.uint16):
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) and array.min() >= 0 and array.max() <= 65535:
        return array.astype(np.uint8 if array.max() <= 255 else np.uint16)
    low, high = float(np.min(array)), float(np.max(array))
    scaled = (array.astype(np.float64) - low) / (high - low) if high > low else array * 0.0
    return np.round(scaled * 65535).astype(np.uint16)


def write_png(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None) -> None:
    """Write a ``(y, x)`` uint8/uint16 ``array``; ``spacing`` (mm, array order) goes to the
    file's ``sCAL`` chunk for other viewers (mskbench reads the spacing from dataset.json).
    Deterministic: the same pixels give the same bytes."""
    if array.ndim != 2:
        raise ValueError(f"{path}: a PNG holds one 2D slice, not an array of shape {array.shape}")
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"{path}: a PNG holds 8- or 16-bit unsigned integers, not {array.dtype} "
            "(convert with png_pixels; store float maps as NIfTI)"
        )
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    if spacing is not None:
        image.SetSpacing(tuple(float(s) for s in reversed(spacing)))
    sitk.WriteImage(image, str(path))
