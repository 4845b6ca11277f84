"""The ``nnunet`` model plugin: the real nnunetv2 package trained and predicting on a fold
(`bench run --model nnunet`), its raw dataset checked by nnU-Net itself, refusals,
resuming, failures, and a card that imports neither torch nor nnunetv2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from mskbench.baselines.nnunet import raw
from mskbench.baselines.nnunet.model import NnUNet, NnUNetError
from mskbench.harness.cli import app
from mskbench.harness.models import CaseSet, FitContext, get_model_card
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset, validation_subjects

TASK = "nmd_thigh"


def fold_cases(root: Path, task_name: str = TASK, fold: int = 0):
    """The runner's train / validation / test ids of ``fold`` (seed 0), and the dataset."""
    task = get_task(task_name)
    dataset = Dataset(root, task)
    split = dataset.fold(fold)
    val = validation_subjects(list(split.train), dataset.subjects, task.split.val_fraction, fold)
    train = [c for c in split.train if c not in set(val)]
    return dataset, train, val, list(split.test)


def context(task_name: str, work_dir: Path, profile: str = "smoke", **kwargs) -> FitContext:
    task = get_task(task_name)
    return FitContext(
        task=task, profile=task.profile(profile), device="cpu", seed=0, work_dir=work_dir, **kwargs
    )


# -- the card -------------------------------------------------------------------------------
def test_the_card_imports_neither_torch_nor_nnunetv2():
    code = (
        "import sys\n"
        "import mskbench.baselines.nnunet.card as card\n"
        "from mskbench.harness.models import get_model_card\n"
        "assert get_model_card('nnunet') is card.NNUNET\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'nnunetv2', 'monai')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_card_is_registered_with_its_schedule_and_citation():
    card = get_model_card("nnunet")
    assert card.supports(get_task("nmd_thigh")) and card.supports(get_task("lumbar_paraspinal"))
    assert card.hyperparameters == NnUNet().get_params()  # the card says what the model does
    assert "doi:10.1038/s41592-020-01008-z" in card.citation
    assert "1000 epochs" in card.details["schedule (paper)"]
    model = card.create()
    assert isinstance(model, NnUNet) and model.configuration == "2d"


def test_bad_hyperparameters_are_refused_when_the_model_is_made():
    with pytest.raises(ValueError, match="configuration '3d_lowres' is not one of 2d, 3d_fullres"):
        NnUNet(configuration="3d_lowres")
    with pytest.raises(ValueError, match="iterations_per_epoch must be a positive integer"):
        NnUNet(iterations_per_epoch=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        NnUNet(batch_size=0)


# -- the raw dataset --------------------------------------------------------------------------
def test_the_raw_dataset_passes_nnunets_integrity_check_and_holds_the_loaded_arrays(
    smoke_thigh, tmp_path
):
    verify = pytest.importorskip("nnunetv2.experiment_planning.verify_dataset_integrity")
    dataset, train, val, test = fold_cases(smoke_thigh)
    task = get_task(TASK)
    folder = tmp_path / "nnUNet_raw" / raw.dataset_name(task)
    ids = raw.write_raw_dataset(folder, task, (dataset.load(c) for c in train + val))
    assert ids == train + val
    verify.verify_dataset_integrity(str(folder), 1)  # raises on any problem
    assert folder.name == "Dataset001_nmd_thigh"
    written = {p.name.removesuffix("_0000.nii.gz") for p in (folder / "imagesTr").iterdir()}
    assert written == set(train + val) and not written & set(test)
    content = json.loads((folder / "dataset.json").read_text())
    assert content["labels"] == dict(task.labels) and content["numTraining"] == len(ids)
    case = dataset.load(train[0])
    image = sitk.ReadImage(str(folder / "imagesTr" / f"{case.case_id}_0000.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(image), case.image[0])
    assert np.allclose(image.GetSpacing()[::-1], case.spacing)
    label = sitk.ReadImage(str(folder / "labelsTr" / f"{case.case_id}.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(label), case.label)


def test_the_single_fold_holds_exactly_the_train_and_validation_cases(smoke_thigh):
    _, train, val, test = fold_cases(smoke_thigh)
    splits = raw.single_fold_splits(train, val)
    assert splits == [{"train": train, "val": val}]
    assert not set(test) & {c for s in splits for c in s["train"] + s["val"]}
    with pytest.raises(ValueError, match="both training and validation cases"):
        raw.single_fold_splits(train, train[:1])
    # no validation cases: nnU-Net monitors the training cases (it needs some to monitor)
    assert raw.single_fold_splits(train, []) == [{"train": train, "val": train}]


def test_a_2d_task_is_written_as_one_slice_volumes(smoke_lumbar, tmp_path):
    verify = pytest.importorskip("nnunetv2.experiment_planning.verify_dataset_integrity")
    dataset, train, val, _ = fold_cases(smoke_lumbar, "lumbar_paraspinal")
    task = get_task("lumbar_paraspinal")
    folder = tmp_path / raw.dataset_name(task)
    raw.write_raw_dataset(folder, task, (dataset.load(c) for c in (train + val)[:3]))
    verify.verify_dataset_integrity(str(folder), 1)
    case = dataset.load(train[0])
    image = sitk.GetArrayFromImage(
        sitk.ReadImage(str(folder / "imagesTr" / f"{train[0]}_0000.nii.gz"))
    )
    assert image.shape == (1, *case.image.shape[1:])
    volume, spacing = raw.as_volume(case.image, case.spacing, 2)
    assert volume.shape == (1, 1, *case.image.shape[1:])
    assert spacing == (999 * max(case.spacing), *case.spacing)


def test_tasks_nnunet_cannot_learn_are_refused_by_name():
    with pytest.raises(ValueError, match="task toy_binary has no label map"):
        raw.check_task(get_task("toy_binary"))
    thigh = get_task(TASK)
    two_series = SimpleNamespace(
        name="two_views", segmentation=thigh.segmentation, series=("a", "b"), labels=thigh.labels
    )
    with pytest.raises(ValueError, match="task two_views has 2 input series on different grids"):
        raw.check_task(two_series)
    # TaskSpec itself refuses gaps in label values; the plugin checks again for duck-typed tasks
    gaps = SimpleNamespace(
        name="gaps", segmentation=True, series=("a",), labels={"background": 0, "a": 1, "b": 3}
    )
    with pytest.raises(ValueError, match=r"task gaps has label values \[0, 1, 3\]"):
        raw.check_task(gaps)


def test_a_3d_configuration_on_a_2d_task_is_refused_before_anything_runs(smoke_lumbar, tmp_path):
    pytest.importorskip("nnunetv2")
    dataset, train, val, _ = fold_cases(smoke_lumbar, "lumbar_paraspinal")
    ctx = context("lumbar_paraspinal", tmp_path / "work")
    with pytest.raises(ValueError, match="3d_fullres needs a 3D task; lumbar_paraspinal is 2D"):
        NnUNet(configuration="3d_fullres").fit(CaseSet(dataset, train), CaseSet(dataset, val), ctx)
    assert not (tmp_path / "work").exists()


def test_a_missing_nnunetv2_says_how_to_install_it(smoke_thigh, tmp_path, monkeypatch):
    from mskbench.baselines.nnunet import model

    real = model.importlib.util.find_spec
    monkeypatch.setattr(
        model.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "nnunetv2" else real(name, *a),
    )
    dataset, train, val, _ = fold_cases(smoke_thigh)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'mskbench\[nnunet\]'"):
        NnUNet().fit(CaseSet(dataset, train), CaseSet(dataset, val), context(TASK, tmp_path))


# -- the driver subprocess, faked -------------------------------------------------------------
def fake_driver(monkeypatch, calls: list, script: str | None = None) -> None:
    """Replace nnU-Net's pipeline: record the call, then run ``script`` (python code) as the
    driver, or write a checkpoint_final.pth and a summary line like a finished training."""

    def command(self, job_file, ctx):
        calls.append(json.loads(Path(job_file).read_text()))
        if script is not None:
            return [sys.executable, "-c", script]
        final = self.model_dir(ctx) / "fold_0" / "checkpoint_final.pth"
        code = (
            "import pathlib, json\n"
            f"p = pathlib.Path({str(final)!r}); p.parent.mkdir(parents=True, exist_ok=True)\n"
            "p.write_bytes(b'weights')\n"
            'print("MSKBENCH_EPOCH " + json.dumps({"epoch": 1, "max_epochs": 1, '
            '"train_loss": 1.5, "val_loss": None, "pseudo_dice": 0.1, "best_epoch": 1, '
            '"images_per_s": 3.0}))\n'
            'print("MSKBENCH_SUMMARY " + json.dumps({"train_images_per_s": 3.0, '
            '"peak_memory_mb": 100.0}))\n'
        )
        return [sys.executable, "-c", code]

    monkeypatch.setattr(NnUNet, "_command", command)


def test_a_second_fit_with_checkpoint_final_present_does_not_train_again(
    smoke_thigh, tmp_path, monkeypatch
):
    calls: list = []
    fake_driver(monkeypatch, calls)
    dataset, train, val, _ = fold_cases(smoke_thigh)
    epochs = []
    ctx = context(TASK, tmp_path / "fold0", on_epoch=epochs.append)
    report = NnUNet().fit(CaseSet(dataset, train), CaseSet(dataset, val), ctx)
    assert len(calls) == 1 and report.epochs == 2 and report.train_images_per_s == 3.0
    assert [(e.epoch, e.train_loss, e.val_loss) for e in epochs] == [(1, 1.5, None)]
    job = calls[0]
    assert job["splits"] == [{"train": train, "val": val}]
    assert (job["epochs"], job["iterations_per_epoch"], job["device"]) == (2, 3, "cpu")
    assert job["augmentation_processes"] == 0  # single-threaded augmentation on the CPU
    monkeypatch.delenv("nnUNet_compile", raising=False)  # a user's own setting would win
    env = NnUNet()._environment(ctx)
    assert env["nnUNet_results"] == str((tmp_path / "fold0" / "nnUNet_results").resolve())
    assert env["nnUNet_compile"] == "f" and env["MSKBENCH_PARENT_PID"] == str(os.getpid())
    log = (tmp_path / "fold0" / "nnunet.log").read_text()
    assert "MSKBENCH_SUMMARY" in log
    # the same fit again (a resumed run): checkpoint_final.pth is there, nothing runs
    again = NnUNet().fit(CaseSet(dataset, train), CaseSet(dataset, val), ctx)
    assert len(calls) == 1 and again == report
    # another schedule in the same folder: the old folders are dropped, nnU-Net runs again
    NnUNet(iterations_per_epoch=5).fit(CaseSet(dataset, train), CaseSet(dataset, val), ctx)
    assert len(calls) == 2 and calls[1]["iterations_per_epoch"] == 5


def test_the_paper_size_runs_nnunets_own_schedule(smoke_thigh, tmp_path):
    model = NnUNet(iterations_per_epoch=7)
    paper = context(TASK, tmp_path, profile="paper", size="paper")
    assert model.schedule(paper) == {
        "epochs": 1000, "iterations_per_epoch": 250, "val_iterations_per_epoch": 50, "save_every": 50
    }  # fmt: skip
    assert (
        model.schedule(context(TASK, tmp_path, profile="paper", size="paper", max_epochs=20))[
            "epochs"
        ]
        == 20
    )
    quick = model.schedule(context(TASK, tmp_path, profile="quick"))
    assert (quick["epochs"], quick["iterations_per_epoch"]) == (30, 7)
    assert "batch_size" not in model.schedule(paper)  # the paper size keeps nnU-Net's plans


def test_a_failing_nnunet_raises_with_the_end_of_its_log(smoke_thigh, tmp_path, monkeypatch):
    script = (
        "import sys\nfor i in range(60): print('line', i)\nprint('Boom: out of ideas'); sys.exit(3)"
    )
    fake_driver(monkeypatch, [], script)
    dataset, train, val, _ = fold_cases(smoke_thigh)
    with pytest.raises(NnUNetError, match=r"exit code 3") as error:
        NnUNet().fit(CaseSet(dataset, train), CaseSet(dataset, val), context(TASK, tmp_path))
    assert "Boom: out of ideas" in str(error.value) and "line 59" in str(error.value)
    assert "line 5\n" not in str(error.value)  # only the tail
    assert "line 0\n" in (tmp_path / "nnunet.log").read_text()  # the whole log stays


def test_a_job_nnunet_cannot_plan_is_a_value_error(smoke_thigh, tmp_path, monkeypatch):
    script = (
        "print(\"MSKBENCH_ERROR configuration '3d_fullres' is not in nnU-Net's plans\"); exit(2)"
    )
    fake_driver(monkeypatch, [], script)
    dataset, train, val, _ = fold_cases(smoke_thigh)
    with pytest.raises(ValueError, match="nnunet: configuration '3d_fullres' is not in nnU-Net"):
        NnUNet().fit(CaseSet(dataset, train), CaseSet(dataset, val), context(TASK, tmp_path))


# -- the real thing -------------------------------------------------------------------------
def test_bench_run_trains_and_scores_nnunet_on_the_smoke_profile(smoke_thigh, tmp_path):
    pytest.importorskip("nnunetv2")
    db = tmp_path / "results.duckdb"
    result = CliRunner().invoke(
        app,
        ["run", "--task", TASK, "--model", "nnunet", "--profile", "smoke", "--max-epochs", "1",
         "--device", "cpu", "--db", str(db)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _, _, _, test = fold_cases(smoke_thigh)
    task = get_task(TASK)
    with duckdb.connect(str(db), read_only=True) as con:
        status, config = con.execute("select status, config from runs").fetchone()
        epochs, images_per_s = con.execute(
            "select epochs, train_images_per_s from folds"
        ).fetchone()
        rows = con.execute(
            "select case_id, structure, value from case_metrics "
            "where metric = 'dice' and split = 'test'"
        ).fetchall()
    assert status == "finished" and epochs == 1 and images_per_s > 0
    assert json.loads(config)["hyperparameters"]["configuration"] == "2d"
    assert {r[0] for r in rows} == set(test)
    assert len(rows) == len(test) * len(task.structure_names)
    assert all(0.0 <= r[2] <= 1.0 for r in rows)  # a missed structure scores 0, not NaN
    assert not (tmp_path / "work").exists()  # checkpoints dropped once the fold is stored


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_the_driver_stops_when_the_harness_process_is_killed(tmp_path):
    """A killed ``bench run`` (SIGKILL: no clean-up runs) must not leave nnU-Net training."""
    child = (
        "import time\n"
        "from mskbench.baselines.nnunet.driver import exit_with_parent\n"
        "exit_with_parent(0.1)\n"
        "time.sleep(60)\n"
    )
    parent = (
        "import os, subprocess, sys\n"
        "env = {**os.environ, 'MSKBENCH_PARENT_PID': str(os.getpid())}  # as NnUNet.fit sets it\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], env=env)\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)  # gone without waiting, like a killed process\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60)
    pid = int(out.stdout.split()[0])

    def alive() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state != "Z"

    deadline = time.monotonic() + 20
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive()
