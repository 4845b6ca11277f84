"""Case-level classification end to end: a task with a binary target and no label map, and
one with an ordinal grade (and its binary view) over two series of different grids —
contract, runner, `case_scores`, `bench score --scores`, `bench results` — against
scikit-learn and scipy on the stored probabilities."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from typer.testing import CliRunner

from mskbench.harness.classification import summarize_target
from mskbench.harness.cli import app
from mskbench.harness.evaluation import case_score_rows
from mskbench.harness.report_classification import ci_methods
from mskbench.harness.store import Store
from mskbench.tasks import TaskSpecError, get_task
from mskbench.tasks.case import Prediction
from mskbench.tasks.contract import Dataset, validate_dataset

PLUGIN = str(Path(__file__).resolve().parent / "plugins" / "classifier.py") + ":MeanClassifier"
runner = CliRunner()


def bench(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def scores(db: Path, task: str) -> pd.DataFrame:
    return Store(db).query(
        "SELECT s.*, r.model FROM case_scores s JOIN runs r USING (run_id) "
        "WHERE r.task = ? ORDER BY fold, case_id, class",
        [task],
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory, toy_binary, toy_grades) -> Path:
    """Runs of the tiny classifier on both toy tasks (smoke: every fold)."""
    path = tmp_path_factory.mktemp("toy") / "results.duckdb"
    for task in ("toy_binary", "toy_grades"):
        result = bench("run", "--task", task, "--model", PLUGIN, "--profile", "smoke", "--db", path)
        assert result.exit_code == 0, result.output
    return path


def test_a_task_without_a_label_map_has_no_labels_folder_and_validates(toy_binary):
    assert not (toy_binary / "labelsTr").exists()
    assert validate_dataset(toy_binary, get_task("toy_binary")) == []


def test_two_series_of_different_grids_pass_validation(toy_grades):
    from mskbench.tasks.contract import read_grid

    assert validate_dataset(toy_grades, get_task("toy_grades")) == []
    sagittal, axial = (read_grid(toy_grades / "imagesTr" / f"g000_000{c}.nii.gz") for c in (0, 1))
    assert (sagittal.shape, axial.shape) == ((24, 20), (32, 32))
    assert sagittal.spacing != axial.spacing


def _broken_copy(root: Path, tmp_path: Path, change) -> Path:
    copy = Path(shutil.copytree(root, tmp_path / "data"))
    cases = pd.read_csv(copy / "cases.csv", dtype=str, keep_default_na=False)
    change(cases)
    cases.to_csv(copy / "cases.csv", index=False)
    return copy


@pytest.mark.parametrize(
    ("value", "rule"), [("7", "target-value"), ("2.0", "target-value"), ("", "target-missing")]
)
def test_target_columns_hold_declared_classes(toy_grades, tmp_path, value, rule):
    def change(cases):
        cases.loc[3, "grade"] = value

    copy = _broken_copy(toy_grades, tmp_path, change)
    result = bench("data", "validate", copy, "--task", "toy_grades")
    assert result.exit_code == 2
    assert f"cases.csv: [{rule}] column 'grade' (target grade)" in result.output
    assert "g003" in result.output


def test_runner_stores_probabilities_and_the_reference_class(db):
    binary = scores(db, "toy_binary")
    assert len(binary) == 36 and set(binary["class"]) == {"positive"}  # 3 folds × 12 cases
    assert binary["score"].between(0, 1).all() and set(binary["reference"]) == {"0", "1"}
    grades = scores(db, "toy_grades")
    per_case = grades[grades["target"] == "grade"].groupby(["fold", "case_id"])
    assert per_case.size().eq(4).all() and per_case["score"].sum().sub(1).abs().max() < 1e-9
    severe = grades[grades["target"] == "severe"]
    assert len(severe) == 36 and set(severe["reference"]) == {"0", "1", "2", "3"}
    assert Store(db).query("SELECT count(*) AS n FROM case_metrics")["n"].item() == 0


def _json_rows(db: Path, task: str) -> pd.DataFrame:
    result = bench("results", "--task", task, "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    return pd.DataFrame(json.loads(result.output)["rows"])


def test_bench_results_shows_auroc_with_a_bootstrap_ci_equal_to_sklearn_and_scipy(db):
    text = bench("results", "--task", "toy_binary", "--db", db).output
    assert "AUROC" in text and "BCa bootstrap over 36 cases, 9999 resamples" in text
    assert "Published, other data: Test 2026 (seed non), Table 9." in text
    rows = _json_rows(db, "toy_binary")
    # the paper's number sits beside ours, with its CI and n, marked as other data
    paper = rows[rows["source"] == "published, other data"].iloc[0]
    assert (paper["model"], paper["metric"], paper["value"]) == ("paper_cnn", "auroc", 0.91)
    assert (paper["ci_low"], paper["ci_high"], paper["n"]) == (0.85, 0.97, 120)
    auroc = rows[(rows["metric"] == "auroc") & (rows["source"] == "mskbench")].iloc[0]
    s = scores(db, "toy_binary")
    y, p = s["reference"].astype(int).to_numpy(), s["score"].to_numpy()
    assert auroc["value"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert (auroc["n"], auroc["n_positive"], auroc["n_negative"]) == (36, 18, 18)
    # the interval, with fewer resamples so scikit-learn can be called for each of them
    ours = summarize_target(get_task("toy_binary").target("lesion"), s, n_resamples=999)
    ours = ours.set_index("metric").loc["auroc"]
    expected = stats.bootstrap(
        (y, p), _auc_along, paired=True, method="BCa", n_resamples=999,
        rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    # AUROC takes few distinct values: resamples whose AUROC equals the point estimate differ
    # between scikit-learn's trapezoids and our midranks by ~1e-16, which moves BCa's bias
    # correction (the share of resamples below the estimate) by a tie; hence 1e-3, not 1e-12
    assert (ours["ci_low"], ours["ci_high"]) == pytest.approx(
        (expected.low, expected.high), abs=1e-3
    )


def _auc_along(y: np.ndarray, p: np.ndarray, axis: int) -> np.ndarray:
    """AUROC of every resample with scikit-learn (a loop: slow, but independent)."""
    y, p = np.moveaxis(y, axis, -1), np.moveaxis(p, axis, -1)
    flat_y, flat_p = y.reshape(-1, y.shape[-1]), p.reshape(-1, p.shape[-1])
    out = [
        roc_auc_score(a, b) if 0 < a.sum() < a.size else np.nan
        for a, b in zip(flat_y, flat_p, strict=True)
    ]
    return np.asarray(out).reshape(y.shape[:-1])


def test_ordinal_grade_and_its_binary_view_follow_the_declared_t_interval(db):
    rows = _json_rows(db, "toy_grades")
    ours = rows[rows["source"] == "mskbench"].set_index(["target", "metric"])
    s = scores(db, "toy_grades")
    wide = s[s["target"] == "grade"].pivot_table(
        index=["fold", "case_id", "reference"], columns="class", values="score"
    )
    wide = wide.reset_index()
    per_fold = []
    for _, part in wide.groupby("fold"):
        truth = part["reference"].astype(int)
        predicted = part[["0", "1", "2", "3"]].to_numpy().argmax(axis=1)
        per_fold.append(cohen_kappa_score(truth, predicted, weights="quadratic"))
    qwk = ours.loc[("grade", "qwk")]
    assert qwk["value"] == pytest.approx(np.mean(per_fold), abs=1e-12)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(per_fold), scale=stats.sem(per_fold))
    assert (qwk["ci_low"], qwk["ci_high"]) == pytest.approx((low, high))
    severe = ours.loc[("severe", "sensitivity")]
    assert (severe["n"], severe["n_excluded"]) == (27, 9)  # grade 1 is excluded: 9 cases
    assert severe["ci_method"] == "t over 3 folds"


def _valid_scores(db: Path, task: str) -> pd.DataFrame:
    s = scores(db, task)
    return s[["case_id", "target", "class", "score"]].assign(
        **{"class": s["class"].replace("positive", "")}
    )


@pytest.mark.parametrize(
    ("break_it", "rule", "detail"),
    [
        (lambda t: t.iloc[1:], "missing-score", "no score for evaluated case(s)"),
        (lambda t: t.assign(score=t["score"].where(t.index != 4, 1.5)), "score-range", "line 6"),
        (lambda t: t.assign(score=t["score"].astype(object).where(t.index != 2, "high")),
         "score-value", "line 4"),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "duplicate-score", "line 38"),
        (lambda t: t.assign(case_id=t["case_id"].where(t.index != 0, "nobody")),
         "unknown-case", "line 2"),
    ],
)  # fmt: skip
def test_bench_score_refuses_a_broken_scores_csv_naming_file_and_rule(
    db, toy_binary, tmp_path, break_it, rule, detail
):
    csv = tmp_path / "my_scores.csv"
    break_it(_valid_scores(db, "toy_binary").reset_index(drop=True)).to_csv(csv, index=False)
    out = tmp_path / "scored.duckdb"
    result = bench("score", "--task", "toy_binary", "--data", toy_binary, "--scores", csv,
                   "--name", "other", "--db", out)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"my_scores.csv: [{rule}]" in result.output and detail in result.output
    assert not out.exists()  # nothing written


def test_bench_score_of_a_scores_csv_equals_the_run_it_came_from(db, toy_binary, tmp_path):
    csv = tmp_path / "scores.csv"
    _valid_scores(db, "toy_binary").to_csv(csv, index=False)
    before = hashlib.sha256(csv.read_bytes()).hexdigest()
    out = tmp_path / "scored.duckdb"
    shutil.copy(db, out)
    result = bench("score", "--task", "toy_binary", "--data", toy_binary, "--scores", csv,
                   "--name", "replayed", "--db", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = _json_rows(out, "toy_binary")
    rows = rows[rows["source"] == "mskbench"].set_index(["model", "metric"])["value"]
    model = "classifier:MeanClassifier"
    for metric in ("auroc", "accuracy", "kappa"):
        assert rows[("replayed", metric)] == pytest.approx(rows[(model, metric)], abs=1e-12)
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == before


def test_scores_for_a_segmentation_task_are_refused(smoke_thigh, tmp_path):
    csv = tmp_path / "scores.csv"
    csv.write_text("case_id,target,score\nx,y,0.5\n")
    result = bench("score", "--task", "nmd_thigh", "--data", smoke_thigh, "--scores", csv,
                   "--name", "n", "--db", tmp_path / "x.duckdb")  # fmt: skip
    assert result.exit_code == 2
    assert "scores.csv: [scores-csv] task nmd_thigh has no classification targets" in result.output


def test_bench_data_show_draws_every_series_of_a_case_with_its_classes(toy_grades, tmp_path):
    out = tmp_path / "g003.png"
    result = bench("data", "show", toy_grades, "--case", "g003", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 5_000


def test_a_binary_view_of_a_grade_is_derived_from_the_grades_probabilities(toy_grades):
    task = get_task("toy_grades")
    severe = dataclasses.replace(task.target("severe"), derived_from="grade")
    spec = dataclasses.replace(task, targets=(task.target("grade"), severe))
    case = Dataset(toy_grades, spec).load("g003")
    grade = {"0": 0.1, "1": 0.2, "2": 0.3, "3": 0.4}
    rows = case_score_rows(spec, case, Prediction(scores={"grade": grade}), "test")
    derived = rows[rows["target"] == "severe"]
    assert derived["score"].item() == pytest.approx(0.7 / 0.8)  # grade 1 is excluded
    assert derived["reference"].item() == "3"
    own = case_score_rows(spec, case, Prediction(scores={"grade": grade, "severe": 0.2}), "test")
    assert own.loc[own["target"] == "severe", "score"].item() == 0.2  # a model's own score wins


@pytest.mark.parametrize(
    ("source", "message"),
    [("nothing", "not an ordinal or multiclass target"), ("severe", "not an ordinal")],
)
def test_a_derived_view_needs_a_graded_source(source, message):
    task = get_task("toy_grades")
    severe = dataclasses.replace(task.target("severe"), derived_from=source)
    with pytest.raises(TaskSpecError, match=message):
        dataclasses.replace(task, targets=(task.target("grade"), severe))


def test_the_ci_note_names_the_metrics_whose_folds_were_undefined():
    """A fold-wise CI note must not read as if every metric were undefined: PPV of a model
    that never calls a case positive is undefined, its AUROC is not."""
    rows = pd.DataFrame(
        {
            "metric": ["auroc", "accuracy", "ppv", "f1", "kappa"],
            "ci_method": ["t over 5 folds"] * 2
            + ["undefined in all 5 folds"]
            + ["t over 4 folds (1 undefined, left out)"] * 2,
        }
    )
    assert ci_methods(rows) == (
        "t over 5 folds; F1, Kappa: t over 4 folds (1 undefined, left out); "
        "PPV: undefined in all 5 folds"
    )
    assert ci_methods(rows.iloc[:2]) == "t over 5 folds"
    two_models = pd.concat([rows.assign(model="a"), rows.iloc[:2].assign(model="b")])
    assert ci_methods(two_models) == (
        "t over 5 folds; a F1, a Kappa: t over 4 folds (1 undefined, left out); "
        "a PPV: undefined in all 5 folds"
    )
