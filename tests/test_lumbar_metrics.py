"""Every number `lumbar_paraspinal` reports, checked against an independent library on the
same inputs: DSC against medpy; fat-pixel recall, specificity, precision, F1, kappa and AUC
against scikit-learn (per case and pooled as in Table 3); instance recall and AP at IoU 0.75
against skimage components, scikit-learn IoU and scikit-learn's precision–recall curve
(Table 2); rCSA and FI MAPE / MSE against scikit-learn (Tables 4 and 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from medpy.metric.binary import dc
from scipy import ndimage
from skimage.measure import label as connected
from sklearn.metrics import (
    cohen_kappa_score,
    f1_score,
    jaccard_score,
    mean_absolute_percentage_error,
    mean_squared_error,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mskbench.harness.evaluation import case_metric_rows
from mskbench.harness.metrics.instances import structure_of
from mskbench.harness.models import Prediction
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset
from mskbench.tasks.lumbar.spec import MUSCLE_LABELS, TABLE2_STRUCTURES
from mskbench.tasks.lumbar.tables import table2, table3

TASK = get_task("lumbar_paraspinal")
MUSCLE_VALUES = [TASK.labels[m] for m in MUSCLE_LABELS]


def imperfect_prediction(case, rng: np.random.Generator) -> Prediction:
    """A prediction with every kind of error: a muscle shrunk below IoU 0.75, one grown into
    its neighbours, a spurious blob, noisy softmax scores, and a noisy fat probability."""
    label = case.label.copy()
    shrunk, grown = rng.choice(MUSCLE_VALUES, 2, replace=False)
    label[(label == shrunk) & ~ndimage.binary_erosion(label == shrunk, iterations=2)] = 0
    label[ndimage.binary_dilation(label == grown, iterations=1) & (case.label == 0)] = grown
    y, x = rng.integers(5, label.shape[0] - 5, 2)
    label[y - 1 : y + 2, x - 1 : x + 2] = rng.choice(MUSCLE_VALUES)
    one_hot = np.eye(len(TASK.labels), dtype=np.float32)[label].transpose(2, 0, 1)
    logits = 4.0 * one_hot + rng.normal(0, 1.0, one_hot.shape).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(0)
    fat_p = np.clip(0.45 * case.masks["fat"] + 0.6 * rng.random(label.shape), 0, 1)
    return Prediction(
        label=probabilities.argmax(0).astype(np.uint8),
        probabilities=probabilities.astype(np.float32),
        masks={"fat": fat_p >= 0.5},
        mask_probabilities={"fat": fat_p.astype(np.float32)},
    )


@pytest.fixture(scope="module")
def scored(smoke_lumbar):
    """(case, prediction, rows) of every internal test case of the smoke phantom."""
    dataset = Dataset(smoke_lumbar, TASK)
    rng = np.random.default_rng(0)
    out = []
    for case_id in dataset.fold(0).test:
        case = dataset.load(case_id)
        prediction = imperfect_prediction(case, rng)
        out.append((case, prediction, case_metric_rows(TASK, case, prediction, "test")))
    return out


def value(rows: pd.DataFrame, structure: str, metric: str) -> float:
    (v,) = rows.loc[(rows.structure == structure) & (rows.metric == metric), "value"]
    return float(v)


def test_dsc_of_every_structure_equals_medpy(scored):
    for case, prediction, rows in scored:
        for name in TASK.structure_names:
            v = TASK.labels[name]
            expected = dc(prediction.label == v, case.label == v)
            assert value(rows, name, "dice") == pytest.approx(expected, rel=1e-12), name


def sklearn_fat_scores(truth, call, probability) -> dict[str, float]:
    return {
        "sensitivity": recall_score(truth, call),
        "specificity": recall_score(truth, call, pos_label=0),
        "ppv": precision_score(truth, call),
        "f1": f1_score(truth, call),
        "kappa": cohen_kappa_score(truth, call),
        "auroc": roc_auc_score(truth, probability),
    }


def test_fat_pixel_scores_inside_the_reference_muscles_equal_sklearn(scored):
    for case, prediction, rows in scored:
        inside = np.isin(case.label, MUSCLE_VALUES)
        expected = sklearn_fat_scores(
            case.masks["fat"][inside],
            prediction.masks["fat"][inside],
            prediction.mask_probabilities["fat"][inside],
        )
        ours = {metric: value(rows, "fat", metric) for metric in expected}
        assert ours == pytest.approx(expected, rel=1e-12)


def with_model(scored) -> pd.DataFrame:
    rows = pd.concat([r for _, _, r in scored], ignore_index=True)
    return rows.assign(model="m", level="L3/L4")


def test_table3_pools_pixels_over_cases_like_sklearn_on_the_concatenation(scored):
    inside = [np.isin(c.label, MUSCLE_VALUES) for c, _, _ in scored]
    truth = np.concatenate([c.masks["fat"][i] for (c, _, _), i in zip(scored, inside, strict=True)])
    call = np.concatenate([p.masks["fat"][i] for (_, p, _), i in zip(scored, inside, strict=True)])
    (row,) = table3(TASK, with_model(scored), ["m"], "test").iloc[:1].to_dict("records")
    assert row["Recall (%)"] == f"{100 * recall_score(truth, call):.2f}"
    assert row["Specificity (%)"] == f"{100 * recall_score(truth, call, pos_label=0):.2f}"
    assert row["Precision (%)"] == f"{100 * precision_score(truth, call):.2f}"
    assert row["F1"] == f"{f1_score(truth, call):.2f}"
    assert row["Kappa"] == f"{cohen_kappa_score(truth, call):.2f}"
    per_case_auc = [
        roc_auc_score(c.masks["fat"][i], p.mask_probabilities["fat"][i])
        for (c, p, _), i in zip(scored, inside, strict=True)
    ]
    assert row["AUC"] == f"{np.mean(per_case_auc):.2f}"


def independent_instances(case, prediction) -> pd.DataFrame:
    """Instances by skimage's 8-connected components, IoU by scikit-learn, greedy COCO
    matching by decreasing mean softmax score; one row per predicted or reference instance."""
    rows = []
    for name in TASK.structure_names:
        v = TASK.labels[name]
        ref_ids, pred_ids = (
            connected(case.label == v, connectivity=2),
            connected(prediction.label == v, connectivity=2),
        )
        n_ref, n_pred = ref_ids.max(), pred_ids.max()
        scores = [
            prediction.probabilities[v][pred_ids == p].astype(float).mean()
            for p in range(1, n_pred + 1)
        ]
        matched = set()
        for p in np.argsort(-np.array(scores), kind="stable"):
            ious = [
                jaccard_score((ref_ids == r).ravel(), (pred_ids == p + 1).ravel())
                if r not in matched
                else -1.0
                for r in range(1, n_ref + 1)
            ]
            best = int(np.argmax(ious)) + 1 if ious else 0
            hit = bool(ious) and ious[best - 1] >= 0.75
            matched |= {best} if hit else set()
            rows.append((structure_of(name), "prediction", scores[p], hit))
        rows += [
            (structure_of(name), "reference", np.nan, r in matched) for r in range(1, n_ref + 1)
        ]
    return pd.DataFrame(rows, columns=["structure", "kind", "score", "matched"])


def coco_ap_by_sklearn(scores, tp, n_ref: int) -> float:
    """COCO 101-point AP from scikit-learn's precision–recall curve (recall rescaled to all
    reference instances)."""
    tp = np.asarray(tp, int)
    if not tp.any():
        return 0.0
    precision, recall, _ = precision_recall_curve(tp, scores)
    precision, recall = precision[:-1], recall[:-1] * tp.sum() / n_ref
    return float(
        np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0
                 for r in np.linspace(0, 1, 101)])
    )  # fmt: skip


def test_table2_recall_and_ap_at_iou_075_equal_an_independent_matching(scored):
    instances = pd.concat([independent_instances(c, p) for c, p, _ in scored])
    predicted = instances[instances.kind == "prediction"]
    assert 0 < predicted.matched.sum() < len(predicted)  # hits and false positives
    table = table2(TASK, with_model(scored), ["m"], "test").set_index("Structure")
    aps = []
    for structure in TABLE2_STRUCTURES:
        part = instances[instances.structure == structure]
        ref, pred = part[part.kind == "reference"], part[part.kind == "prediction"]
        aps.append(coco_ap_by_sklearn(pred.score, pred.matched, len(ref)))
        assert table.at[structure, "m Recall (C75, %)"] == f"{100 * ref.matched.mean():.2f}"
        assert table.at[structure, "m AP (C75)"] == f"{aps[-1]:.2f}", structure
    ref = instances[instances.kind == "reference"]
    assert table.at["Total", "m Recall (C75, %)"] == f"{100 * ref.matched.mean():.2f}"
    assert table.at["Total", "m AP (C75)"] == f"{np.mean(aps):.2f}"


def test_rcsa_and_fi_mape_and_mse_equal_sklearn(scored):
    def areas(label, fat, v):
        inside = label == v
        return inside.sum(), (inside & fat).sum()

    for metric, group in (("rcsa", "pred"), ("fi", "pred"), ("fi_refseg", "refseg")):
        reference, predicted, ours_ape, ours_se = [], [], [], []
        for case, prediction, rows in scored:
            fat_ref, fat_pred = case.masks["fat"], prediction.masks["fat"]
            seg = case.label if group == "refseg" else prediction.label
            disc_ref = (case.label == TASK.labels["IVD"]).sum()
            disc_pred = (prediction.label == TASK.labels["IVD"]).sum()
            for name in MUSCLE_LABELS:
                v = TASK.labels[name]
                t_ref, f_ref = areas(case.label, fat_ref, v)
                t_pred, f_pred = areas(seg, fat_pred, v)
                if metric == "rcsa":
                    reference.append(t_ref / disc_ref)
                    predicted.append(t_pred / disc_pred)
                else:
                    reference.append(f_ref / t_ref)
                    predicted.append(f_pred / t_pred if t_pred else 0.0)
                ours_ape.append(value(rows, name, f"{metric}_ape"))
                ours_se.append(value(rows, name, f"{metric}_se"))
        assert np.mean(ours_ape) == pytest.approx(
            100 * mean_absolute_percentage_error(reference, predicted), rel=1e-9
        ), metric
        assert np.mean(ours_se) == pytest.approx(
            mean_squared_error(reference, predicted), rel=1e-9
        ), metric
