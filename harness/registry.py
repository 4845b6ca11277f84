"""One small generic registry for tasks, models and metrics.

Names map either to an object or to a lazy ``"package.module:attribute"`` string that is
imported on first use, so listing names never imports heavy code (torch) and a broken
plugin only fails when it is used. Entry points of an installed distribution are read
the same way (their ``value`` is such a string).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        listing = ", ".join(known) if known else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {listing}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def load_module(reference: str) -> Any:
    """The module of ``"pkg.module:attr"`` or ``"path/to/file.py:attr"`` (imported once: a
    file is executed on its first load and reused after)."""
    module_part, sep, attr = reference.partition(":")
    if not sep or not attr:
        raise ValueError(f"reference {reference!r} must look like 'package.module:Name'")
    if module_part.endswith(".py"):
        path = Path(module_part).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (from reference {reference!r})")
        module_name = f"_mskbench_plugin_{path.stem}"
        loaded = sys.modules.get(module_name)
        if loaded is not None and getattr(loaded, "__file__", None) == str(path):
            return loaded
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(module_part)


def load_reference(reference: str) -> Any:
    """Import ``"pkg.module:attr"`` or ``"path/to/file.py:attr"`` and return the attribute."""
    module = load_module(reference)
    module_part, _, attr = reference.partition(":")
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ImportError(f"{module_part} has no attribute {attr!r}") from exc
    return obj


class Registry(Generic[T]):
    """Name → object, with lazy references and an optional entry-point group.

    ``validate`` (optional) is called once on each object when it is first loaded and
    may raise to reject it.
    """

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        validate: Callable[[str, Any], T] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._validate = validate
        self._refs: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._entry_points_read = False

    def register(self, name: str, target: T | str) -> None:
        """Register ``target`` (an object or a lazy ``"module:attr"`` string) under ``name``."""
        if name in self._refs or name in self._loaded:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if isinstance(target, str):
            self._refs[name] = target
        else:
            self._loaded[name] = self._check(name, target)

    def _read_entry_points(self) -> None:
        if self._entry_points_read or self.entry_point_group is None:
            return
        self._entry_points_read = True
        for ep in importlib.metadata.entry_points(group=self.entry_point_group):
            if ep.name not in self._refs and ep.name not in self._loaded:
                self._refs[ep.name] = ep.value

    def names(self) -> list[str]:
        """All registered names, sorted; imports nothing."""
        self._read_entry_points()
        return sorted({*self._refs, *self._loaded})

    def reference(self, name: str) -> str | None:
        """The lazy ``module:attr`` string behind ``name`` (None if registered as an object)."""
        self._read_entry_points()
        return self._refs.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The object for ``name``, importing it on first use."""
        if name in self._loaded:
            return self._loaded[name]
        self._read_entry_points()
        if name not in self._refs:
            raise UnknownNameError(self.kind, name, self.names())
        obj = self._check(name, load_reference(self._refs[name]))
        self._loaded[name] = obj
        return obj

    def _check(self, name: str, obj: Any) -> T:
        return self._validate(name, obj) if self._validate else obj
