"""PNG datasets (2D tasks): the spacing from dataset.json, grey pixels, label values and the
0/255 rule, the header check, the writer, and `bench score` of PNG predictions.

Most tests convert a private copy of the lumbar_paraspinal smoke phantom to PNG (images
rescaled to 8 bits, labels and fat masks as PNG); the single-structure rules use a small
synthetic shoulder_supraspinatus dataset written by `write_dataset(file_ending=".png")`.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.tasks import get_task
from mskbench.tasks.contract import (
    CaseArrays,
    ContractError,
    Dataset,
    Grid,
    read_image,
    write_dataset,
    write_image,
)
from mskbench.tasks.contract.png import read_png_header

runner = CliRunner()
LUMBAR = get_task("lumbar_paraspinal")
SHOULDER = get_task("shoulder_supraspinatus")
CASE = "s001_L23"


def bench(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def edit_json(path: Path, change) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def png_of(path: Path) -> Path:
    return path.with_name(path.name.replace(".nii.gz", ".png"))


def to_png(root: Path) -> Path:
    """Convert the NIfTI dataset at ``root`` to PNG in place: images rescaled to 8 bits,
    labels and masks stored as they are; dataset.json gets the spacing."""
    spacing: tuple[float, ...] = ()
    for folder in ("imagesTr", "labelsTr", "masks"):
        for path in sorted((root / folder).glob("*.nii.gz")):
            array, grid = read_image(path, dtype=None)
            spacing = grid.spacing
            if folder == "imagesTr":
                array = array.astype(np.float64)
                array = np.round(255 * (array - array.min()) / np.ptp(array))
            write_image(png_of(path), array.astype(np.uint8))
            path.unlink()

    def png_ending(content: dict) -> None:
        content["file_ending"] = ".png"
        content["mskbench"]["spacing_mm"] = list(spacing)

    edit_json(root / "dataset.json", png_ending)
    return root


@pytest.fixture
def lumbar_png(lumbar_copy: Path) -> Path:
    return to_png(lumbar_copy)


def png_bytes(width: int, height: int, colour_type: int = 0, data: bytes = bytes(1000)) -> bytes:
    """A PNG whose IHDR declares ``width`` × ``height`` 8-bit pixels of ``colour_type`` (0
    grey, 4 grey + alpha) and whose compressed data is ``data`` (rows with their filter
    byte; by default a few zeros, so that nothing but the header can be read)."""

    def chunk(kind: bytes, content: bytes) -> bytes:
        crc = zlib.crc32(kind + content) & 0xFFFFFFFF
        return struct.pack(">I", len(content)) + kind + content + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def write_vector_png(path: Path, channels: np.ndarray) -> None:
    """Write ``(y, x, c)`` uint8 pixels as an RGB (c = 3) or RGBA (c = 4) PNG."""
    sitk.WriteImage(sitk.GetImageFromArray(channels, isVector=True), str(path))


def score(task: str, data: Path, predictions: Path, db: Path):
    return bench(
        "score", "--task", task, "--data", str(data), "--predictions", str(predictions),
        "--name", "png", "--db", str(db),
    )  # fmt: skip


def dice_range(db: Path) -> tuple[float, float]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select min(value), max(value) from case_metrics where metric = 'dice'"
        ).fetchone()


# -- a PNG dataset: valid, loaded with dataset.json's spacing -----------------------------
def test_png_dataset_validates_and_loads_with_the_spacing_of_dataset_json(smoke_lumbar, lumbar_png):
    result = bench("data", "validate", str(lumbar_png), "--task", LUMBAR.name)
    assert result.exit_code == 0, result.output
    spacing = tuple(json.loads((lumbar_png / "dataset.json").read_text())["mskbench"]["spacing_mm"])
    original = Dataset(smoke_lumbar, LUMBAR).load(CASE)
    case = Dataset(lumbar_png, LUMBAR).load(CASE)
    assert case.grid == Grid(original.grid.shape, spacing, (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))
    assert case.spacing == pytest.approx(original.spacing)
    np.testing.assert_array_equal(case.label, original.label)
    np.testing.assert_array_equal(case.masks["fat"], original.masks["fat"])
    image = original.image[0]
    rescaled = np.round(255 * (image - image.min()) / np.ptp(image))
    np.testing.assert_array_equal(case.image[0], rescaled)


def test_grey_rgb_and_opaque_rgba_are_read_as_grey(lumbar_png):
    path = lumbar_png / "imagesTr" / f"{CASE}_0000.png"
    grey, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    write_vector_png(path, np.repeat(grey[..., None], 3, axis=-1))
    other = lumbar_png / "imagesTr" / "s001_L34_0000.png"
    grey_other, _ = read_image(other, dtype=None, png_spacing=(1.0, 1.0))
    opaque = np.full(grey_other.shape, 255, np.uint8)
    write_vector_png(other, np.stack([grey_other] * 3 + [opaque], axis=-1))
    result = bench("data", "validate", str(lumbar_png), "--task", LUMBAR.name)
    assert result.exit_code == 0, result.output
    assert read_png_header(path).colour_type == 2  # really RGB on disk
    np.testing.assert_array_equal(read_image(path, None, (1.0, 1.0))[0], grey)
    np.testing.assert_array_equal(read_image(other, None, (1.0, 1.0))[0], grey_other)


# -- broken PNG datasets: exit 2, naming the file and the rule -----------------------------
def _colour(root: Path) -> None:
    path = root / "imagesTr" / f"{CASE}_0000.png"
    grey, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[10, 10] = (255, 0, 0)
    write_vector_png(path, rgb)


def _transparent(root: Path) -> None:
    path = root / "imagesTr" / f"{CASE}_0000.png"
    grey, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    alpha = np.full(grey.shape, 255, np.uint8)
    alpha[:2, :3] = 0
    write_vector_png(path, np.stack([grey] * 3 + [alpha], axis=-1))


def _grey_alpha(root: Path) -> None:
    rows = b"".join(b"\x00" + bytes([100, 255] * 96) for _ in range(96))  # opaque, even
    (root / "imagesTr" / f"{CASE}_0000.png").write_bytes(png_bytes(96, 96, 4, rows))


def _label_value(root: Path) -> None:
    path = root / "labelsTr" / f"{CASE}.png"
    label, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    label[0, 0] = 42
    write_image(path, label)


def _mask_255(root: Path) -> None:
    path = root / "masks" / f"{CASE}_fat.png"
    mask, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    write_image(path, (mask * 255).astype(np.uint8))


def _huge(width: int, height: int):
    def change(root: Path) -> None:
        (root / "imagesTr" / f"{CASE}_0000.png").write_bytes(png_bytes(width, height))

    return change


def _dataset_json(change):
    return lambda root: edit_json(root / "dataset.json", change)


@pytest.mark.parametrize(
    ("breakage", "task", "expected"),
    [
        (
            _dataset_json(lambda c: c["mskbench"].pop("spacing_mm")),
            "lumbar_paraspinal",
            'dataset.json: [dataset-json] a PNG dataset needs "mskbench": {"spacing_mm": '
            "[y_mm, x_mm]} (a PNG holds no spacing)",
        ),
        (
            _dataset_json(lambda c: c["mskbench"].update(spacing_mm=[0, 2.0])),
            "lumbar_paraspinal",
            "dataset.json: [dataset-json] spacing_mm [0, 2.0] must be positive (mm)",
        ),
        (
            _dataset_json(lambda c: c["mskbench"].update(spacing_mm=[2.0])),
            "lumbar_paraspinal",
            "dataset.json: [dataset-json] spacing_mm [2.0] must be two numbers [y_mm, x_mm]",
        ),
        (
            _dataset_json(lambda c: c["mskbench"].update(png_foreground=255)),
            "lumbar_paraspinal",
            "dataset.json: [dataset-json] png_foreground is for tasks with one structure "
            "(value 1); task lumbar_paraspinal has ['IVD', 'VA',",
        ),
        (
            lambda root: None,
            "nmd_thigh",
            "dataset.json: [dataset-json] file_ending .png is for 2D tasks; task nmd_thigh "
            "has 3D series",
        ),
        (
            _colour,
            "lumbar_paraspinal",
            f"imagesTr/{CASE}_0000.png: [colour-image] is a colour image (1 pixel(s) with "
            "unequal R, G, B); mskbench reads grey PNGs only",
        ),
        (
            _transparent,
            "lumbar_paraspinal",
            f"imagesTr/{CASE}_0000.png: [colour-image] has 6 transparent pixel(s); export it "
            "without the alpha channel",
        ),
        (
            _grey_alpha,
            "lumbar_paraspinal",
            f"imagesTr/{CASE}_0000.png: [colour-image] is grey with an alpha channel or "
            "transparency, which mskbench cannot read; export it as 8- or 16-bit grey",
        ),
        (
            _label_value,
            "lumbar_paraspinal",
            f"labelsTr/{CASE}.png: [label-value] value(s) [42] not in the label map (0..12: IVD",
        ),
        (
            _mask_255,  # several structures: no png_foreground to declare, so no such hint
            "lumbar_paraspinal",
            f"masks/{CASE}_fat.png: [mask-value] value(s) [255] are not 0 or 1; a mask is "
            "binary\n",
        ),
        (
            _huge(100_000, 100_000),
            "lumbar_paraspinal",
            f"imagesTr/{CASE}_0000.png: [too-large] declares 10,000,000,000 voxels, more "
            "than the limit of 268,435,456",
        ),
        (
            _huge(2_000_000, 200),  # wider than libpng accepts: still too-large, not unreadable
            "lumbar_paraspinal",
            f"imagesTr/{CASE}_0000.png: [too-large] declares 400,000,000 voxels",
        ),
    ],
    ids=[
        "no-spacing", "zero-spacing", "one-spacing", "foreground-several-structures",
        "3d-task", "colour", "transparent", "grey-alpha", "label-value", "mask-255", "huge", "wider-than-libpng",
    ],
)  # fmt: skip
def test_a_broken_png_dataset_exits_2_naming_the_file_and_the_rule(
    lumbar_png, breakage, task, expected
):
    breakage(lumbar_png)
    result = bench("data", "validate", str(lumbar_png), "--task", task)
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_spacing_mm_in_a_nifti_dataset_is_refused(lumbar_copy):
    edit_json(lumbar_copy / "dataset.json", lambda c: c["mskbench"].update(spacing_mm=[1, 1]))
    result = bench("data", "validate", str(lumbar_copy), "--task", LUMBAR.name)
    assert result.exit_code == 2
    assert (
        "dataset.json: [dataset-json] spacing_mm belong(s) to PNG datasets (file_ending .png); "
        ".nii.gz files carry their own geometry"
    ) in result.output


# -- bench score: PNG predictions ----------------------------------------------------------
@pytest.mark.parametrize("kind", ["png", "nifti"])
def test_a_perfect_submission_scores_dice_one_against_a_png_dataset(
    smoke_lumbar, lumbar_png, tmp_path, kind
):
    """PNG predictions lie on dataset.json's grid; NIfTI ones (what `bench run` writes) are
    compared with that grid through the spacing from dataset.json."""
    source = lumbar_png if kind == "png" else smoke_lumbar
    predictions = tmp_path / "predictions"
    shutil.copytree(source / "labelsTr", predictions)
    for mask in (source / "masks").iterdir():
        shutil.copy(mask, predictions)
    db = tmp_path / "s.duckdb"
    result = score(LUMBAR.name, lumbar_png, predictions, db)
    assert result.exit_code == 0, result.output
    assert dice_range(db) == (1.0, 1.0)


def test_png_predictions_on_another_grid_or_for_a_nifti_dataset_are_refused(
    smoke_lumbar, lumbar_png, tmp_path
):
    predictions = tmp_path / "predictions"
    shutil.copytree(lumbar_png / "labelsTr", predictions)
    path = predictions / f"{CASE}.png"
    label, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
    write_image(path, np.ascontiguousarray(label[:, :-1]))
    result = score(LUMBAR.name, lumbar_png, predictions, tmp_path / "a.duckdb")
    assert result.exit_code == 2
    assert (
        f"{CASE}.png: [prediction-grid] shape (96, 95) differs from the reference shape (96, 96)"
    ) in result.output

    result = score(LUMBAR.name, smoke_lumbar, predictions, tmp_path / "b.duckdb")
    assert result.exit_code == 2
    assert (
        "s001_L34.png: [prediction-grid] is a PNG, which holds no geometry: PNG predictions "
        "are scored only against a PNG dataset"
    ) in result.output
    assert not (tmp_path / "a.duckdb").exists() and not (tmp_path / "b.duckdb").exists()


# -- one structure: the writer, 0/255 masks, maps ------------------------------------------
def shoulder_cases(spacing: tuple[float, float] = (0.6, 0.6), odd: str | None = None):
    """25 site-A images (grades 0-4, five each) and 2 site-B ones: a bright disc (SSP) in
    noise; every other case has an FF map. ``odd``: a case id written with 0.5 mm."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:32, :32]
    for i in range(27):
        case_id = f"c{i:03d}"
        label = ((y - 16) ** 2 + (x - 14 - i % 4) ** 2 <= (5 + i % 3) ** 2).astype(np.uint8)
        image = rng.normal(100.0, 10.0, (32, 32)).astype(np.float32) + 80.0 * label
        yield CaseArrays(
            case_id=case_id,
            image=image[None],
            label=label,
            spacing=(0.5, 0.5) if case_id == odd else spacing,
            row={
                "subject_id": f"p{i:03d}",
                "site": "A" if i < 25 else "B",
                "goutallier": str(i % 5),
                "sex": "F",
                "age": 60,
            },
            maps={"ff": (20.0 * label).astype(np.float32)} if i % 2 else {},
        )


@pytest.fixture
def shoulder_png(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "shoulder", SHOULDER, shoulder_cases(), 0, file_ending=".png")


def test_the_writer_makes_a_png_dataset_with_its_spacing_and_nifti_maps(shoulder_png):
    content = json.loads((shoulder_png / "dataset.json").read_text())
    assert content["file_ending"] == ".png" and content["mskbench"]["spacing_mm"] == [0.6, 0.6]
    assert read_png_header(shoulder_png / "imagesTr" / "c000_0000.png").bit_depth == 16
    assert sorted(p.name for p in (shoulder_png / "maps").iterdir())[:2] == [
        "c001_ff.nii.gz",
        "c003_ff.nii.gz",
    ]
    case = Dataset(shoulder_png, SHOULDER).load("c001")
    assert case.spacing == (0.6, 0.6) and set(np.unique(case.label)) == {0, 1}
    assert (case.image.min(), case.image.max()) == (0.0, 65535.0)  # min-max to 16 bits
    np.testing.assert_array_equal(case.maps["ff"], 20.0 * case.label)


def test_the_writer_refuses_png_cases_of_different_spacings(tmp_path):
    with pytest.raises(ContractError, match=r"a PNG dataset has one spacing .* the cases have 2"):
        write_dataset(tmp_path / "s", SHOULDER, shoulder_cases(odd="c003"), 0, file_ending=".png")
    assert list(tmp_path.iterdir()) == []  # all or nothing


def test_a_0_255_mask_needs_png_foreground_in_dataset_json(shoulder_png, tmp_path):
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    for path in sorted((shoulder_png / "labelsTr").iterdir()):
        label, _ = read_image(path, dtype=None, png_spacing=(1.0, 1.0))
        write_image(path, label * 255)
        write_image(predictions / path.name, label * 255)
    result = bench("data", "validate", str(shoulder_png), "--task", SHOULDER.name)
    assert result.exit_code == 2
    assert (
        "labelsTr/c000.png: [label-value] value(s) [255] not in the label map (0..1: SSP); a "
        'binary mask saved as 0/255? declare "png_foreground": 255 in the "mskbench" block of '
        "dataset.json, or store 0/1"
    ) in result.output

    edit_json(shoulder_png / "dataset.json", lambda c: c["mskbench"].update(png_foreground=255))
    result = bench("data", "validate", str(shoulder_png), "--task", SHOULDER.name)
    assert result.exit_code == 0, result.output
    assert set(np.unique(Dataset(shoulder_png, SHOULDER).load("c000").label)) == {0, 1}
    db = tmp_path / "s.duckdb"
    result = score(SHOULDER.name, shoulder_png, predictions, db)
    assert result.exit_code == 0, result.output
    assert dice_range(db) == (1.0, 1.0)


def test_a_map_stored_as_png_is_refused(shoulder_png):
    write_image(shoulder_png / "maps" / "c000_ff.png", np.zeros((32, 32), np.uint8))
    result = bench("data", "validate", str(shoulder_png), "--task", SHOULDER.name)
    assert result.exit_code == 2
    assert (
        "maps/c000_ff.png: [map-format] a map cannot be a PNG (8/16-bit integers, no float "
        "values); store it as maps/c000_ff.nii.gz on the image grid"
    ) in result.output


# -- the PNG file itself ---------------------------------------------------------------------
def test_write_image_refuses_what_a_png_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="8- or 16-bit unsigned integers, not float32"):
        write_image(tmp_path / "a.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="one 2D slice"):
        write_image(tmp_path / "b.png", np.zeros((2, 4, 4), np.uint8))
    moved = Grid((4, 4), (1.0, 1.0), (5.0, 0.0), (1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="cannot hold an origin or direction"):
        write_image(tmp_path / "c.png", np.zeros((4, 4), np.uint8), grid=moved)
    assert list(tmp_path.iterdir()) == []


def test_a_png_is_not_read_without_a_spacing(tmp_path):
    path = tmp_path / "a.png"
    write_image(path, np.zeros((4, 4), np.uint8))
    with pytest.raises(ContractError, match="a PNG holds no spacing"):
        read_image(path)
    (tmp_path / "b.png").write_bytes(b"GIF89a not a png at all, but long enough to read")
    with pytest.raises(OSError, match="not a PNG file"):
        read_image(tmp_path / "b.png", png_spacing=(1.0, 1.0))
