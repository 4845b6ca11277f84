"""`bench results` summaries: run selection, engine numbers against scipy, G20, formats."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mskbench.harness.report import FORMATS, metric_header, render, table1, table2
from mskbench.harness.store import FoldRecord, RunRecord, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import SUMMARY_COLUMNS, published_rows, summarize_task
from mskbench.tasks import OutlierFence
from mskbench.tasks.nmd.spec import NMD_THIGH

MUSCLES = ("VL", "VM", "RF")
CASES_PER_FOLD = 4
FOLDS = (0, 1, 2)
DIAGONAL_MM = 300.0
#: Reference FF (%) per case and muscle: the same data for every model (G20: < 20 vs ≥ 20).
FF_REF = {
    (f"f{f}c{c}", m): float(5 + 7 * ((3 * c + f + i) % 6))
    for f in FOLDS
    for c in range(CASES_PER_FOLD)
    for i, m in enumerate(MUSCLES)
}
#: Model B misses VM in this case: Dice 0, distances NaN (worst case), ΔFF NaN.
MISSED = ("f1c2", "VM")


def wide_values(model: str) -> pd.DataFrame:
    """One row per (fold, case, muscle): the per-case numbers a model 'scored'."""
    rng = np.random.default_rng({"A": 1, "B": 2, "C": 3, "D": 4}[model])
    centre = {"A": 0.92, "B": 0.70, "C": 0.90, "D": 0.5}[model]
    rows = []
    for (case, muscle), ff in FF_REF.items():
        fold = int(case[1])
        dice = float(np.clip(centre - 0.002 * ff + rng.normal(0, 0.03), 0, 1))
        row = {
            "fold": fold,
            "case_id": case,
            "structure": muscle,
            "dice": dice,
            "hd95": float(rng.gamma(2.0, 2.0) + (1 - dice) * 20),
            "assd": float(rng.gamma(2.0, 0.5)),
            "ff_delta": float(rng.normal(-0.3 - 0.05 * ff, 0.8)),
            "absent": 0.0,
            "spurious": 0.0,
            "both_empty": 0.0,
            "ref_voxels": 500.0,
            "image_diagonal_mm": DIAGONAL_MM,
            "ff_ref": ff,
        }
        if model == "B" and (case, muscle) == MISSED:
            row.update(dice=0.0, hd95=np.nan, assd=np.nan, ff_delta=np.nan, absent=1.0)
        rows.append(row)
    return pd.DataFrame(rows)


def record(model: str, key: str, data: str = "d1", split: str = "s1") -> RunRecord:
    return synthetic_run_record(
        key,
        NMD_THIGH,
        model=model,
        data_fingerprint=data,
        split_fingerprint=split,
        folds_planned=list(FOLDS),
    )


def write_run(
    store: Store, model: str, key: str, status: str = "finished", attributes: bool = True, **kw: str
) -> str:
    run_id, _ = store.begin_run(record(model, key, **kw))
    wide = wide_values(model)
    if status == "failed":  # it failed in its second fold: the first one is stored
        wide = wide[wide["fold"] == wide["fold"].min()]
    now = datetime.now(UTC)
    for fold, part in wide.groupby("fold"):
        long = part.drop(columns="fold").melt(
            id_vars=["case_id", "structure"], var_name="metric", value_name="value"
        )
        long.insert(1, "split", "test")
        attrs = part.assign(attribute="ff_ref", value_num=part["ff_ref"], value_text=None)[
            ["case_id", "structure", "attribute", "value_num", "value_text"]
        ]
        store.write_fold(
            run_id,
            FoldRecord(int(fold), now, now, 1.0, None, None, 3, 2, 8, 1, CASES_PER_FOLD),
            long,
            attributes=attrs if attributes else None,
        )
    store.finish_run(run_id, status, error="boom" if status == "failed" else None)
    return run_id


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, str]]:
    store = Store(tmp_path_factory.mktemp("summary") / "results.duckdb")
    ids = {
        "D-other-data": write_run(store, "D", "d-old", data="d0"),
        "A-old": write_run(store, "A", "a-old"),
        "A": write_run(store, "A", "a"),
        "B": write_run(store, "B", "b"),
        "C": write_run(store, "C", "c", attributes=False),
        "C-failed": write_run(store, "C", "c-failed", status="failed"),
        "E-running": store.begin_run(record("E", "e-running"))[0],
    }
    return store, ids


@pytest.fixture(scope="module")
def summary(results: tuple[Store, dict[str, str]]) -> pd.DataFrame:
    return summarize_task(results[0], NMD_THIGH, profile="quick", published=False)


def row(summary: pd.DataFrame, model: str, metric: str, stratum: str | None = None) -> pd.Series:
    sel = (summary["model"] == model) & (summary["metric"] == metric)
    sel &= summary["stratum"].isna() if stratum is None else summary["stratum"] == stratum
    assert sel.sum() == 1, (model, metric, stratum)
    return summary[sel].iloc[0]


def filled(model: str, metric: str) -> np.ndarray:
    """The model's values as the summary must use them: worst-case distances, NaN dropped,
    in the store's row order (fold, case, structure), on which the bootstrap's draws depend."""
    wide = wide_values(model).sort_values(["fold", "case_id", "structure"])
    x = wide[metric].to_numpy()
    if metric in ("hd95", "assd"):
        x = np.where(wide["absent"] > 0, DIAGONAL_MM, x)
    return x[~np.isnan(x)]


def test_latest_finished_run_per_model_with_matching_fingerprints_is_compared(results, summary):
    _, ids = results
    assert set(summary.attrs["runs"]) == {ids["A"], ids["B"], ids["C"]}  # not A-old
    assert set(summary["run_id"]) == {ids["A"], ids["B"], ids["C"]}
    excluded = {e["run_id"]: e["reason"] for e in summary.attrs["excluded"]}
    assert set(excluded) == {ids["D-other-data"], ids["C-failed"], ids["E-running"], ids["A-old"]}
    assert excluded[ids["A-old"]] == f"superseded by run {ids['A']} (newer)"
    assert "data fingerprint d0 ≠ d1" in excluded[ids["D-other-data"]]
    assert excluded[ids["C-failed"]] == "status failed: boom"
    assert excluded[ids["E-running"]] == "status running"


def test_columns_and_order_primary_metric_first_best_model_first(summary):
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary.attrs["metrics"][0] == "dice"
    overall = summary[summary["stratum"].isna()]
    assert list(dict.fromkeys(overall["model"])) == ["A", "C", "B"]
    assert list(dict.fromkeys(overall["metric"]))[:2] == ["dice", "ff_delta"]
    # metrics the store does not hold (ΔMTR, ΔT2, ΔV, NSD) are left out, not invented
    assert not {"mtr_delta", "t2_delta", "volume_delta_cm3", "nsd"} & set(summary["metric"])


@pytest.mark.parametrize("model", ["A", "B"])
@pytest.mark.parametrize("metric", ["dice", "hd95", "ff_delta"])
def test_mean_sd_median_n_and_bca_interval_match_numpy_and_scipy(summary, model, metric):
    x = filled(model, metric)
    r = row(summary, model, metric)
    assert r["n"] == x.size
    assert r["mean"] == pytest.approx(x.mean())
    assert r["sd"] == pytest.approx(x.std(ddof=1))
    assert r["median"] == pytest.approx(np.median(x))
    ci = stats.bootstrap(
        (x,), np.mean, method="BCa", n_resamples=9999, rng=np.random.default_rng(0)
    ).confidence_interval
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert r["ci_method"].startswith("BCa bootstrap")
    assert r["n_folds"] == len(FOLDS)


def test_missed_structure_distance_is_the_image_diagonal_never_dropped(summary):
    r = row(summary, "B", "hd95")
    assert r["n"] == len(FF_REF) and r["n_absent"] == 1
    raw = wide_values("B")["hd95"]
    assert r["mean"] > raw.mean()  # NaN-dropping mean would flatter the model
    assert r["mean"] == pytest.approx(raw.fillna(DIAGONAL_MM).mean())


def test_nan_map_error_of_a_missed_structure_is_excluded_and_counted(summary):
    r = row(summary, "B", "ff_delta")
    assert (r["n"], r["n_excluded"]) == (len(FF_REF) - 1, 1)
    assert FF_REF[MISSED] < 20
    assert row(summary, "B", "ff_delta", "G20-")["n_excluded"] == 1
    assert row(summary, "B", "ff_delta", "G20+")["n_excluded"] == 0
    assert row(summary, "A", "ff_delta")["n_excluded"] == 0


def test_absence_rate_counts_missed_structures(summary):
    assert row(summary, "B", "absence_rate")["mean"] == pytest.approx(100 / len(FF_REF))
    assert row(summary, "A", "absence_rate")["mean"] == 0.0
    assert row(summary, "B", "absence_rate")["n"] == len(FF_REF)


def _rate(values: np.ndarray, fence_values: np.ndarray) -> float:
    q1, q3 = np.percentile(fence_values, [25, 75])
    return 100 * np.mean(values < q1 - 1.5 * (q3 - q1))


def test_outlier_fence_is_each_models_own_as_seed_003_defines_it(summary):
    assert NMD_THIGH.outlier_fence.population == "per_model"
    for model in ("A", "B", "C"):
        own = filled(model, "dice")
        assert row(summary, model, "outlier_rate")["mean"] == pytest.approx(_rate(own, own))
        assert row(summary, model, "dice")["outlier_rate"] == pytest.approx(_rate(own, own))
        assert "each model's own values" in row(summary, model, "outlier_rate")["fence"]
    # model A's own fence flags its lowest case, a pooled fence would not
    assert row(summary, "A", "outlier_rate")["mean"] > 0
    assert summary.attrs["fence"] == NMD_THIGH.outlier_fence.describe()


@pytest.mark.parametrize(
    ("fence", "population"),
    [(OutlierFence("pooled"), ("A", "B", "C")), (OutlierFence("reference", ("B",)), ("B",))],
)
def test_pooled_and_reference_fences_use_the_declared_population(results, fence, population):
    task = dataclasses.replace(NMD_THIGH, outlier_fence=fence)
    s = summarize_task(results[0], task, "quick", metrics=["dice", "outlier_rate"], published=False)
    pooled = np.concatenate([filled(m, "dice") for m in population])
    for model in ("A", "B", "C"):
        expected = _rate(filled(model, "dice"), pooled)
        assert row(s, model, "outlier_rate")["mean"] == pytest.approx(expected)
    assert s.attrs["fence"] == fence.describe()


def expected_group_test(low: np.ndarray, high: np.ndarray) -> tuple[str, float]:
    """Seed 003's rule, written with scipy directly."""
    normal = min(stats.shapiro(low).pvalue, stats.shapiro(high).pvalue) >= 0.05
    if normal:
        return "welch_t", stats.ttest_ind(low, high, equal_var=False).pvalue
    return "mann_whitney_u", stats.mannwhitneyu(low, high, alternative="two-sided").pvalue


@pytest.mark.parametrize("model", ["A", "B", "C"])
@pytest.mark.parametrize("metric", ["dice", "hd95", "ff_delta"])
def test_g20_split_and_p_value_equal_scipy_on_the_same_numbers(summary, model, metric):
    wide = wide_values(model)
    x = wide[metric].to_numpy()
    if metric == "hd95":
        x = np.where(wide["absent"] > 0, DIAGONAL_MM, x)
    keep = ~np.isnan(x)
    low, high = x[keep & (wide["ff_ref"] < 20)], x[keep & (wide["ff_ref"] >= 20)]
    test, p = expected_group_test(low, high)
    for label, values in (("G20-", low), ("G20+", high)):
        r = row(summary, model, metric, label)
        assert r["n"] == values.size
        assert r["mean"] == pytest.approx(values.mean())
        assert r["sd"] == pytest.approx(values.std(ddof=1))
        assert r["test"] == test
        assert r["p_value"] == pytest.approx(p)


def test_g20_uses_metric_rows_when_no_attributes_were_stored(results, summary):
    # model C was written without attribute rows: its strata come from the ff_ref metric
    assert row(summary, "C", "dice", "G20-")["n"] + row(summary, "C", "dice", "G20+")["n"] == len(
        FF_REF
    )


def test_t_interval_over_folds_when_the_protocol_says_so(results):
    s = summarize_task(
        results[0], NMD_THIGH, "quick", metrics=["dice"], ci="folds", published=False
    )
    wide = wide_values("A")
    fold_means = wide.groupby("fold")["dice"].mean().to_numpy()
    low, high = stats.t.interval(
        0.95, len(fold_means) - 1, loc=fold_means.mean(), scale=stats.sem(fold_means)
    )
    r = row(s, "A", "dice")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((low, high))
    assert r["ci_method"] == "t over 3 folds"


def test_other_split_and_unknown_arguments(results):
    store = results[0]
    external = summarize_task(store, NMD_THIGH, "quick", split="external", published=False)
    assert external[external["source"] == "mskbench"].empty
    with pytest.raises(ValueError, match="split must be one of"):
        summarize_task(store, NMD_THIGH, split="validation")
    with pytest.raises(ValueError, match="not metrics of task"):
        summarize_task(store, NMD_THIGH, metrics=["auroc"])


def test_missing_database_names_the_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no results database"):
        summarize_task(Store(tmp_path / "none.duckdb"), NMD_THIGH)


def test_published_rows_carry_the_paper_numbers_marked_as_other_data():
    rows = published_rows(NMD_THIGH)
    assert list(rows.columns) == list(SUMMARY_COLUMNS)
    assert (rows["source"] == "published, other data").all()
    assert len(rows) == 4 * 7 + 5 * 2  # Table 1: 4 networks × 7 columns; Table 2: 5 × G20±
    hrnet = rows[(rows["model"] == "hrnet") & rows["stratum"].isna() & (rows["metric"] == "dice")]
    assert (hrnet["mean"].item(), hrnet["sd"].item()) == (0.93, 0.04)
    g20 = rows[(rows["stratum"] == "G20+") & (rows["metric"] == "dice")]
    assert (g20["mean"].item(), g20["p_value"].item()) == (0.87, 4.48e-15)
    assert rows["reference"].str.startswith("Hostin 2023 (seed 003), Table").all()


def test_table1_shape_is_models_by_metrics_as_mean_sd(summary):
    t1 = table1(summary)
    assert list(t1["Model"]) == ["A", "C", "B"]
    assert list(t1.columns[:4]) == ["Model", "Source", "n", metric_header("dice")]
    a = row(summary, "A", "dice")
    assert t1.loc[0, "DSC ↑"] == f"{a['mean']:.3f} ± {a['sd']:.3f}"
    ar = row(summary, "B", "absence_rate")["mean"]
    assert t1.loc[2, "AR (%) ↓"] == f"{ar:.2f}"  # a rate has no SD
    assert metric_header("ff_delta", NMD_THIGH) == "ΔFF (%) →0"


def test_table2_shape_has_both_strata_the_test_and_p(summary):
    t2 = table2(summary, "G20-", "G20+")
    r = t2[(t2["Model"] == "A") & (t2["Metric"] == "DSC ↑")].iloc[0]
    g = row(summary, "A", "dice", "G20-")
    assert r["G20-"] == f"{g['mean']:.3f} ± {g['sd']:.3f} (n={g['n']})"
    assert r["Test"] == g["test"]


def test_render_four_formats(results):
    s = summarize_task(results[0], NMD_THIGH, "quick", metrics=["dice", "hd95", "absence_rate"])
    text = render(s, "table", width=200)
    assert text.index("DSC ↑") < text.index("AR (%) ↓") < text.index("HD95 (mm) ↓")
    assert "published, other data" in text and "G20- vs G20+" in text
    assert "Runs not compared" in text and "status failed: boom" in text
    csv = pd.read_csv(io.StringIO(render(s, "csv")))
    assert len(csv) == len(s) and list(csv.columns) == list(SUMMARY_COLUMNS)
    assert csv["mean"].to_numpy() == pytest.approx(s["mean"].to_numpy(float), nan_ok=True)
    doc = json.loads(render(s, "json"))
    assert doc["task"] == "nmd_thigh" and doc["primary_metric"] == "dice"
    assert len(doc["rows"]) == len(s) and len(doc["excluded"]) == 4
    assert doc["rows"][0]["mean"] == pytest.approx(s["mean"].iloc[0])
    md = render(s, "markdown")
    assert "| Model" in md and "### G20- vs G20+" in md and "DSC ↑" in md
    assert set(FORMATS) == {"table", "csv", "json", "markdown"}
    with pytest.raises(ValueError, match="format must be one of"):
        render(s, "html")  # type: ignore[arg-type]
