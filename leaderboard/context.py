"""What every page gets: the database, the chosen task and split, and which runs compare.

Runs compared (`harness.summary.select_runs`, as `bench results`): finished runs of the
task's current version; per profile, the latest finished run fixes the data and split
fingerprints, and per (model, profile) the latest such run is ranked. Every other run is
listed with the reason it is not ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mskbench.harness.summary import select_runs
from mskbench.leaderboard import queries
from mskbench.leaderboard.source import Source
from mskbench.leaderboard.taskview import profile_key
from mskbench.tasks.spec import TaskSpec


@dataclass(frozen=True)
class PageContext:
    """The database, the task and split picked in the sidebar, and the task's runs."""

    source: Source
    task: TaskSpec
    split: str
    runs: pd.DataFrame
    compared: pd.DataFrame
    excluded: list[dict[str, Any]]

    @classmethod
    def load(cls, source: Source, task: TaskSpec, split: str) -> PageContext:
        """Read the task's runs (cached) and choose the comparable ones."""
        runs = source.get(queries.runs_of_task, task.name)
        selection = select_runs(runs, task)
        return cls(source, task, split, runs, selection.runs, selection.excluded)

    @property
    def profiles(self) -> list[str]:
        """Profiles with ranked runs, smoke → quick → paper → others."""
        return sorted(set(self.compared["profile"]), key=profile_key)

    def compared_in(self, profile: str) -> pd.DataFrame:
        """Ranked runs of ``profile``, one per model, ordered by model."""
        rows = self.compared[self.compared["profile"] == profile]
        return rows.sort_values("model").reset_index(drop=True)

    def groups(self, profile: str | None = None) -> tuple[tuple[str, str], ...]:
        """(run id, profile) of the ranked runs (of ``profile``): the outlier-fence pools."""
        rows = self.compared if profile is None else self.compared_in(profile)
        return tuple(zip(rows["run_id"], rows["profile"], strict=True))
