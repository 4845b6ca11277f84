"""Summaries of case-level classification targets: the aggregation step over the per-case
score rows the runner stores (``case_scores``: one probability per class, and the case's
reference class as written in cases.csv).

Runs compared are those of `mskbench.harness.summary.select_runs` (as for segmentation).
Per run and target, over the ``split`` rows (every fold's rows pooled; the external site
pools every fold's predictions of its cases):

- **binary** targets (`ClassificationTarget.outcome`: positive / negative classes; cases
  of an excluded class or with no reference are left out and counted in ``n_excluded``):
  AUROC, accuracy, sensitivity, specificity, PPV, NPV, F1 and Cohen's kappa, a case called
  positive when P(positive) ≥ the target's threshold
  (`mskbench.harness.metrics.classification`);
- **ordinal / multiclass** targets: accuracy, Cohen's kappa, macro one-vs-rest AUROC, and
  for ordinal ones the quadratic-weighted kappa and the mean absolute error in grades
  (`mskbench.harness.metrics.multiclass`), the predicted class being the most probable.

95 % CIs follow the target's declared method (``ClassificationTarget.ci``): ``folds`` — the
value is the mean of the per-fold metrics and the CI the t interval over folds (seed 000);
``bootstrap`` — BCa over cases with a fixed seed (seed 004); ``wald`` — normal
approximations (`mskbench.harness.stats.wald`, binary targets; for ordinal/multiclass
targets only accuracy has one).

Also here: the points of each run's ROC curve, a confusion table of reference class ×
predicted class (excluded classes of a binary view kept as rows: seed 000's grade 2), and
the DeLong test of two runs' AUROCs on the cases both scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mskbench.harness.metrics.classification import (
    classification_table,
    classify_cases,
    over_folds,
)
from mskbench.harness.metrics.multiclass import metric_names, multiclass_core
from mskbench.harness.stats import bootstrap_interval, delong_test
from mskbench.harness.stats.ci import DEFAULT_RESAMPLES, DEFAULT_SEED
from mskbench.harness.stats.wald import proportion_interval, wald_intervals
from mskbench.harness.store import Store
from mskbench.harness.store.sql import in_list
from mskbench.tasks.spec import TaskSpec
from mskbench.tasks.targets import ClassificationTarget

MSKBENCH = "mskbench"
COLUMNS = (
    "source", "model", "profile", "run_id", "target", "metric", "value", "ci_low", "ci_high",
    "ci_method", "n", "n_positive", "n_negative", "n_excluded", "threshold", "reference",
)  # fmt: skip


def score_rows(store: Store, run_ids: Sequence[str], split: str) -> pd.DataFrame:
    """The ``case_scores`` rows of ``run_ids`` on ``split``: ``run_id, fold, case_id,
    target, class, score, reference``, ordered by run, fold, case."""
    params: dict[str, Any] = {"split": split}
    runs = in_list("run", list(run_ids), params)
    return store.query(
        "SELECT run_id, fold, case_id, target, class, score, reference FROM case_scores "
        f"WHERE run_id IN ({runs}) AND split = $split ORDER BY run_id, fold, case_id, class",
        params,
    )


def binary_cases(target: ClassificationTarget, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per scored (fold, case) of a binary target: ``fold, case_id, reference,
    score`` (P(positive)) and ``outcome`` (1, 0, or NaN for excluded / missing)."""
    part = rows[(rows["target"] == target.name) & (rows["class"] == "positive")]
    outcome = [target.outcome(r) for r in part["reference"]]
    return part.assign(outcome=pd.array(outcome, dtype="Float64").astype(float))[
        ["fold", "case_id", "reference", "score", "outcome"]
    ].reset_index(drop=True)


def class_cases(target: ClassificationTarget, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per scored (fold, case) of an ordinal/multiclass target: ``fold, case_id,
    reference``, one probability column per class, ``outcome`` (class index or NaN) and
    ``predicted`` (index of the most probable class)."""
    part = rows[rows["target"] == target.name]
    wide = part.pivot_table(
        index=["fold", "case_id"], columns="class", values="score", aggfunc="first"
    )
    wide = wide.reindex(columns=list(target.classes)).reset_index()
    reference = part.drop_duplicates(["fold", "case_id"]).set_index(["fold", "case_id"])[
        "reference"
    ]
    wide["reference"] = [
        reference.get((f, c)) for f, c in zip(wide["fold"], wide["case_id"], strict=True)
    ]
    wide["outcome"] = [np.nan if (o := target.outcome(r)) is None else o for r in wide["reference"]]
    wide["predicted"] = wide[list(target.classes)].to_numpy().argmax(axis=1)
    return wide


def _binary_summary(
    target: ClassificationTarget, cases: pd.DataFrame, n_resamples: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    scored = cases[cases["outcome"].notna()]
    y, s = scored["outcome"].to_numpy(int), scored["score"].to_numpy(float)
    counts = {
        "n": len(scored), "n_positive": int(y.sum()), "n_negative": int((1 - y).sum()),
        "n_excluded": len(cases) - len(scored),
    }  # fmt: skip
    if target.ci == "wald":
        point = classify_cases(y, s, target.threshold)
        bounds = wald_intervals(y, s, target.threshold)
        table = pd.DataFrame(
            {"metric": list(point), "value": list(point.values()),
             "ci_low": [bounds[m][0] for m in point], "ci_high": [bounds[m][1] for m in point],
             "method": f"Wald (normal approximation) over {len(y)} cases"}
        )  # fmt: skip
    else:
        folds = scored["fold"].to_numpy() if target.ci == "folds" else None
        table = classification_table(
            y, s, threshold=target.threshold, folds=folds, n_resamples=n_resamples
        )
    return table, counts


def _interval_multiclass(
    truth: np.ndarray, proba: np.ndarray, folds: np.ndarray, target: ClassificationTarget,
    n_resamples: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | list[str]]:  # fmt: skip
    """Values, CIs and method (one, or one per metric) of the ordinal/multiclass metrics by
    the target's method."""
    ordinal = target.kind == "ordinal"
    names = metric_names(ordinal)
    if target.ci == "folds":
        per_fold = np.array(
            [
                multiclass_core(truth[folds == f], proba[folds == f], ordinal)
                for f in np.unique(folds)
            ]
        )
        columns = [over_folds(pd.Series(per_fold[:, i]), 0.95) for i in range(len(names))]
        value, low, high, methods = zip(*columns, strict=True)
        return np.array(value), np.array(low), np.array(high), list(methods)
    value = multiclass_core(truth, proba, ordinal)
    if target.ci == "wald":
        low, high = np.full(len(names), np.nan), np.full(len(names), np.nan)
        i = names.index("accuracy")
        low[i], high[i] = proportion_interval(value[i] * truth.size, truth.size)
        return (
            value,
            low,
            high,
            f"Wald (normal approximation, accuracy only) over {truth.size} cases",
        )

    def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.moveaxis(index, axis, -1)
        return multiclass_core(truth[index], proba[index], ordinal)

    low, high = bootstrap_interval(
        (np.arange(truth.size),), statistic, n_resamples=n_resamples, seed=DEFAULT_SEED
    )
    method = f"BCa bootstrap over {truth.size} cases, {n_resamples} resamples, seed {DEFAULT_SEED}"
    return value, low, high, method


def _class_summary(
    target: ClassificationTarget, cases: pd.DataFrame, n_resamples: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    scored = cases[cases["outcome"].notna()]
    truth = scored["outcome"].to_numpy(int)
    proba = scored[list(target.classes)].to_numpy(float)
    counts = {"n": len(scored), "n_excluded": len(cases) - len(scored)}
    value, low, high, method = _interval_multiclass(
        truth, proba, scored["fold"].to_numpy(), target, n_resamples
    )
    table = pd.DataFrame(
        {"metric": metric_names(target.kind == "ordinal"), "value": value, "ci_low": low,
         "ci_high": high, "method": method}
    )  # fmt: skip
    return table, counts


def summarize_target(
    target: ClassificationTarget, rows: pd.DataFrame, n_resamples: int = DEFAULT_RESAMPLES
) -> pd.DataFrame:
    """The metrics of one run's score ``rows`` for ``target`` (module docstring): columns
    ``target, metric, value, ci_low, ci_high, ci_method, n, n_positive, n_negative,
    n_excluded, threshold``; empty when the run scored no case of the target."""
    binary = target.kind == "binary"
    cases = binary_cases(target, rows) if binary else class_cases(target, rows)
    if cases["outcome"].notna().sum() < 2:
        return pd.DataFrame(columns=list(COLUMNS))
    summary = _binary_summary if binary else _class_summary
    table, counts = summary(target, cases, n_resamples)
    return table.rename(columns={"method": "ci_method"}).assign(
        target=target.name, threshold=target.threshold if binary else np.nan, **counts
    )


def summarize_classification(
    store: Store,
    task: TaskSpec,
    runs: pd.DataFrame,
    split: str = "test",
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    published: bool = True,
) -> pd.DataFrame:
    """Every classification target of ``task`` for the compared ``runs`` (a
    `select_runs` frame), in long form (columns `COLUMNS`), then the paper's published
    classification numbers of the split (``source`` 'published, other data')."""
    out = []
    if task.classification and not runs.empty:
        rows = score_rows(store, list(runs["run_id"]), split)
        for run in runs.itertuples(index=False):
            of_run = rows[rows["run_id"] == run.run_id]
            for target in task.classification:
                table = summarize_target(target, of_run, n_resamples)
                if not table.empty:
                    out.append(
                        table.assign(source=MSKBENCH, model=run.model, profile=run.profile,
                                     run_id=run.run_id)
                    )  # fmt: skip
    if published:
        out.append(published_classification(task, split))
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=list(COLUMNS))
    return frame.reindex(columns=list(COLUMNS))


def published_classification(task: TaskSpec, split: str) -> pd.DataFrame:
    """The paper's classification numbers (published values naming a target) of ``split``
    (a number without a split group counts for the test split)."""
    splits = {"test": ("test", "all"), "external": ("external",)}[split]
    rows = [
        {"source": pv.note, "model": pv.model, "target": pv.target, "metric": pv.metric,
         "value": pv.value, "ci_low": pv.ci_low, "ci_high": pv.ci_high, "n": pv.n,
         "reference": f"{task.citation.label()}, {pv.source}"}
        for pv in task.published
        if pv.target is not None and pv.group in splits
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"value": float})


def roc_points(target: ClassificationTarget, rows: pd.DataFrame) -> pd.DataFrame:
    """ROC curve of one run's binary target (scikit-learn's ``roc_curve``): ``fpr, tpr,
    threshold``; empty without both classes."""
    from sklearn.metrics import roc_curve

    cases = binary_cases(target, rows).dropna(subset=["outcome"])
    if cases["outcome"].nunique() < 2:
        return pd.DataFrame(columns=["fpr", "tpr", "threshold"])
    fpr, tpr, thresholds = roc_curve(cases["outcome"].astype(int), cases["score"])
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds})


def confusion_table(target: ClassificationTarget, rows: pd.DataFrame) -> pd.DataFrame:
    """Counts of reference class (rows, every declared class: an excluded grade of a binary
    view included) × predicted class (columns: ``negative``/``positive`` at the threshold
    for a binary target, the classes otherwise) of one run; ``n`` per row."""
    if target.kind == "binary":
        cases = binary_cases(target, rows)
        predicted = np.where(cases["score"] >= target.threshold, "positive", "negative")
        columns = ["negative", "positive"]
    else:
        cases = class_cases(target, rows)
        predicted = np.asarray(target.classes)[cases["predicted"].to_numpy(int)]
        columns = list(target.classes)
    reference = cases["reference"].fillna("(missing)")
    table = pd.crosstab(pd.Categorical(reference, categories=[*target.classes, "(missing)"]),
                        pd.Categorical(predicted, categories=columns), dropna=False)  # fmt: skip
    table = table.loc[[c for c in table.index if c != "(missing)" or table.loc[c].sum()]]
    table.index.name, table.columns.name = "reference", "predicted"
    return table.assign(n=table.sum(axis=1)).reset_index()


def compare_auroc(
    target: ClassificationTarget, rows_a: pd.DataFrame, rows_b: pd.DataFrame
) -> dict[str, Any] | None:
    """DeLong test of two runs' AUROCs of a binary target on the (fold, case) pairs both
    scored with a positive or negative reference; None with fewer than 2 of each class."""
    a = binary_cases(target, rows_a).dropna(subset=["outcome"])
    b = binary_cases(target, rows_b).dropna(subset=["outcome"])
    both = a.merge(b, on=["fold", "case_id", "outcome"], suffixes=("_a", "_b"))
    y = both["outcome"].to_numpy(int)
    if min(y.sum(), (1 - y).sum()) < 2:
        return None
    result = delong_test(y, both["score_a"].to_numpy(), both["score_b"].to_numpy())
    return {"n": len(both), "n_positive": int(y.sum()), "auroc_a": result.auc_a,
            "auroc_b": result.auc_b, "difference": result.difference, "se": result.se,
            "z": result.z, "p_value": result.p_value}  # fmt: skip
