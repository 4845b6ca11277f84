"""Seed 001's Table I and the multi-view vs best-single-view comparison, checked against
scikit-learn (AUROC, recall, accuracy) and scipy-free arithmetic on the same scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from mskbench.tasks import get_task
from mskbench.tasks.knee.tables import multiview_vs_single, per_label, table_one
from mskbench.tasks.results import StoredResults

TASK = get_task("knee_mrnet")
LABELS = ("abnormal", "acl", "meniscus")


def _scores(model: str, y: dict[str, np.ndarray], noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for label, truth in y.items():
        score = np.clip(0.5 * truth + 0.25 + rng.normal(0, noise, truth.size), 0, 1)
        rows += [{"run_id": model, "model": model, "fold": 0, "case_id": f"{i:04d}",
                  "target": label, "class": "positive", "score": s, "reference": str(t)}
                 for i, (t, s) in enumerate(zip(truth, score, strict=True))]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        label: (rng.random(120) < p).astype(int)
        for label, p in zip(LABELS, (0.8, 0.45, 0.43), strict=True)
    }


@pytest.fixture(scope="module")
def scores(truth) -> pd.DataFrame:
    parts = [_scores("mrnet_resnet18", truth, 0.25, 1)]
    parts += [_scores(f"mrnet_resnet18_{p}", truth, n, s)
              for p, n, s in (("sagittal", 0.35, 2), ("coronal", 0.6, 3), ("axial", 0.5, 4))]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_table_one_matches_scikit_learn_per_label_and_averages_the_labels(scores, truth):
    table = per_label(TASK, scores).set_index(["model", "label"])
    for label in LABELS:
        rows = scores[(scores["model"] == "mrnet_resnet18") & (scores["target"] == label)]
        call = rows["score"] >= 0.5
        got = table.loc[("mrnet_resnet18", label)]
        assert got["auroc"] == pytest.approx(roc_auc_score(truth[label], rows["score"]))
        assert got["sensitivity"] == pytest.approx(recall_score(truth[label], call))
        assert got["specificity"] == pytest.approx(recall_score(truth[label], call, pos_label=0))
        assert got["accuracy"] == pytest.approx(accuracy_score(truth[label], call))
    mean = table.loc[("mrnet_resnet18", "average")]
    labels = table.loc["mrnet_resnet18"].drop("average")
    assert mean["auroc"] == pytest.approx(labels["auroc"].mean())
    assert list(table.loc["mrnet_resnet18"].index) == [*LABELS, "average"]


def test_table_one_puts_the_seeds_numbers_beside_ours(scores):
    results = StoredResults("quick", "test", pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), scores)
    table = table_one(TASK, results)
    published = table[table["source"] == "published, other data"].set_index(["model", "label"])
    assert published.loc[("mrnet_alexnet", "acl"), "auroc"] == 0.9388
    assert published.loc[("mrnet_resnet18_single_view", "average"), "accuracy"] == 0.7537
    assert set(table.loc[table["source"] == "quick", "model"]) == {
        "mrnet_resnet18",
        *(f"mrnet_resnet18_{p}" for p in ("sagittal", "coronal", "axial")),
    }


def test_multiview_is_compared_with_the_best_single_view(scores, truth):
    table = multiview_vs_single(TASK, scores)
    assert list(table["best_single_view"].unique()) == ["sagittal"]  # the least noisy view
    assert list(table["label"]) == list(LABELS)
    for _, row in table.iterrows():
        multi = scores[(scores["model"] == "mrnet_resnet18") & (scores["target"] == row["label"])]
        expected = roc_auc_score(truth[row["label"]], multi["score"])
        assert row["auroc_multi"] == pytest.approx(expected, abs=5e-5)  # rounded to 4 places
        assert 0.0 <= row["p_delong"] <= 1.0 and row["n"] == 120
    assert (table["auroc_multi"] > table["auroc_single"]).all()


def test_a_label_with_one_class_in_the_test_set_has_no_delong_p(scores):
    one_class = scores.assign(
        reference=np.where(scores["target"] == "acl", "0", scores["reference"])
    )
    table = multiview_vs_single(TASK, one_class).set_index("label")
    assert np.isnan(table.loc["acl", "p_delong"])
    assert not np.isnan(table.loc["meniscus", "p_delong"])
