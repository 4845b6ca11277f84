"""Each seed-003 network trains and predicts through `bench run`'s runner on both NMD tasks
(smoke profile: fold 0, 2 epochs, CPU) and every test structure gets its metrics."""

from __future__ import annotations

import duckdb
import pytest

from mskbench.harness.models import get_model_card
from mskbench.harness.runner import RunRequest, run
from mskbench.tasks import get_task


@pytest.mark.parametrize("task", ["nmd_thigh", "nmd_leg"])
@pytest.mark.parametrize("network", ["unet2d", "unet3d", "transunet", "hrnet"])
def test_network_runs_end_to_end_on_the_smoke_profile(network, task, request, tmp_path):
    request.getfixturevalue("smoke_thigh" if task == "nmd_thigh" else "smoke_leg")
    db = tmp_path / "results.duckdb"
    outcome = run(RunRequest(task=task, model=network, profile="smoke", db=db, device="cpu"))
    assert outcome.folds_run == [0]
    spec = get_task(task)
    with duckdb.connect(str(db), read_only=True) as con:
        status, config = con.execute("select status, config from runs").fetchone()
        structures = {
            r[0]
            for r in con.execute(
                "select distinct structure from case_metrics where metric = 'dice'"
            ).fetchall()
        }
        epochs, images_per_s = con.execute(
            "select epochs, train_images_per_s from folds"
        ).fetchone()
    assert status == "finished"
    assert structures == set(spec.structure_names)
    assert epochs == spec.profile("smoke").max_epochs and images_per_s > 0
    assert f'"network": "{network}"' in config and '"loss": "dice"' in config


def test_baseline_cards_carry_the_seeds_training_setup():
    for network in ("unet2d", "unet3d", "transunet", "hrnet"):
        card = get_model_card(network)
        assert card.hyperparameters["loss"] == "dice" and card.hyperparameters["lr"] == 1e-3
        assert card.supports(get_task("nmd_thigh")) and card.supports(get_task("nmd_leg"))
    assert get_model_card("unet3d").hyperparameters["mode"] == "3d"


def test_a_3d_network_is_not_offered_for_slices_or_for_a_task_without_a_label_map():
    lumbar, toy = get_task("lumbar_paraspinal"), get_task("toy_binary")
    assert get_model_card("unet2d").supports(lumbar) and not get_model_card("unet3d").supports(
        lumbar
    )
    assert not get_model_card("unet2d").supports(toy)
    assert get_model_card("unet3d").describe_tasks() == "any 3D segmentation task"
    with pytest.raises(ValueError, match="runs on any 3D segmentation task, not on 'lumbar"):
        run(RunRequest(task="lumbar_paraspinal", model="unet3d", profile="smoke"))
