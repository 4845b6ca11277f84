"""Seed 002's Tables 2–5 from stored `lumbar_paraspinal` results, published numbers beside
ours (``TaskSpec.tables``; ``bench results --task lumbar_paraspinal --tables``).

The harness hands over the runs `bench results` compares and their rows of one profile and
split (`mskbench.tasks.results.StoredResults`; ``test`` = the internal test set,
``external``). Definitions:

* Table 2 (structures): DSC mean ± SD over (case, label) rows of a structure, left and
  right pooled; recall (%) = matched / reference instances at IoU ≥ 0.75, pooled; AP =
  COCO 101-point AP at IoU ≥ 0.75 over all predicted instances of the split
  (`harness.metrics.average_precision`); "Total": DSC over all rows, recall pooled, AP the
  mean over structures (COCO mAP).
* Table 3 (fat pixels inside the reference muscles): recall, specificity, precision, F1
  and kappa from the pixel counts pooled over the split's cases; AUC the mean per-case
  AUROC (a pooled AUROC needs every pixel's probability, which is not stored).
* Table 4 (rCSA): reference and predicted rCSA mean ± SD per level; MSE and MAPE (%) the
  means of the per-case ``rcsa_se`` / ``rcsa_ape`` rows of both sides and all levels.
* Table 5 (FI): reference FI; per group FI mean ± SD and MAPE (%). Groups: "manual seg +
  <model>" (``fi_refseg*``: the model's fat inside the reference muscles) for every model
  that predicts fat, and "<model> seg + fat" (``fi_pred``/``fi_ape``) for a model that
  also predicts the structures. ``lumbar_threshold`` is the seed's thresholding group,
  ``lumbar_dual`` its "FI model" and "Seg model and FI model" groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mskbench.harness.metrics import average_precision
from mskbench.harness.metrics.instances import structure_of
from mskbench.tasks.lumbar.spec import LEVELS, MUSCLES, TABLE2_STRUCTURES
from mskbench.tasks.results import StoredResults
from mskbench.tasks.spec import TaskSpec

SEED = "seed 002"


def _mean_sd(values: pd.Series | np.ndarray, decimals: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "–"
    sd = f" ± {v.std(ddof=1):.{decimals}f}" if v.size > 1 else ""
    return f"{v.mean():.{decimals}f}{sd}"


def _num(value: float | None, decimals: int = 2) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.{decimals}f}"


def _published(task: TaskSpec, table: str, split: str) -> list:
    return [p for p in task.published if p.source.startswith(table) and p.group == split]


# -- Table 2 ------------------------------------------------------------------------------
def _instances(rows: pd.DataFrame) -> pd.DataFrame:
    """Predicted instances: ``structure, score, tp`` (one row per instance)."""
    inst = rows[rows["metric"].str.startswith("pred_instance_")]
    kind = inst["metric"].str.rsplit("_", n=1).str[-1]
    key = inst["metric"].str.rsplit("_", n=1).str[0]
    frame = inst.assign(kind=kind, key=key).pivot_table(
        index=["case_id", "structure", "key"], columns="kind", values="value"
    )
    frame = frame.reset_index()
    frame["structure"] = frame["structure"].map(structure_of)
    return frame


def table2(task: TaskSpec, rows: pd.DataFrame, models: Sequence[str], split: str) -> pd.DataFrame:
    """Seed Table 2: DSC, recall (C75, %) and AP (C75) per structure and in total."""
    out = pd.DataFrame({"Structure": [*TABLE2_STRUCTURES, "Total"]})
    for model in models:
        part = rows[rows["model"] == model]
        if not (part["metric"] == "dice").any():
            continue
        part = part.assign(pooled=part["structure"].map(structure_of))
        instances = _instances(part)
        dsc, recall, ap = [], [], []
        for structure in TABLE2_STRUCTURES:
            of = part[part["pooled"] == structure]
            dsc.append(_mean_sd(of.loc[of["metric"] == "dice", "value"]))
            n_ref = of.loc[of["metric"] == "instances_ref", "value"].sum()
            matched = of.loc[of["metric"] == "instances_matched", "value"].sum()
            recall.append(100 * matched / n_ref if n_ref else np.nan)
            det = instances[instances["structure"] == structure]
            ap.append(average_precision(det.get("score", []), det.get("tp", []) > 0, int(n_ref)))
        n_ref = part.loc[part["metric"] == "instances_ref", "value"].sum()
        matched = part.loc[part["metric"] == "instances_matched", "value"].sum()
        dsc.append(_mean_sd(part.loc[part["metric"] == "dice", "value"]))
        recall.append(100 * matched / n_ref if n_ref else np.nan)
        ap.append(float(np.nanmean(ap)))
        out[f"{model} DSC"] = dsc
        out[f"{model} Recall (C75, %)"] = [_num(v) for v in recall]
        out[f"{model} AP (C75)"] = [_num(v) for v in ap]
    for who in ("rater", "lumbar_dual"):
        values = {
            (p.structure, p.metric): p for p in _published(task, "Table 2", split) if p.model == who
        }
        if not values:
            continue
        label = f"{SEED} {'rater' if who == 'rater' else 'Seg model'}"
        keys = [*TABLE2_STRUCTURES, "all"]
        out[f"{label} DSC"] = [
            f"{values[(s, 'dice')].value:.2f} ± {values[(s, 'dice')].sd:.2f}" for s in keys
        ]
        out[f"{label} Recall (C75, %)"] = [
            _num(100 * values[(s, "instance_recall")].value) for s in keys
        ]
        if (keys[0], "average_precision") in values:
            out[f"{label} AP (C75)"] = [_num(values[(s, "average_precision")].value) for s in keys]
    return out


# -- Table 3 ------------------------------------------------------------------------------
def table3(task: TaskSpec, rows: pd.DataFrame, models: Sequence[str], split: str) -> pd.DataFrame:
    """Seed Table 3: fat-pixel recall, specificity, precision (%), F1, kappa and AUC."""
    records = []
    mask = task.mask_names[0]
    for model in models:
        part = rows[(rows["model"] == model) & (rows["structure"] == mask)]
        if part.empty:
            continue
        counts = {k: part.loc[part["metric"] == k, "value"].sum() for k in ("tp", "fp", "fn", "tn")}
        tp, fp, fn, tn = (float(counts[k]) for k in ("tp", "fp", "fn", "tn"))
        n = tp + fp + fn + tn
        p_o = (tp + tn) / n
        p_e = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n**2
        records.append(
            {
                "Model": model,
                "Source": f"mskbench, {part['case_id'].nunique()} cases",
                "Recall (%)": _num(100 * tp / (tp + fn)),
                "Specificity (%)": _num(100 * tn / (tn + fp)),
                "Precision (%)": _num(100 * tp / (tp + fp)),
                "F1": _num(2 * tp / (2 * tp + fp + fn)),
                "Kappa": _num((p_o - p_e) / (1 - p_e)),
                "AUC": _num(part.loc[part["metric"] == "auroc", "value"].mean()),
            }
        )
    published = {p.metric: p.value for p in _published(task, "Table 3", split)}
    if published:
        records.append(
            {
                "Model": f"{SEED} FI model",
                "Source": "published, other data",
                "Recall (%)": _num(100 * published["sensitivity"]),
                "Specificity (%)": _num(100 * published["specificity"]),
                "Precision (%)": _num(100 * published["ppv"]),
                "F1": _num(published["f1"]),
                "Kappa": _num(published["kappa"]),
                "AUC": _num(published["auroc"]),
            }
        )
    return pd.DataFrame(records)


# -- Table 4 ------------------------------------------------------------------------------
def table4(task: TaskSpec, rows: pd.DataFrame, models: Sequence[str], split: str) -> pd.DataFrame:
    """Seed Table 4: rCSA per muscle and level, reference and model, MSE and MAPE."""
    records = []
    for model in models:
        part = rows[rows["model"] == model]
        if not (part["metric"] == "rcsa_pred").any():
            continue
        part = part.assign(muscle=part["structure"].map(structure_of))
        for muscle in MUSCLES:
            of = part[part["muscle"] == muscle]
            for who, metric in (("reference", "rcsa_ref"), (model, "rcsa_pred")):
                record = {"Muscle": muscle, "Measured by": who}
                for level in LEVELS:
                    values = of.loc[(of["metric"] == metric) & (of["level"] == level), "value"]
                    record[level] = _mean_sd(values)
                if who == model:
                    record["MSE of total"] = _num(
                        of.loc[of["metric"] == "rcsa_se", "value"].mean(), 4
                    )
                    record["MAPE of total (%)"] = _num(
                        of.loc[of["metric"] == "rcsa_ape", "value"].mean()
                    )
                records.append(record)
    published = _published(task, "Table 4", split)
    for muscle in MUSCLES:
        of = [p for p in published if p.structure == muscle]
        for who, metric, name in (
            ("reference", "rcsa_ref", "standard"),
            ("lumbar_dual", "rcsa_pred", "Seg model"),
        ):
            record = {"Muscle": muscle, "Measured by": f"{SEED} {name}"}
            for level in LEVELS:
                (p,) = [p for p in of if p.metric == metric and p.subset == (("level", level),)]
                record[level] = f"{p.value:.2f} ± {p.sd:.2f}"
            if who == "lumbar_dual":
                record["MSE of total"] = _num(next(p.value for p in of if p.metric == "rcsa_se"), 4)
                record["MAPE of total (%)"] = _num(
                    next(p.value for p in of if p.metric == "rcsa_ape")
                )
            records.append(record)
    return pd.DataFrame(records).fillna("")


# -- Table 5 ------------------------------------------------------------------------------
def table5(task: TaskSpec, rows: pd.DataFrame, models: Sequence[str], split: str) -> pd.DataFrame:
    """Seed Table 5: FI per muscle, the reference and each measurement group with MAPE."""
    out = pd.DataFrame({"Muscle": list(MUSCLES)})
    reference = rows[rows["metric"] == "fi_ref"].drop_duplicates(["case_id", "structure"])
    reference = reference.assign(muscle=reference["structure"].map(structure_of))
    out["Standard FI"] = [
        _mean_sd(reference.loc[reference["muscle"] == m, "value"]) for m in MUSCLES
    ]
    for model in models:
        part = rows[rows["model"] == model]
        part = part.assign(muscle=part["structure"].map(structure_of))
        groups = [(f"manual seg + {model}", "fi_refseg", "fi_refseg_ape")]
        if (part["metric"] == "dice").any():
            groups.append((f"{model} seg + fat", "fi_pred", "fi_ape"))
        for name, value_metric, ape_metric in groups:
            if not (part["metric"] == value_metric).any():
                continue
            of = {m: part[part["muscle"] == m] for m in MUSCLES}
            out[f"{name}: FI"] = [
                _mean_sd(of[m].loc[of[m]["metric"] == value_metric, "value"]) for m in MUSCLES
            ]
            out[f"{name}: MAPE (%)"] = [
                _num(of[m].loc[of[m]["metric"] == ape_metric, "value"].mean()) for m in MUSCLES
            ]
    published = _published(task, "Table 5", split)
    standard = {p.structure: p for p in published if p.metric == "fi_ref"}
    if standard:
        out[f"{SEED} standard FI"] = [
            f"{standard[m].value:.2f} ± {standard[m].sd:.2f}" for m in MUSCLES
        ]
    for name, model, metric in (
        ("FI model", "lumbar_dual", "fi_refseg"),
        ("thresholding", "lumbar_threshold", "fi_refseg"),
        ("Seg and FI model", "lumbar_dual", "fi"),
    ):
        value_metric = "fi_pred" if metric == "fi" else metric
        values = {(p.structure, p.metric): p for p in published if p.model == model}
        if not values:
            continue
        out[f"{SEED} {name}: FI"] = [
            f"{values[(m, value_metric)].value:.2f} ± {values[(m, value_metric)].sd:.2f}"
            for m in MUSCLES
        ]
        out[f"{SEED} {name}: MAPE (%)"] = [
            _num(values[(m, f"{metric}_ape")].value) for m in MUSCLES
        ]
    return out


def tables(task: TaskSpec, results: StoredResults) -> dict[str, pd.DataFrame]:
    """The seed's Tables 2–5 of one profile and split (see the module docstring), keyed by
    title."""
    rows = results.with_case_column("level")
    models, split = results.models, results.split
    where = f"{task.name}, {results.profile} profile, {split} split"
    return {
        f"Table 2 — structure segmentation ({where})": table2(task, rows, models, split),
        f"Table 3 — intramuscular fat pixels ({where})": table3(task, rows, models, split),
        f"Table 4 — rCSA ({where})": table4(task, rows, models, split),
        f"Table 5 — fat infiltration ({where})": table5(task, rows, models, split),
    }
