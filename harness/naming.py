"""Names people choose for runs (``bench score --name``): the model name on the leaderboard,
in ``bench results`` and in every CSV. A name is part of the run's identity, so it is
checked as given, never silently changed (rule ``run-name``): not empty, no whitespace at
either end, no control characters (a newline would break tables and logs), at most
`MAX_NAME_CHARS` characters.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 64
#: Characters of a too-long name quoted in the error.
SHOWN_CHARS = 24


def check_run_name(name: str, option: str = "--name") -> str:
    """``name`` when it is a usable run name; else `ValueError` naming ``option`` and the
    broken rule."""

    def bad(problem: str) -> ValueError:
        shown = name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"
        return ValueError(f"{option} {shown!r}: [run-name] {problem}")

    if not name.strip():
        problem = "is empty" if not name else "holds only whitespace"
        raise bad(f"{problem}; give the name to show on the leaderboard")
    if name != name.strip():
        raise bad("starts or ends with whitespace")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise bad("holds a control character (newline, tab, ...)")
    if len(name) > MAX_NAME_CHARS:
        raise bad(f"is {len(name)} characters long; at most {MAX_NAME_CHARS} are allowed")
    return name
