"""`bench run` end to end: results in DuckDB, resume after SIGKILL, concurrent writers,
failed runs recorded, and `bench results` printing the summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mskbench.harness.cli import app

ATLAS = str(Path(__file__).parent / "plugins" / "atlas.py") + ":Atlas"
runner = CliRunner()


def smoke_run(model: str, db: Path, *extra: str) -> tuple[str, ...]:
    """Arguments of ``bench run`` on the nmd_thigh smoke profile."""
    return (
        "run",
        "--task",
        "nmd_thigh",
        "--model",
        model,
        "--profile",
        "smoke",
        "--db",
        str(db),
        *extra,
    )


def bench(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def bench_process(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mskbench.harness.cli", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_smoke_run_of_unet2d_stores_every_case_and_prints_the_summary(smoke_thigh, tmp_path):
    db = tmp_path / "results" / "bench.duckdb"
    result = bench(*smoke_run("unet2d", db, "--device", "cpu"))
    assert result.exit_code == 0, result.output
    assert "DSC" in result.output
    ((status, kind, folds),) = query(db, "select status, kind, folds_planned from runs")
    assert (status, kind, folds) == ("finished", "trained", "[0]")
    n_cases = query(db, "select count(distinct case_id) from case_metrics where split = 'test'")[0][
        0
    ]
    n_external = query(
        db, "select count(distinct case_id) from case_metrics where split = 'external'"
    )[0][0]
    assert n_cases >= 1 and n_external == 2
    assert query(db, "select count(*) from predictions")[0][0] == n_cases + n_external
    for (path,) in query(db, "select path from predictions"):
        assert Path(path).is_file()
    ((epochs, throughput),) = query(db, "select epochs, train_images_per_s from folds")
    assert epochs == 2 and throughput > 0
    provenance = query(
        db,
        "select git_commit, packages, data_fingerprint, split_fingerprint, device_name from runs",
    )[0]
    assert all(provenance) and '"torch"' in provenance[1]


def test_same_command_again_resumes_and_skips_finished_folds(smoke_thigh, tmp_path):
    db = tmp_path / "r.duckdb"
    first = bench(*smoke_run(ATLAS, db, "--folds", "0,1"))
    assert first.exit_code == 0, first.output
    again = bench(*smoke_run(ATLAS, db, "--folds", "0,1,2"))
    assert again.exit_code == 0, again.output
    assert "already finished" in again.output
    assert query(db, "select count(*) from runs")[0][0] == 1
    assert [r[0] for r in query(db, "select fold from folds order by fold")] == [0, 1, 2]


def test_no_resume_runs_a_finished_fold_again_and_replaces_its_rows(smoke_thigh, tmp_path):
    db = tmp_path / "r.duckdb"
    assert bench(*smoke_run(ATLAS, db, "--folds", "0")).exit_code == 0
    rows_before = query(db, "select count(*) from case_metrics")[0][0]
    finished_before = query(db, "select finished_at from folds")[0][0]
    again = bench(*smoke_run(ATLAS, db, "--folds", "0", "--no-resume"))
    assert again.exit_code == 0, again.output
    assert query(db, "select count(*) from case_metrics")[0][0] == rows_before
    assert query(db, "select count(*), max(finished_at) from folds")[0] != (1, finished_before)
    assert query(db, "select count(*) from folds")[0][0] == 1
    assert query(db, "select status from runs")[0][0] == "finished"


def test_a_fold_named_twice_runs_once(smoke_thigh, tmp_path):
    db = tmp_path / "r.duckdb"
    result = bench(*smoke_run(ATLAS, db, "--folds", "0,0"))
    assert result.exit_code == 0, result.output
    assert query(db, "select count(*), min(status) from runs join folds using (run_id)")[0] == (
        1,
        "finished",
    )


def test_sigkill_mid_fold_leaves_no_partial_fold_and_the_rerun_finishes(smoke_thigh, tmp_path):
    db, marker = tmp_path / "k.duckdb", tmp_path / "in-fit"
    args = smoke_run(ATLAS, db, "--folds", "0,1")
    process = bench_process(
        *args, env={"MSKBENCH_TEST_PAUSE_FOLD": "1", "MSKBENCH_TEST_MARKER": str(marker)}
    )
    deadline = time.time() + 120
    while not marker.exists():
        assert process.poll() is None, process.stdout.read()
        assert time.time() < deadline, "fold 1 never started"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert [r[0] for r in query(db, "select fold from folds")] == [0]
    assert [r[0] for r in query(db, "select distinct fold from case_metrics")] == [0]
    assert query(db, "select status from runs")[0][0] == "running"
    rerun = bench_process(*args)
    output, _ = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, output
    assert "already finished" in output
    assert [r[0] for r in query(db, "select fold from folds order by fold")] == [0, 1]
    assert query(db, "select status from runs")[0][0] == "finished"


def test_two_runs_writing_one_database_at_once_both_finish(smoke_thigh, tmp_path):
    db = tmp_path / "shared.duckdb"
    processes = [
        bench_process(*smoke_run(ATLAS, db, "--folds", "0,1,2,3", "--seed", str(seed)))
        for seed in (1, 2)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    assert query(db, "select count(*), count(distinct seed) from runs where status = 'finished'")[
        0
    ] == (2, 2)
    assert query(db, "select count(*) from folds")[0][0] == 8
    per_run = query(db, "select run_id, count(distinct fold) from case_metrics group by run_id")
    assert sorted(n for _, n in per_run) == [4, 4]


def test_a_failing_model_is_recorded_as_failed_with_its_error(smoke_thigh, tmp_path):
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "class Broken:\n"
        "    def fit(self, train, val, ctx):\n"
        "        raise ValueError('cannot fit this')\n"
        "    def predict(self, case, ctx):\n"
        "        raise AssertionError\n"
    )
    db = tmp_path / "f.duckdb"
    result = runner.invoke(app, list(smoke_run(f"{plugin}:Broken", db)))
    assert result.exit_code == 1
    assert "cannot fit this" in result.output
    ((status, error),) = query(db, "select status, error from runs")
    assert status == "failed" and error == "ValueError: cannot fit this"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "nope"), "unknown model 'nope'; known models:"),
        (("--model", ATLAS, "--folds", "0,42"), "folds [42] do not exist"),
        (("--model", ATLAS, "--device", "tpu"), "--device 'tpu' is not one of"),
    ],
)
def test_bad_run_arguments_exit_2(smoke_thigh, tmp_path, args, message):
    result = bench(
        "run",
        "--task",
        "nmd_thigh",
        "--profile",
        "smoke",
        "--db",
        str(tmp_path / "x.duckdb"),
        *args,
    )
    assert result.exit_code == 2
    assert message in result.output


def test_results_prints_every_format(smoke_thigh, tmp_path):
    db = tmp_path / "fmt.duckdb"
    assert bench(*smoke_run(ATLAS, db)).exit_code == 0
    for fmt, probe in (("table", "DSC"), ("csv", "dice"), ("json", '"metric"'), ("markdown", "|")):
        result = bench("results", "--task", "nmd_thigh", "--db", str(db), "--format", fmt)
        assert result.exit_code == 0, result.output
        assert probe in result.output and "atlas" in result.output.lower()
    missing = bench("results", "--task", "nmd_thigh", "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 2 and "no results database" in missing.output


def test_set_overrides_a_hyper_parameter_and_makes_another_run(smoke_thigh, tmp_path):
    db = tmp_path / "r.duckdb"
    assert bench(*smoke_run(ATLAS, db)).exit_code == 0
    result = bench(*smoke_run(ATLAS, db, "--set", "grid=[4, 16, 16]"))
    assert result.exit_code == 0, result.output
    grids = sorted(
        json.loads(c)["hyperparameters"]["grid"] for (c,) in query(db, "select config from runs")
    )
    assert grids == [[4, 16, 16], [6, 32, 32]]


@pytest.mark.parametrize(
    ("setting", "message"),
    [("nope=1", "not a hyper-parameter of model 'atlas:Atlas' (it has: grid)"),
     ("grid", "expected NAME=VALUE")],
)  # fmt: skip
def test_set_refuses_an_unknown_or_malformed_hyper_parameter(tmp_path, setting, message):
    db = tmp_path / "r.duckdb"
    result = bench(*smoke_run(ATLAS, db, "--set", setting))
    assert result.exit_code == 2
    assert message in result.output
    assert not db.exists()
