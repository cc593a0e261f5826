"""The house's floors (design.md "The house"): a package imports only from the floors beneath it, workflows never
reach the record directly, and no module imports itself back through others."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOORS: dict[str, int] = {
    "domain": 1,
    "config": 2,
    "observability": 2,
    "records": 3,
    "notifications": 3,
    "security": 3,
    "exports": 3,  # pure mapping of the record's facts to ODM and SDTM (domain only)
    "activities": 4,
    "workflows": 5,
    "facade": 6,
    "workers": 6,
    "api": 7,
    "web": 7,
    "cli": 7,
    "stack": 8,
    "simulation": 8,
    "bench": 8,
}
# Beneath a floor, yet out of bounds: the workflow knows the record only through its activities.
NEVER: dict[str, frozenset[str]] = {"workflows": frozenset({"records"})}
# On the same floor, yet allowed: the notifier keeps its delivery ledger in the trial record's database, the
# benchmark drives the same synthetic cohort as `trial-demo`, and the API process serves the web app's pages (which
# never import the API back: it hands them what they need).
BESIDE: dict[str, frozenset[str]] = {
    "notifications": frozenset({"records"}),
    "bench": frozenset({"simulation"}),
    "api": frozenset({"web"}),
}


def imported_modules(source: str, module: str, known: Collection[str] = ()) -> Iterator[str]:
    """Every module `source` imports, at any depth (inside functions too), relative imports resolved; `from package
    import name` counts as the module `package.name` when `known` holds it, else as the package."""
    package = module.rsplit(".", 1)[0] if "." in module else ""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(part for part in [*parts, base] if part)
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def wrong_way(importer: str, imported: str) -> bool:
    """Whether package `importer` may not import package `imported`."""
    if importer == imported or imported not in FLOORS or imported in BESIDE.get(importer, frozenset()):
        return False
    return FLOORS[imported] >= FLOORS[importer] or imported in NEVER.get(importer, frozenset())


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in FLOORS:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_every_top_level_package_has_a_floor() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(FLOORS), f"packages without a floor: {sorted(packages - set(FLOORS))}"


def test_no_import_runs_the_wrong_way_and_no_module_imports_itself_back() -> None:
    modules = project_modules()
    wrong: list[str] = []
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        importer = module.split(".")[0]
        source = path.read_text(encoding="utf-8")
        targets = {name for name in imported_modules(source, module, modules) if name in modules}
        graph[module] = targets - {module}
        wrong += [f"{module} imports {name}" for name in sorted(targets) if wrong_way(importer, name.split(".")[0])]
    assert not wrong, "\n".join(wrong)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        pytest.fail("import circle: " + " -> ".join(cycle.args[1]))


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("records", "activities"),
        ("records", "notifications"),
        ("api", "cli"),
        ("cli", "api"),
        ("workflows", "records"),
        ("facade", "stack"),
        ("simulation", "bench"),
    ],
)
def test_the_check_catches_an_import_that_runs_the_wrong_way(importer: str, imported: str) -> None:
    assert wrong_way(importer, imported)


@pytest.mark.parametrize(("importer", "imported"), [("activities", "records"), ("stack", "api"), ("api", "facade")])
def test_the_check_lets_a_downward_import_through(importer: str, imported: str) -> None:
    assert not wrong_way(importer, imported)


def test_relative_and_nested_imports_are_seen() -> None:
    source = "from .. import store\ndef f():\n    from config import settings\n"
    known = {"records.store", "config.settings"}
    assert set(imported_modules(source, "records.sub.module", known)) == known
