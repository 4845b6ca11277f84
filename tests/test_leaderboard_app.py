"""The Streamlit leaderboard, page by page (`streamlit.testing.v1.AppTest`), on a database
filled by smoke runs: the values a page renders must equal what the database holds.

The database: nmd_thigh with an atlas model (folds 0-3), two scored submissions (the
reference itself and a shifted copy that also misses Gr in three cases), a failed run and
a run on other data (not ranked); nmd_leg with one atlas run (a second task in the picker).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mskbench.harness.report import metric_header
from mskbench.harness.runner import RunFailed, RunRequest, run
from mskbench.harness.scoring import score
from mskbench.harness.store import Store
from mskbench.harness.summary import summarize_task
from mskbench.harness.tables import paper_tables
from mskbench.tasks import get_task, task_names
from mskbench.tasks.contract import read_image, write_image

#: The perfect submission makes constant groups: expected warnings of the harness tests.
pytestmark = [
    pytest.mark.filterwarnings("ignore:scipy.stats.shapiro. Input data has range zero"),
    pytest.mark.filterwarnings("ignore:Precision loss occurred in moment calculation"),
]
APP = Path(__file__).resolve().parents[1] / "leaderboard" / "app.py"
ATLAS = str(Path(__file__).resolve().parent / "plugins" / "atlas.py") + ":Atlas"
BROKEN = "class Broken:\n    def fit(self, train, val, ctx):\n        raise RuntimeError('no GPU here')\n    def predict(self, case, ctx):\n        pass\n"
DSC = metric_header("dice")
#: Changes the database, then holds it (a long fold transaction) until killed.
HOLDER = (
    "import duckdb, time; con = duckdb.connect({path!r}); "
    "con.execute(\"UPDATE runs SET model = 'moved' WHERE model = 'shifted'\"); "
    "print('locked', flush=True); time.sleep(60)"
)
#: ``n`` short write transactions (argv: path, n), each waiting at most 0.5 s for the
#: file's lock; prints the longest wait (s).
WRITER = """
import sys, time
from pathlib import Path
from mskbench.harness.store.connection import connect
waits = []
for i in range(int(sys.argv[2])):
    start = time.monotonic()
    con = connect(Path(sys.argv[1]), read_only=False, timeout_s=0.5)
    waits.append(time.monotonic() - start)
    con.execute("CREATE TABLE IF NOT EXISTS probe (i INTEGER)")
    con.execute("INSERT INTO probe VALUES (?)", [i])
    time.sleep(0.2)
    con.close()
    time.sleep(0.1)
print(max(waits))
"""
TIMEOUT_S = 60


def shifted_submission(
    data: Path, out: Path, task: str = "nmd_thigh", drop: str = "Gr", n_drop: int = 3
) -> Path:
    """Every reference of ``data`` moved one voxel along x; ``drop`` removed from the
    first ``n_drop`` cases."""
    value = get_task(task).labels[drop]
    out.mkdir(parents=True)
    for i, path in enumerate(sorted((data / "labelsTr").glob("*.nii.gz"))):
        label, grid = read_image(path, dtype=None)
        label = np.roll(label, 1, axis=-1)
        if i < n_drop:
            label[label == value] = 0
        write_image(out / path.name, label.astype(np.uint8), grid=grid)
    return out


def build_db(root: Path, thigh: Path) -> Path:
    """The results database described in the module docstring, under ``root``."""
    path = root / "results" / "lb.duckdb"
    other = Path(shutil.copytree(thigh, root / "other-data"))
    (other / "notes.txt").write_text("a changed file changes the data fingerprint\n")
    run(RunRequest("nmd_thigh", ATLAS, profile="smoke", folds=[0], db=path, data=other))
    broken = root / "broken.py"
    broken.write_text(BROKEN)
    with pytest.raises(RunFailed):
        run(RunRequest("nmd_thigh", f"{broken}:Broken", profile="smoke", db=path))
    run(RunRequest("nmd_thigh", ATLAS, profile="smoke", folds=[0, 1, 2, 3], db=path))
    score("nmd_thigh", thigh, thigh / "labelsTr", "reference", path)
    score("nmd_thigh", thigh, shifted_submission(thigh, root / "shifted"), "shifted", path)
    run(RunRequest("nmd_leg", ATLAS, profile="smoke", folds=[0], db=path))
    return path


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database of `build_db`."""
    return shared_db(request, tmp_path_factory)


def shared_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`build_db`, once per test session: modules and pytest-xdist workers share it (a file
    lock in the session's temporary folder)."""
    base = tmp_path_factory.getbasetemp()  # a worker's own folder under xdist
    shared = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "leaderboard-db"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "path"  # written once a build has finished
        if not built.is_file():
            root = Path(tempfile.mkdtemp(dir=shared))
            built.write_text(str(build_db(root, request.getfixturevalue("smoke_thigh"))))
        return Path(built.read_text())


def sql(db: Path, query: str, *params: object) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query, list(params)).df()


def run_id(db: Path, model: str, task: str = "nmd_thigh") -> str:
    """The ranked run of ``model`` (the latest finished one on the shared data)."""
    rows = sql(
        db,
        "SELECT run_id FROM runs WHERE task = ? AND model = ? AND status = 'finished' "
        "ORDER BY finished_at DESC LIMIT 1",
        task,
        model,
    )
    return rows["run_id"].iloc[0]


@pytest.fixture
def app(db: Path, monkeypatch: pytest.MonkeyPatch):
    """An AppTest of the leaderboard on ``db``; call ``app(page)`` to open a page."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    assert not at.exception, at.exception

    def open_page(page: str, **widgets: object) -> AppTest:
        for key, value in widgets.items():  # chosen before the page draws: one render
            at.session_state[key] = value
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
        return at

    return open_page


def frame_with(at: AppTest, column: str, nth: int = 0) -> pd.DataFrame:
    """The ``nth`` rendered table that has ``column``."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) > nth, f"no table with column {column!r}"
    return frames[nth]


def texts(at: AppTest) -> str:
    parts = [*at.header, *at.subheader, *at.caption, *at.info, *at.warning, *at.error, *at.markdown]
    return "\n".join(str(p.value) for p in parts)


def test_overview_ranks_models_by_the_sql_mean_of_the_primary_metric(db, app):
    at = app("Overview")
    table = frame_with(at, DSC)
    ours = table[table["Source"] == "mskbench · smoke"].set_index("Model")
    assert list(ours.index) == ["reference", "shifted", "atlas:Atlas"]  # best DSC first
    assert list(ours["Rank"]) == [1, 2, 3]
    for model in ours.index:
        rid = run_id(db, model)
        stored = sql(
            db,
            "SELECT avg(value) AS mean, stddev_samp(value) AS sd, count(*) AS n "
            "FROM case_metrics WHERE run_id = ? AND split = 'test' AND metric = 'dice'",
            rid,
        ).iloc[0]
        row = ours.loc[model]
        assert row["Run"] == rid
        assert row[DSC] == pytest.approx(stored["mean"], abs=1e-12)
        assert row[f"{DSC} SD"] == pytest.approx(stored["sd"], abs=1e-12)
        assert row["n"] == stored["n"]
        absent = sql(
            db,
            "SELECT 100 * avg(a.value) AS rate FROM case_metrics r JOIN case_metrics a "
            "USING (run_id, fold, case_id, split, structure) WHERE r.run_id = ? AND "
            "r.split = 'test' AND r.metric = 'ref_voxels' AND a.metric = 'absent' AND r.value > 0",
            rid,
        )["rate"].iloc[0]
        assert row[metric_header("absence_rate")] == pytest.approx(absent, abs=1e-12)
    assert ours.loc["shifted", metric_header("absence_rate")] > 0  # it misses Gr 3 times
    published = table[table["Source"].str.startswith("published, other data")]
    assert set(published["Model"]) == {"hrnet", "transunet", "unet2d", "unet3d"}
    assert published.set_index("Model").loc["hrnet", DSC] == 0.93  # seed Table 1, thigh


def test_overview_agrees_with_bench_results_on_every_metric(db, app):
    at = app("Overview")
    wide = frame_with(at, DSC)
    summary = summarize_task(Store(db), get_task("nmd_thigh"), n_resamples=99, published=False)
    overall = summary[summary["stratum"].isna()]
    for r in overall.itertuples(index=False):
        row = wide[wide["Model"] == r.model].iloc[0]
        header = metric_header(r.metric, get_task("nmd_thigh"))
        if r.metric == "outlier_rate":
            assert row[header] == pytest.approx(r.mean, abs=1e-9)
            continue
        assert row[header] == pytest.approx(r.mean, abs=1e-9, nan_ok=True), (r.model, r.metric)
        if r.metric != "absence_rate":
            assert row[f"{header} SD"] == pytest.approx(r.sd, abs=1e-9, nan_ok=True)


def test_overview_lists_runs_on_other_data_and_failed_runs_with_the_reason(db, app):
    at = app("Overview")
    table = frame_with(at, "Reason")
    reasons = dict(zip(table["Status"], table["Reason"], strict=True))
    assert "data fingerprint" in reasons["finished"]
    assert "no GPU here" in reasons["failed"]
    other = table[table["Status"] == "finished"].iloc[0]
    stored = sql(
        db,
        "SELECT avg(value) AS mean FROM case_metrics WHERE run_id = ? AND split = 'test' "
        "AND metric = 'dice'",
        other["Run"],
    )["mean"].iloc[0]
    assert other[DSC] == pytest.approx(stored, abs=1e-12)


def test_compare_page_shows_paired_differences_on_shared_cases(db, app):
    at = app("Compare two models", **{"model-a": "shifted", "model-b": "atlas:Atlas"})
    table = frame_with(at, "Mean A − B").set_index("Metric")
    a, b = run_id(db, "shifted"), run_id(db, "atlas:Atlas")
    pairs = sql(
        db,
        "SELECT a.value - b.value AS d FROM case_metrics a JOIN case_metrics b "
        "USING (fold, case_id, split, structure, metric) WHERE a.run_id = ? AND b.run_id = ? "
        "AND a.split = 'test' AND a.metric = 'dice'",
        a,
        b,
    )["d"]
    dice = table.loc[DSC]
    assert dice["n pairs"] == len(pairs) == 50  # atlas ran folds 0-3 only
    assert dice["Mean A − B"] == pytest.approx(pairs.mean(), abs=1e-12)
    assert dice["n unpaired"] == 120 - 50
    assert dice["p (Holm)"] >= dice["p"]
    assert dice["Better"] == "shifted"
    assert "|ΔFF| (%) ↓" in table.index  # signed errors compared by their size
    per_structure = frame_with(at, "Structure")
    assert set(per_structure["Structure"]) == set(get_task("nmd_thigh").structure_names)


def test_strata_page_reproduces_table_2_with_the_harness_tests(db, app):
    at = app("Fat infiltration strata", **{"strata-model-G20": "shifted"})
    chosen = frame_with(at, "G20- mean")
    assert set(chosen["Model"]) == {"shifted", "hrnet"}  # the chosen model, the paper's
    table = frame_with(at, "G20- mean", nth=1)  # every model
    summary = summarize_task(Store(db), get_task("nmd_thigh"), n_resamples=99, published=False)
    ours = table[table["Source"] == "mskbench · smoke"]
    assert set(ours["Model"]) == {"reference", "shifted", "atlas:Atlas"}
    headers = {metric_header(m, get_task("nmd_thigh")): m for m in get_task("nmd_thigh").metrics}
    for _, row in ours.iterrows():
        rows = summary[
            (summary["model"] == row["Model"]) & (summary["metric"] == headers[row["Metric"]])
        ]
        for label in ("G20-", "G20+"):
            expected = rows[rows["stratum"] == label].iloc[0]
            assert row[f"{label} mean"] == pytest.approx(expected["mean"], abs=1e-9, nan_ok=True)
            assert row[f"{label} n"] == expected["n"]
        assert row["p"] == pytest.approx(expected["p_value"], abs=1e-12, nan_ok=True)
    rid = run_id(db, "atlas:Atlas")
    g20 = sql(
        db,
        "SELECT avg(m.value) AS mean, count(*) AS n FROM case_metrics m JOIN runs r USING (run_id) "
        "JOIN attributes a ON a.data_fingerprint = r.data_fingerprint AND a.case_id = m.case_id "
        "AND a.structure = m.structure AND a.attribute = 'ff_ref' "
        "WHERE m.run_id = ? AND m.split = 'test' AND m.metric = 'dice' AND a.value_num >= 20",
        rid,
    ).iloc[0]
    atlas = ours[(ours["Model"] == "atlas:Atlas") & (ours["Metric"] == DSC)].iloc[0]
    assert atlas["G20+ mean"] == pytest.approx(g20["mean"], abs=1e-12)
    assert atlas["G20+ n"] == g20["n"]
    published = chosen[chosen["Source"].fillna("").str.startswith("published")]
    assert published.set_index("Metric").loc[DSC, "p"] == 4.48e-15  # seed Table 2
    assert len(at.get("vega_lite_chart")) == 2


def test_bland_altman_page_shows_bias_and_limits_from_the_stored_map_means(db, app):
    at = app("Bland–Altman", **{"agreement-model": "shifted"})
    table = frame_with(at, "Bias").set_index("Biomarker")
    rid = run_id(db, "shifted")
    for name, ref, pred in (
        ("FF", "ff_ref", "ff_pred"),
        ("volume", "ref_volume_cm3", "pred_volume_cm3"),
    ):
        diff = sql(
            db,
            "SELECT p.value - r.value AS d FROM case_metrics r JOIN case_metrics p "
            "USING (run_id, fold, case_id, split, structure) WHERE r.run_id = ? "
            "AND r.split = 'test' AND r.metric = ? AND p.metric = ?",
            rid,
            ref,
            pred,
        )["d"]
        valid = diff.dropna()
        row = table.loc[name]
        assert row["n"] == len(valid) and row["n_excluded"] == diff.isna().sum()
        assert row["Bias"] == pytest.approx(valid.mean(), abs=1e-12)
        assert row["LoA high"] == pytest.approx(valid.mean() + 1.96 * valid.std(ddof=1), abs=1e-9)
    assert table.loc["FF", "n_excluded"] == 3  # Gr missed in three cases: no predicted FF
    assert len(at.get("vega_lite_chart")) == 4  # FF, MTR, T2, volume


def test_per_structure_page_shows_sql_quartiles(db, app):
    at = app("Per structure")
    table = frame_with(at, "Median")
    rid = run_id(db, "atlas:Atlas")
    stored = sql(
        db,
        "SELECT structure, median(value) AS median, quantile_cont(value, 0.25) AS q1, "
        "count(*) AS n FROM case_metrics WHERE run_id = ? AND split = 'test' AND metric = 'dice' "
        "GROUP BY structure",
        rid,
    ).set_index("structure")
    atlas = table[table["Model"] == "atlas:Atlas"].set_index("Structure")
    assert set(atlas.index) == set(stored.index)
    for structure, row in atlas.iterrows():
        assert row["Median"] == pytest.approx(stored.loc[structure, "median"], abs=1e-12)
        assert row["Q1"] == pytest.approx(stored.loc[structure, "q1"], abs=1e-12)
        assert row["n"] == stored.loc[structure, "n"]


def test_per_structure_page_groups_by_a_case_attribute_of_the_data(db, app):
    at = app("Per structure", **{"structure-by": "group"})
    assert "site" in at.selectbox(key="structure-by").options  # cases.csv columns
    table = frame_with(at, "Median")
    stored = sql(
        db,
        "SELECT a.value_text AS grp, avg(m.value) AS mean, count(*) AS n FROM case_metrics m "
        "JOIN runs r USING (run_id) JOIN attributes a ON a.data_fingerprint = r.data_fingerprint "
        "AND a.case_id = m.case_id AND a.structure = '__case__' AND a.attribute = 'group' "
        "WHERE m.run_id = ? AND m.split = 'test' AND m.metric = 'dice' GROUP BY 1",
        run_id(db, "atlas:Atlas"),
    ).set_index("grp")
    atlas = table[table["Model"] == "atlas:Atlas"].set_index("Group")
    assert len(stored) >= 2 and set(atlas.index) == set(stored.index)
    for group, row in atlas.iterrows():
        assert row["Mean"] == pytest.approx(stored.loc[group, "mean"], abs=1e-12)
        assert row["n"] == stored.loc[group, "n"]


def test_paper_tables_page_explains_a_task_without_tables(app):
    at = app("Paper tables")
    assert "defines no tables of its own" in texts(at)


def test_case_viewer_draws_the_case_beside_its_stored_metrics(db, app):
    at = app("Case viewer")
    rid = at.selectbox(key="case-run").value
    assert rid == run_id(db, "atlas:Atlas")  # ranked runs first, by model
    slider = at.slider[0]
    n_slices = get_task("nmd_thigh").profile("smoke").phantom["n_slices"]
    assert slider.max == n_slices - 1
    slider.set_value(0).run()
    assert not at.exception
    assert len(at.get("image")) == 1
    table = frame_with(at, DSC).set_index("Structure")
    case = sql(
        db,
        "SELECT fold, case_id FROM predictions WHERE run_id = ? AND split = 'test' ORDER BY fold, case_id LIMIT 1",
        rid,
    ).iloc[0]
    stored = sql(
        db,
        "SELECT structure, value FROM case_metrics WHERE run_id = ? AND fold = ? AND case_id = ? "
        "AND split = 'test' AND metric = 'dice'",
        rid,
        int(case["fold"]),
        case["case_id"],
    ).set_index("structure")["value"]
    for structure, value in stored.items():
        assert table.loc[structure.replace("__case__", "whole image"), DSC] == value


def test_runs_page_shows_provenance_and_the_failed_run_error(db, app):
    at = app("Runs")
    runs = frame_with(at, "Status")
    assert len(runs) == 5 and set(runs["Status"]) == {"finished", "failed"}
    assert set(runs["Kind"]) == {"trained", "scored"}
    failed = frame_with(at, "Error")
    assert failed["Error"].str.contains("RuntimeError: no GPU here").all()
    stored = sql(
        db, "SELECT device, git_commit FROM runs WHERE run_id = ?", runs["Run"].iloc[0]
    ).iloc[0]
    assert runs["Device"].iloc[0] == stored["device"]
    assert len(at.json) == 2  # configuration and package versions of the chosen run


def test_a_second_task_appears_in_the_picker_without_leaderboard_code(db, app):
    at = app("Overview")
    assert at.sidebar.selectbox(key="task").options == ["nmd_leg", "nmd_thigh"]
    assert at.sidebar.selectbox(key="task").value == "nmd_thigh"  # the task with most runs
    at.sidebar.selectbox(key="task").set_value("nmd_leg").run()
    assert "Leg muscle segmentation" in texts(at)
    table = frame_with(at, DSC)
    assert set(table["Model"]) >= {"atlas:Atlas", "hrnet"}
    at.sidebar.radio(key="page").set_value("Per structure").run()
    assert set(frame_with(at, "Structure")["Structure"]) == set(get_task("nmd_leg").structure_names)


def test_a_locked_database_gives_a_message_not_an_error(db, tmp_path, monkeypatch):
    copy = Path(shutil.copy(db, tmp_path / "copy.duckdb"))  # a new file: nothing cached
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; con = duckdb.connect({str(copy)!r}); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(copy), "--lock-timeout", "0.2"])
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
        assert not at.exception
        assert "database is busy" in texts(at)
        assert at.button(key="retry-locked")
    finally:
        holder.kill()
        holder.wait()
    at.button(key="retry-locked").click().run()  # the writer is gone: the page renders
    assert not at.exception
    assert frame_with(at, DSC)["Model"].iloc[0] == "reference"
    writer = f"import duckdb; duckdb.connect({str(copy)!r}).execute('CHECKPOINT')"
    done = subprocess.run([sys.executable, "-c", writer], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr  # the app holds no connection between queries


def test_while_a_writer_holds_the_file_the_app_shows_its_last_snapshot(db, tmp_path, monkeypatch):
    copy = Path(shutil.copy(db, tmp_path / "copy.duckdb"))
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(copy), "--lock-timeout", "0.2"])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    before = frame_with(at, DSC)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(path=str(copy))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        at.run()  # the file changed and stays locked: the last snapshot, with a note
        assert not at.exception, at.exception
        assert "is writing to the results database" in texts(at)
        pd.testing.assert_frame_equal(frame_with(at, DSC), before)
    finally:
        holder.kill()
        holder.wait()
    at.button(key="refresh-stale").click().run()  # the writer is gone: its change shows
    assert not at.exception
    assert "is writing" not in texts(at)
    assert set(frame_with(at, DSC)["Model"]) == set(before["Model"].replace("shifted", "moved"))


def test_a_running_writer_is_never_kept_waiting_while_pages_render(db, tmp_path, monkeypatch):
    copy = Path(shutil.copy(db, tmp_path / "copy.duckdb"))
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(copy)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(copy), "8"], stdout=subprocess.PIPE, text=True
    )
    pages, renders = at.sidebar.radio(key="page").options, 0
    while writer.poll() is None:  # every page, again and again, each on a new snapshot
        at.sidebar.radio(key="page").set_value(pages[renders % len(pages)]).run()
        assert not at.exception, (pages[renders % len(pages)], at.exception)
        renders += 1
    out, _ = writer.communicate()
    assert writer.returncode == 0, out  # no write gave up on the lock (0.5 s each)
    assert float(out) < 0.5 and renders >= 3, (out, renders)  # longest wait (s)
    assert sql(copy, "SELECT count(*) AS n FROM probe")["n"].iloc[0] == 8


@pytest.mark.skipif(
    "lumbar_paraspinal" not in task_names(), reason="the lumbar task is not registered here"
)
def test_the_lumbar_task_shows_on_every_page_without_leaderboard_code(
    smoke_lumbar, tmp_path, monkeypatch
):
    task, data = get_task("lumbar_paraspinal"), smoke_lumbar
    db = tmp_path / "lumbar.duckdb"
    drop = task.structure_names[-1]
    shifted = shifted_submission(data, tmp_path / "shifted", task.name, drop)
    for name, folder in (("reference", data / "labelsTr"), ("shifted", shifted)):
        score(task.name, data, folder, name, db)
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    for page in at.sidebar.radio(key="page").options:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, (page, at.exception)
    at.sidebar.radio(key="page").set_value("Overview").run()
    table = frame_with(at, DSC).set_index("Model")
    stored = sql(
        db,
        "SELECT avg(value) AS mean FROM case_metrics WHERE run_id = ? AND split = 'test' "
        "AND metric = 'dice'",
        run_id(db, "shifted", task.name),
    )["mean"].iloc[0]
    assert table.loc["shifted", DSC] == pytest.approx(stored, abs=1e-12)
    at.sidebar.radio(key="page").set_value("Per structure").run()
    at.selectbox(key="structure-by").set_value("level").run()  # a cases.csv column
    assert not at.exception, at.exception
    assert set(frame_with(at, "Level")["Level"]) == {"L2/L3", "L3/L4", "L4/L5"}
    at.sidebar.radio(key="page").set_value("Paper tables").run()
    expected = paper_tables(Store(db), task, at.selectbox(key="profile").value, "test")
    shown = [d.value for d in at.dataframe]
    assert len(shown) == len(expected) > 0
    for frame, want in zip(shown, expected.values(), strict=True):
        pd.testing.assert_frame_equal(frame, want.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize(("kind", "rule"), [("text", "[not-duckdb]"), ("other", "[not-mskbench]")])
def test_a_file_that_is_not_an_mskbench_database_is_an_error_and_stays_untouched(
    tmp_path, monkeypatch, kind, rule
):
    path = (tmp_path / "foreign.duckdb").resolve()
    if kind == "text":
        path.write_text("model,dice\nunet,0.9\n")
    else:
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE customers (id INTEGER)")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(path)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    assert not at.exception, at.exception
    assert any(rule in e.value and str(path) in e.value for e in at.error), texts(at)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert [p.name for p in tmp_path.iterdir()] == ["foreign.duckdb"]


FORMULA = "=cmd|' /C calc'!A0"


def test_every_csv_download_neutralises_formula_cells(smoke_thigh, tmp_path, monkeypatch):
    """A cases.csv value and a submission name that a spreadsheet would run reach the
    tables; the CSV downloads carry them quoted (`harness.csvsafe`), numbers unchanged."""
    import streamlit
    from streamlit.delta_generator import DeltaGenerator

    from mskbench.harness.csvsafe import neutralise_cell

    data = Path(shutil.copytree(smoke_thigh, tmp_path / "data"))
    cases = pd.read_csv(data / "cases.csv", dtype=str)
    cases.loc[cases["site"] == "A", "group"] = FORMULA  # test cases: site B is external
    cases.to_csv(data / "cases.csv", index=False)
    db = tmp_path / "formula.duckdb"
    score("nmd_thigh", data, data / "labelsTr", "-2+3", db)
    downloads: list[str] = []
    original = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        downloads.append(data.decode())
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    monkeypatch.setattr(streamlit, "download_button", lambda *a, **k: spy(streamlit._main, *a, **k))
    monkeypatch.setattr(sys, "argv", ["app.py", "--db", str(db)])
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    at.session_state["structure-by"] = "group"
    at.sidebar.radio(key="page").set_value("Per structure").run()
    assert not at.exception, at.exception
    run = Store(db).runs()["run_id"].item()
    at.session_state[f"values-{run}"] = True  # the run's per-case values, prepared
    at.sidebar.radio(key="page").set_value("Runs").run()
    assert not at.exception, at.exception
    cells = [c for text in downloads for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'" + FORMULA in cells and "'-2+3" in cells
    assert [c for c in cells if neutralise_cell(c) != c] == []
    assert any(c.startswith("-") for c in cells)  # negative numbers stay numbers
    assert len(downloads) >= 4
