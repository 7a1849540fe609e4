"""The import rule of docs/architecture.md, checked over every module of the project.

Layers, from the bottom: settings and names; domain; storage; Dagster resources and sensors;
Dagster definitions; the code location; the command line. The dashboard stands beside the
Dagster layers and reads through storage only. A module may import its own layer and those
its layer lists; Dagster may be imported only from the Dagster layers and above.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("energy_assets", "resources", "sensors", "dash_app")
DAGSTER = ("dagster", "dagster_gcp", "dagster_postgres", "dagster_webserver", "dagster_graphql")

# layer -> module prefixes that belong to it (the longest matching prefix wins)
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("energy_assets.settings", "energy_assets.names", "energy_assets"),
    "domain": ("energy_assets.domain",),
    "storage": ("energy_assets.storage",),
    "resources": ("resources",),
    "sensors": ("sensors",),
    "defs": ("energy_assets.defs",),
    "location": ("energy_assets.definitions",),
    "cli": ("energy_assets.cli", "energy_assets.demo", "energy_assets.instance"),
    "dashboard": ("dash_app",),
}
# layer -> the layers it may import (besides itself)
MAY_IMPORT: dict[str, set[str]] = {
    "base": set(),
    "domain": {"base"},
    "storage": {"base", "domain"},
    "resources": {"base", "domain", "storage"},
    "sensors": {"base", "domain", "storage", "resources"},
    "defs": {"base", "domain", "storage", "resources", "sensors"},
    "location": {"base", "domain", "storage", "resources", "sensors", "defs"},
    "cli": {"base", "domain", "storage", "resources", "sensors", "defs", "location"},
    "dashboard": {"base", "domain", "storage"},
}
DAGSTER_FREE = {"base", "domain", "storage", "dashboard"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for package in PACKAGES
        for p in sorted((REPO / package).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module a file imports, anywhere in it (lazy imports inside functions included);
    `from package import name` counts as importing `package.name` when that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in modules
            )
    return found


def layer_of(module: str) -> str | None:
    matches = [
        (len(prefix), layer)
        for layer, prefixes in LAYERS.items()
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def is_dagster(module: str) -> bool:
    return module.split(".")[0] in DAGSTER


MODULES = project_modules()
GRAPH = {name: imports_of(path, MODULES) for name, path in MODULES.items()}


def reaches_dagster(start: str) -> list[str] | None:
    """The chain of project modules by which `start` imports Dagster, or None."""
    seen, stack = {start}, [[start]]
    while stack:
        chain = stack.pop()
        for target in sorted(GRAPH[chain[-1]]):
            if is_dagster(target):
                return [*chain, target]
            if target in MODULES and target not in seen:
                seen.add(target)
                stack.append([*chain, target])
    return None


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_the_layers_below_it(module: str) -> None:
    layer = layer_of(module)
    assert layer is not None
    allowed = MAY_IMPORT[layer] | {layer}
    wrong = sorted(
        f"{target} ({layer_of(target)})"
        for target in GRAPH[module]
        if target in MODULES and layer_of(target) not in allowed
    )
    assert wrong == [], f"{module} ({layer}) may import only {sorted(allowed)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) in DAGSTER_FREE))
def test_dagster_free_layers_reach_no_dagster_import(module: str) -> None:
    assert reaches_dagster(module) is None


def test_the_rule_catches_a_dagster_import_through_another_module() -> None:
    # The check is not vacuous: the Dagster layers do reach Dagster, directly or not.
    assert reaches_dagster("energy_assets.definitions") is not None
    assert reaches_dagster("energy_assets.defs.partitions") == [
        "energy_assets.defs.partitions",
        "dagster",
    ]


def test_the_dashboard_runs_without_importing_dagster(tmp_path: Path) -> None:
    code = (
        "import sys; import dash_app.app, dash_app.screenshots; "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {DAGSTER!r}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ENERGY_STORAGE_DIR": str(tmp_path / "storage"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


LONGEST_FUNCTION = 60


def test_no_function_is_longer_than_sixty_lines() -> None:
    """Decorators included: a function that does not fit a screen does more than one thing."""
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (lines := (node.end_lineno or node.lineno) - first + 1) > LONGEST_FUNCTION:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []
