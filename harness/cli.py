"""The ``bench`` command line. Commands are thin: parse, call one function, print.

Exit codes: 0 success; 1 an unexpected failure; 2 bad usage or bad input (the message
names the file and the rule it breaks).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from harness.registry import UnknownNameError

EXIT_BAD_INPUT = 2
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

app = typer.Typer(
    name="bench",
    help="mskbench: benchmark harness for musculoskeletal MRI fat-segmentation tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
list_app = typer.Typer(help="List registered tasks (and models).", no_args_is_help=True)
data_app = typer.Typer(
    help="Prepare, validate, split, inspect and draw datasets (phantoms or your own scans).",
    no_args_is_help=True,
)
app.add_typer(list_app, name="list")
app.add_typer(data_app, name="data")

TaskOption = Annotated[
    str, typer.Option("--task", "-t", help="Task name (see `bench list tasks`).")
]
ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        help="smoke (CI, seconds) | quick (CPU, minutes) | paper (seed protocol).",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the phantom and of the splits.")]


def _bad_input(message: str) -> typer.Exit:
    err_console.print("[bold red]error:[/] ", end="")
    err_console.print(message, markup=False, highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Turn the project's input errors into a clear message and exit code 2."""
    from tasks.contract import ContractError, ValidationError
    from tasks.spec import TaskSpecError

    try:
        yield
    except ValidationError as exc:
        err_console.print("[bold red]error:[/] ", end="")
        err_console.print(
            f"dataset {exc.root} breaks the data contract ({len(exc.problems)} problem(s)):",
            markup=False,
            highlight=False,
        )
        for problem in exc.problems:
            err_console.print(f"  - {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except (ContractError, TaskSpecError, UnknownNameError, FileNotFoundError) as exc:
        raise _bad_input(str(exc)) from exc


def _task(name: str):
    from tasks import get_task

    return get_task(name)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise _bad_input(f"{option} {value!r} is not one of: {', '.join(allowed)}")
    return value


def _progress() -> object:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def _with_progress(description: str, total: int, run: Callable[[Callable[[str], None]], T]) -> T:
    with _progress() as progress:  # type: ignore[attr-defined]
        bar = progress.add_task(description, total=total)
        return run(lambda _case_id: progress.advance(bar))


# -- bench list ---------------------------------------------------------------------------
@list_app.command("tasks")
def list_tasks(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show labels, maps, split and profiles.")
    ] = False,
) -> None:
    """List the benchmark tasks with their study, inputs and primary metric."""
    from tasks import get_task, task_names

    table = Table(title="mskbench tasks", show_lines=verbose)
    for column in ("task", "study", "input", "structures", "split", "primary"):
        table.add_column(column)
    for name in task_names():
        spec = get_task(name)
        structures = ", ".join(spec.structure_names) if verbose else str(len(spec.structure_names))
        split = spec.split.description if verbose else f"{spec.split.kind} ({spec.split.n_folds})"
        inputs = f"{'+'.join(spec.channels)} {spec.spatial_dims}D"
        if spec.maps:
            inputs += " + " + "/".join(m.name.upper() for m in spec.maps)
        primary = f"{spec.primary_metric} ({'↑' if spec.higher_is_better else '↓'})"
        table.add_row(name, spec.citation.label(), inputs, structures, split, primary)
    console.print(table)
    if verbose:
        for name in task_names():
            spec = get_task(name)
            console.print(f"[bold]{name}[/] v{spec.version} profiles:")
            for profile in spec.profiles.values():
                console.print(f"  {profile.name:6s} {profile.description}")


# -- bench data ---------------------------------------------------------------------------
@data_app.command("prepare")
def data_prepare(
    task: TaskOption,
    profile: ProfileOption = "quick",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder to write (default: the cache, see README)."),
    ] = None,
    seed: SeedOption = 0,
) -> None:
    """Generate the task's phantom dataset (deterministic for profile and seed; cached)."""
    from tasks import PROFILES
    from tasks.phantoms import n_phantom_cases, prepare_phantom

    _choice(profile, PROFILES, "--profile")
    with bad_input_exits():
        spec = _task(task)
        root, created = _with_progress(
            f"{task} phantom ({profile}, seed {seed})",
            n_phantom_cases(spec, profile),
            lambda advance: prepare_phantom(spec, profile, seed, out, on_case=advance),
        )
    state = "written" if created else "already prepared (cached)"
    console.print(f"{task} {profile} phantom {state}: [bold]{root}[/]")
    console.print(f"next: bench data validate {root} --task {task}")


@data_app.command("validate")
def data_validate(
    root: Annotated[Path, typer.Argument(help="Dataset folder in the mskbench layout.")],
    task: TaskOption,
) -> None:
    """Check a dataset folder against the data contract; report every problem at once."""
    from tasks.contract import ValidationError, validate_dataset
    from tasks.contract.layout import CASES_CSV
    from tasks.contract.validate import read_cases_csv

    with bad_input_exits():
        spec = _task(task)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such dataset folder")
        n_cases = len(read_cases_csv(root / CASES_CSV)) if (root / CASES_CSV).is_file() else 0
        problems = _with_progress(
            f"validating {root.name}",
            n_cases,
            lambda advance: validate_dataset(root, spec, on_case=advance),
        )
        if problems:
            raise ValidationError(root, problems)
    console.print(f"[green]valid[/]: {root} ({n_cases} cases) meets the {task} data contract")


@data_app.command("split")
def data_split(
    root: Annotated[Path, typer.Argument(help="Dataset folder in the mskbench layout.")],
    task: TaskOption,
    seed: SeedOption = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing splits.json.")
    ] = False,
) -> None:
    """Create the frozen, subject-grouped splits.json of a dataset (once)."""
    from tasks.contract import create_splits, read_splits

    with bad_input_exits():
        spec = _task(task)
        path = create_splits(root, spec, seed, overwrite=force)
        splits = read_splits(root)
    assert splits is not None
    sizes = ", ".join(str(len(f.test)) for f in splits.folds)
    console.print(
        f"wrote {path}: {len(splits.folds)} fold(s), test sizes {sizes}; "
        f"external {len(splits.external)}"
    )
    console.print(f"split fingerprint {splits.fingerprint[:16]}")


def _dataset_task(root: Path, task: str | None):
    from tasks.contract import read_dataset_json

    if task is None:
        task = read_dataset_json(root).get("mskbench", {}).get("task")
        if task is None:
            raise FileNotFoundError(f"{root / 'dataset.json'}: names no mskbench task; pass --task")
    return _task(task)


@data_app.command("show")
def data_show(
    root: Annotated[Path, typer.Argument(help="Dataset folder in the mskbench layout.")],
    case: Annotated[str, typer.Option("--case", "-c", help="Case id (first column of cases.csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    slice_index: Annotated[
        int | None, typer.Option("--slice", help="Axial slice (default: most labelled).")
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="Task (default: from dataset.json).")
    ] = None,
) -> None:
    """Draw a case: image with reference contours per structure, and its maps."""
    from tasks.contract import Dataset
    from tasks.show import plot_case

    with bad_input_exits():
        spec = _dataset_task(root, task)
        dataset = Dataset(root, spec, validate=False)
        if case not in dataset.cases.index:
            raise FileNotFoundError(
                f"{dataset.layout.cases_csv}: no case {case!r}; "
                f"first cases: {', '.join(dataset.case_ids[:5])}"
            )
        loaded = dataset.load(case)
        row = loaded.attributes
        title = f"{spec.name} · {case} · site {loaded.site}"
        if "group" in row:
            title += f" · {row['group']}"
        try:
            path = plot_case(spec, loaded, out, slice_index, title=title)
        except ValueError as exc:
            raise FileNotFoundError(str(exc)) from exc
    console.print(f"wrote {path}")


@data_app.command("stats")
def data_stats(
    root: Annotated[Path, typer.Argument(help="Dataset folder in the mskbench layout.")],
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="Task (default: from dataset.json).")
    ] = None,
) -> None:
    """Per-structure distribution of each map over the dataset (seed 003 Fig. 2 style)."""
    from tasks.contract import Dataset
    from tasks.inspect import distribution, structure_map_means

    with bad_input_exits():
        spec = _dataset_task(root, task)
        dataset = Dataset(root, spec)
    if not spec.maps:
        console.print(f"task {spec.name} has no quantitative maps")
        return
    means = structure_map_means(dataset)
    stratum = spec.strata[0] if spec.strata else None
    table = Table(
        title=f"{spec.name}: structure means over {len(dataset.case_ids)} cases "
        f"({len(means)} structures)"
    )
    for column in ("map", "unit", "mean ± SD", "range", "CV", "n", "share ≥ threshold"):
        table.add_column(column)
    for map_spec in spec.maps:
        threshold = (
            stratum.threshold if stratum and stratum.attribute == f"{map_spec.name}_ref" else None
        )
        d = distribution(means[map_spec.name], threshold)
        share = f"{d['share_at_or_above_%']:.1f} % ≥ {threshold:g}" if threshold is not None else ""
        table.add_row(
            map_spec.name.upper(),
            map_spec.unit,
            f"{d['mean']:.2f} ± {d['sd']:.2f}",
            f"[{d['min']:.2f}, {d['max']:.2f}]",
            f"{d['cv']:.2f}",
            str(d["n"]),
            share,
        )
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
