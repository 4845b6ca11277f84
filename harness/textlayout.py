"""Plain-text tables that fit a width without breaking a number or an identifier.

A column's *natural* width is its longest line (header included); its *minimum* is its
longest word: a cell may wrap at spaces but never inside a word, so ``0.912`` or
``[0.90,`` and a model or task name stay whole. A *rigid* column (an identifier) never
wraps at all.

`fit_widths` starts from the natural widths and, while the table is wider than asked,
narrows the wrappable column with the most room above its minimum — key columns (e.g.
"published, other data") before value columns, so "mean ± SD" stays on one line as long
as possible. A table that cannot fit even so is printed wider than asked rather than
cropped. `split_columns` lays a wide table out as several tables of the same rows: the
key columns repeated, the value columns packed in order into as few tables as fit.

Widths are terminal cells (`rich.cells.cell_len`); a rich table adds 3 cells per column
(padding and rule) and 1 for the closing rule. Text is printed as it is, never read as
rich markup (a model called ``[red]x`` stays ``[red]x``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: Cells a rich table adds per column (one space each side and a rule) and at the end.
PER_COLUMN, CLOSING = 3, 1


def natural_width(texts: Sequence[str]) -> int:
    """The longest line of ``texts`` (0 when empty)."""
    return max((cell_len(line) for t in texts for line in t.splitlines() or [""]), default=0)


def min_width(texts: Sequence[str]) -> int:
    """The longest word (whitespace-separated) of ``texts``: the narrowest wrap."""
    return max((cell_len(word) for t in texts for word in t.split()), default=0)


def table_width(widths: Sequence[int]) -> int:
    """Total width of a table whose columns hold ``widths`` cells of content."""
    return sum(widths) + PER_COLUMN * len(widths) + CLOSING


def fit_widths(
    columns: Sequence[Sequence[str]],
    width: int,
    rigid: Sequence[bool],
    keys: int = 0,
) -> list[int]:
    """Content widths of ``columns`` (each: header then cells) for a table at most
    ``width`` cells wide where possible. Non-rigid columns narrow towards their longest
    word, the first ``keys`` columns first; rigid columns keep their natural width."""
    widths = [natural_width(c) for c in columns]
    floors = [
        w if fixed else min_width(c) for w, c, fixed in zip(widths, columns, rigid, strict=True)
    ]
    excess = table_width(widths) - width
    for group in (range(min(keys, len(widths))), range(keys, len(widths))):
        while excess > 0:
            room = [(widths[i] - floors[i], i) for i in group if widths[i] > floors[i]]
            if not room:
                break
            widths[max(room)[1]] -= 1
            excess -= 1
    return widths


def split_columns(
    columns: Sequence[Sequence[str]],
    width: int,
    rigid: Sequence[bool],
    keys: int,
    units: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Indices of the columns of each table when the value columns (after the first
    ``keys``) do not fit in one: every table holds the keys (at their narrowest) and as
    many consecutive value ``units`` (lists of column indices that stay together; default:
    each value column alone), at their natural width, as fit ``width``; a unit too wide
    for any table gets a table of its own."""
    if units is None:
        units = [[i] for i in range(keys, len(columns))]
    key_widths = [
        natural_width(c) if fixed else min_width(c)
        for c, fixed in zip(columns[:keys], rigid[:keys], strict=True)
    ]
    parts: list[list[int]] = []
    current: list[int] = []
    for unit in units:
        trial = key_widths + [natural_width(columns[i]) for i in [*current, *unit]]
        if current and table_width(trial) > width:
            parts.append(current)
            current = []
        current.extend(unit)
    if current or not parts:
        parts.append(current)
    return [[*range(keys), *part] for part in parts]


def render_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    title: str,
    width: int,
    *,
    rigid: int = 1,
    keys: int = 0,
    units: Sequence[Sequence[int]] | None = None,
    left: int = 0,
    show_lines: bool = True,
) -> str:
    """``rows`` under ``header`` as plain-text tables at most ``width`` cells wide where
    possible (see the module docstring): split into several tables (titled "title (k/n)")
    when the value columns do not fit beside the ``keys`` columns (``units``: value
    columns kept in one table, see `split_columns`). The first ``rigid`` columns
    (identifiers) never wrap; the first ``left`` columns are left-justified, the others
    right-justified."""
    fixed = [i < rigid for i in range(len(header))]
    columns = [[h, *(row[i] for row in rows)] for i, h in enumerate(header)]
    parts = split_columns(columns, width, fixed, keys, units)
    out = io.StringIO()
    for k, part in enumerate(parts, start=1):
        chosen = [columns[i] for i in part]
        widths = fit_widths(chosen, width, [fixed[i] for i in part], keys)
        name = title if len(parts) == 1 else f"{title} ({k}/{len(parts)})"
        table = Table(title=Text(name), title_justify="left", show_lines=show_lines)
        for i, w in zip(part, widths, strict=True):
            table.add_column(
                Text(header[i]),
                justify="left" if i < left else "right",
                width=w,
                no_wrap=fixed[i],
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(Text(row[i]) for i in part))
        full = max(width, table_width(widths))
        console = Console(file=out, width=full, force_terminal=False, color_system=None)
        console.print(table, width=full)
    return out.getvalue()
