"""The leaderboard's pages: each module has a ``TITLE`` and ``render(ctx: PageContext)``."""

from __future__ import annotations

from collections.abc import Callable

from mskbench.leaderboard.context import PageContext
from mskbench.leaderboard.views import (
    agreement,
    cases,
    compare,
    overview,
    papertables,
    runs,
    strata,
    structures,
)

PAGES: dict[str, Callable[[PageContext], None]] = {
    module.TITLE: module.render
    for module in (overview, compare, strata, agreement, structures, papertables, cases, runs)
}
