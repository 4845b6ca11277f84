"""Seed 002's instance recall and AP at IoU 0.75 (COCO 101-point interpolation)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from mskbench.harness.metrics import average_precision, detection_summary, instance_table
from mskbench.harness.metrics.instances import structure_of


def coco_ap_brute_force(scores, tp, n_ref):
    """Independent route: scikit-learn's precision–recall curve at distinct thresholds,
    rescaled to recall over *all* reference instances, then the COCO definition literally:
    mean over r in {0, .01, …, 1} of the max precision at recall >= r."""
    scores, tp = np.asarray(scores, float), np.asarray(tp, int)
    precision, recall, _ = precision_recall_curve(tp, scores)
    precision, recall = precision[:-1], recall[:-1] * tp.sum() / n_ref  # drop sklearn's (0, 1)
    levels = np.linspace(0, 1, 101)
    return np.mean([precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in levels])


@pytest.mark.parametrize("seed", range(5))
def test_ap_equals_the_coco_definition_via_sklearn_curve(seed):
    rng = np.random.default_rng(seed)
    n = 40
    scores = np.round(rng.random(n), 1)  # ties, including in the top-scored group
    tp = rng.random(n) < scores  # confident detections are more often right
    tp[0] = True
    n_ref = int(tp.sum()) + 5  # some references never detected
    assert average_precision(scores, tp, n_ref) == pytest.approx(
        coco_ap_brute_force(scores, tp, n_ref)
    )


def test_ap_of_hand_made_detections():
    # ranked TP, FP, TP with 2 references: precision 1 up to recall .5, 2/3 up to recall 1
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx(
        (51 * 1.0 + 50 * 2 / 3) / 101
    )
    assert average_precision([0.5], [True], 1) == 1.0
    assert average_precision([], [], 3) == 0.0
    assert np.isnan(average_precision([0.5], [False], 0))


def two_sided_case():
    ref = np.zeros((40, 40), np.uint8)
    ref[2:12, 2:12] = 1  # MF left
    ref[2:12, 28:38] = 2  # MF right
    ref[20:30, 5:15] = 3  # PM
    pred = ref.copy()
    pred[2:12, 28:32] = 0  # right MF too small: IoU 0.6 < 0.75
    pred[35:38, 35:38] = 3  # a spurious PM piece
    return ref, pred


def test_left_and_right_structures_pool_into_structure_level_recall():
    ref, pred = two_sided_case()
    labels = {"background": 0, "MF_L": 1, "MF_R": 2, "PM": 3}
    summary = detection_summary(instance_table(ref, pred, labels)).set_index("structure")
    assert summary.loc["MF", "n_reference"] == 2
    assert summary.loc["MF", "instance_recall"] == pytest.approx(0.5)
    assert summary.loc["PM", "instance_recall"] == 1.0
    assert summary.loc["all", "instance_recall"] == pytest.approx(2 / 3)


def test_components_of_one_label_are_separate_instances():
    ref, pred = two_sided_case()
    ref[ref == 2], pred[pred == 2] = 1, 1
    table = instance_table(ref, pred, {"background": 0, "MF": 1, "PM": 3})
    mf = table[(table["label"] == "MF") & (table["kind"] == "reference")]
    assert len(mf) == 2 and mf["matched"].sum() == 1


def test_scores_come_from_mean_probability_and_rank_detections():
    ref, pred = two_sided_case()
    prob = np.full(ref.shape, 0.9)
    prob[35:38, 35:38] = 0.2  # the spurious piece is unconfident
    table = instance_table(ref, pred, {"background": 0, "PM": 3}, {"PM": prob})
    preds = table[table["kind"] == "prediction"].sort_values("score")
    assert preds["score"].tolist() == pytest.approx([0.2, 0.9])
    assert preds["matched"].tolist() == [False, True]
    assert detection_summary(table).set_index("structure").loc["PM", "average_precision"] == 1.0


def test_side_suffixes_are_removed_for_structure_names():
    assert [structure_of(n) for n in ("MF_L", "MF_R", "QL_left", "IVD")] == [
        "MF",
        "MF",
        "QL",
        "IVD",
    ]
