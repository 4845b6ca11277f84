"""`StoredResults`: what the harness hands a task's ``tables`` hook (``TaskSpec.tables``).

The harness chooses the runs (the same comparable runs `bench results` ranks: one per
model, same data and splits) and reads their rows of one profile and split; a task's
table code only arranges them in its paper's shapes. It never opens the results store,
writes SQL or selects runs itself. Pure pandas frames:

- ``runs``: one row per compared run — ``run_id, model, profile``;
- ``metrics``: the case-metric rows of those runs on the split — ``run_id, model, fold,
  case_id, structure, metric, value`` (units of the task's metric catalogue);
- ``cases``: one row per case of the data — ``case_id`` and every case-level attribute
  (the cases.csv columns: site, level, grade, ...) as text;
- ``scores``: the classification score rows — ``run_id, model, fold, case_id, target,
  class, score, reference``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class StoredResults:
    """The compared runs of one ``profile`` and their rows of one ``split`` (see above)."""

    profile: str
    split: str
    runs: pd.DataFrame
    metrics: pd.DataFrame
    cases: pd.DataFrame
    scores: pd.DataFrame

    @property
    def models(self) -> list[str]:
        """The compared models, in the order of ``runs``."""
        return list(self.runs["model"])

    def with_case_column(self, column: str) -> pd.DataFrame:
        """``metrics`` with the case attribute ``column`` joined on (NaN where absent)."""
        if column not in self.cases.columns:
            return self.metrics.assign(**{column: pd.NA})
        return self.metrics.merge(self.cases[["case_id", column]], on="case_id", how="left")
