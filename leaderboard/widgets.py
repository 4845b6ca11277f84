"""Widgets shared by the pages: tables with a CSV download, number formats, pickers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from mskbench.harness.csvsafe import to_csv
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import decimals
from mskbench.tasks.spec import TaskSpec

PROFILE_KEY = "profile"
ROW_PX = 35
ALL_ROWS_UP_TO = 40


def number(metric_or_decimals: str | int, task: TaskSpec | None = None) -> Any:
    """A sortable number column shown with a metric's decimals (its ``task``'s catalogue) or
    the given count."""
    if isinstance(metric_or_decimals, int):
        places = metric_or_decimals
    else:
        assert task is not None, "a metric's decimals come from its task's catalogue"
        places = decimals(metric_or_decimals, task)
    return st.column_config.NumberColumn(format=f"%.{places}f")


P_VALUE = st.column_config.NumberColumn(format="%.2e")


def show_table(
    frame: pd.DataFrame,
    key: str,
    column_config: Mapping[str, Any] | None = None,
    caption: str | None = None,
) -> None:
    """``frame`` as a sortable table (every row visible up to 40, missing values as "–")
    with a button that downloads it as CSV (formula cells neutralised, `harness.csvsafe`)."""
    height = ROW_PX * (len(frame) + 1) + 3 if len(frame) <= ALL_ROWS_UP_TO else "auto"
    st.dataframe(
        frame,
        hide_index=True,
        column_config=dict(column_config or {}),
        key=key,
        height=height,
        placeholder="–",
    )
    left, right = st.columns([3, 1])
    if caption:
        left.caption(caption)
    right.download_button(
        "Download CSV",
        to_csv(frame).encode(),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"{key}-csv",
        on_click="ignore",
    )


def pick_profile(ctx: PageContext) -> str | None:
    """The profile to look at (a page of one profile); None when nothing is ranked yet."""
    profiles = ctx.profiles
    if not profiles:
        st.info(f"No finished run of {ctx.task.name} yet: nothing to compare.")
        return None
    if st.session_state.get(PROFILE_KEY) not in profiles:
        st.session_state[PROFILE_KEY] = profiles[-1]
    return st.selectbox("Profile", profiles, key=PROFILE_KEY)


def pick_model(runs: pd.DataFrame, label: str, key: str, default: int = 0) -> pd.Series:
    """One of the ranked ``runs`` of a profile, picked by model name."""
    models = list(runs["model"])
    if st.session_state.get(key) not in models:
        st.session_state[key] = models[min(default, len(models) - 1)]
    model = st.selectbox(label, models, key=key)
    return runs[runs["model"] == model].iloc[0]


def no_values(what: str) -> None:
    """Say that the chosen runs hold no values for ``what``."""
    st.info(f"The chosen runs store no values for {what} on this split.")
