"""Seed 001's Table I and the multi-view vs single-view comparison, from stored scores.

**Table I** — per model and label (abnormal, ACL, meniscus): AUROC, sensitivity,
specificity and accuracy on the test split, a case called positive when P ≥ the label's
threshold (0.5), and their mean over the three labels (the seed's "Average" row); the
seed's published rows beside ours, marked *published, other data*. Metrics come from
`mskbench.harness.metrics.classification` (the harness's one implementation).

**Multi-view vs best single view** (mskbench's addition; the seed reports only the best
single view's average): for each network whose multi-view model ``mrnet_<net>`` and at
least one single-view model ``mrnet_<net>_<plane>`` were run, the single view with the
highest mean AUROC over the labels is the best (chosen on the same split, as the seed
chose it), and per label the DeLong test compares the two AUROCs on the cases both scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mskbench.harness.metrics.classification import classify_cases
from mskbench.harness.stats.delong import delong_test
from mskbench.tasks.results import StoredResults
from mskbench.tasks.spec import TaskSpec

TABLE_METRICS = ("auroc", "sensitivity", "specificity", "accuracy")
PLANES = ("sagittal", "coronal", "axial")
MEAN = "average"


def _outcomes(task: TaskSpec, scores: pd.DataFrame) -> pd.DataFrame:
    """Binary score rows with ``y`` (1/0), excluded or missing references dropped."""
    parts = []
    for target in task.classification:
        rows = scores[scores["target"] == target.name]
        y = rows["reference"].map(lambda v, t=target: t.outcome(None if pd.isna(v) else str(v)))
        parts.append(rows.assign(y=y).dropna(subset=["y"]))
    if not parts:
        return scores.assign(y=pd.Series(dtype=float))
    return pd.concat(parts, ignore_index=True)


def per_label(task: TaskSpec, scores: pd.DataFrame) -> pd.DataFrame:
    """``model, label, auroc, sensitivity, specificity, accuracy, n`` per model and label,
    plus each model's mean over the labels (``label`` = ``average``)."""
    rows = []
    for (model, name), group in _outcomes(task, scores).groupby(["model", "target"], sort=True):
        target = task.target(name)
        values = classify_cases(group["y"].astype(int), group["score"], target.threshold)
        if group["y"].nunique() < 2:
            values["auroc"] = float("nan")
        rows.append({"model": model, "label": name, **{m: values[m] for m in TABLE_METRICS},
                     "n": len(group)})  # fmt: skip
    table = pd.DataFrame(rows, columns=["model", "label", *TABLE_METRICS, "n"])
    if table.empty:
        return table
    means = table.groupby("model", as_index=False)[list(TABLE_METRICS)].mean()
    means = means.assign(label=MEAN, n=table.groupby("model")["n"].max().to_numpy())
    order = {name: i for i, name in enumerate((*order_of(task), MEAN))}
    out = pd.concat([table, means], ignore_index=True)
    out = out.sort_values(
        ["model", "label"], key=lambda c: c.map(order) if c.name == "label" else c
    )
    return out.reset_index(drop=True)


def order_of(task: TaskSpec) -> tuple[str, ...]:
    """The labels in the task's order."""
    return tuple(t.name for t in task.classification)


def table_one(task: TaskSpec, results: StoredResults) -> pd.DataFrame:
    """Table I: ours (source = the profile) and the seed's (*published, other data*)."""
    ours = per_label(task, results.scores).assign(source=results.profile)
    published = [
        {"model": p.model, "label": p.target or MEAN, "metric": p.metric, "value": p.value}
        for p in task.published
        if p.group in ("test", "all")
    ]
    theirs = (
        pd.DataFrame(published)
        .pivot_table(index=["model", "label"], columns="metric", values="value")
        .reset_index()
        .assign(source=next(iter(task.published)).note, n=np.nan)
        if published
        else pd.DataFrame()
    )
    columns = ["model", "source", "label", *TABLE_METRICS, "n"]
    order = {name: i for i, name in enumerate((*order_of(task), MEAN))}
    if not theirs.empty:
        theirs = theirs.sort_values(
            ["model", "label"], key=lambda c: c.map(order) if c.name == "label" else c
        )
    table = pd.concat([ours, theirs], ignore_index=True).reindex(columns=columns)
    return table.round(dict.fromkeys(TABLE_METRICS, 4)).astype({"n": "Int64"})


def multiview_vs_single(task: TaskSpec, scores: pd.DataFrame) -> pd.DataFrame:
    """Per network and label: AUROC of the multi-view model, of the best single view, and
    the DeLong p-value of their difference (see the module docstring)."""
    summary = per_label(task, scores)
    means = summary[summary["label"] == MEAN].set_index("model")["auroc"]
    outcomes = _outcomes(task, scores)
    rows = []
    for multi in sorted(m for m in means.index if any(f"{m}_{p}" in means.index for p in PLANES)):
        singles = [f"{multi}_{p}" for p in PLANES if f"{multi}_{p}" in means.index]
        best = max(singles, key=lambda m: means[m])
        for name in order_of(task):
            a = outcomes[(outcomes["model"] == multi) & (outcomes["target"] == name)]
            b = outcomes[(outcomes["model"] == best) & (outcomes["target"] == name)]
            both = a.merge(b, on="case_id", suffixes=("_multi", "_single"))
            row = {"network": multi, "best_single_view": best.removeprefix(f"{multi}_"),
                   "label": name, "n": len(both)}  # fmt: skip
            try:
                test = delong_test(both["y_multi"].to_numpy(int), both["score_multi"].to_numpy(),
                                   both["score_single"].to_numpy())  # fmt: skip
                row |= {
                    "auroc_multi": test.auc_a,
                    "auroc_single": test.auc_b,
                    "p_delong": test.p_value,
                }
            except ValueError:  # fewer than two positives or negatives
                row |= {"auroc_multi": np.nan, "auroc_single": np.nan, "p_delong": np.nan}
            rows.append(row)
    table = pd.DataFrame(rows, columns=["network", "best_single_view", "label", "auroc_multi",
                                        "auroc_single", "p_delong", "n"])  # fmt: skip
    return table.round({"auroc_multi": 4, "auroc_single": 4, "p_delong": 4})


def tables(task: TaskSpec, results: StoredResults) -> dict[str, pd.DataFrame]:
    """Seed 001's tables of one profile and split, keyed by title."""
    where = f"{task.name}, {results.profile} profile, {results.split} split"
    return {
        f"Table I — AUROC, sensitivity, specificity, accuracy per label ({where})": table_one(
            task, results
        ),
        f"Multi-view vs best single view, DeLong ({where})": multiview_vs_single(
            task, results.scores
        ),
    }
