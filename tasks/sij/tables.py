"""Seed 004's tables from the rows the harness selected (`mskbench.tasks.results`).

**Table 2** (`sij_fat_metaplasia`) — per model: DSC mean ± SD over patients, precision and
recall (mean over patients, t 95 % CI), HD95 (mm; a missed lesion's NaN counts as the
volume diagonal, never dropped — `docs/metrics.md`), and the seed's paired t-test
(``scipy.stats.ttest_rel`` on per-patient DSC) of each model against
``sij_attention25d`` when that model was run; the seed's rows beside ours (*published,
other data*). ``split`` ``test`` = the 4 CV folds' test patients (the seed's "internal
cross-validation"), ``external`` = site B, each patient's values averaged over the fold
models that predicted it (`bench ensemble` stores the seed's ensemble of them instead).

**Table 4** (`sij_axspa`) — per model: AUC, accuracy, sensitivity, specificity, PPV, NPV
and Cohen's κ at P ≥ 0.5 with **Wald** 95 % CIs (`mskbench.harness.stats.wald`, as the
seed's symmetric intervals; `bench results` gives the BCa bootstrap CIs), with the seed's
classifier (Table 4) and readers (Table 5) beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mskbench.harness.metrics import with_worst_case_distances
from mskbench.harness.metrics.classification import classify_cases
from mskbench.harness.stats.wald import wald_intervals
from mskbench.tasks.results import StoredResults
from mskbench.tasks.spec import TaskSpec

REFERENCE_MODEL = "sij_attention25d"
SEG_COLUMNS = ("dice", "precision", "recall", "hd95")
#: The stored rows a patient's Table 2 values are made from (flags and the diagonal: the
#: worst-case distance of a missed lesion).
_STORED = (*SEG_COLUMNS, "assd", "absent", "spurious", "image_diagonal_mm")
CLS_COLUMNS = ("auroc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "kappa")


def per_patient(results: StoredResults) -> pd.DataFrame:
    """``model, case_id, dice, precision, recall, hd95`` for the FM structure, one row per
    patient. A missed lesion's HD95 counts as its volume's diagonal — the harness's rule
    (`with_worst_case_distances`, `docs/metrics.md`) applied to each fold's row. A site-B
    patient, predicted by every fold's model, gets the mean over the folds, so that each
    patient counts once in the means and the paired t-test."""
    rows = results.metrics[results.metrics["structure"] == "FM"]
    by_fold = (
        rows[rows["metric"].isin(_STORED)]
        .pivot_table(index=["model", "fold", "case_id"], columns="metric", values="value",
                     aggfunc="first", dropna=False, observed=True)
        .reindex(columns=list(_STORED))
    )  # fmt: skip
    by_fold = by_fold.dropna(how="all", subset=list(SEG_COLUMNS))  # combinations never run
    by_fold[["absent", "spurious"]] = by_fold[["absent", "spurious"]].fillna(0).astype(bool)
    by_fold = with_worst_case_distances(by_fold)
    wide = by_fold.groupby(level=["model", "case_id"])[list(SEG_COLUMNS)].mean().reset_index()
    return wide.reindex(columns=["model", "case_id", *SEG_COLUMNS])


def _t_ci(values: np.ndarray) -> tuple[float, float]:
    if values.size < 2:
        return (np.nan, np.nan)
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return float(values.mean() - half), float(values.mean() + half)


def table2(task: TaskSpec, results: StoredResults) -> pd.DataFrame:
    """Table 2 of one split: ours and the seed's (see the module docstring)."""
    wide = per_patient(results)
    reference = wide[wide["model"] == REFERENCE_MODEL].set_index("case_id")["dice"]
    out = []
    for model, group in wide.groupby("model", sort=True):
        dice = group["dice"].to_numpy(float)
        row = {"model": model, "source": results.profile, "n": len(group),
               "dice": np.nanmean(dice), "dice_sd": np.nanstd(dice, ddof=1) if len(dice) > 1
               else np.nan}  # fmt: skip
        for metric in ("precision", "recall"):
            values = group[metric].dropna().to_numpy(float)
            low, high = _t_ci(values)
            row |= {metric: values.mean() if values.size else np.nan,
                    f"{metric}_ci_low": low, f"{metric}_ci_high": high}  # fmt: skip
        row["hd95_mm"] = float(group["hd95"].mean())
        row["p_vs_2.5d"] = np.nan
        if model != REFERENCE_MODEL and not reference.empty:
            paired = group.set_index("case_id")["dice"].to_frame("a").join(
                reference.rename("b"), how="inner"
            )  # fmt: skip
            if len(paired) >= 3 and (paired["a"] - paired["b"]).any():
                row["p_vs_2.5d"] = float(stats.ttest_rel(paired["a"], paired["b"]).pvalue)
        out.append(row)
    for p in task.published:
        if p.group != results.split or p.metric != "dice":
            continue
        row = {"model": p.model, "source": f"{p.source}: {p.note}", "n": p.n, "dice": p.value,
               "dice_sd": p.sd}  # fmt: skip
        for other in task.published:
            same = (other.model, other.group, other.source) == (p.model, p.group, p.source)
            if same and other.metric in ("precision", "recall"):
                row |= {other.metric: other.value, f"{other.metric}_ci_low": other.ci_low,
                        f"{other.metric}_ci_high": other.ci_high}  # fmt: skip
        row["p_vs_2.5d"] = p.p_value if p.p_value is not None else np.nan
        out.append(row)
    columns = ["model", "source", "n", "dice", "dice_sd", "precision", "precision_ci_low",
               "precision_ci_high", "recall", "recall_ci_low", "recall_ci_high", "hd95_mm",
               "p_vs_2.5d"]  # fmt: skip
    table = pd.DataFrame(out).reindex(columns=columns).round({c: 4 for c in columns[3:-1]})
    # three significant digits, not 4 decimals: p = 8.3e-6 must not print as 0.0
    table["p_vs_2.5d"] = [float(f"{p:.3g}") for p in table["p_vs_2.5d"]]
    return table


def table4(task: TaskSpec, results: StoredResults) -> pd.DataFrame:
    """Table 4 of one split with Wald CIs (ours), and the seed's Tables 4 and 5."""
    target = task.target("axspa")
    scores = results.scores[results.scores["target"] == "axspa"]
    out = []
    for model, group in scores.groupby("model", sort=True):
        y = group["reference"].map(lambda v: target.outcome(None if pd.isna(v) else str(v)))
        keep = y.notna()
        yy, ss = y[keep].astype(int).to_numpy(), group["score"][keep].to_numpy(float)
        if yy.size == 0:
            continue
        values = classify_cases(yy, ss, target.threshold)
        try:
            bounds = wald_intervals(yy, ss, target.threshold)
        except ValueError:
            bounds = {}
        row = {"model": model, "source": f"{results.profile} (Wald CI)", "n": int(yy.size)}
        for m in CLS_COLUMNS:
            low, high = bounds.get(m, (np.nan, np.nan))
            row |= {m: values.get(m, np.nan), f"{m}_ci": f"{low:.3f}–{high:.3f}"}
        out.append(row)
    by_model: dict[tuple[str, str], dict] = {}
    for p in task.published:
        if p.group != results.split:
            continue
        row = by_model.setdefault(
            (p.model, p.source), {"model": p.model, "source": f"{p.source}: {p.note}", "n": p.n}
        )
        row |= {p.metric: p.value, f"{p.metric}_ci": f"{p.ci_low:.3f}–{p.ci_high:.3f}"}
    out += list(by_model.values())
    columns = ["model", "source", "n"] + [c for m in CLS_COLUMNS for c in (m, f"{m}_ci")]
    return pd.DataFrame(out).reindex(columns=columns).round(4)


def fm_tables(task: TaskSpec, results: StoredResults) -> dict[str, pd.DataFrame]:
    where = f"{task.name}, {results.profile} profile, {results.split} split"
    return {f"Table 2 — FM segmentation, paired t vs 2.5D ({where})": table2(task, results)}


def axspa_tables(task: TaskSpec, results: StoredResults) -> dict[str, pd.DataFrame]:
    where = f"{task.name}, {results.profile} profile, {results.split} split"
    return {f"Tables 4–5 — axSpA classification, Wald CIs ({where})": table4(task, results)}
