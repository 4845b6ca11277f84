"""`bench list tasks` and `bench data ...`: what users type, with exit code 2 on bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mskbench.harness.cli import EXIT_BAD_INPUT, app
from mskbench.tasks import get_task

runner = CliRunner()


def bench(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_is_fast_and_does_not_import_torch():
    code = "import sys; from mskbench.harness.cli import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_list_tasks_shows_the_nmd_tasks_and_their_study():
    result = bench("list", "tasks")
    assert result.exit_code == 0
    assert "nmd_thigh" in result.output and "nmd_leg" in result.output
    assert "Hostin 2023" in result.output


def test_prepare_validate_stats_show_round_trip(smoke_thigh, tmp_path):
    result = bench("data", "prepare", "--task", "nmd_thigh", "--profile", "smoke")
    assert result.exit_code == 0, result.output
    assert "already prepared (cached)" in result.output and str(smoke_thigh) in result.output

    result = bench("data", "validate", str(smoke_thigh), "--task", "nmd_thigh")
    assert result.exit_code == 0 and "valid" in result.output

    result = bench("data", "stats", str(smoke_thigh))
    assert result.exit_code == 0
    assert "FF" in result.output and "% ≥ 20" in result.output
    lines = result.output.splitlines()
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│") and "±" in line]
    assert rows == [*get_task("nmd_thigh").structure_names, "all"]  # one row per structure

    png = tmp_path / "case.png"
    result = bench("data", "show", str(smoke_thigh), "--case", "s001v1", "--out", str(png))
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "prepare", "--task", "nope"), "unknown task 'nope'; known tasks:"),
        (
            ("data", "prepare", "--task", "nmd_thigh", "--profile", "huge"),
            "--profile 'huge' is not one of",
        ),
        (
            ("data", "validate", "/no/such/folder", "--task", "nmd_thigh"),
            "/no/such/folder: no such dataset folder",
        ),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(args, message):
    result = bench(*args)
    assert result.exit_code == EXIT_BAD_INPUT
    assert message in result.output


def test_invalid_dataset_exits_2_naming_file_and_rule(thigh_copy):
    (thigh_copy / "maps" / "s001v1_ff.nii.gz").unlink()
    result = bench("data", "validate", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "maps/s001v1_ff.nii.gz: [missing-map]" in result.output


def test_show_unknown_case_and_slice_exit_2(smoke_thigh, tmp_path):
    result = bench(
        "data", "show", str(smoke_thigh), "--case", "zz", "--out", str(tmp_path / "x.png")
    )
    assert result.exit_code == EXIT_BAD_INPUT and "no case 'zz'" in result.output
    result = bench(
        "data",
        "show",
        str(smoke_thigh),
        "--case",
        "s001v1",
        "--slice",
        "99",
        "--out",
        str(tmp_path / "x.png"),
    )
    assert result.exit_code == EXIT_BAD_INPUT and "slice 99 is outside 0..5" in result.output
    assert not (tmp_path / "x.png").exists()


def test_split_is_created_once(thigh_copy):
    result = bench("data", "split", str(thigh_copy), "--task", "nmd_thigh")
    assert result.exit_code == EXIT_BAD_INPUT and "splits are frozen" in result.output
    assert "`bench data split --force` replaces them" in result.output
    (thigh_copy / "splits.json").unlink()
    result = bench("data", "split", str(thigh_copy), "--task", "nmd_thigh", "--seed", "0")
    assert result.exit_code == 0 and "10 fold(s)" in result.output
    shutil.copy(thigh_copy / "splits.json", thigh_copy / "first.json")
    result = bench(
        "data", "split", str(thigh_copy), "--task", "nmd_thigh", "--seed", "5", "--force"
    )
    assert result.exit_code == 0
    assert (
        Path(thigh_copy / "splits.json").read_text() != Path(thigh_copy / "first.json").read_text()
    )
