"""Seed 002's baselines and per-case rows: the thresholding algorithm against a hand-made
Otsu, the FI/rCSA/instance rows of the three measurement groups, predictions with masks,
and smoke runs of both baselines through `bench run`, `bench score` and the task tables."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu
from typer.testing import CliRunner

from mskbench.baselines.lumbar import LumbarThreshold, final_thresholds
from mskbench.harness.cli import app
from mskbench.harness.evaluation import case_metric_rows
from mskbench.harness.models import FitContext, Prediction
from mskbench.harness.store import Store
from mskbench.harness.tables import paper_tables
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset
from mskbench.tasks.lumbar.evaluator import evaluate_case
from mskbench.tasks.lumbar.spec import MUSCLE_LABELS

TASK = get_task("lumbar_paraspinal")
runner = CliRunner()


@pytest.fixture(scope="module")
def case(smoke_lumbar):
    dataset = Dataset(smoke_lumbar, TASK)
    return dataset.load(dataset.fold(0).test[0])


def rows_of(frame, metric: str) -> dict[str, float]:
    part = frame[frame["metric"] == metric]
    return dict(zip(part["structure"], part["value"], strict=True))


def test_threshold_model_equals_a_hand_computed_otsu_with_the_outlier_rule(case, tmp_path):
    image = case.image[0]
    primary = {m: threshold_otsu(image[case.label == TASK.labels[m]]) for m in MUSCLE_LABELS}
    values = np.array(list(primary.values()))
    mean, sd = values.mean(), values.std(ddof=1)
    expected = np.zeros(case.label.shape, bool)
    for muscle, t in primary.items():
        if abs(t - mean) > 1.96 * sd:
            t = np.mean([u for m, u in primary.items() if m != muscle])
        roi = case.label == TASK.labels[muscle]
        expected |= roi & (image > t)
    model = LumbarThreshold()
    ctx = FitContext(TASK, TASK.profile("smoke"), "cpu", 0, tmp_path)
    model.fit([], [], ctx)
    prediction = model.predict(case, ctx)
    assert prediction.label is None  # the seed's "manual segmentation" group
    assert np.array_equal(prediction.masks["fat"], expected)
    assert 0 < expected.sum() < np.isin(case.label, [TASK.labels[m] for m in MUSCLE_LABELS]).sum()


def test_a_threshold_outside_mean_196_sd_becomes_the_mean_of_the_others():
    primary = {v: float(10 + v) for v in range(1, 10)} | {10: 100.0}
    final = final_thresholds(primary)
    assert final[10] == pytest.approx(np.mean([11 + i for i in range(9)]))
    assert {v: final[v] for v in range(1, 10)} == {v: primary[v] for v in range(1, 10)}


def test_on_network_rois_the_threshold_is_taken_inside_the_predicted_muscles(case, tmp_path):
    class Segmenter:  # a stand-in Seg model that predicts the reference with MF_L missing
        def predict_probabilities(self, c):
            label = np.where(c.label == TASK.labels["MF_L"], 0, c.label)
            return np.eye(len(TASK.labels), dtype=np.float32)[label].transpose(2, 0, 1)

    model = LumbarThreshold(rois="network")
    ctx = FitContext(TASK, TASK.profile("smoke"), "cpu", 0, tmp_path)
    model.muscles_ = [TASK.labels[m] for m in MUSCLE_LABELS]
    model.segmenter_ = Segmenter()
    prediction = model.predict(case, ctx)
    assert prediction.label is not None and not (prediction.label == TASK.labels["MF_L"]).any()
    assert not prediction.masks["fat"][case.label == TASK.labels["MF_L"]].any()
    assert prediction.masks["fat"].any()
    with pytest.raises(ValueError, match="rois 'manual' is not one of"):
        LumbarThreshold(rois="manual")


def test_the_fat_model_loss_is_a_focal_loss_with_gamma_5_over_muscle_pixels_only():
    import torch

    from mskbench.baselines.lumbar_dual import FAT, IGNORE, MUSCLE, MaskedFocalLoss

    logits = torch.tensor([[[[2.0, -1.0, 0.5, 3.0]]]])
    target = torch.tensor([[[[FAT, MUSCLE, FAT, IGNORE]]]])
    p = torch.sigmoid(logits[0, 0, 0, :3])
    p_t = torch.stack([p[0], 1 - p[1], p[2]])
    expected = (-((1 - p_t) ** 5) * torch.log(p_t)).mean()
    assert float(MaskedFocalLoss(5.0)(logits, target)) == pytest.approx(float(expected), rel=1e-5)


def test_a_perfect_prediction_has_no_error_in_any_group(case):
    rows = evaluate_case(TASK, case, Prediction(label=case.label, masks={"fat": case.masks["fat"]}))
    for metric in ("rcsa_ape", "rcsa_se", "fi_ape", "fi_se", "fi_refseg_ape", "fi_refseg_se"):
        assert set(rows_of(rows, metric)) == set(MUSCLE_LABELS)
        assert max(rows_of(rows, metric).values()) == pytest.approx(0.0, abs=1e-9), metric
    assert set(rows_of(rows, "instance_recall").values()) == {1.0}
    assert set(rows_of(rows, "pred_instance_1_tp").values()) == {1.0}
    fi = rows_of(rows, "fi_ref")
    assert all(0.0 < v < 0.6 for v in fi.values())


def test_a_fat_only_prediction_is_measured_on_the_reference_muscles(case):
    fat = ndimage.binary_dilation(case.masks["fat"])
    rows = case_metric_rows(TASK, case, Prediction(label=None, masks={"fat": fat}), "test")
    assert "dice" not in set(rows["metric"]) and "rcsa_ape" not in set(rows["metric"])
    assert rows_of(rows, "fi_pred") == rows_of(rows, "fi_refseg")
    assert rows_of(rows, "sensitivity") == {"fat": 1.0}
    assert rows_of(rows, "ppv")["fat"] < 1.0
    counts = {m: rows_of(rows, m)["fat"] for m in ("tp", "fp", "fn", "tn")}
    muscle = np.isin(case.label, [TASK.labels[m] for m in MUSCLE_LABELS])
    assert sum(counts.values()) == muscle.sum() and counts["fn"] == 0


def test_fat_next_to_a_leaky_muscle_mask_inflates_only_the_seg_model_group(case):
    leaky = case.label.copy()
    grown = ndimage.grey_dilation(
        case.label * np.isin(case.label, [TASK.labels[m] for m in MUSCLE_LABELS]), size=3
    )
    leaky[(case.label == 0) & (grown > 0)] = grown[(case.label == 0) & (grown > 0)]
    fat = case.masks["fat"] | ((leaky != case.label) & (case.image[0] > np.median(case.image[0])))
    rows = evaluate_case(TASK, case, Prediction(label=leaky, masks={"fat": fat}))
    fi_ref, fi_pred, fi_refseg = (rows_of(rows, m) for m in ("fi_ref", "fi_pred", "fi_refseg"))
    assert fi_refseg == pytest.approx(fi_ref)  # manual seg + fat: the outside fat is not counted
    assert np.mean([fi_pred[m] - fi_ref[m] for m in MUSCLE_LABELS]) > 0.02


def test_a_missed_muscle_counts_as_fi_zero_and_rcsa_zero(case):
    label = case.label.copy()
    label[label == TASK.labels["MF_L"]] = 0
    rows = evaluate_case(TASK, case, Prediction(label=label, masks={"fat": case.masks["fat"]}))
    assert rows_of(rows, "fi_pred")["MF_L"] == 0.0
    assert rows_of(rows, "fi_ape")["MF_L"] == pytest.approx(100.0)
    assert rows_of(rows, "rcsa_ape")["MF_L"] == pytest.approx(100.0)
    assert rows_of(rows, "instance_recall")["MF_L"] == 0.0


@pytest.mark.parametrize(
    ("prediction", "message"),
    [
        (lambda c: Prediction(label=None), "holds no label map, mask or case score"),
        (lambda c: Prediction(label=c.label, masks={"fatty": c.masks["fat"]}), r"mask\(s\) \['fatty'\] are not masks"),
        (lambda c: Prediction(label=c.label, masks={"fat": c.masks["fat"][:-1]}), "predicted mask 'fat' has shape"),
        (lambda c: Prediction(label=c.label * 0 + 99), r"label value\(s\) \[99\] are not in the label map"),
        (lambda c: Prediction(label=c.label, masks={"fat": c.masks["fat"] * 2}), "mask 'fat' holds values other than 0 and 1"),
        (lambda c: Prediction(label=c.label, masks={"fat": c.masks["fat"]},
                              mask_probabilities={"fat": c.masks["fat"] * 1.5}), "must be finite and in \\[0, 1\\]"),
        (lambda c: Prediction(label=c.label, scores={"fat": 0.5}), "not classification targets"),
    ],
)  # fmt: skip
def test_a_prediction_that_does_not_fit_the_task_is_refused(case, prediction, message):
    with pytest.raises(ValueError, match=message):
        case_metric_rows(TASK, case, prediction(case), "test")


def bench(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_smoke_runs_of_both_baselines_store_the_three_groups(smoke_lumbar, tmp_path):
    db = tmp_path / "results" / "lumbar.duckdb"
    for model in ("lumbar_threshold", "lumbar_dual"):
        result = bench("run", "--task", "lumbar_paraspinal", "--model", model, "--profile",
                       "smoke", "--db", str(db), "--device", "cpu", "--max-epochs", "1")  # fmt: skip
        assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        per_model = dict(
            con.execute(
                "select r.model, list(distinct m.metric) from case_metrics m join runs r "
                "using (run_id) group by r.model"
            ).fetchall()
        )
        n_cases = con.execute(
            "select r.model, m.split, count(distinct case_id) from case_metrics m "
            "join runs r using (run_id) group by all order by all"
        ).fetchall()
        paths = [p for (p,) in con.execute("select path from predictions").fetchall()]
    assert {"fi_refseg_ape", "fi_ape", "sensitivity", "kappa"} <= set(per_model["lumbar_threshold"])
    assert "dice" not in per_model["lumbar_threshold"]
    assert {"dice", "instance_recall", "rcsa_ape", "fi_ape", "fi_refseg_ape", "auroc"} <= set(
        per_model["lumbar_dual"]
    )
    assert n_cases == [("lumbar_dual", "external", 6), ("lumbar_dual", "test", 9),
                       ("lumbar_threshold", "external", 6), ("lumbar_threshold", "test", 9)]  # fmt: skip
    assert sum(p.endswith("_fat.nii.gz") for p in paths) == 15  # the threshold model's files
    found = paper_tables(Store(db), TASK, "smoke", "test")
    assert len(found) == 4
    table2, table3, table4, table5 = found.values()
    assert "lumbar_dual DSC" in table2 and "seed 002 Seg model DSC" in table2
    assert list(table3["Model"]) == ["lumbar_threshold", "lumbar_dual", "seed 002 FI model"]
    assert set(table4["Measured by"]) >= {"reference", "lumbar_dual", "seed 002 Seg model"}
    for column in ("manual seg + lumbar_threshold: MAPE (%)", "manual seg + lumbar_dual: MAPE (%)",
                   "lumbar_dual seg + fat: MAPE (%)", "seed 002 thresholding: MAPE (%)"):  # fmt: skip
        assert column in table5
    printed = bench("results", "--task", "lumbar_paraspinal", "--tables", "--split", "external",
                    "--format", "markdown", "--db", str(db))  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert printed.output.count("### Table ") == 4 and "external split" in printed.output
    (published,) = [
        ln for ln in printed.output.splitlines() if ln.startswith("| seed 002 FI model")
    ]
    assert "published, other data" in published and "| 89.42 " in published  # Table 3 recall
    refused = runner.invoke(app, ["results", "--task", "nmd_thigh", "--tables", "--db", str(db)])
    assert refused.exit_code == 2 and "task nmd_thigh has no paper tables" in refused.output
    # the run's predictions folder is a valid `bench score` submission (labels + fat masks)
    folder = next(p for p in paths if not p.endswith("_fat.nii.gz")).rsplit("/", 1)[0]
    scored = bench("score", "--task", "lumbar_paraspinal", "--data", str(smoke_lumbar),
                   "--predictions", folder, "--name", "rescored", "--db", str(db))  # fmt: skip
    assert scored.exit_code == 0, scored.output
