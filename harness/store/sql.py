"""Bound parameters for the store's SQL: every value from outside goes into ``params``, never
into the SQL text (the text holds only ``$name`` placeholders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def bind(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> list[str]:
    """Placeholders ``$prefix0, ...`` for ``values``, which are added to ``params``."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    params.update(zip(names, values, strict=True))
    return [f"${n}" for n in names]


def in_list(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    """The inside of an SQL ``IN (...)`` for ``values`` (``NULL`` when empty: matches nothing)."""
    return ", ".join(bind(prefix, values, params)) or "NULL"


def values_rows(prefix: str, rows: Sequence[tuple[Any, ...]], params: dict[str, Any]) -> str:
    """``VALUES (..), (..)`` of ``rows`` with every value bound as a parameter."""
    cells = [bind(f"{prefix}{i}_", row, params) for i, row in enumerate(rows)]
    return "VALUES " + ", ".join(f"({', '.join(c)})" for c in cells)
