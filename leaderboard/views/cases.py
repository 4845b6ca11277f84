"""Case viewer: one run's prediction of one case drawn over the image with the reference,
slice by slice, beside the case's per-structure metrics. Images come from the run's data
folder (``runs.data_root``), predictions from the files the ``predictions`` table names."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import streamlit as st

from mskbench.harness.prediction_folder import read_on_reference
from mskbench.harness.report import metric_header
from mskbench.leaderboard import queries
from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.taskview import structure_label, value_metrics
from mskbench.leaderboard.viewer import draw_slice
from mskbench.leaderboard.widgets import number, show_table
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset
from mskbench.tasks.show import default_slice

TITLE = "Case viewer"
FLAG = "absent"


@st.cache_data(show_spinner=False, max_entries=16)
def load_case(
    data_root: str, task_name: str, case_id: str, prediction: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """First image channel, reference, prediction (on the reference grid, reoriented like
    `bench score` does) and spacing (mm) of one case."""
    dataset = Dataset(data_root, get_task(task_name), validate=False)
    case = dataset.load(case_id, with_maps=False)
    reference = dataset.layout.label(case_id)
    predicted, _ = read_on_reference(Path(prediction), reference, dataset.layout.png)
    return case.image[0], case.label, predicted.astype(np.uint8), tuple(case.spacing)


def _run_label(row: pd.Series) -> str:
    return f"{row['model']} · {row['profile']} · seed {row['seed']} · {row['status']} · {row['run_id']}"


def _pick_run(ctx: PageContext) -> pd.Series | None:
    runs = ctx.runs[ctx.runs["folds_finished"].map(len) > 0]
    if runs.empty:
        st.info(f"No run of {ctx.task.name} has a finished fold yet.")
        return None
    ranked = ctx.compared.sort_values(["profile", "model"])["run_id"]
    ranked = [r for r in ranked if r in set(runs["run_id"])]
    order = ranked + [r for r in runs["run_id"] if r not in ranked]
    by_id = runs.set_index("run_id", drop=False)
    labels = {r: _run_label(by_id.loc[r]) for r in order}
    run_id = st.selectbox("Run", order, key="case-run", format_func=labels.get)
    return runs[runs["run_id"] == run_id].iloc[0]


def _metrics_table(ctx: PageContext, run_id: str, fold: int, case_id: str) -> None:
    metrics = [*value_metrics(ctx.task), FLAG]
    table = ctx.source.get(queries.case_table, run_id, fold, case_id, ctx.split, tuple(metrics))
    table = table[table[metrics].notna().any(axis=1)]  # e.g. no image-level value here
    table["structure"] = table["structure"].map(structure_label)
    headers = {m: metric_header(m, ctx.task) for m in value_metrics(ctx.task)}
    show_table(
        table.rename(columns={"structure": "Structure", **headers}),
        key=f"case-{run_id}-{fold}-{case_id}",
        column_config={headers[m]: number(m, ctx.task) for m in headers},
        caption="Stored per-case values; absent = 1: the model predicted no voxel of a "
        "structure the reference has.",
    )


def render(ctx: PageContext) -> None:
    """Draw the page."""
    st.header("Case viewer")
    run = _pick_run(ctx)
    if run is None:
        return
    cases = ctx.source.get(queries.predicted_cases, run["run_id"])
    cases = cases[cases["split"] == ctx.split].reset_index(drop=True)
    if cases.empty:
        st.info(f"Run {run['run_id']} stored no prediction on the {ctx.split} split.")
        return
    index = st.selectbox(
        "Case",
        list(cases.index),
        key="case-case",
        format_func=lambda i: f"{cases.loc[i, 'case_id']} (fold {cases.loc[i, 'fold']})",
    )
    case = cases.loc[index]
    path = Path(case["path"])
    if not Path(run["data_root"]).is_dir() or not path.is_file():
        st.warning(
            f"Cannot draw the case: data folder {run['data_root']} or prediction {path} "
            "is not on this machine."
        )
        _metrics_table(ctx, run["run_id"], int(case["fold"]), case["case_id"])
        return
    image, reference, prediction, spacing = load_case(
        run["data_root"], ctx.task.name, case["case_id"], str(path)
    )
    picture, numbers = st.columns(2)
    with picture:
        title = f"{case['case_id']} · {run['model']}"
        if image.ndim == 3:
            z = st.slider(
                "Slice",
                0,
                image.shape[0] - 1,
                default_slice(reference),
                key=f"case-slice-{run['run_id']}-{case['case_id']}",
            )
            image, reference, prediction = image[z], reference[z], prediction[z]
            title += f" · slice {z}"
        figure = draw_slice(ctx.task, image, reference, prediction, spacing, title)
        st.pyplot(figure)
        plt.close(figure)
    with numbers:
        _metrics_table(ctx, run["run_id"], int(case["fold"]), case["case_id"])
