"""CSV that a spreadsheet does not execute: OWASP's rule against CSV (formula) injection.

Text from outside (a ``cases.csv`` value stored as an attribute, a ``--name``, a model
name) can reach a CSV that someone opens in a spreadsheet, which runs a cell such as
``=cmd|' /C calc'!A0`` as a formula. Every CSV mskbench writes for people — ``bench
results --format csv``, ``bench results --tables --format csv``, ``bench list ...
--format csv``, the leaderboard's downloads — goes through `to_csv`: a text cell (or
header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading single quote, which makes the spreadsheet show it as text.

Numbers are not text: numeric columns are written unchanged, and so is a text cell that is
a plain decimal number (``-0.25``, ``+3``, ``-1e-3``), so a negative value stays a number.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `bench list` writes CSV without pandas, which takes a while to import
    import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading quote when it is text a spreadsheet would run; anything
    else (numbers, NaN, plain decimal text, ordinary text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        if _NUMBER.fullmatch(value):
            return value
        return QUOTE + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are neutralised."""
    from pandas.api.types import is_numeric_dtype

    out = frame.rename(columns=lambda c: neutralise_cell(c) if isinstance(c, str) else c)
    for column in out.columns:
        if not is_numeric_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    return out


def to_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index), neutralised."""
    return neutralise(frame).to_csv(index=False)
