"""Errors of the data contract, each naming the file and the rule it breaks.

All are `ContractError` (a ``ValueError``), so the CLI turns every one of them into a
clean message and exit code 2.
"""

from __future__ import annotations

from pathlib import Path


class ContractError(ValueError):
    """A dataset that breaks the data contract in a way that stops reading it at all."""


class RuleError(ContractError):
    """A file that breaks one named rule; ``str()`` is ``"<file>: [<rule>] <message>"``."""

    def __init__(self, path: str | Path, rule: str, message: str) -> None:
        self.path = Path(path)
        self.rule = rule
        self.message = message
        super().__init__(f"{path}: [{rule}] {message}")


class UnsafePathError(RuleError):
    """A name from data that would not stay a plain file name inside its root folder.

    Rules: ``case-id`` (an id or name that climbs out of its folder or is not a plain
    name) and ``symlink`` (a path that resolves, through a link, outside its root).
    """


class TooLargeError(RuleError):
    """An image whose header declares more voxels (or far more bytes than the file holds)
    than the limits allow, or whose reading ran out of memory; rule ``too-large``."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(path, "too-large", message)
