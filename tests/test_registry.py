"""The generic registry: lazy references, file references, clear unknown-name errors."""

from __future__ import annotations

import sys

import pytest

from mskbench.harness.registry import Registry, UnknownNameError, load_reference


def test_lazy_reference_is_imported_only_on_first_use():
    registry: Registry[object] = Registry("widget")
    registry.register("dec", "decimal:Decimal")
    sys.modules.pop("fractions", None)
    registry.register("frac", "fractions:Fraction")
    assert registry.names() == ["dec", "frac"]
    assert "fractions" not in sys.modules
    from fractions import Fraction

    assert registry.get("frac") is Fraction


def test_unknown_name_lists_known_names():
    registry: Registry[object] = Registry("widget")
    registry.register("a", object())
    with pytest.raises(UnknownNameError, match=r"unknown widget 'b'; known widgets: a"):
        registry.get("b")


def test_duplicate_registration_is_refused():
    registry: Registry[object] = Registry("widget")
    registry.register("a", "decimal:Decimal")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", "decimal:Decimal")


def test_file_reference_loads_a_class_from_a_python_file(tmp_path):
    path = tmp_path / "plugin.py"
    path.write_text("class MyModel:\n    name = 'mine'\n")
    assert load_reference(f"{path}:MyModel").name == "mine"
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_reference(f"{tmp_path / 'missing.py'}:MyModel")
    with pytest.raises(ImportError, match="has no attribute 'Other'"):
        load_reference(f"{path}:Other")


def test_validation_hook_rejects_wrong_objects():
    def must_be_int(name, obj):
        if not isinstance(obj, int):
            raise TypeError(f"{name} is not an int")
        return obj

    registry: Registry[int] = Registry("number", validate=must_be_int)
    registry.register("pi", "math:pi")
    with pytest.raises(TypeError, match="pi is not an int"):
        registry.get("pi")
