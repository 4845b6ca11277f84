"""``bench new-model``: write a ready-to-install plugin package skeleton.

```
<out>/<name>/pyproject.toml            entry point in group "mskbench.models"
<out>/<name>/README.md
<out>/<name>/src/<package>/__init__.py
<out>/<name>/src/<package>/model.py    a working per-voxel atlas model to edit
<out>/<name>/tests/test_model.py       runs fit/predict on the smoke phantom
```
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "model.py.tmpl": "src/{package}/model.py",
    "test_model.py.tmpl": "tests/test_model.py",
}


def new_plugin(name: str, out: Path) -> Path:
    """Write the skeleton of model ``name`` under ``out/name``; refuses to overwrite."""
    if not _NAME.match(name):
        raise ValueError(
            f"model name {name!r} must be lower_snake_case (letters, digits, underscores)"
        )
    root = Path(out) / name
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: exists and is not empty; choose another --out or name")
    package = f"mskbench_{name}"
    values = {
        "name": name,
        "package": package,
        "distribution": f"mskbench-{name.replace('_', '-')}",
        "class_name": "".join(part.capitalize() for part in name.split("_")) + "Model",
    }
    templates = resources.files("harness") / "templates" / "plugin"
    for template, target in _FILES.items():
        path = root / target.format(package=package)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((templates / template).read_text()).substitute(values))
    (root / "src" / package / "__init__.py").write_text(f'"""mskbench model plugin {name}."""\n')
    return root
