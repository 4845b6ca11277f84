"""The case viewer's image: one slice of the input with the reference (solid) and the
predicted (dashed) contour of each structure, axes in mm. Arrays are ``(z, y, x)`` for
volumes and ``(y, x)`` for slices, spacing in mm in the same order."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mskbench.tasks.show import body_window, structure_colours
from mskbench.tasks.spec import TaskSpec


def draw_slice(
    task: TaskSpec,
    image: np.ndarray,
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: Sequence[float],
    title: str,
) -> Figure:
    """A figure of one 2D ``image`` with both label maps' contours per structure."""
    if not image.shape == reference.shape == prediction.shape:
        raise ValueError(
            f"image {image.shape}, reference {reference.shape} and prediction "
            f"{prediction.shape} must share one grid"
        )
    dy, dx = spacing[-2:]
    rows, cols = body_window(image, (reference > 0) | (prediction > 0))
    image, reference, prediction = image[rows, cols], reference[rows, cols], prediction[rows, cols]
    x0, y0 = cols.start * dx, rows.start * dy
    extent = (x0, x0 + image.shape[1] * dx, y0 + image.shape[0] * dy, y0)
    xs = x0 + (np.arange(image.shape[1]) + 0.5) * dx
    ys = y0 + (np.arange(image.shape[0]) + 0.5) * dy
    fig, ax = plt.subplots(figsize=(6, 6))
    vmax = float(np.percentile(image, 99.5)) or 1.0
    ax.imshow(image, cmap="gray", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
    handles = []
    colours = structure_colours(len(task.structure_names))
    for colour, name in zip(colours, task.structure_names, strict=True):
        value = task.labels[name]
        for mask, style in ((reference == value, "solid"), (prediction == value, "dashed")):
            if mask.any():
                ax.contour(
                    xs,
                    ys,
                    mask.astype(float),
                    levels=[0.5],
                    colors=[colour],
                    linewidths=1.2,
                    linestyles=style,
                )
        handles.append(Line2D([], [], color=colour, lw=2, label=name))
    handles += [
        Line2D([], [], color="white", lw=1.2, ls="solid", label="reference"),
        Line2D([], [], color="white", lw=1.2, ls="dashed", label="prediction"),
    ]
    legend = ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=2, framealpha=0.5)
    legend.get_frame().set_facecolor("#444444")
    for text in legend.get_texts():
        text.set_color("white")
    ax.set_xlabel("mm")
    ax.set_ylabel("mm")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
