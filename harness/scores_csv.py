"""Read and check a CSV of case-level classification scores for ``bench score --scores``.

One row per (case, target) for a binary target — ``case_id,target,score`` with ``score``
the probability of the target's positive class — and one row per (case, target, class)
for an ordinal or multiclass target, which needs the ``class`` column (the class as the
task declares it; the probabilities of a case sum to 1). Any tool can write it::

    case_id,target,class,score
    s001,risky,,0.91
    s001,goutallier,0,0.01
    s001,goutallier,1,0.02
    ...

Every problem is reported at once, naming the file, the line and the rule:

``scores-csv``       unreadable, a required column missing, a target the task lacks, a
                     class column missing or naming a class the target lacks
``unknown-case``     a case id that is not in the dataset
``score-value``      an empty, non-numeric, NaN or infinite score
``score-range``      a score outside [0, 1]
``duplicate-score``  the same (case, target, class) twice
``missing-score``    an evaluated case without a score for a submitted target (or class)
``score-sum``        class probabilities of a case that do not sum to 1 (± 0.001)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.harness.evaluation import PROBABILITY_SUM_TOLERANCE
from mskbench.tasks.case import Score
from mskbench.tasks.contract import Problem
from mskbench.tasks.spec import TaskSpec

REQUIRED = ("case_id", "target", "score")
#: First data line of the file (line 1 is the header).
_FIRST_LINE = 2


def _lines(index: Iterable[int]) -> str:
    numbers = [str(i + _FIRST_LINE) for i in index]
    shown = ", ".join(numbers[:10]) + (f", … ({len(numbers)} in all)" if len(numbers) > 10 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def read_scores(
    path: Path, task: TaskSpec, known_cases: set[str], evaluated: list[str]
) -> tuple[dict[str, dict[str, Score]], list[Problem]]:
    """Scores per evaluated case (``case → target → probability`` for binary targets or
    ``→ {class: probability}`` otherwise) and every problem found (see the module
    docstring). A problem-free file holds a score for every evaluated case of every target
    it names."""
    name = path.name

    def bad(rule: str, message: str) -> Problem:
        return Problem(name, rule, message)

    targets = {t.name: t for t in task.classification}
    if not targets:
        return {}, [bad("scores-csv", f"task {task.name} has no classification targets to score")]
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return {}, [bad("scores-csv", f"unreadable as CSV ({str(exc).strip()[:160]})")]
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        return {}, [bad("scores-csv", f"missing column(s) {missing}; required: {list(REQUIRED)}")]
    table = table.assign(**{c: table[c].str.strip() for c in table.columns})
    if "class" not in table.columns:
        table["class"] = ""
    problems = []
    unknown_targets = sorted(set(table["target"]) - set(targets))
    if unknown_targets:
        problems.append(
            bad("scores-csv", f"target(s) {unknown_targets} are not the task's {list(targets)}")
        )
    unknown = ~table["case_id"].isin(known_cases)
    if unknown.any():
        problems.append(
            bad(
                "unknown-case",
                f"{_lines(table.index[unknown])}: case(s) "
                f"{sorted(set(table.loc[unknown, 'case_id']))[:10]} are not in the dataset",
            )
        )
    value = pd.to_numeric(table["score"], errors="coerce")
    not_number = value.isna() | ~np.isfinite(value.fillna(0))
    if not_number.any():
        problems.append(
            bad(
                "score-value",
                f"{_lines(table.index[not_number])}: score is empty, not a number, NaN or infinite",
            )
        )
    outside = ~not_number & ((value < 0) | (value > 1))
    if outside.any():
        problems.append(
            bad(
                "score-range",
                f"{_lines(table.index[outside])}: score outside [0, 1]; a score is a probability",
            )
        )
    for target_name, part in table[table["target"].isin(targets)].groupby("target"):
        target = targets[target_name]
        binary = target.kind == "binary"
        allowed = {"", "positive"} if binary else set(target.classes)
        wrong = ~part["class"].isin(allowed)
        if wrong.any():
            problems.append(
                bad(
                    "scores-csv",
                    f"{_lines(part.index[wrong])}: target "
                    f"{target_name} takes class {'(empty)' if binary else list(target.classes)}",
                )
            )
    keyed = table.assign(key_class=table["class"].replace("", "positive"))
    duplicated = keyed.duplicated(["case_id", "target", "key_class"], keep="first")
    if duplicated.any():
        problems.append(
            bad(
                "duplicate-score",
                f"{_lines(table.index[duplicated])}: a second "
                "score for the same case, target and class",
            )
        )
    if problems:
        return {}, problems
    return _collect(keyed.assign(value=value), task, evaluated, bad)


def _collect(table: pd.DataFrame, task: TaskSpec, evaluated: list[str], bad) -> tuple:
    """Scores per evaluated case of a syntactically clean table, and the completeness and
    sum problems."""
    scores: dict[str, dict[str, Score]] = {}
    problems = []
    for target_name, part in table.groupby("target", sort=False):
        target = task.target(target_name)
        by_case = {c: g for c, g in part.groupby("case_id", sort=False)}
        lacking = [c for c in evaluated if c not in by_case]
        if lacking:
            problems.append(
                bad(
                    "missing-score",
                    f"target {target_name}: no score for evaluated "
                    f"case(s) {lacking[:10]}{' …' if len(lacking) > 10 else ''}",
                )
            )
        for case_id in evaluated:
            rows = by_case.get(case_id)
            if rows is None:
                continue
            if target.kind == "binary":
                scores.setdefault(case_id, {})[target_name] = float(rows["value"].iloc[0])
                continue
            probabilities = dict(zip(rows["key_class"], rows["value"], strict=True))
            absent = [c for c in target.classes if c not in probabilities]
            if absent:
                problems.append(
                    bad(
                        "missing-score",
                        f"case {case_id!r}, target {target_name}: "
                        f"no probability of class(es) {absent}",
                    )
                )
            elif abs(sum(probabilities.values()) - 1.0) > PROBABILITY_SUM_TOLERANCE:
                problems.append(
                    bad(
                        "score-sum",
                        f"case {case_id!r}, target {target_name}: class "
                        f"probabilities sum to {sum(probabilities.values()):.4g}, not 1",
                    )
                )
            else:
                scores.setdefault(case_id, {})[target_name] = probabilities
    return scores, problems
