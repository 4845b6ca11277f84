"""The leaderboard's SQL and tables against `bench results` (`harness.summary`) and scipy,
on a store with known values: a missed structure, NaN map means, both G20 strata."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mskbench.harness.report import metric_header
from mskbench.harness.store import FoldRecord, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import select_runs, summarize_task
from mskbench.leaderboard import analysis, launch, queries, source
from mskbench.leaderboard.taskview import biomarkers, compared_header, stored_metrics, value_metrics
from mskbench.tasks.nmd.spec import NMD_THIGH

MUSCLES = ("VL", "VM", "RF")
FOLDS = (0, 1, 2)
CASES = 4
G20 = NMD_THIGH.strata[0]


def rows(model: str) -> pd.DataFrame:
    """Long case-metric rows of one model: 3 folds × 4 cases × 3 muscles.

    B misses VM in case f1c2 (Dice 0, distances and map means NaN); C has no ΔFF in G20+.
    """
    rng = np.random.default_rng({"A": 1, "B": 2, "C": 3}[model])
    out = []
    for fold in FOLDS:
        for c in range(CASES):
            case = f"f{fold}c{c}"
            for i, muscle in enumerate(MUSCLES):
                ff = float(5 + 7 * ((3 * c + fold + i) % 6))
                dice = float(np.clip(0.9 - 0.003 * ff + rng.normal(0, 0.03), 0, 1))
                values = {
                    "dice": dice,
                    "hd95": float(rng.gamma(2.0, 2.0)),
                    "assd": float(rng.gamma(2.0, 0.5)),
                    "nsd": dice,
                    "ff_ref": ff,
                    "ff_pred": ff + rng.normal(-0.3, 0.8),
                    "mtr_delta": float(rng.normal(0.2, 0.7)),
                    "t2_delta": float(rng.normal(-0.5, 1.8)),
                    "volume_delta_cm3": float(rng.normal(-0.2, 3.0)),
                    "absent": 0.0,
                    "spurious": 0.0,
                    "both_empty": 0.0,
                    "ref_voxels": 500.0,
                    "image_diagonal_mm": 300.0,
                }
                values["ff_delta"] = values["ff_pred"] - ff
                if model == "B" and (case, muscle) == ("f1c2", "VM"):
                    values |= {"dice": 0.0, "nsd": 0.0, "absent": 1.0}
                    values |= dict.fromkeys(("hd95", "assd", "ff_pred", "ff_delta"), np.nan)
                if model == "C" and ff >= G20.threshold:
                    values |= {"ff_pred": np.nan, "ff_delta": np.nan}
                out += [
                    (fold, case, "test", muscle, metric, value) for metric, value in values.items()
                ]
    return pd.DataFrame(out, columns=["fold", "case_id", "split", "structure", "metric", "value"])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("lbq") / "q.duckdb")
    now = datetime.now(UTC)
    for model in ("A", "B", "C"):
        run_id, _ = store.begin_run(
            synthetic_run_record(model, NMD_THIGH, model=model, folds_planned=list(FOLDS))
        )
        long = rows(model)
        for fold, part in long.groupby("fold"):
            attributes = part[part["metric"] == "ff_ref"].rename(columns={"metric": "attribute"})
            store.write_fold(
                run_id,
                FoldRecord(int(fold), now, now, 1.0, None, None, None, None, 8, 1, CASES),
                part.drop(columns="fold"),
                attributes=attributes.assign(value_num=attributes["value"], value_text=None)[
                    ["case_id", "structure", "attribute", "value_num", "value_text"]
                ],
            )
        store.finish_run(run_id, "finished")
    return store


@pytest.fixture(scope="module")
def runs(store: Store) -> pd.DataFrame:
    return select_runs(store.runs(NMD_THIGH.name), NMD_THIGH).runs


def groups(runs: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    return tuple(zip(runs["run_id"], runs["profile"], strict=True))


@pytest.fixture(scope="module")
def harness_summary(store: Store) -> pd.DataFrame:
    summary = summarize_task(store, NMD_THIGH, n_resamples=99, published=False)
    return summary.set_index(["model", "metric", summary["stratum"].fillna("all")])


def test_metric_summary_equals_bench_results_for_every_metric_and_stratum(
    store, runs, harness_summary
):
    ours = queries.metric_summary(
        store,
        NMD_THIGH.name,
        groups(runs),
        "test",
        stored_metrics(NMD_THIGH),
        by="stratum",
        stratum=G20,
    )
    ours = analysis.long_summary(ours, runs)
    compared = 0
    for r in ours.itertuples(index=False):
        expected = harness_summary.loc[
            (r.model, r.metric, r.part if isinstance(r.part, str) else "all")
        ]
        assert r.mean == pytest.approx(expected["mean"], abs=1e-12, nan_ok=True)
        assert r.n == expected["n"] and r.n_folds == expected["n_folds"]
        if r.metric != "absence_rate":
            assert r.sd == pytest.approx(expected["sd"], abs=1e-12, nan_ok=True)
            assert r.median == pytest.approx(expected["median"], abs=1e-12, nan_ok=True)
            assert r.n_excluded == expected["n_excluded"]
            assert r.outlier_rate == pytest.approx(expected["outlier_rate"], abs=1e-12, nan_ok=True)
        compared += 1
    assert compared == 3 * 9 * 3  # models × metrics (with AR) × (all, G20-, G20+)
    b_hd95 = ours[(ours["model"] == "B") & (ours["metric"] == "hd95") & ours["part"].isna()]
    assert b_hd95["n"].iloc[0] == 36 and b_hd95["n_excluded"].iloc[0] == 0  # diagonal, kept


def test_stratum_table_tests_equal_the_harness_and_survive_an_empty_stratum(
    store, runs, harness_summary
):
    summary = queries.metric_summary(
        store,
        NMD_THIGH.name,
        groups(runs),
        "test",
        value_metrics(NMD_THIGH),
        by="stratum",
        stratum=G20,
        with_values=True,
    )
    table = analysis.stratum_table(
        analysis.long_summary(summary, runs), NMD_THIGH, G20, value_metrics(NMD_THIGH)
    )
    for r in table.itertuples(index=False):
        metric = next(m for m in NMD_THIGH.metrics if metric_header(m, NMD_THIGH) == r.Metric)
        expected = harness_summary.loc[(r.Model, metric, "G20-")]["p_value"]
        assert r.p == pytest.approx(expected, abs=1e-12, nan_ok=True)
    empty = table[(table["Model"] == "C") & (table["Metric"] == "ΔFF (%) →0")].iloc[0]
    assert empty["G20+ n"] == 0 and empty["Test"] == "–" and np.isnan(empty["p"])


def test_paired_values_pair_shared_cases_and_compare_signed_errors_by_size(store, runs):
    by_model = runs.set_index("model")["run_id"]
    paired = queries.paired_values(
        store, NMD_THIGH.name, by_model["A"], by_model["B"], "test", ["dice", "ff_delta"]
    )
    keys = ["fold", "case_id", "structure", "metric"]
    both = rows("A").merge(rows("B"), on=[*keys, "split"], suffixes=("_a", "_b"))
    both = both.dropna(subset=["value_a", "value_b"]).set_index(keys)
    for metric, transform in (("dice", lambda x: x), ("ff_delta", np.abs)):
        row = paired[(paired["metric"] == metric) & paired["structure"].isna()].iloc[0]
        expected = both.xs(metric, level="metric")
        assert row["n"] == len(expected)
        diff = transform(expected["value_a"]) - transform(expected["value_b"])
        assert (np.asarray(row["a"]) - np.asarray(row["b"])).mean() == pytest.approx(diff.mean())
    ff = paired[(paired["metric"] == "ff_delta") & paired["structure"].isna()].iloc[0]
    assert ff["n_excluded"] == 1  # B's missed VM has no ΔFF
    table = analysis.paired_table(paired[paired["structure"].isna()], NMD_THIGH, "A", "B")
    assert set(table["metric_label"]) == {"DSC ↑", "|ΔFF| (%) ↓"}
    assert (table["p_holm"] >= table["p"]).all()
    assert compared_header("ff_delta", 0, NMD_THIGH) == "|ΔFF| (%) ↓"


def test_point_values_and_agreement_use_the_stored_reference_and_prediction(store, runs):
    run = runs.set_index("model")["run_id"]["B"]
    markers = [m for m in biomarkers(NMD_THIGH) if m.name == "FF"]
    points = queries.point_values(store, NMD_THIGH.name, run, "test", ("ff_ref", "ff_pred"), G20)
    assert len(points) == 36
    assert (points["attribute_value"] == points["ff_ref"]).all()  # ff_ref is G20's attribute
    table = analysis.agreement_table(points, markers).iloc[0]
    diff = (points["ff_pred"] - points["ff_ref"]).dropna()
    assert table["n"] == 35 and table["n_excluded"] == 1
    assert table["Bias"] == pytest.approx(diff.mean())
    assert table["LoA low"] == pytest.approx(diff.mean() - 1.96 * diff.std(ddof=1))


def test_t_interval_matches_scipy():
    x = np.random.default_rng(0).normal(3, 2, 17)
    low, high = analysis.t_interval(
        pd.Series([x.mean()]), pd.Series([x.std(ddof=1)]), pd.Series([17])
    )
    expected = stats.t.interval(0.95, 16, loc=x.mean(), scale=stats.sem(x))
    assert (low.iloc[0], high.iloc[0]) == pytest.approx(expected)
    one = analysis.t_interval(pd.Series([1.0]), pd.Series([np.nan]), pd.Series([1]))
    assert np.isnan(one[0].iloc[0])


def test_launch_runs_streamlit_headless_without_telemetry_on_localhost(monkeypatch, tmp_path):
    seen = {}

    def call(command: list[str]) -> int:
        seen["command"] = command
        return 3

    monkeypatch.setattr(launch.subprocess, "call", call)
    assert launch.launch(tmp_path / "r.duckdb", 8765) == 3
    command = seen["command"]
    options = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert command[1:5] == ["-m", "streamlit", "run", str(launch.APP)]
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--server.address"] == "localhost"
    assert command[-3:] == ["--", "--db", str((tmp_path / "r.duckdb").resolve())]
    assert Path(launch.APP).is_file()


def test_snapshots_copy_the_file_only_when_it_changed_and_retire_old_copies(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "GRACE_S", 0.0)
    path = tmp_path / "live.duckdb"
    Store(path).begin_run(synthetic_run_record("key"))  # only mskbench databases are copied
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS i")
    snapshots = source.Snapshots(path, lock_timeout_s=1.0)
    first = snapshots.current()
    assert snapshots.current() is first  # unchanged file: no new copy
    taken = []
    for i in (2, 3):
        with duckdb.connect(str(path)) as con:
            con.execute("INSERT INTO t VALUES (?)", [i])
        taken.append(snapshots.current())
    second, third = taken
    assert not first.path.exists()  # retired before the last copy, grace over
    assert second.path.exists() and third.path.exists()
    with duckdb.connect(str(third.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3
    assert third.original == path and not third.stale
