"""`bench sweep` on a local Ray with 2 CPUs: a 2 tasks × 2 models smoke sweep stores every
fold of every run under the keys `bench run` uses, a second invocation does nothing, a
worker killed mid-fold has its fold retried (stored once), and a fold that keeps failing
is given up after its retries with its run marked failed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from mskbench.harness.sweep import SweepRequest, sweep

ATLAS = str(Path(__file__).parent / "plugins" / "atlas.py") + ":Atlas"
FAILING_MODEL = '''
class Failing:
    """Fails in every fit."""

    tasks = ("*",)

    def fit(self, train, val, ctx):
        raise RuntimeError("this model always fails")

    def predict(self, case, ctx):
        raise AssertionError("never fitted")
'''


def bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mskbench.harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_two_by_two_smoke_sweep_finishes_every_run_and_a_rerun_does_nothing(
    smoke_thigh, smoke_leg, tmp_path
):
    db = tmp_path / "sweep.duckdb"
    args = (
        "sweep", "--tasks", "nmd_thigh,nmd_leg", "--models", "unet2d,hrnet",
        "--profile", "smoke", "--max-epochs", "2", "--local-cpus", "2", "--db", str(db),
    )  # fmt: skip
    first = bench(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 folds stored" in first.stdout
    runs = query(db, "select task, model, status, folds_planned from runs order by task, model")
    assert [(t, m, s) for t, m, s, _ in runs] == [
        ("nmd_leg", "hrnet", "finished"),
        ("nmd_leg", "unet2d", "finished"),
        ("nmd_thigh", "hrnet", "finished"),
        ("nmd_thigh", "unet2d", "finished"),
    ]
    per_run = query(
        db,
        "select r.folds_planned, list(distinct f.fold order by f.fold) "
        "from runs r join folds f using (run_id) group by all",
    )
    assert all(sorted(json.loads(planned)) == done for planned, done in per_run)
    cases = query(
        db,
        "select r.run_id, count(distinct m.case_id), max(f.n_test) from runs r "
        "join case_metrics m using (run_id) join folds f using (run_id) "
        "where m.metric = 'dice' and m.split = 'test' group by all",
    )
    assert len(cases) == 4 and all(n == n_test > 0 for _, n, n_test in cases)

    before = digest(db)
    second = bench(*args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "4 runs, 4 already finished; 0 folds to do" in second.stdout + second.stderr
    assert digest(db) == before, "a rerun of a finished sweep wrote to the database"

    # the sweep's runs carry the keys `bench run` gives them: it finds nothing to do
    run = bench(
        "run", "--task", "nmd_leg", "--model", "hrnet", "--profile", "smoke",
        "--max-epochs", "2", "--db", str(db),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "already finished" in run.stdout + run.stderr
    assert query(db, "select count(*) from runs")[0][0] == 4


def _kill_when_paused(marker: Path, killed: list[int], stop: threading.Event) -> None:
    """Wait for the atlas to write its worker's pid into ``marker``, then SIGKILL it."""
    while not stop.is_set():
        if marker.exists() and marker.read_text().strip():
            pid = int(marker.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.1)


def test_a_killed_worker_is_retried_and_a_failing_fold_is_given_up(
    smoke_thigh, tmp_path, monkeypatch
):
    db, marker = tmp_path / "sweep.duckdb", tmp_path / "in-fit"
    failing = tmp_path / "failing.py"
    failing.write_text(FAILING_MODEL)
    # Ray's workers inherit the environment of the local Ray the sweep starts
    monkeypatch.setenv("MSKBENCH_TEST_PAUSE_FOLD", "0")
    monkeypatch.setenv("MSKBENCH_TEST_MARKER", str(marker))
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_when_paused, args=(marker, killed, stop), daemon=True)
    killer.start()
    request = SweepRequest(
        tasks=("nmd_thigh",), models=(ATLAS, f"{failing}:Failing"), profile="smoke",
        folds=[0], db=db, device="cpu", retries=1, local_cpus=2,
    )  # fmt: skip
    try:
        outcome = sweep(request)
    finally:
        stop.set()
    assert len(killed) == 1, "the atlas never paused in fold 0"
    # the killed fold ran again; the failing model's fold was retried once, then given up
    assert outcome.retried == 2
    assert outcome.folds_stored == 1
    assert [(fold, error) for _, fold, error in outcome.folds_failed] == [
        (0, "RuntimeError: this model always fails")
    ]
    status = dict(query(db, "select model, status from runs"))
    assert status == {"atlas:Atlas": "finished", "failing:Failing": "failed"}
    assert query(db, "select error from runs where model = 'failing:Failing'")[0][0] == (
        "fold 0: RuntimeError: this model always fails"
    )
    stored_folds = query(db, "select r.model, f.fold from folds f join runs r using (run_id)")
    assert stored_folds == [("atlas:Atlas", 0)]
    duplicates = query(
        db,
        "select count(*) from (select run_id, fold, case_id, split, structure, metric "
        "from case_metrics group by all having count(*) > 1)",
    )
    assert duplicates[0][0] == 0
    n_test = query(db, "select n_test from folds")[0][0]
    stored = query(db, "select count(distinct case_id) from case_metrics where split = 'test'")
    assert stored[0][0] == n_test > 0


class FakeRay:
    """Stands in for ``ray`` where only the cluster's resources matter."""

    def __init__(self, resources: dict[str, float]) -> None:
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return self.resources


def test_folds_ask_for_gpu_fractions_where_the_cluster_has_gpus_and_cpus_otherwise():
    from mskbench.harness.sweep import _placement

    request = SweepRequest(tasks=("nmd_thigh",), models=("unet2d",), gpus_per_fold=0.25)
    device, label, resources = _placement(FakeRay({"CPU": 64, "GPU": 8}), request)
    assert (device, resources) == ("cuda", {"num_cpus": 1.0, "num_gpus": 0.25})
    assert "0.25 GPU per fold" in label
    device, _, resources = _placement(FakeRay({"CPU": 2}), request)
    assert (device, resources) == ("cpu", {"num_cpus": 1.0, "num_gpus": 0})
    cpu_only = SweepRequest(tasks=("nmd_thigh",), models=("unet2d",), device="cpu")
    assert _placement(FakeRay({"CPU": 64, "GPU": 8}), cpu_only)[0] == "cpu"
    needs_gpu = SweepRequest(tasks=("nmd_thigh",), models=("unet2d",), device="cuda")
    with pytest.raises(RuntimeError, match="no GPU"):
        _placement(FakeRay({"CPU": 2}), needs_gpu)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gpus_per_fold", 0.0, "gpus-per-fold"),
        ("gpus_per_fold", 1.5, "gpus-per-fold"),
        ("cpus_per_fold", 0.0, "cpus-per-fold"),
        ("retries", -1, "retries"),
        ("device", "tpu", "device"),
        ("tasks", (), "at least one task"),
    ],
)
def test_a_sweep_request_out_of_range_is_refused(field, value, message):
    fields = {"tasks": ("nmd_thigh",), "models": ("unet2d",), field: value}
    with pytest.raises(ValueError, match=message):
        SweepRequest(**fields)


def test_bad_sweep_options_exit_2_before_ray_starts(tmp_path):
    db = tmp_path / "x.duckdb"
    for extra, message in [
        (("--tasks", "nope", "--models", "unet2d"), "unknown task"),
        (("--tasks", "lumbar_paraspinal", "--models", "unet3d"), "not on 'lumbar_paraspinal'"),
        (("--tasks", "nmd_thigh", "--models", "unet2d", "--seeds", "a"), "--seeds"),
        (("--tasks", "nmd_thigh", "--models", "unet2d", "--gpus-per-fold", "0"), "gpus-per"),
    ]:
        result = bench("sweep", *extra, "--profile", "smoke", "--db", str(db), timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr
    assert not db.exists()
