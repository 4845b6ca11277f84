"""The ``bench`` command line. Commands are thin: parse, call one function, print.

Exit codes: 0 success; 1 an unexpected failure; 2 bad usage or bad input (the message
names the file and the rule it breaks).

Startup is part of the interface: ``bench --help``, ``bench list ...`` and an unknown
task or model answer without importing torch, pandas or DuckDB; every command imports
what it needs inside its body.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from mskbench.tasks.spec import PROFILES

EXIT_BAD_INPUT = 2
#: `harness.training.runtime.DEVICES`, kept here so that ``--help`` imports no torch
#: (a test checks that they agree); ``cuda:N`` is also accepted.
DEVICES = ("auto", "cpu", "cuda")
SPLITS = ("test", "external")
RESULT_FORMATS = ("table", "csv", "json", "markdown")
#: `harness.prediction_layouts.LAYOUTS`, kept here so that ``--help`` imports nothing heavy
#: (a test checks that they agree).
PREDICTION_LAYOUTS = ("auto", "flat", "nnunet", "monai")
LIST_FORMATS = ("table", "json", "csv")
#: Errors that mean bad usage or bad input (exit 2), by the module that defines them.
#: Only modules already imported are consulted: an error of a module that was never
#: imported cannot have been raised, and importing one just to compare would cost startup.
INPUT_ERRORS = {
    "mskbench.harness.registry": ("UnknownNameError",),
    "mskbench.harness.ensemble": ("EnsembleError",),
    "mskbench.tasks.targets": ("TaskSpecError",),
    "mskbench.tasks.contract.errors": ("ContractError",),
    "mskbench.harness.store.errors": ("NotAStoreError", "ReadOnlyStoreError", "SchemaVersionError"),
}
console = Console(soft_wrap=True)
# Tables go to logs when stdout is not a terminal; 80 columns would fold every cell.
LOG_WIDTH = 200
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

app = typer.Typer(
    name="bench",
    help="mskbench: benchmark harness for musculoskeletal MRI fat-segmentation tasks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich panels cut option names when piped
)
list_app = typer.Typer(help="List registered tasks (and models).", no_args_is_help=True)
data_app = typer.Typer(
    help="Prepare, validate, split, inspect and draw datasets (phantoms or your own scans).",
    no_args_is_help=True,
)
app.add_typer(list_app, name="list")
app.add_typer(data_app, name="data")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"mskbench {version('mskbench')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _bench(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """mskbench: benchmark harness for musculoskeletal MRI fat-segmentation tasks."""


def one_of(choices: tuple[str, ...]) -> dict:
    """`typer.Option` settings that list ``choices`` in ``--help`` and offer them to shell
    completion; the value is checked by `_choice`, whose message names the option."""
    return {
        "metavar": "[" + "|".join(choices) + "]",
        "autocompletion": lambda incomplete: [c for c in choices if c.startswith(incomplete)],
    }


def _complete_task(incomplete: str) -> list[str]:
    from mskbench.tasks import task_names

    return [name for name in task_names() if name.startswith(incomplete)]


def _complete_model(incomplete: str) -> list[str]:
    from mskbench.harness.models import model_names

    return [name for name in model_names() if name.startswith(incomplete)]


TaskOption = Annotated[
    str,
    typer.Option(
        "--task", "-t", help="Task name (see `bench list tasks`).", autocompletion=_complete_task
    ),
]
ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        help="smoke (CI, about a minute) | quick (CPU, minutes) | paper (seed protocol).",
        **one_of(PROFILES),
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the phantom and of the splits.")]
MaxVoxelsOption = Annotated[
    int | None,
    typer.Option(
        "--max-voxels",
        min=1,
        help="Largest voxel count an image header may declare (default 2^28, or "
        "MSKBENCH_MAX_VOXELS); larger files are rejected (too-large) before reading.",
    ),
]


def _bad_input(message: str) -> typer.Exit:
    err_console.print("[bold red]error:[/] ", end="")
    err_console.print(message, markup=False, highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _input_errors() -> tuple[type[BaseException], ...]:
    """The `INPUT_ERRORS` classes of the modules imported so far, and missing or
    forbidden files."""
    found: list[type[BaseException]] = [FileNotFoundError, PermissionError]
    for module, names in INPUT_ERRORS.items():
        loaded = sys.modules.get(module)
        if loaded is not None:
            found += [getattr(loaded, name) for name in names]
    return tuple(found)


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """Turn the project's input errors into a clear message and exit code 2."""
    try:
        yield
    except Exception as exc:
        validation = sys.modules.get("mskbench.tasks.contract.validate")
        if validation is not None and isinstance(exc, validation.ValidationError):
            err_console.print("[bold red]error:[/] ", end="")
            err_console.print(
                f"dataset {exc.root} breaks the data contract ({len(exc.problems)} problem(s)):",
                markup=False,
                highlight=False,
            )
            for problem in exc.problems:
                err_console.print(f"  - {problem}", markup=False, highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from exc
        if isinstance(exc, _input_errors()):
            raise _bad_input(str(exc)) from exc
        raise


def _task(name: str):
    from mskbench.tasks import get_task

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


def _with_progress(
    description: str, total: int | None, run: Callable[[Callable[[str], None]], T]
) -> T:
    with _progress() as progress:  # type: ignore[attr-defined]
        bar = progress.add_task(description, total=total)
        return run(lambda _case_id: progress.advance(bar))


# -- bench list ---------------------------------------------------------------------------
ListFormatOption = Annotated[
    str,
    typer.Option(
        "--format", "-f", help="table (names never cut) | json | csv", **one_of(LIST_FORMATS)
    ),
]


def _print_rows(kind: str, verbose: bool, fmt: str) -> None:
    from mskbench.harness.listing import model_rows, render_rows, task_rows

    _choice(fmt, LIST_FORMATS, "--format")
    rows = task_rows(verbose) if kind == "tasks" else model_rows(verbose)
    text = render_rows(rows, fmt, f"mskbench {kind}", _table_width())
    console.print(text, end="", markup=False, highlight=False, crop=False)


@list_app.command("tasks")
def list_tasks(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show labels, split and profiles.")
    ] = False,
    fmt: ListFormatOption = "table",
) -> None:
    """List the benchmark tasks with their study, inputs and primary metric."""
    _print_rows("tasks", verbose, fmt)


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
    from mskbench.tasks import PROFILES
    from mskbench.tasks.phantoms import n_phantom_cases, prepare_phantom

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
    max_voxels: MaxVoxelsOption = None,
) -> None:
    """Check a dataset folder against the data contract; report every problem at once."""
    from mskbench.tasks.contract import ValidationError, validate_dataset
    from mskbench.tasks.contract.header import voxel_limit
    from mskbench.tasks.contract.layout import CASES_CSV
    from mskbench.tasks.contract.validate import read_cases_csv

    with bad_input_exits(), voxel_limit(max_voxels):
        spec = _task(task)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such dataset folder")
        # a plain nnU-Net dataset may have no cases.csv: its cases are counted as checked
        total = len(read_cases_csv(root / CASES_CSV)) if (root / CASES_CSV).is_file() else None
        checked: list[str] = []

        def on_case(advance: Callable[[str], None]) -> Callable[[str], None]:
            def counted(case_id: str) -> None:
                checked.append(case_id)
                advance(case_id)

            return counted

        problems = _with_progress(
            f"validating {root.name}",
            total,
            lambda advance: validate_dataset(root, spec, on_case=on_case(advance)),
        )
        if problems:
            raise ValidationError(root, problems)
    console.print(f"[green]valid[/]: {root} ({len(checked)} cases) meets the {task} data contract")


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
    from mskbench.tasks.contract import create_splits, read_splits

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


@data_app.command("export-nnunet")
def data_export_nnunet(
    root: Annotated[Path, typer.Argument(help="Dataset folder in the mskbench layout.")],
    dataset_id: Annotated[
        int, typer.Option("--id", help="nnU-Net dataset id (1-999): writes Dataset<id>_<task>.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="nnU-Net raw folder (nnUNet_raw) to write into.")
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task", "-t", help="Task (default: from dataset.json).", autocompletion=_complete_task
        ),
    ] = None,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy the files instead of linking to them.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing non-empty Dataset<id>_<task>.")
    ] = False,
) -> None:
    """Export a dataset for nnU-Net v2: imagesTr/labelsTr (internal site), imagesTs/labelsTs
    (external site), dataset.json and splits_final.json holding mskbench's frozen folds."""
    from mskbench.tasks.contract.nnunet_export import export_nnunet

    with bad_input_exits():
        spec = _dataset_task(root, task)
        target = export_nnunet(root, spec, dataset_id, out, copy=copy, force=force)
    how = "copied" if copy else "linked"
    console.print(f"wrote {target} (files {how}) with splits_final.json (mskbench's folds)")
    console.print(
        f"next: copy {target / 'splits_final.json'} to "
        f"$nnUNet_preprocessed/{target.name}/ after nnUNetv2_plan_and_preprocess -d {dataset_id}"
    )


def _dataset_task(root: Path, task: str | None):
    from mskbench.tasks.contract import read_dataset_json

    if task is None:
        block = read_dataset_json(root).get("mskbench")
        task = block.get("task") if isinstance(block, dict) else None
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
    from mskbench.tasks.contract import Dataset
    from mskbench.tasks.show import plot_case

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
    from mskbench.harness.textlayout import render_table
    from mskbench.tasks.contract import Dataset
    from mskbench.tasks.inspect import distributions_by_structure, structure_map_means

    with bad_input_exits():
        spec = _dataset_task(root, task)
        dataset = Dataset(root, spec)
    if not spec.maps:
        console.print(f"task {spec.name} has no quantitative maps")
        return
    means = structure_map_means(dataset)
    stratum = spec.strata[0] if spec.strata else None
    header, columns = ["structure", "n"], {}
    share_of = None
    for map_spec in spec.maps:
        at = stratum.threshold if stratum and stratum.attribute == f"{map_spec.name}_ref" else None
        columns[map_spec.name] = distributions_by_structure(
            means, list(spec.structure_names), map_spec.name, at
        )
        header.append(f"{map_spec.name.upper()} ({map_spec.unit})")
        if at is not None:
            share_of = (map_spec.name, at)
            header.append(f"{map_spec.name.upper()} ≥ {at:g}")
    rows = []
    for structure, first in next(iter(columns.values())).items():
        row = [structure, str(first["n"])]
        for name, per_structure in columns.items():
            d = per_structure[structure]
            row.append(f"{d['mean']:.2f} ± {d['sd']:.2f}\n[{d['min']:.2f}, {d['max']:.2f}]")
            if share_of is not None and share_of[0] == name:
                row.append(f"{d['share_at_or_above_%']:.1f} % ≥ {share_of[1]:g}")
        rows.append(row)
    title = (
        f"{spec.name}: map means inside each structure over {len(dataset.case_ids)} cases: "
        "mean ± SD [min, max]"
    )
    text = render_table(header, rows, title, _table_width(), keys=2, left=1)
    console.print(text, end="", markup=False, highlight=False, crop=False)


# -- models, runs, results ---------------------------------------------------------------
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB results file.")]
DEFAULT_DB = Path("results/mskbench.duckdb")
#: Seconds `bench leaderboard` waits for a writer's lock to check the file before starting.
PROBE_LOCK_TIMEOUT_S = 3.0


@list_app.command("models")
def list_models(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show hyper-parameters and citations.")
    ] = False,
    fmt: ListFormatOption = "table",
) -> None:
    """List registered models (entry-point group mskbench.models) and the tasks they support."""
    _print_rows("models", verbose, fmt)


def _parse_folds(folds: str | None) -> list[int] | None:
    if folds is None:
        return None
    try:
        return [int(f) for f in folds.split(",") if f.strip()]
    except ValueError as exc:
        raise _bad_input(
            f"--folds {folds!r} must be comma-separated fold numbers, e.g. 0,1,2"
        ) from exc


def _overrides(settings: list[str], card) -> dict[str, object]:
    """``--set NAME=VALUE`` options as constructor keyword arguments of ``card``'s model:
    VALUE parsed as JSON (numbers, true/false, null, lists), else kept as text."""
    import json

    overrides: dict[str, object] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise _bad_input(f"--set {setting!r}: expected NAME=VALUE, e.g. --set lr=0.0001")
        if name not in card.hyperparameters:
            known = ", ".join(sorted(card.hyperparameters)) or "none"
            raise _bad_input(
                f"--set {name}: not a hyper-parameter of model {card.name!r} (it has: {known})"
            )
        try:
            overrides[name] = json.loads(text)
        except ValueError:
            overrides[name] = text
    return overrides


@app.command("run")
def run_command(
    task: TaskOption,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model name (bench list models) or path/to/file.py:Class.",
            autocompletion=_complete_model,
        ),
    ],
    profile: ProfileOption = "quick",
    folds: Annotated[
        str | None, typer.Option("--folds", help="Comma-separated folds (default: the profile's).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Training seed (weights, sampling, validation subjects).")
    ] = 0,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="auto: cuda when visible; cuda:N picks one GPU.",
            **one_of(DEVICES),
        ),
    ] = "auto",
    db: DbOption = DEFAULT_DB,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Your dataset folder (default: the task's phantom)."),
    ] = None,
    data_seed: Annotated[
        int, typer.Option("--data-seed", help="Seed of the phantom when --data is not given.")
    ] = 0,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--no-resume",
            help="Skip folds this run already finished; --no-resume trains every fold again "
            "from scratch and replaces its stored rows (one transaction per fold).",
        ),
    ] = True,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", help="Override the profile's epoch budget.")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Local checkpoint to start from.")
    ] = None,
    max_voxels: MaxVoxelsOption = None,
    keep_checkpoints: Annotated[
        bool,
        typer.Option(
            "--keep-checkpoints",
            help="Keep each finished fold's checkpoints (under <db folder>/work/<run>/).",
        ),
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Hyper-parameter NAME=VALUE (VALUE read as JSON, else as text), repeatable; "
            "NAME must be one of the model's (bench list models --verbose). A run with other "
            "values is another run.",
        ),
    ] = None,
) -> None:
    """Train and evaluate a model on a task: cross-validation, metrics, DuckDB results."""
    _choice(profile, PROFILES, "--profile")
    if device not in DEVICES and not device.startswith("cuda:"):
        raise _bad_input(f"--device {device!r} is not one of: {', '.join(DEVICES)}")
    if weights is not None and not weights.is_file():
        raise _bad_input(f"{weights}: no such checkpoint file")
    with bad_input_exits():  # unknown names answer before torch is imported
        from mskbench.harness.models import get_model_card

        _task(task)
        overrides = _overrides(settings or [], get_model_card(model))
    from mskbench.harness.runner import RunFailed, RunRequest, run
    from mskbench.tasks.contract.header import voxel_limit

    request = RunRequest(
        task=task, model=model, profile=profile, seed=seed, folds=_parse_folds(folds), device=device, db=db,
        data=data, data_seed=data_seed, resume=resume, max_epochs=max_epochs, weights=weights,
        keep_checkpoints=keep_checkpoints, overrides=overrides,
    )  # fmt: skip
    with bad_input_exits(), voxel_limit(max_voxels):
        try:
            with _RunProgress() as observer:
                outcome = run(request, observer)
        except (ValueError, RuntimeError) as exc:
            if isinstance(exc, RunFailed):
                err_console.print(f"[bold red]failed:[/] {exc}", highlight=False)
                raise typer.Exit(1) from exc
            raise _bad_input(str(exc)) from exc
    skipped = f"; skipped finished folds {outcome.folds_skipped}" if outcome.folds_skipped else ""
    console.print(
        f"run [bold]{outcome.run_id}[/] finished folds {outcome.folds_run}{skipped} "
        f"in {outcome.wall_time_s:.1f} s → {outcome.db}"
    )
    _print_summary(task, profile, db, "test", "table")


class _RunProgress:
    """Rich progress for `bench run`: folds, epochs of the current fold, predictions."""

    def __enter__(self):
        from mskbench.harness.runner import RunObserver

        progress = _progress()
        outer = self

        class Observer(RunObserver):
            def run_started(self, run_id, folds, skipped):
                outer.folds = progress.add_task(f"run {run_id}", total=len(folds))
                if skipped:
                    progress.console.print(f"resuming: folds {skipped} already finished")

            def fold_started(self, fold, n_train, n_val, n_test, max_epochs):
                progress.console.print(
                    f"fold {fold}: {n_train} train / {n_val} validation / {n_test} test cases"
                )
                outer.epochs = progress.add_task(f"  fold {fold} epochs", total=max_epochs)

            def epoch_finished(self, fold, report):
                val = "-" if report.val_loss is None else f"{report.val_loss:.4f}"
                line = (
                    f"  fold {fold} epoch {report.epoch} loss {report.train_loss:.4f} val {val} "
                    f"(best {report.best_epoch}, {report.images_per_s:.0f} img/s)"
                )
                progress.update(outer.epochs, completed=report.epoch, description=line)
                if not progress.console.is_terminal:  # logs get one line per epoch
                    progress.console.print(line, markup=False, highlight=False)

            def predicting(self, fold, n_cases):
                progress.update(
                    outer.epochs,
                    total=progress.tasks[outer.epochs].completed or 1,
                    completed=progress.tasks[outer.epochs].completed or 1,
                )
                outer.cases = progress.add_task(f"  fold {fold} predicting", total=n_cases)

            def case_predicted(self, fold, case_id):
                progress.advance(outer.cases)

            def fold_finished(self, fold, record):
                progress.advance(outer.folds)

        self.progress = progress
        progress.__enter__()
        return Observer()

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def _names(value: str, option: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not names:
        raise _bad_input(f"{option} {value!r} names nothing; give comma-separated names")
    return names


@app.command("sweep")
def sweep_command(
    tasks: Annotated[
        str, typer.Option("--tasks", help="Comma-separated tasks, e.g. nmd_thigh,nmd_leg.")
    ],
    models: Annotated[
        str,
        typer.Option("--models", help="Comma-separated models (names or path/to/file.py:Class)."),
    ],
    profile: ProfileOption = "quick",
    folds: Annotated[
        str | None,
        typer.Option("--folds", help="all | comma-separated folds (default: each profile's)."),
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated training seeds.")] = "0",
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Ray cluster to use (ray://head:10001, or auto inside a Ray job); default: "
            "start a local Ray on this machine.",
        ),
    ] = None,
    local_cpus: Annotated[
        int | None,
        typer.Option("--local-cpus", min=1, help="CPUs of the local Ray (default: all)."),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="auto: GPUs where the cluster has them; cpu: never; cuda: require them.",
            **one_of(DEVICES),
        ),
    ] = "auto",
    cpus_per_fold: Annotated[
        float, typer.Option("--cpus-per-fold", help="CPUs Ray reserves for each fold.")
    ] = 1.0,
    gpus_per_fold: Annotated[
        float,
        typer.Option(
            "--gpus-per-fold",
            help="GPUs per fold where there are GPUs; a fraction (0.25) packs small 2D "
            "networks on one GPU.",
        ),
    ] = 1.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, help="Times a fold whose worker fails or dies is run again."
        ),
    ] = 2,
    db: DbOption = DEFAULT_DB,
    data_seed: Annotated[int, typer.Option("--data-seed", help="Seed of the phantoms.")] = 0,
    max_epochs: Annotated[
        int | None, typer.Option("--max-epochs", help="Override the profiles' epoch budgets.")
    ] = None,
    keep_checkpoints: Annotated[
        bool, typer.Option("--keep-checkpoints", help="Keep finished folds' checkpoints.")
    ] = False,
) -> None:
    """Run every (task, model, seed, fold) as its own Ray task, on this machine or a
    cluster; this process alone writes the database, finished folds are skipped, a failed
    or killed fold is retried (--retries). Needs `pip install 'mskbench[sweep]'`."""
    _choice(profile, PROFILES, "--profile")
    _choice(device, DEVICES, "--device")
    task_names, model_names = _names(tasks, "--tasks"), _names(models, "--models")
    try:
        seed_list = tuple(int(s) for s in _names(seeds, "--seeds"))
    except ValueError as exc:
        raise _bad_input(f"--seeds {seeds!r} must be comma-separated integers") from exc
    fold_list = "all" if folds == "all" else _parse_folds(folds)
    with bad_input_exits():  # unknown names answer before Ray starts
        from mskbench.harness.models import get_model_card

        for name in task_names:
            spec = _task(name)
            for model in model_names:
                card = get_model_card(model)
                if not card.supports(spec):
                    raise _bad_input(
                        f"model {card.name!r} runs on {card.describe_tasks()}, not on {name!r}"
                    )
    from mskbench.harness.sweep import SweepRequest, sweep

    try:
        request = SweepRequest(
            tasks=task_names, models=model_names, seeds=seed_list, profile=profile,
            folds=fold_list, db=db, data_seed=data_seed, max_epochs=max_epochs, device=device,
            cpus_per_fold=cpus_per_fold, gpus_per_fold=gpus_per_fold, retries=retries,
            address=address, local_cpus=local_cpus, keep_checkpoints=keep_checkpoints,
        )  # fmt: skip
    except ValueError as exc:
        raise _bad_input(str(exc)) from exc
    with bad_input_exits():
        try:
            with _SweepProgress() as observer:
                outcome = sweep(request, observer)
        except (ValueError, RuntimeError) as exc:
            raise _bad_input(str(exc)) from exc
    console.print(
        f"sweep: {outcome.runs} runs ({outcome.runs_skipped} already finished), "
        f"{outcome.folds_stored} folds stored, {outcome.retried} attempts retried, "
        f"{len(outcome.folds_failed)} folds failed, in {outcome.wall_time_s:.1f} s → {outcome.db}"
    )
    for run_id, fold, error in outcome.folds_failed:
        err_console.print(f"[bold red]failed:[/] {run_id} fold {fold}: {error}", highlight=False)
    if outcome.folds_failed:
        raise typer.Exit(1)


class _SweepProgress:
    """Rich progress for `bench sweep`: folds done of the total, with the time left."""

    def __enter__(self):
        from rich.progress import TimeRemainingColumn

        from mskbench.harness.sweep import SweepObserver

        progress = _progress()
        progress.columns = (*progress.columns, TimeRemainingColumn())  # type: ignore[attr-defined]
        outer = self

        class Observer(SweepObserver):
            def planned(self, total_folds, runs, runs_skipped):
                outer.bar = progress.add_task("sweep folds", total=total_folds)
                progress.console.print(
                    f"{runs} runs, {runs_skipped} already finished; {total_folds} folds to do"
                )

            def fold_stored(self, run, fold, wall_time_s):
                progress.advance(outer.bar)
                progress.console.print(
                    f"{run.label} fold {fold}: stored ({wall_time_s:.1f} s)", highlight=False
                )

            def fold_failed(self, run, fold, error, retrying):
                then = "retrying" if retrying else "giving up"
                progress.console.print(
                    f"{run.label} fold {fold}: failed ({error}); {then}",
                    markup=False,
                    highlight=False,
                )
                if not retrying:
                    progress.advance(outer.bar)

        self.progress = progress
        progress.__enter__()  # type: ignore[attr-defined]
        return Observer()

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


@app.command("score")
def score_command(
    task: TaskOption,
    data: Annotated[Path, typer.Option("--data", help="Dataset folder the predictions are for.")],
    name: Annotated[
        str, typer.Option("--name", help="Name shown as the model on the leaderboard.")
    ],
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Folder of <case_id>.nii.gz label maps (and <case_id>_<mask> masks), or "
            "nnU-Net's fold_<k>/validation/ folders, or MONAI's <case>/<case>_<postfix> folders.",
        ),
    ] = None,
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="Layout of the predictions folder (auto: detected; an ambiguous folder is refused).",
            **one_of(PREDICTION_LAYOUTS),
        ),
    ] = "auto",
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="CSV of case-level class probabilities: case_id,target[,class],score.",
        ),
    ] = None,
    folds: Annotated[
        str | None, typer.Option("--folds", help="Comma-separated folds to score (default: all).")
    ] = None,
    db: DbOption = DEFAULT_DB,
    max_voxels: MaxVoxelsOption = None,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks", help="Read links in the predictions folder that lead outside it."
        ),
    ] = False,
) -> None:
    """Score predictions made by any tool (nnU-Net, MONAI, in-house) into the results."""
    from mskbench.harness.naming import check_run_name

    try:
        check_run_name(name)
    except ValueError as exc:
        raise _bad_input(str(exc)) from exc
    with bad_input_exits():  # an unknown task answers before the scoring imports
        _task(task)
    from mskbench.harness.scoring import score
    from mskbench.harness.store import Store
    from mskbench.tasks.contract.header import voxel_limit

    _choice(layout, PREDICTION_LAYOUTS, "--layout")
    if predictions is None and scores is None:
        raise _bad_input("nothing to score: pass --predictions DIR, --scores CSV, or both")
    with bad_input_exits(), voxel_limit(max_voxels):
        outcome = score(
            task, data, predictions, name, db, _parse_folds(folds), scores, follow_symlinks, layout
        )
    console.print(
        f"scored {name!r} as run [bold]{outcome.run_id}[/] (folds {outcome.folds_run}) → {db}"
    )
    run = Store(db).query("SELECT profile FROM runs WHERE run_id = ?", [outcome.run_id])
    _print_summary(task, run["profile"].item(), db, "test", "table")


@app.command("ensemble")
def ensemble_command(
    task: TaskOption,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Source: the newest trained run of this model."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Source: only runs of this profile.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Source: this run id (instead of --model).")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Name shown on the leaderboard (default <model>_ensemble)."),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Predict the external set with the ensemble of a cross-validated run's fold models.

    Majority vote per voxel of the label maps the folds stored (ties: the lower label),
    stored as a run of its own (<model>_ensemble, external rows only), so the leaderboard
    and `bench results --split external` show it beside the per-fold numbers. Every fold of
    the split must be stored and the dataset unchanged; nothing is written otherwise.
    """
    with bad_input_exits():
        _task(task)
        if profile is not None:
            _choice(profile, PROFILES, "--profile")
        from mskbench.harness.ensemble import ensemble_external

        outcome = ensemble_external(db, task, run_id, model, profile, name)
    from mskbench.harness.store import Store

    stored = (
        Store(db)
        .query("SELECT model, profile FROM runs WHERE run_id = ?", [outcome.run_id])
        .iloc[0]
    )
    done = "stored" if outcome.folds_run else "already stored"
    console.print(f"ensemble {stored['model']!r} {done} as run [bold]{outcome.run_id}[/] → {db}")
    _print_summary(task, stored["profile"], db, "external", "table")


@app.command("results")
def results_command(
    task: TaskOption,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Only this profile.")
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            "--split", help="test (cross-validation) or external (second site).", **one_of(SPLITS)
        ),
    ] = "test",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="table (fits the terminal) | csv | json | markdown",
            **one_of(RESULT_FORMATS),
        ),
    ] = "table",
    tables: Annotated[
        bool,
        typer.Option(
            "--tables",
            help="The task's own tables in its paper's shapes, published numbers beside ours.",
        ),
    ] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Per-model summary: mean ± SD, 95 % CI, absence and outlier rates, G20−/G20+; for
    classification targets AUROC, accuracy, sensitivity, specificity, PPV, NPV, F1, kappa
    (and QWK for grades) with the CI method the target declares."""
    _choice(fmt, RESULT_FORMATS, "--format")
    _choice(split, SPLITS, "--split")
    if not db.is_file():
        raise _bad_input(f"{db}: no results database (run `bench run` first or pass --db)")
    with bad_input_exits():
        _task(task)
        if tables:
            _print_paper_tables(task, profile, db, split, fmt)
        else:
            _print_summary(task, profile, db, split, fmt)


def _print_paper_tables(task: str, profile: str | None, db: Path, split: str, fmt: str) -> None:
    from mskbench.harness.report import render_tables
    from mskbench.harness.store import Store
    from mskbench.harness.tables import paper_tables

    spec = _task(task)
    if spec.tables is None:
        raise _bad_input(f"task {task} has no paper tables; leave out --tables for its summary")
    found = paper_tables(Store(db), spec, profile=profile, split=split)
    if not found:
        console.print(
            f"no finished runs of {task}" + (f" ({profile})" if profile else "") + f" in {db}"
        )
        return
    text = render_tables(found, fmt, width=_table_width())
    if fmt == "table":
        console.print(text, markup=False, highlight=False)
    else:
        print(text)


def _table_width() -> int:
    """The terminal's width, or `LOG_WIDTH` when output goes to a file or pipe."""
    return console.width if console.is_terminal else LOG_WIDTH


def _print_summary(task: str, profile: str | None, db: Path, split: str, fmt: str) -> None:
    """The segmentation summary (label maps, masks) and the classification summary of the
    task's targets, each when the task has such targets."""
    import json

    from mskbench.harness.classification import summarize_classification
    from mskbench.harness.report import render
    from mskbench.harness.report_classification import render_classification
    from mskbench.harness.store import Store
    from mskbench.harness.summary import select_runs, summarize_task

    spec, store = _task(task), Store(db)
    runs = select_runs(store.runs(spec.name), spec, profile).runs
    if runs.empty:
        console.print(
            f"no finished runs of {task}" + (f" ({profile})" if profile else "") + f" in {db}"
        )
        return
    texts = {}
    if spec.segmentation is not None:
        summary = summarize_task(store, spec, profile=profile, split=split)
        texts["segmentation"] = render(summary, fmt, width=_table_width())
    if spec.classification:
        scores = summarize_classification(store, spec, runs, split)
        texts["classification"] = render_classification(
            scores, spec, fmt, width=_table_width(), split=split
        )
    if fmt == "json" and len(texts) > 1:  # one document a JSON parser reads whole
        print(
            json.dumps({k: json.loads(v) for k, v in texts.items()}, indent=2, ensure_ascii=False)
        )
        return
    for kind, text in texts.items():
        if fmt == "table":
            console.print(text, markup=False, highlight=False)
        elif fmt == "csv" and len(texts) > 1:  # two tables: a "# title" line before each
            print(f"# {kind}\n{text}", end="")
        else:
            print(text)


@app.command("new-model")
def new_model(
    name: Annotated[
        str, typer.Argument(help="Model name (lower_snake_case), as users will type it.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder in which to create the plugin package.")
    ] = Path("."),
) -> None:
    """Write a ready-to-install model plugin package (entry point, model class, test)."""
    from mskbench.harness.plugin import new_plugin

    try:
        root = new_plugin(name, out)
    except (ValueError, FileExistsError) as exc:
        raise _bad_input(str(exc)) from exc
    console.print(f"wrote plugin skeleton {root}")
    console.print(
        f"next: pip install -e {root} && bench list models && bench run --task nmd_thigh --model {name} --profile smoke"
    )


@app.command("leaderboard")
def leaderboard_command(
    db: DbOption = DEFAULT_DB,
    port: Annotated[int, typer.Option("--port", help="Local port of the Streamlit server.")] = 8501,
) -> None:
    """Open the Streamlit leaderboard on the results database (read-only)."""
    if not db.is_file():
        raise _bad_input(f"{db}: no results database (run `bench run` first or pass --db)")
    from mskbench.harness.store import StoreLockedError
    from mskbench.harness.store.identity import probe

    # a `bench run` holding the file is no error: the app shows the results once it can copy
    with bad_input_exits(), contextlib.suppress(StoreLockedError):
        probe(db, lock_timeout_s=PROBE_LOCK_TIMEOUT_S)
    from mskbench.leaderboard.launch import launch

    raise typer.Exit(launch(db, port))


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
