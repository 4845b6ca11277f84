"""Draw a case for a person to judge: image with reference contours per structure, and maps.

Panels: the input image (first channel) with each structure's reference contour in its
own colour and a legend; for each extra reference mask of the task (seed 002's
intramuscular fat) the image with the mask filled in red; then each quantitative map of
the task with a colour bar (FF in %, MTR in p.u., T2 in ms). Volumes are shown at one
axial slice (default: the slice with the most labelled voxels). A case without a label map
(a classification task) is drawn as one panel per input series (its middle slice), the
reference classes of its targets in the title.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from mskbench.tasks.case import Case
from mskbench.tasks.spec import TaskSpec

_MAP_STYLE = {"ff": ("magma", (0, 100)), "mtr": ("viridis", (0, 60)), "t2": ("inferno", (20, 120))}


def structure_colours(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours (tab10, then tab20) for structure contours."""
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def default_slice(label: np.ndarray) -> int:
    """The axial slice with the most labelled voxels."""
    return int(np.argmax((label > 0).reshape(label.shape[0], -1).sum(1)))


def body_window(image: np.ndarray, label: np.ndarray, margin: float = 0.08) -> tuple[slice, slice]:
    """Rows and columns around the body (signal above 10 % of the 99th percentile, or label),
    with ``margin`` of the image size added on each side."""
    body = (image > 0.1 * np.percentile(image, 99)) | (label > 0)
    if not body.any():
        return slice(0, image.shape[0]), slice(0, image.shape[1])
    out = []
    for axis in (0, 1):
        hits = np.flatnonzero(body.any(axis=1 - axis))
        pad = int(margin * image.shape[axis])
        out.append(slice(max(0, hits[0] - pad), min(image.shape[axis], hits[-1] + pad + 1)))
    return out[0], out[1]


def _slice(array: np.ndarray, z: int | None) -> np.ndarray:
    return array if z is None else array[z]


def plot_case(
    task: TaskSpec,
    case: Case,
    out: str | Path,
    slice_index: int | None = None,
    title: str | None = None,
) -> Path:
    """Write a PNG of ``case`` to ``out`` and return its path."""
    # one entry per cases.csv column: a grade's binary views read the same column
    columns = {target.column: case.targets.get(target.name) for target in task.classification}
    classes = ", ".join(f"{column} {value}" for column, value in columns.items() if value)
    title = " · ".join(filter(None, (title or f"{task.name} · case {case.case_id}", classes)))
    if case.label is None:
        return _plot_series(case, Path(out), slice_index, title)
    volume = case.label.ndim == 3
    z = (default_slice(case.label) if slice_index is None else slice_index) if volume else None
    if volume and not 0 <= z < case.label.shape[0]:
        raise ValueError(
            f"slice {z} is outside 0..{case.label.shape[0] - 1} for case {case.case_id}"
        )
    image = _slice(case.image[0], z)
    label = _slice(case.label, z)
    maps = [(name, _slice(case.maps[name], z)) for name in task.map_names if name in case.maps]
    masks = [(m, _slice(case.masks[m.name], z)) for m in task.masks if m.name in case.masks]
    dy, dx = case.spacing[-2:]
    rows, cols = body_window(image, label)
    image, label = image[rows, cols], label[rows, cols]
    maps = [(name, array[rows, cols]) for name, array in maps]
    masks = [(spec, array[rows, cols]) for spec, array in masks]
    x0, y0 = cols.start * dx, rows.start * dy
    extent = (x0, x0 + image.shape[1] * dx, y0 + image.shape[0] * dy, y0)

    n_panels = 1 + len(masks) + len(maps)
    fig, axes = plt.subplots(1, n_panels, figsize=(4.6 * n_panels, 4.6), squeeze=False)
    ax = axes[0, 0]
    vmax = float(np.percentile(image, 99.5)) or 1.0
    ax.imshow(image, cmap="gray", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
    xs = x0 + (np.arange(image.shape[1]) + 0.5) * dx
    ys = y0 + (np.arange(image.shape[0]) + 0.5) * dy
    colours = structure_colours(len(task.structure_names))
    handles = []
    for colour, name in zip(colours, task.structure_names, strict=True):
        mask = label == task.labels[name]
        if mask.any():
            ax.contour(xs, ys, mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.1)
        handles.append(Line2D([], [], color=colour, lw=2, label=name))
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=2, framealpha=0.6)
    ax.set_title(
        f"{task.channels[0]} + reference" + (f" (slice {z})" if volume else ""), fontsize=10
    )
    for ax, (spec, array) in zip(axes[0, 1 : 1 + len(masks)], masks, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
        overlay = np.zeros((*array.shape, 4))
        overlay[array > 0] = (1.0, 0.15, 0.1, 0.75)
        ax.imshow(overlay, extent=extent, interpolation="nearest")
        if spec.within:
            region = np.isin(label, [task.labels[n] for n in spec.within])
            ax.contour(xs, ys, region.astype(float), levels=[0.5], colors=["w"], linewidths=0.6)
        share = (
            f", {100 * array[region].mean():.1f} % of {len(spec.within)} structures"
            if spec.within and region.any()
            else ""
        )
        ax.set_title(f"{task.channels[0]} + reference {spec.name}{share}", fontsize=10)
    for ax, (name, array) in zip(axes[0, 1 + len(masks) :], maps, strict=True):
        cmap, (lo, hi) = _MAP_STYLE.get(name, ("viridis", (float(array.min()), float(array.max()))))
        shown = ax.imshow(
            array, cmap=cmap, vmin=lo, vmax=hi, extent=extent, interpolation="nearest"
        )
        unit = next(m.unit for m in task.maps if m.name == name)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02, label=f"{name.upper()} ({unit})")
        ax.set_title(f"{name.upper()} map", fontsize=10)
    for ax in axes[0]:
        ax.set_xlabel("mm")
        ax.set_aspect("equal")
    return _save(fig, title, Path(out))


def _save(fig: plt.Figure, title: str, out: Path) -> Path:
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _plot_series(case: Case, out: Path, slice_index: int | None, title: str) -> Path:
    """One panel per series: its first channel (a volume at ``slice_index``, default the
    middle slice), on a mm scale."""
    fig, axes = plt.subplots(1, len(case.images), figsize=(4.6 * len(case.images), 4.6))
    for ax, (name, image) in zip(np.atleast_1d(axes), case.images.items(), strict=True):
        channel = image[0]
        z = None
        if channel.ndim == 3:
            z = channel.shape[0] // 2 if slice_index is None else slice_index
            if not 0 <= z < channel.shape[0]:
                raise ValueError(f"slice {z} is outside 0..{channel.shape[0] - 1} of {name}")
        shown = _slice(channel, z)
        dy, dx = case.grids[name].spacing[-2:]
        extent = (0, shown.shape[1] * dx, shown.shape[0] * dy, 0)
        vmax = float(np.percentile(shown, 99.5)) or 1.0
        ax.imshow(shown, cmap="gray", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
        ax.set_title(f"{name}" + (f" (slice {z})" if z is not None else ""), fontsize=10)
        ax.set_xlabel("mm")
    return _save(fig, title, out)
