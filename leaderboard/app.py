"""The mskbench leaderboard (Streamlit): ``bench leaderboard [--db PATH] [--port N]``, or
``streamlit run leaderboard/app.py -- --db PATH [--lock-timeout S]``.

The sidebar picks the page, the task (every task with runs in the database whose
`TaskSpec` is registered) and the split; the pages live in `leaderboard.views`. Pages read
a snapshot of the database, never the file a `bench run` writes (see
`leaderboard.source`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

from mskbench.harness.store import SPLITS, StoreError, StoreLockedError
from mskbench.leaderboard import queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.source import DEFAULT_LOCK_TIMEOUT_S, Source, snapshots
from mskbench.leaderboard.views import PAGES
from mskbench.tasks import get_task, task_names
from mskbench.tasks.spec import TaskSpec

DEFAULT_DB = Path("results/mskbench.duckdb")
SPLIT_CAPTIONS = {"test": "cross-validation folds", "external": "second site, every fold's model"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``--db`` and ``--lock-timeout`` (s) from the arguments after ``--``."""
    parser = argparse.ArgumentParser(prog="leaderboard")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT_S)
    args, _ = parser.parse_known_args(argv)
    return args


def pick_task(source: Source) -> TaskSpec | None:
    """The task picker: tasks with runs in the database that this mskbench knows; the
    one with the most runs is shown first."""
    counts = source.get(queries.task_counts)
    known = set(task_names())
    unknown = [t for t in counts["task"] if t not in known]
    if unknown:
        st.sidebar.warning(
            f"Runs of unknown task(s) {', '.join(unknown)} are not shown: this mskbench has "
            "no TaskSpec for them."
        )
    names = [t for t in counts["task"] if t in known]
    if not names:
        st.info(f"No runs in {source.original} yet: `bench run --task T --model M` fills it.")
        return None
    runs = dict(zip(counts["task"], counts["runs"], strict=True))
    name = st.sidebar.selectbox(
        "Task",
        names,
        index=names.index(max(names, key=lambda t: runs[t])),  # the most runs first
        key="task",
        bind="query-params",  # the URL holds the plain option: no run count in the label
    )
    st.sidebar.caption(f"{runs[name]} run(s) of {name}")
    return get_task(name)


def pick_split(task: TaskSpec) -> str:
    """The split whose values every page shows (external only for tasks with a second site)."""
    splits = [s for s in SPLITS if s == "test" or task.split.external_site is not None]
    return st.sidebar.radio(
        "Split",
        splits,
        key="split",
        bind="query-params",
        captions=[SPLIT_CAPTIONS[s] for s in splits],
    )


def main() -> None:
    """Draw the sidebar and the chosen page."""
    st.set_page_config(page_title="mskbench leaderboard", layout="wide")
    args = parse_args(sys.argv[1:])
    path = args.db.expanduser().resolve()
    st.sidebar.title("mskbench")
    page = st.sidebar.radio("Page", list(PAGES), key="page", bind="query-params")
    st.sidebar.caption(f"Results: `{path}` (read-only)")
    if not path.is_file():
        st.error(f"No results database at {path}: run `bench run` first or pass --db.")
        return
    try:
        source = snapshots(str(path), args.lock_timeout).current()
        if source.stale:
            st.sidebar.warning(
                "A `bench run` is writing to the results database: showing the results as "
                f"of {source.taken_at:%H:%M:%S} UTC."
            )
            st.sidebar.button("Refresh", key="refresh-stale")
        task = pick_task(source)
        if task is not None:
            PAGES[page](PageContext.load(source, task, pick_split(task)))
    except StoreLockedError:
        st.warning(
            "The results database is busy: a `bench run` is writing a fold. "
            "It takes a few seconds; retry then."
        )
        st.button("Retry", key="retry-locked")
    except StoreError as exc:
        st.error(f"The results database cannot be read: {exc}")


main()
