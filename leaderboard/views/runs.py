"""Runs: the provenance of every run of the task (configuration, versions, device, times),
failed runs with their error, and CSV downloads of the runs and of one run's values."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mskbench.harness.csvsafe import to_csv
from mskbench.leaderboard import queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.widgets import show_table

TITLE = "Runs"
PROVENANCE = {
    "run_id": "Run",
    "model": "Model",
    "profile": "Profile",
    "kind": "Kind",
    "status": "Status",
    "seed": "Seed",
    "started_at": "Started (UTC)",
    "finished_at": "Finished (UTC)",
    "wall_time_s": "Wall time (s)",
    "train_images_per_s": "Train images/s",
    "peak_memory_mb": "Peak memory (MiB)",
    "device": "Device",
    "device_name": "Device name",
    "mskbench_version": "mskbench",
    "git_commit": "Commit",
    "task_version": "Task version",
    "folds_planned": "Folds planned",
    "folds_finished": "Folds finished",
    "data_fingerprint": "Data fingerprint",
    "split_fingerprint": "Split fingerprint",
    "data_root": "Data folder",
}


def _provenance(runs: pd.DataFrame) -> pd.DataFrame:
    table = runs[list(PROVENANCE)].copy()
    for column in ("folds_planned", "folds_finished"):
        table[column] = table[column].map(lambda f: ",".join(map(str, f or [])))
    return table.rename(columns=PROVENANCE)


def _details(ctx: PageContext) -> None:
    st.subheader("One run")
    runs = ctx.runs.set_index("run_id", drop=False)
    run_id = st.selectbox(
        "Run",
        list(runs.index),
        key="runs-detail",
        format_func=lambda r: f"{runs.loc[r, 'model']} · {runs.loc[r, 'profile']} · {r}",
    )
    run = runs.loc[run_id]
    if isinstance(run["error"], str):
        st.error(f"Failed: {run['error']}")
    config, packages = st.columns(2)
    with config:
        st.caption("Configuration")
        st.json(run["config"] or {}, expanded=True)
    with packages:
        st.caption("Package versions")
        st.json(run["packages"] or {}, expanded=False)
    show_table(
        ctx.source.get(queries.folds_of_run, run_id),
        key=f"folds-{run_id}",
        caption="Finished folds: times in UTC and s, throughput in training images/s, "
        "memory in MiB.",
    )
    if st.toggle("Prepare this run's per-case values for download", key=f"values-{run_id}"):
        values = ctx.source.get(queries.case_metrics_of_run, run_id)
        st.download_button(
            f"Download {len(values):,} case-metric rows (CSV)",
            to_csv(values).encode(),
            file_name=f"{run_id}-case-metrics.csv",
            mime="text/csv",
            key=f"values-{run_id}-csv",
            on_click="ignore",
        )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header(f"Runs of {ctx.task.name}")
    st.caption(
        f"{len(ctx.runs)} run(s): {', '.join(f'{n} {s}' for s, n in ctx.runs['status'].value_counts().items())}"
    )
    show_table(_provenance(ctx.runs), key=f"runs-{ctx.task.name}")
    failed = ctx.runs[ctx.runs["status"] == "failed"]
    st.subheader("Failed runs")
    if failed.empty:
        st.caption("No run failed.")
    else:
        show_table(
            failed[["run_id", "model", "profile", "finished_at", "folds_finished", "error"]]
            .assign(folds_finished=failed["folds_finished"].map(lambda f: ",".join(map(str, f))))
            .rename(columns={**PROVENANCE, "error": "Error"}),
            key=f"failed-{ctx.task.name}",
            caption="A failed run keeps its finished folds; running the same command again "
            "resumes it.",
        )
    _details(ctx)
