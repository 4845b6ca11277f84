"""The leaderboard on a classification task: the Overview's per-target table with the
declared CIs, ROC curves of both models and a confusion table; the Compare page's DeLong
test; every other page draws a note instead of failing; and headless Chromium sees the ROC
chart."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from streamlit.testing.v1 import AppTest
from test_classification_tasks import PLUGIN, bench, scores
from test_leaderboard_app import APP, TIMEOUT_S, frame_with, texts
from test_leaderboard_browser import (
    CHROMIUM,
    WAIT_MS,
    browser_page,
    leaderboard,
    settle,
    show,
    sync_playwright,
)

from mskbench.harness.stats import delong_test

if sync_playwright is not None:
    from playwright.sync_api import expect


@pytest.fixture(scope="module")
def db(tmp_path_factory, toy_binary, toy_grades) -> Path:
    """toy_binary: the tiny classifier and a noisier copy of its scores (`bench score`);
    toy_grades: the classifier."""
    root = tmp_path_factory.mktemp("leaderboard-toy")
    path = root / "results.duckdb"
    for task in ("toy_binary", "toy_grades"):
        result = bench("run", "--task", task, "--model", PLUGIN, "--profile", "smoke", "--db", path)
        assert result.exit_code == 0, result.output
    s = scores(path, "toy_binary")
    noisy = np.clip(s["score"] + np.random.default_rng(0).normal(0, 0.3, len(s)), 0, 1)
    csv = root / "noisy.csv"
    pd.DataFrame({"case_id": s["case_id"], "target": "lesion", "score": noisy}).to_csv(
        csv, index=False
    )
    result = bench("score", "--task", "toy_binary", "--data", toy_binary, "--scores", csv,
                   "--name", "noisy", "--db", path)  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def app(db: Path, monkeypatch: pytest.MonkeyPatch):
    """``app(task, page)``: an AppTest of the leaderboard on ``db`` showing ``page``."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])

    def open_page(task: str, page: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        at.session_state["task"] = task
        at.session_state["page"] = page
        at.run()
        assert not at.exception, at.exception
        return at

    return open_page


def test_overview_shows_each_target_with_its_declared_ci_roc_and_confusion(db, app):
    at = app("toy_binary", "Overview")
    table = frame_with(at, "AUROC").set_index("Model")
    assert table.loc["paper_cnn", "Source"] == "published, other data"  # the paper, beside
    assert table.loc["paper_cnn", "AUROC"] == "0.910 [0.850, 0.970]"
    table = table[table["Source"] != "published, other data"]
    assert set(table.index) == {"classifier:MeanClassifier", "noisy"}
    s = scores(db, "toy_binary")
    for model, part in s.groupby("model"):
        expected = roc_auc_score(part["reference"].astype(int), part["score"])
        assert table.loc[model, "AUROC"].startswith(f"{expected:.3f} [")
    assert "BCa bootstrap over 36 cases" in texts(at)
    assert len(at.get("vega_lite_chart")) == 2  # ROC curves, confusion heat map
    confusion = frame_with(at, "positive")
    assert confusion["n"].sum() == 36 and list(confusion["reference"]) == ["0", "1"]


def test_ordinal_overview_keeps_the_excluded_grade_in_the_confusion_table(app):
    at = app("toy_grades", "Overview")
    assert "QWK" in frame_with(at, "QWK").columns
    severe = [d.value for d in at.dataframe if "positive" in d.value.columns]
    assert severe and list(severe[0]["reference"]) == ["0", "1", "2", "3"]  # grade 1 kept
    assert "t over 3 folds" in texts(at)


def test_compare_page_runs_the_delong_test_on_the_shared_cases(db, app):
    at = app("toy_binary", "Compare two models")
    table = frame_with(at, "AUROC A").iloc[0]
    s = scores(db, "toy_binary").sort_values(["fold", "case_id"])
    by_model = {m: part.set_index(["fold", "case_id"])["score"] for m, part in s.groupby("model")}
    y = s.drop_duplicates(["fold", "case_id"]).set_index(["fold", "case_id"])["reference"]
    a, b = (by_model[m].loc[y.index] for m in ("classifier:MeanClassifier", "noisy"))
    expected = delong_test(y.astype(int).to_numpy(), a.to_numpy(), b.to_numpy())
    assert table["n"] == 36
    assert (table["AUROC A"], table["AUROC B"]) == pytest.approx((expected.auc_a, expected.auc_b))
    assert table["p"] == pytest.approx(expected.p_value)


@pytest.mark.parametrize(
    "page",
    ["Fat infiltration strata", "Bland–Altman", "Per structure", "Paper tables", "Case viewer",
     "Runs"],
)  # fmt: skip
def test_segmentation_pages_explain_a_task_without_a_label_map(app, page):
    at = app("toy_binary", page)
    assert texts(at)  # a header and a note, no exception (checked by the fixture)


@pytest.mark.browser
@pytest.mark.skipif(sync_playwright is None, reason="needs playwright (pip install -e '.[dev]')")
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_chromium_draws_the_roc_chart_of_a_classification_task(db, tmp_path):
    with leaderboard(db, tmp_path / "server.log") as url, browser_page() as page:
        page.goto(f"{url}/?task=toy_binary")
        settle(page, "Confusion table of")
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2, timeout=WAIT_MS)
        chart = page.get_by_test_id("stVegaLiteChart").first
        expect(chart.locator("canvas, svg").first).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=tmp_path / "roc.png", full_page=True)
        show(page, "Compare two models", "DeLong")
        expect(page.get_by_test_id("stException")).to_have_count(0)
    assert (tmp_path / "roc.png").stat().st_size > 10_000
