"""Paper tables: the tables a task defines itself (its ``TaskSpec.tables`` hook, e.g. seed
002's per-structure, fat-pixel, rCSA and FI tables), made from the stored runs of one
profile and split with the paper's numbers beside ours. A task without the hook has none."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mskbench.harness.store import Store
from mskbench.harness.tables import paper_tables
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.widgets import pick_profile, show_table
from mskbench.tasks import get_task

TITLE = "Paper tables"


def task_tables(store: Store, task_name: str, profile: str, split: str) -> dict[str, pd.DataFrame]:
    """The task's own tables of ``profile`` on ``split`` (`mskbench.harness.tables`), keyed
    by title."""
    task = get_task(task_name)
    if task.tables is None:
        return {}
    return paper_tables(store, task, profile, split)


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Paper tables")
    if ctx.task.tables is None:
        st.info(
            f"Task {ctx.task.name} defines no tables of its own: its paper's numbers are "
            "on the Overview and the other pages."
        )
        return
    profile = pick_profile(ctx)
    if profile is None:
        return
    tables = ctx.source.get(task_tables, ctx.task.name, profile, ctx.split)
    if not tables:
        st.info(f"No finished run of profile {profile} to tabulate.")
        return
    st.caption(
        f"{ctx.task.citation.short()}: the paper's tables from the ranked runs; published "
        "rows are the paper's numbers on its own (other) data."
    )
    for i, (title, table) in enumerate(tables.items()):
        st.subheader(title)
        show_table(table, key=f"paper-{ctx.task.name}-{ctx.split}-{profile}-{i}")
