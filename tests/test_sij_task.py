"""Seed 004's two tasks: the protocol (4-fold CV + external site for FM; a stratified
455/64/129 holdout + external site for axSpA), the seed's published Tables 2–5, the
phantom folders validating, smoke runs of the threshold floor and the generic U-Nets, and
the paper's tables from the stored rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_leaderboard_app import DSC, frame_with
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.tasks import get_task
from mskbench.tasks.contract.splits import make_splits
from mskbench.tasks.phantoms import prepare_phantom

runner = CliRunner()
FM, AXSPA = "sij_fat_metaplasia", "sij_axspa"


def test_the_fm_task_is_a_3d_t1_label_map_with_4_folds_and_site_b_external():
    task = get_task(FM)
    assert task.labels == {"background": 0, "FM": 1} and task.spatial_dims == 3
    assert task.channels == ("T1w",)
    assert (task.split.kind, task.split.n_folds, task.split.external_site) == ("kfold", 4, "B")
    assert set(task.metrics) == {"dice", "precision", "recall", "hd95"}
    assert task.profile("paper").phantom["n_subjects"] == 103
    assert task.profile("paper").phantom["n_external"] == 20


def test_the_axspa_task_is_a_stratified_455_64_129_holdout_with_fm_labels():
    task = get_task(AXSPA)
    split = task.split
    assert (split.kind, split.stratify_by, split.external_site) == ("holdout", "axspa", "B")
    assert round(split.test_fraction * 648) == 129
    assert round(split.val_fraction * (648 - 129)) == 64
    assert task.labels == {"background": 0, "FM": 1}  # training labels for a two-stage model
    assert task.target("axspa").kind == "binary" and task.primary_metric == "auroc"
    assert (
        task.profile("paper").phantom["n_subjects"],
        task.profile("paper").phantom["n_external"],
    ) == (648, 58)


def test_the_holdout_test_set_keeps_the_seeds_class_shares():
    task = get_task(AXSPA)
    ids = [f"a{i:03d}" for i in range(648)] + [f"b{i:03d}" for i in range(58)]
    labels = ["1"] * 462 + ["0"] * 186 + ["1"] * 37 + ["0"] * 21
    cases = pd.DataFrame({"case_id": ids, "subject_id": ids, "site": ["A"] * 648 + ["B"] * 58,
                          "axspa": labels})  # fmt: skip
    splits = make_splits(task, cases, seed=0)
    (fold,) = splits.folds
    test = cases.set_index("case_id").loc[list(fold.test)]
    assert len(fold.test) == 129 and len(fold.train) == 519
    assert (test["axspa"] == "1").sum() == 92  # 462 · 129/648, rounded per class
    assert len(splits.external) == 58 and not set(fold.test) & set(splits.external)


def test_published_numbers_are_tables_2_to_5_as_other_data():
    fm, ax = get_task(FM), get_task(AXSPA)
    dice = {(p.model, p.group): p for p in fm.published if p.metric == "dice"}
    assert len({m for m, _ in dice}) == 10  # six networks + four reader rows
    assert dice[("sij_attention25d", "test")].value == pytest.approx(0.8186)
    assert dice[("sij_attention25d", "external")].sd == pytest.approx(0.0609)
    assert dice[("unetr", "external")].value == pytest.approx(0.5781)
    auc = {(p.model, p.group): p for p in ax.published if p.metric == "auroc"}
    assert auc[("sij_two_stage", "test")].ci_low == pytest.approx(0.811)
    assert auc[("sij_two_stage", "external")].n == 58
    kappa = [p for p in ax.published if p.metric == "kappa" and p.model == "expert_assisted"]
    assert kappa[0].value == pytest.approx(0.596)
    assert all(p.note == "published, other data" for p in (*fm.published, *ax.published))


@pytest.fixture(scope="module")
def smoke_dirs(isolated_cache):
    return {name: prepare_phantom(get_task(name), "smoke", seed=0)[0] for name in (FM, AXSPA)}


def test_both_smoke_phantoms_validate_with_frozen_subject_grouped_splits(smoke_dirs):
    for name, root in smoke_dirs.items():
        result = runner.invoke(app, ["data", "validate", str(root), "--task", name])
        assert result.exit_code == 0, result.output
        splits = json.loads((root / "splits.json").read_text())
        cases = pd.read_csv(root / "cases.csv", dtype=str)
        external = set(cases.loc[cases["site"] == "B", "case_id"])
        assert set(splits["external"]) == external
        tests = [c for f in splits["folds"] for c in f["test"]]
        assert len(tests) == len(set(tests))
    fm_folds = json.loads((smoke_dirs[FM] / "splits.json").read_text())["folds"]
    assert len(fm_folds) == 4


def test_data_show_draws_a_slice_with_the_fm_contour(smoke_dirs, tmp_path):
    out = tmp_path / "case.png"
    result = runner.invoke(app, ["data", "show", str(smoke_dirs[FM]), "--case", "a001",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


@pytest.fixture(scope="module")
def db(tmp_path_factory, smoke_dirs) -> str:
    path = tmp_path_factory.mktemp("sij") / "results.duckdb"
    args = ["run", "--task", FM, "--model", "sij_threshold", "--profile", "smoke",
            "--db", str(path), "--device", "cpu"]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(path)


def test_the_threshold_floor_runs_and_stays_far_below_the_networks(db):
    from mskbench.harness.store import Store

    rows = Store(db).query(
        "SELECT m.value FROM case_metrics m JOIN runs r USING (run_id) "
        "WHERE r.model = 'sij_threshold' AND m.metric = 'dice' AND m.structure = 'FM'"
    )
    assert len(rows) > 0
    assert float(rows["value"].mean()) < 0.35  # seed networks: 0.74–0.82 internal


def test_results_print_table_2_with_the_seeds_rows_beside_ours(db):
    for split in ("test", "external"):
        result = runner.invoke(app, ["results", "--task", FM, "--profile", "smoke", "--db", db,
                                     "--split", split, "--tables"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Table 2" in result.output and "sij_threshold" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("model", ["unet3d", "unet2d"])
def test_the_generic_unets_run_on_the_fm_task(db, model):
    args = ["run", "--task", FM, "--model", model, "--profile", "smoke", "--db", db,
            "--device", "cpu"]  # fmt: skip
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_the_axspa_task_runs_a_case_classifier_and_prints_table_4(smoke_dirs, tmp_path):
    path = str(tmp_path / "r.duckdb")
    plugin = tmp_path / "sij_mean.py"
    plugin.write_text(_PLUGIN)
    model = f"{plugin}:SijMeanClassifier"
    args = ["run", "--task", AXSPA, "--model", model, "--profile", "smoke", "--db", path]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["results", "--task", AXSPA, "--profile", "smoke", "--db", path,
                                 "--tables"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Tables 4–5" in result.output
    at = _leaderboard(path, AXSPA)
    ours = frame_with(at, "AUROC").set_index("Model")
    assert "sij_mean:SijMeanClassifier" in ours.index  # ours, beside Table 4's rows
    assert "published, other data" in set(ours["Source"])


def _leaderboard(db: str, task: str):
    """The leaderboard's Overview of ``task`` on ``db``, run by Streamlit's AppTest."""
    import sys

    from streamlit.testing.v1 import AppTest
    from test_leaderboard_app import APP, TIMEOUT_S

    argv = sys.argv
    sys.argv = ["app.py", "--db", db]
    try:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        at.session_state["task"] = task
        at.session_state["page"] = "Overview"
        at.run()
    finally:
        sys.argv = argv
    assert not at.exception, at.exception
    return at


def test_the_leaderboard_shows_the_fm_task_with_the_seeds_rows(db):
    table = frame_with(_leaderboard(db, FM), DSC)
    assert "sij_threshold" in set(table["Model"])
    assert {"sij_attention25d", "unetr"} <= set(table["Model"])  # Table 2, published


#: A cheap case classifier for the task's plumbing (the shipped `sij_two_stage` trains two
#: segmenters first: tests/test_sij_two_stage.py): a logistic regression on the volume's
#: intensity percentiles.
_PLUGIN = """
import numpy as np
from sklearn.linear_model import LogisticRegression
from mskbench.harness.models import FitReport, Prediction


def features(case):
    return np.percentile(case.image, [50, 90, 99])


class SijMeanClassifier:
    tasks = ("sij_axspa",)
    description = "test: logistic regression on intensity percentiles"
    hyperparameters = {}

    def get_params(self):
        return {}

    def fit(self, train, val, ctx):
        x = np.stack([features(c) for c in train])
        y = np.array([int(c.targets["axspa"]) for c in train])
        self.model_ = LogisticRegression(max_iter=1000).fit(x, y)
        return FitReport(epochs=1, best_epoch=1)

    def predict(self, case, ctx):
        p = self.model_.predict_proba(features(case)[None])[0, 1]
        return Prediction(scores={"axspa": float(p)})
"""


def test_table_2_pairs_patients_and_keeps_small_p_values_against_pingouin():
    import numpy as np
    import pingouin as pg

    from mskbench.tasks.results import StoredResults
    from mskbench.tasks.sij.tables import table2

    rng = np.random.default_rng(4)
    reference = rng.uniform(0.6, 0.9, 16)
    other = reference - rng.uniform(0.08, 0.12, 16)  # worse on every patient: tiny p
    rows = [
        {"model": model, "case_id": f"a{i:03d}", "fold": 0, "structure": "FM", "metric": metric,
         "value": value if metric == "dice" else 0.5}
        for model, dice in (("sij_attention25d", reference), ("attention_unet", other))
        for i, value in enumerate(dice)
        for metric in ("dice", "precision", "recall", "hd95", "assd")
    ]  # fmt: skip
    results = StoredResults("quick", "test", pd.DataFrame(), pd.DataFrame(rows),
                            pd.DataFrame(), pd.DataFrame())  # fmt: skip
    table = table2(get_task(FM), results)
    table = table[table["source"] == "quick"].set_index("model")  # not the seed's rows
    p = table.loc["attention_unet", "p_vs_2.5d"]
    expected = pg.ttest(other, reference, paired=True)["p_val"].item()
    assert p < 1e-4 and p == pytest.approx(expected, rel=1e-2, abs=0)  # 3 digits
    assert table.loc["attention_unet", "dice"] == pytest.approx(other.mean(), abs=1e-4)


def test_table_2_counts_a_site_b_patient_once_with_its_mean_over_the_fold_models():
    from mskbench.tasks.results import StoredResults
    from mskbench.tasks.sij.tables import table2

    rows = [
        {"model": "unet2d", "case_id": case, "fold": fold, "structure": "FM",
         "metric": metric, "value": dice if metric == "dice" else 0.5}
        for case, fold, dice in (("b001", 0, 0.2), ("b001", 1, 0.6), ("b002", 0, 0.9),
                                 ("b002", 1, 0.7))
        for metric in ("dice", "precision", "recall", "hd95", "assd")
    ]  # fmt: skip
    missed = {"model": "unet2d", "case_id": "b001", "fold": 0, "structure": "FM"}
    distances = ("hd95", "assd")
    rows = [r for r in rows if not (r.items() >= missed.items() and r["metric"] in distances)]
    rows += [missed | {"metric": m, "value": float("nan")} for m in distances]  # fold 0 missed
    rows += [missed | {"metric": "absent", "value": 1.0},  # b001, as the store flags it
             missed | {"metric": "image_diagonal_mm", "value": 200.0}]  # fmt: skip
    results = StoredResults("quick", "external", pd.DataFrame(), pd.DataFrame(rows),
                            pd.DataFrame(), pd.DataFrame())  # fmt: skip
    table = table2(get_task(FM), results)
    ours = table[table["source"] == "quick"].set_index("model").loc["unet2d"]
    assert ours["n"] == 2  # two patients, not four (patient, fold) rows
    assert ours["dice"] == pytest.approx((0.4 + 0.8) / 2)  # b001: 0.4, b002: 0.8
    # the miss counts as its volume's diagonal: b001 (200 + 0.5) / 2, b002 0.5
    assert ours["hd95_mm"] == pytest.approx(((200 + 0.5) / 2 + 0.5) / 2, abs=1e-3)
