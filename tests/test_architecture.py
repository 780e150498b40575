"""The layers of the package, checked from its source: no import circles, and
the engine stays a library (no Django, nothing of the glue).

Every import counts: at module level, inside functions (lazy imports hide a
circle, they do not remove it) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import porpoise_django

PACKAGE = Path(porpoise_django.__file__).parent
NAME = "porpoise_django"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever the import is.

    ``from package import module`` counts as importing ``package.module``
    (given the package's ``modules``), not the package itself: the package's
    ``__init__`` runs first either way, which is not the importer's edge.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    known = frozenset(modules)
    for name, path in modules.items():
        targets = {t for t in imports_of(path, known) if t in modules and t != name}
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_the_package():
    # A module importing "porpoise_django.engine" (the package's re-exports)
    # depends on the whole engine: that edge must not close a circle either.
    assert cycles(graph()) == []


def test_the_engine_imports_neither_django_nor_the_glue():
    engine = PACKAGE / "engine"
    for path in engine.rglob("*.py"):
        for target in imports_of(path):
            top = target.split(".")[0]
            assert top not in {"django", "rest_framework", "drf_spectacular"}, (path, target)
            if top == NAME:
                assert target.startswith(f"{NAME}.engine"), (path, target)


def private_names_defined(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, attributes set on
    ``self``/``cls`` or in class bodies, module-level names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_")}


def test_the_package_uses_no_private_name_of_another_module():
    """``from .x import _name``, or ``thing._name`` where no class of this module
    defines ``_name``, reaches into another module's internals; each module
    offers a public interface instead."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        own = private_names_defined(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] != "django":
                found += [
                    f"{module_name(path)}: from {node.module} import {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in own
                and node.attr not in ("_meta", "_default_manager")  # Django's documented model API
            ):
                found.append(f"{module_name(path)}: ._{node.attr[1:]}")
    assert found == []


def test_the_checker_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_functions_stay_short_and_the_facade_thin():
    """A function reads on one screen (about 60 lines; 65 is the hard stop), and
    ``Analytics`` stays a facade: constructor, options, factories, delegations."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 65:
                    long.append(f"{module_name(path)}.{node.name}: {length} lines")
            if isinstance(node, ast.ClassDef) and node.name == "Analytics":
                assert (node.end_lineno or 0) - node.lineno < 300
    assert long == []


#: The engine's layers, lowest first: a module imports only from its own layer
#: or those below it (``events`` and ``numbers`` stand side by side and do not
#: import each other).
ENGINE_LAYERS: list[tuple[str, ...]] = [
    ("engine.errors", "engine.names", "engine.values"),
    ("engine.time",),
    ("engine.storage",),
    ("engine.events", "engine.numbers"),
    ("engine.analyses",),
    ("engine.analytics", "engine.internals", "engine"),
]
SIDE_BY_SIDE = {"engine.events", "engine.numbers"}


def layer_of(module: str) -> tuple[int, str] | None:
    """(layer number, room) of a package module; the glue is above the engine."""
    name = module.removeprefix(f"{NAME}.")
    if name == NAME:
        return None
    best: tuple[int, str] | None = None
    for level, rooms in enumerate(ENGINE_LAYERS):
        for room in rooms:
            if (name == room or name.startswith(room + ".")) and (
                best is None or len(room) > len(best[1])
            ):
                best = (level, room)
    return best if best is not None else (len(ENGINE_LAYERS), "glue")


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for source, targets in edges.items():
        here = layer_of(source)
        for target in targets:
            there = layer_of(target)
            if here is None or there is None:
                continue
            beside = here[0] == there[0] and {here[1], there[1]} == SIDE_BY_SIDE
            if there[0] > here[0] or beside:
                found.append(f"{source} -> {target}")
    return sorted(found)


def test_the_engine_layers_import_downwards_only():
    # time <- storage <- events/numbers <- analyses <- facade <- glue/compat/admin/api
    assert layer_violations(graph()) == []


def test_the_layer_checker_sees_an_upward_import():
    edges = {
        f"{NAME}.engine.time.periods": {f"{NAME}.engine.storage.keys"},
        f"{NAME}.engine.events.marks": {f"{NAME}.engine.numbers.counters"},
        f"{NAME}.engine.analyses.funnels": {f"{NAME}.engine.events.bitmaps"},
        f"{NAME}.engine.storage.keys": {f"{NAME}.services"},
    }
    assert layer_violations(edges) == [
        f"{NAME}.engine.events.marks -> {NAME}.engine.numbers.counters",
        f"{NAME}.engine.storage.keys -> {NAME}.services",
        f"{NAME}.engine.time.periods -> {NAME}.engine.storage.keys",
    ]


def test_every_engine_module_has_a_layer():
    for path in (PACKAGE / "engine").rglob("*.py"):
        module = module_name(path)
        assert layer_of(module) is not None and layer_of(module)[1] != "glue", module


def test_the_glue_and_compat_use_only_the_engines_public_names():
    """Outside the engine, only ``porpoise_django.engine`` (its ``__all__``) and
    the documented ``engine.internals`` are imported, never an engine submodule."""
    allowed = {f"{NAME}.engine", f"{NAME}.engine.internals"}
    found = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "engine") in path.parents:
            continue
        for target in imports_of(path):
            if target.startswith(f"{NAME}.engine") and target not in allowed:
                found.append(f"{module_name(path)} -> {target}")
    assert found == []


def test_no_folder_holds_more_than_twelve_modules():
    crowded = {}
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > 12:
            crowded[str(folder.relative_to(PACKAGE.parent))] = len(modules)
    assert crowded == {}


def test_services_keeps_only_the_engine_wiring():
    assert len((PACKAGE / "services.py").read_text().splitlines()) < 250


def test_the_public_import_paths_keep_working():
    import importlib

    import django.conf

    assert django.conf.settings.configured
    for path, names in {
        f"{NAME}.middleware": ["PorpoiseMiddleware"],
        f"{NAME}.decorators": ["track", "count"],
        f"{NAME}.engine": ["Analytics", "Bitmap", "cohort_table", "funnel", "lifecycle"],
        f"{NAME}.compat.bitmapist": ["mark_event", "DayEvents", "BitOpAnd"],
        f"{NAME}.compat.porpoise": ["Analytics"],
        f"{NAME}.compat.kairos": ["Timeseries"],
        f"{NAME}.compat.hailwhale": ["Whale"],
        f"{NAME}.admin": ["install"],
        f"{NAME}.api.urls": ["urlpatterns"],
        f"{NAME}.hooks": ["worker_exit", "on_exit"],
        f"{NAME}.signals": ["event_marked"],
        f"{NAME}.services": ["get_analytics"],
        f"{NAME}.delivery": ["flush", "record", "mark", "count", "flush_buffer", "shutdown"],
    }.items():
        module = importlib.import_module(path)
        for name in names:
            assert hasattr(module, name), (path, name)
    engine = importlib.import_module(f"{NAME}.engine")
    for name in engine.__all__:
        assert hasattr(engine, name), name


def test_docs_architecture_names_every_module():
    """docs/architecture.md gives every module a line (by its path below the
    package, or below the engine for engine modules; or by name in its folder's row)."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    missing = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" or parts[0] in ("management", "templatetags"):
            continue
        if parts[0] == "engine" and len(parts) > 1:
            parts = parts[1:]
        folder_row = [
            line
            for line in text.splitlines()
            if f"`{'/'.join(parts[:-1])}/`" in line and f"`{parts[-1]}`" in line
        ]
        if f"`{'/'.join(parts)}`" not in text and not (len(parts) > 1 and folder_row):
            missing.append("/".join(relative.parts))
    assert missing == []
