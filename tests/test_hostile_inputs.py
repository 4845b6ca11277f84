"""Hostile inputs, store / CLI / CSV part (tests ``test_store_*`` and ``test_cli_*``): a
results file that is not mskbench's, read-only or of another schema version; names and
formula cells from outside; a command line that pipes. Every refusal is exit 2 with the
file and the rule named, and nothing is written: file hashes, modification times and
DuckDB row counts are compared before and after.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import mskbench.harness.store.schema as schema
import numpy as np
import pandas as pd
import pytest
from mskbench.harness.cli import app
from mskbench.harness.csvsafe import FORMULA_START, neutralise_cell, to_csv
from mskbench.harness.report import render, render_tables, table1
from mskbench.harness.store import NotAStoreError, ReadOnlyStoreError, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import summarize_task
from mskbench.harness.textlayout import render_table
from mskbench.tasks import get_task, task_names
from mskbench.tasks.contract import read_image, write_image
from typer.testing import CliRunner

_cli_runner = CliRunner()
_ATLAS = str(Path(__file__).parent / "plugins" / "atlas.py") + ":Atlas"
_FORMULA = "=cmd|' /C calc'!A0"
_MSKBENCH_TABLES = {"runs", "folds", "case_metrics", "schema_version"}


def _cli(*args: str):
    """``bench ARGS`` in this process; an exception escaping the CLI fails the test."""
    return _cli_runner.invoke(app, list(args), catch_exceptions=False)


def _cli_files(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``folder``: sha256, modification time (ns) and mode."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            status = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(folder))] = (digest, status.st_mtime_ns, status.st_mode)
    return out


def _store_tables(path: Path) -> dict[str, int]:
    """Row count of every table of the DuckDB file ``path`` (read-only)."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _store_foreign(kind: str, path: Path) -> Path:
    """A file at ``path`` that is not an mskbench results database."""
    if kind == "text":
        path.write_text("model,dice\nunet,0.9\n")
    elif kind == "random-bytes":
        path.write_bytes(np.random.default_rng(0).bytes(20_000))
    elif kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "empty-duckdb":
        duckdb.connect(str(path)).close()
    elif kind == "other-program":
        with duckdb.connect(str(path)) as con:
            con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
            con.execute("INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')")
            con.execute("CREATE VIEW names AS SELECT name FROM customers")
    return path


_FOREIGN_RULES = {
    "text": "[not-duckdb] not a DuckDB database file",
    "random-bytes": "[not-duckdb] not a DuckDB database file",
    "zero-bytes": "[not-duckdb] the file is empty (0 bytes)",
    "empty-duckdb": "[not-mskbench] an empty DuckDB database",
    "other-program": "[not-mskbench] a DuckDB database of another program (holding customers, names)",
}


def _cli_score(data: Path, predictions: Path, db: Path, name: str = "perfect"):
    return _cli(
        "score", "--task", "nmd_thigh", "--data", str(data), "--predictions", str(predictions),
        "--name", name, "--db", str(db),
    )  # fmt: skip


@pytest.fixture(scope="module")
def _store_scored(smoke_thigh: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results file holding one scored run (the references themselves, named "perfect")."""
    db = tmp_path_factory.mktemp("scored") / "scored.duckdb"
    result = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db)
    assert result.exit_code == 0, result.output
    assert "DSC" in result.output and "perfect" in result.output  # score prints the summary
    return db


@pytest.fixture
def _store_copy(_store_scored: Path, tmp_path: Path) -> Path:
    """A private copy of `_store_scored`, alone in its folder."""
    folder = tmp_path / "db"
    folder.mkdir()
    return Path(shutil.copy(_store_scored, folder / "results.duckdb"))


# -- results files that are not mskbench's -------------------------------------------------
@pytest.mark.parametrize("kind", list(_FOREIGN_RULES))
def test_store_results_refuses_a_file_that_is_not_an_mskbench_database(kind, tmp_path):
    path = _store_foreign(kind, tmp_path / "foreign.duckdb")
    before = _cli_files(tmp_path)
    for extra in ((), ("--format", "csv")):
        result = _cli("results", "--task", "nmd_thigh", "--db", str(path), *extra)
        assert result.exit_code == 2, result.output
        assert f"results database {path}: {_FOREIGN_RULES[kind]}" in result.output
        assert "Traceback" not in result.output
    assert _cli_files(tmp_path) == before  # no migration, no write-ahead log, nothing


@pytest.mark.parametrize("kind", ["text", "random-bytes", "zero-bytes", "other-program"])
def test_store_writers_refuse_a_foreign_file_and_leave_it_as_it_was(kind, tmp_path):
    path = _store_foreign(kind, tmp_path / "foreign.duckdb")
    before = _cli_files(tmp_path)
    with pytest.raises(NotAStoreError, match=str(path)):
        Store(path).begin_run(synthetic_run_record("key"))
    assert _cli_files(tmp_path) == before
    if kind == "other-program":
        assert _store_tables(path) == {"customers": 2}  # no mskbench table was added


def test_store_a_writer_fills_an_empty_duckdb_file(tmp_path):
    path = _store_foreign("empty-duckdb", tmp_path / "new.duckdb")
    Store(path).begin_run(synthetic_run_record("key"))
    assert set(_store_tables(path)) >= _MSKBENCH_TABLES


def test_cli_score_and_run_refuse_another_programs_database(smoke_thigh, tmp_path):
    path = _store_foreign("other-program", tmp_path / "theirs.duckdb")
    before = _cli_files(tmp_path)
    scored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", path)
    run = _cli(
        "run", "--task", "nmd_thigh", "--model", _ATLAS, "--profile", "smoke", "--db", str(path)
    )
    for result in (scored, run):
        assert result.exit_code == 2, result.output
        assert _FOREIGN_RULES["other-program"] in result.output
    assert _cli_files(tmp_path) == before
    assert _store_tables(path) == {"customers": 2}


def test_cli_leaderboard_refuses_a_file_that_is_not_an_mskbench_database(tmp_path):
    path = _store_foreign("text", tmp_path / "notes.duckdb")
    result = _cli("leaderboard", "--db", str(path))
    assert result.exit_code == 2 and "[not-duckdb]" in result.output and str(path) in result.output


# -- read-only files and other schema versions -----------------------------------------------
def test_store_a_read_only_database_is_read_and_never_written(smoke_thigh, _store_copy):
    folder = _store_copy.parent
    counts = _store_tables(_store_copy)
    _store_copy.chmod(0o444)
    before = _cli_files(folder)
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    assert shown.exit_code == 0, shown.output
    assert "perfect" in shown.output and "1.000 ± 0.000" in shown.output
    rescored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", _store_copy, name="again")
    assert rescored.exit_code == 2, rescored.output
    assert f"results database {_store_copy}: [read-only] the file is read-only (mode 0444)" in (
        rescored.output
    )
    assert _cli_files(folder) == before
    assert _store_tables(_store_copy) == counts
    with pytest.raises(ReadOnlyStoreError):
        Store(_store_copy).finish_run("any", "finished")


def test_store_a_newer_schema_is_refused_by_readers_and_writers(smoke_thigh, _store_copy):
    with duckdb.connect(str(_store_copy)) as con:
        con.execute("INSERT INTO schema_version VALUES (99, now())")
    counts, before = _store_tables(_store_copy), _cli_files(_store_copy.parent)
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    rescored = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", _store_copy, name="again")
    for result in (shown, rescored):
        assert result.exit_code == 2, result.output
        assert f"results database {_store_copy} has schema version 99, newer than" in result.output
    assert _cli_files(_store_copy.parent) == before
    assert _store_tables(_store_copy) == counts


def test_store_an_older_schema_is_read_through_a_private_copy(_store_copy, monkeypatch):
    versions = [(m.version,) for m in schema.MIGRATIONS]  # those of the file
    newer = schema.Migration(
        len(versions) + 1, "test: a note on runs", ("ALTER TABLE runs ADD COLUMN note VARCHAR",)
    )
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, newer])
    _store_copy.chmod(0o444)  # even a read-only file: nothing is written to it
    before = _cli_files(_store_copy.parent)
    store = Store(_store_copy)
    runs = store.runs()
    assert "note" in runs.columns and list(runs["model"]) == ["perfect"]
    shown = _cli("results", "--task", "nmd_thigh", "--db", str(_store_copy))
    assert shown.exit_code == 0 and "perfect" in shown.output
    assert _cli_files(_store_copy.parent) == before
    with duckdb.connect(str(_store_copy), read_only=True) as con:
        assert con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == versions


# -- names and formula cells from outside ----------------------------------------------------
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "--name '': [run-name] is empty"),
        ("   ", "--name '   ': [run-name] holds only whitespace"),
        (" padded", "[run-name] starts or ends with whitespace"),
        ("two\nlines", "[run-name] holds a control character"),
        ("x" * 500, "[run-name] is 500 characters long; at most 64"),
    ],
)
def test_cli_score_refuses_an_unusable_name_before_anything_is_written(
    smoke_thigh, tmp_path, name, message
):
    db = tmp_path / "results" / "s.duckdb"
    result = _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name=name)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not db.parent.exists()


def _cli_formula_cells(text: str) -> list[str]:
    """Cells of CSV ``text`` a spreadsheet would run as a formula (numbers are not)."""
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    return [c for c in cells if neutralise_cell(c) != c]


def test_cli_csv_cells_from_outside_are_neutralised_and_numbers_kept(smoke_thigh, tmp_path):
    db = tmp_path / "formula.duckdb"
    assert _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name=_FORMULA).exit_code == 0
    result = _cli("results", "--task", "nmd_thigh", "--db", str(db), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert _cli_formula_cells(result.output) == []
    table = pd.read_csv(io.StringIO(result.output))
    assert "'" + _FORMULA in set(table["model"])
    assert (table["mean"] < 0).any()  # published negative biases stay numbers
    frame = pd.DataFrame({"Model": ["+1+1", "-0.25", "@SUM(A1)"], "-x": [-0.25, 1.0, 2.0]})
    tables = render_tables({"Table 5": frame}, "csv")
    assert _cli_formula_cells(tables) == []
    assert tables.splitlines()[1:] == ["Model,'-x", "'+1+1,-0.25", "-0.25,1.0", "'@SUM(A1),2.0"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (_FORMULA, "'" + _FORMULA),
        ("+HYPERLINK(x)", "'+HYPERLINK(x)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tcmd", "'\tcmd"),
        ("-0.25", "-0.25"),
        ("+3e-2", "+3e-2"),
        ("plain", "plain"),
        (-0.25, -0.25),
    ],
)
def test_cli_csv_rule_is_owasps_with_numbers_excepted(cell, expected):
    assert neutralise_cell(cell) == expected
    assert set(FORMULA_START) == {"=", "+", "-", "@", "\t", "\r"}


def test_cli_csv_helper_neutralises_text_columns_and_headers_only():
    frame = pd.DataFrame({"=h": ["=1+1", "ok"], "value": [-1.5, 2.0], "mixed": ["-x", 3]})
    text = to_csv(frame)
    assert text.splitlines() == ["'=h,value,mixed", "'=1+1,-1.5,'-x", "ok,2.0,3"]


# -- a command line that pipes --------------------------------------------------------------
def _cli_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``bench ARGS`` as a separate process whose stdout is a pipe, not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "mskbench.harness.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40", **(env or {})},
        timeout=120,
    )


def test_cli_list_output_pipes_with_full_names_and_parses_as_json_and_csv():
    names = task_names()
    table = _cli_process("list", "tasks")
    assert table.returncode == 0, table.stderr
    for name in names:  # `bench list tasks | grep lumbar_paraspinal` finds it
        assert any(name in line.split() for line in table.stdout.splitlines()), name
    assert "…" not in table.stdout
    doc = json.loads(_cli_process("list", "tasks", "--format", "json").stdout)
    assert [row["task"] for row in doc] == names and isinstance(doc[0]["structures"], int)
    verbose = json.loads(_cli_process("list", "tasks", "-v", "--format", "json").stdout)
    assert verbose[0]["structures"] == list(get_task(names[0]).structure_names)
    rows = list(csv.DictReader(io.StringIO(_cli_process("list", "tasks", "-f", "csv").stdout)))
    assert [row["task"] for row in rows] == names
    models = json.loads(_cli_process("list", "models", "--format", "json").stdout)
    assert {"unet2d", "lumbar_threshold"} <= {m["model"] for m in models}
    bad = _cli("list", "models", "--format", "yaml")
    assert bad.exit_code == 2 and "--format 'yaml' is not one of: table, json, csv" in bad.output


def test_cli_identifiers_are_never_cut_even_in_a_narrow_table():
    text = render_table(
        ["task", "study"], [["lumbar_paraspinal", "Xu 2024 (seed 002), a long citation"]], "t", 20
    )
    assert "lumbar_paraspinal" in text and "…" not in text
    assert "citation" in text  # the other column wraps at spaces instead


@pytest.mark.parametrize("width", [80, 120])
def test_cli_results_table_fits_the_width_and_keeps_every_number_whole(_store_scored, width):
    summary = summarize_task(Store(_store_scored), get_task("nmd_thigh"), n_resamples=99)
    text = render(summary, "table", width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for cells in table1(summary, "\n").itertuples(index=False):
        for cell in cells[3:]:
            for part in str(cell).splitlines():  # "mean ± SD" and "[CI]" each on one line
                assert part in text, part


def test_cli_metric_headers_are_readable_names():
    from mskbench.harness.report import metric_header

    assert metric_header("fi_refseg_ape") == "FI (ref. seg.) APE (%) ↓"
    assert metric_header("instance_recall") == "Instance recall ↑"
    assert metric_header("dice") == "DSC ↑"


def test_cli_results_lists_every_run_of_a_model_with_the_reason(smoke_thigh, tmp_path):
    db = tmp_path / "twice.duckdb"
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for path in sorted((smoke_thigh / "labelsTr").glob("*.nii.gz")):
        label, grid = read_image(path, dtype=None)
        write_image(shifted / path.name, np.roll(label, 1, axis=-1).astype(np.uint8), grid=grid)
    assert _cli_score(smoke_thigh, smoke_thigh / "labelsTr", db, name="mine").exit_code == 0
    assert _cli_score(smoke_thigh, shifted, db, name="mine").exit_code == 0
    result = _cli("results", "--task", "nmd_thigh", "--db", str(db))
    runs = Store(db).runs("nmd_thigh").sort_values("finished_at")
    older, newer = runs["run_id"]
    assert f"{older} (mine, smoke): superseded by run {newer} (newer)" in result.output


def test_cli_startup_imports_no_torch_pandas_or_duckdb():
    code = (
        "import sys\n"
        "from mskbench.harness.cli import main\n"
        "sys.argv = ['bench', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'pandas', 'duckdb', 'scipy', 'sklearn', 'SimpleITK')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    for args in (["--help"], ["list", "models"], ["run", "--task", "nmd_thigh", "--model", "nope"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
        )
        assert "HEAVY []" in done.stdout, (args, done.stdout, done.stderr)
    assert "unknown model 'nope'" in done.stderr


def test_cli_version_completion_and_choices_in_help():
    from importlib.metadata import version

    from mskbench.harness.cli import DEVICES
    from mskbench.harness.training.runtime import DEVICES as RUNTIME_DEVICES

    assert _cli("--version").output.strip() == f"mskbench {version('mskbench')}"
    completion = {"_BENCH_COMPLETE": "complete_bash", "COMP_WORDS": "bench run --profile "}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "bench")],
        capture_output=True,
        text=True,
        env={**os.environ, **completion, "COMP_CWORD": "3"},
        timeout=60,
    )
    assert completed.stdout.split() == ["smoke", "quick", "paper"]
    assert DEVICES == RUNTIME_DEVICES
    run_help = _cli("run", "--help").output
    assert "[smoke|quick|paper]" in run_help and "[auto|cpu|cuda]" in run_help
    assert "--keep-checkpoints" in run_help
    results_help = _cli("results", "--help").output
    assert "[table|csv|json|markdown]" in results_help and "[test|external]" in results_help


def test_cli_checkpoints_live_beside_the_database_and_go_when_the_fold_is_stored(
    smoke_thigh, tmp_path
):
    plugin = tmp_path / "saver.py"
    plugin.write_text(
        "import numpy as np\n"
        "from mskbench.harness.models import Prediction\n"
        "class Saver:\n"
        "    def fit(self, train, val, ctx):\n"
        "        ctx.work_dir.mkdir(parents=True, exist_ok=True)\n"
        "        (ctx.work_dir / 'checkpoint.pt').write_bytes(b'weights')\n"
        "    def predict(self, case, ctx):\n"
        "        return Prediction(label=np.zeros(case.image.shape[1:], np.uint8))\n"
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    for keep, db in (
        ((), tmp_path / "a" / "r.duckdb"),
        (("--keep-checkpoints",), tmp_path / "b" / "r.duckdb"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "mskbench.harness.cli", "run", "--task", "nmd_thigh",
             "--model", f"{plugin}:Saver", "--profile", "smoke", "--db", str(db), *keep],
            cwd=cwd, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        kept = sorted(p.relative_to(db.parent) for p in db.parent.rglob("checkpoint.pt"))
        assert len(kept) == (1 if keep else 0), kept
        assert not (db.parent / "work").exists() or keep
    assert list(cwd.iterdir()) == []  # nothing in the directory it ran from
