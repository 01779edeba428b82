"""The package's import structure, read from the source with ``ast`` (nothing is imported).

Every module of ``robotfleet_nodes`` counts towards its *package*: the first name below the
root (``robotfleet_nodes.transport.nats._client`` -> ``robotfleet_nodes.transport``; the
top-level modules ``errors.py``, ``qos.py``, ... are packages of their own; the root
``__init__.py`` is ``robotfleet_nodes``). The rules (docs/architecture.md, "Layers"):

1. The package graph has no cycle. Every import counts: module level, under
   ``TYPE_CHECKING`` and inside functions (a lazy import may defer a heavy import, never
   point upward).
2. The layer list of docs/architecture.md names every public package, bottom up, and each
   package imports only packages on lines above its own.
3. A private name (a dotted component starting with ``_``) belongs to the package or module
   containing it; nothing outside imports it.
4. Every package ``__init__.py`` assigns ``__all__``, and each name in it resolves.

The first tests run the checker on small packages written to ``tmp_path``, so a checker
that stopped finding cycles or private imports would fail here too.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "robotfleet_nodes"
REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / PACKAGE
ARCHITECTURE = REPO / "docs" / "architecture.md"


@dataclass(frozen=True)
class Import:
    """One imported module (and name) of one import statement."""

    importer: str  #: the importing module, ``robotfleet_nodes.node.node``
    module: str  #: the module this loads, ``robotfleet_nodes.transport``
    name: str  #: the full dotted name imported, ``robotfleet_nodes.transport.Transport``
    line: int
    where: str  #: "module level", "TYPE_CHECKING" or "function"

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.name} ({self.where})"


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of the package under ``root``."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_statements(node: ast.AST, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    for child in ast.iter_child_nodes(node):
        inner = where
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = "function"
        elif isinstance(child, ast.If) and where == "module level" and _is_type_checking(child.test):
            inner = "TYPE_CHECKING"
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, where
        yield from _import_statements(child, inner)


def find_imports(modules: dict[str, Path], package: str) -> list[Import]:
    """Every import of a module of ``package`` by a module of ``package``."""
    found: list[Import] = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        for statement, where in _import_statements(ast.parse(path.read_text(), str(path)), "module level"):
            if isinstance(statement, ast.Import):
                pairs = [(alias.name, alias.name) for alias in statement.names]
            else:
                if statement.level:  # relative: from . import x, from ..a import b
                    base = importer.split(".")
                    if not is_package:
                        base.pop()
                    base = base[: len(base) - (statement.level - 1)]
                    source = ".".join([*base, *([statement.module] if statement.module else [])])
                else:
                    source = statement.module or ""
                pairs = []
                for alias in statement.names:
                    if alias.name == "*":
                        pairs.append((source, source))
                    elif f"{source}.{alias.name}" in modules:  # from pkg import submodule
                        pairs.append((f"{source}.{alias.name}", f"{source}.{alias.name}"))
                    else:
                        pairs.append((source, f"{source}.{alias.name}"))
            for module, name in pairs:
                if module == package or module.startswith(package + "."):
                    found.append(Import(importer, module, name, statement.lineno, where))
    return found


def package_of(module: str) -> str:
    """``robotfleet_nodes.transport.nats._client`` -> ``robotfleet_nodes.transport``."""
    return ".".join(module.split(".")[:2])


def package_graph(imports: list[Import]) -> dict[str, dict[str, list[Import]]]:
    """importing package -> imported package -> the imports that make the edge."""
    graph: dict[str, dict[str, list[Import]]] = {}
    for item in imports:
        source, target = package_of(item.importer), package_of(item.module)
        graph.setdefault(source, {})
        graph.setdefault(target, {})
        if source != target:
            graph[source].setdefault(target, []).append(item)
    return graph


def find_cycle(graph: dict[str, dict[str, list[Import]]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, list[Import]]]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in itertools.pairwise(cycle):
        items = graph[source][target]
        lines.append(f"  {source} -> {target}:")
        lines.extend(f"    {item}" for item in items[:3])
        if len(items) > 3:
            lines.append(f"    ... and {len(items) - 3} more")
    return "\n".join(lines)


def private_imports(imports: list[Import]) -> list[Import]:
    """Imports of a ``_private`` module or name from outside the package/module owning it."""
    bad = []
    for item in imports:
        parts = item.name.split(".")
        for i, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                owner = ".".join(parts[:i])
                if item.importer != owner and not item.importer.startswith(owner + "."):
                    bad.append(item)
                break
    return bad


def documented_layers(text: str) -> list[list[str]]:
    """The layer list of the "Layers" section: one list of package paths per line, bottom up."""
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    layers = []
    for line in block.splitlines()[1:]:  # after "robotfleet_nodes/"
        if not line.startswith("  ") or line.startswith("   "):
            continue  # a continuation line
        names = []
        for token in line.split():
            if not re.fullmatch(r"[\w.]+(/|\.py)", token):
                break
            names.append(token)
        layers.append(names)
    return layers


def package_of_path(entry: str) -> str:
    """``node/`` -> ``robotfleet_nodes.node``, ``errors.py`` -> ..., ``__init__.py`` -> the root."""
    name = entry.removesuffix("/").removesuffix(".py")
    return PACKAGE if name == "__init__" else f"{PACKAGE}.{name}"


def is_private(package: str) -> bool:
    return package.rsplit(".", 1)[-1].startswith("_")


# --- the checker finds what it must --------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return find_modules(root, "pkg")


def test_checker_finds_a_cycle_through_a_function_level_and_a_relative_import(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low/__init__.py": "",
            "pkg/low/a.py": """
                def later():
                    from ..high import b  # function level and relative: still an edge
            """,
            "pkg/high/__init__.py": "",
            "pkg/high/b.py": "from pkg.low import a\n",
            "pkg/other.py": "import pkg.low.a\n",
        },
    )
    graph = package_graph(find_imports(modules, "pkg"))
    assert find_cycle(graph) == ["pkg.high", "pkg.low", "pkg.high"]
    assert graph["pkg.low"]["pkg.high"][0].where == "function"
    assert graph["pkg.low"]["pkg.high"][0].module == "pkg.high.b"
    assert "pkg.low.a:3 imports pkg.high.b (function)" in describe_cycle(
        ["pkg.low", "pkg.high", "pkg.low"], graph
    )


def test_checker_counts_type_checking_imports_and_accepts_a_dag(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import high\n",
            "pkg/high.py": "",
        },
    )
    graph = package_graph(find_imports(modules, "pkg"))
    assert graph["pkg.low"]["pkg.high"][0].where == "TYPE_CHECKING"
    assert find_cycle(graph) is None


def test_checker_finds_private_imports_across_packages(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/_shared.py": "",
            "pkg/a/__init__.py": "from pkg.a._impl import thing\nfrom pkg.a.pub import _helper\n",
            "pkg/a/_impl.py": "thing = 1\n",
            "pkg/a/pub.py": "def _helper(): ...\n",
            "pkg/b.py": """
                from pkg import _shared  # the root's private helpers serve every package
                from pkg.a._impl import thing
                from pkg.a.pub import _helper
                from .a import _impl
            """,
        },
    )
    bad = private_imports(find_imports(modules, "pkg"))
    assert [(item.importer, item.name) for item in bad] == [
        ("pkg.a", "pkg.a.pub._helper"),  # private to the module pub, not to its package
        ("pkg.b", "pkg.a._impl.thing"),
        ("pkg.b", "pkg.a.pub._helper"),
        ("pkg.b", "pkg.a._impl"),
    ]


# --- robotfleet_nodes ----------------------------------------------------------------------

MODULES = find_modules(REPO, PACKAGE)
IMPORTS = find_imports(MODULES, PACKAGE)
GRAPH = package_graph(IMPORTS)


def test_the_package_import_graph_has_no_cycle() -> None:
    assert len(GRAPH) > 10, "the checker found too few packages: is the source where it looks?"
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle between packages:\n" + describe_cycle(cycle, GRAPH)


def test_no_module_imports_another_packages_private_names() -> None:
    bad = private_imports(IMPORTS)
    assert not bad, "private names imported from outside their package (use its facade):\n" + "\n".join(
        f"  {item}" for item in bad
    )


def test_docs_list_the_packages_in_an_order_every_import_follows() -> None:
    layers = documented_layers(ARCHITECTURE.read_text())
    level: dict[str, int] = {}
    for index, names in enumerate(layers):
        for entry in names:
            assert (SOURCE / entry).exists(), f"docs/architecture.md lists {entry}, which does not exist"
            level[package_of_path(entry)] = index
    missing = sorted(p for p in GRAPH if p not in level and not is_private(p))
    assert not missing, f"docs/architecture.md, 'Layers': add {missing} below everything they import"
    wrong = [
        f"  {source} (layer {level[source] + 1}) -> {target} (layer {level[target] + 1}): {items[0]}"
        for source, targets in sorted(GRAPH.items())
        for target, items in sorted(targets.items())
        if source in level and target in level and level[target] >= level[source]
    ]
    assert not wrong, "imports not going down the layer list of docs/architecture.md:\n" + "\n".join(wrong)


PACKAGES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_all_and_its_names_resolve(package: str) -> None:
    tree = ast.parse(MODULES[package].read_text())
    assigned = [
        node
        for node in tree.body
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets))
        or (isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "__all__")
    ]
    where = MODULES[package].relative_to(REPO)
    assert assigned, f"{where} has no __all__ (if it exports nothing: an empty one, and a docstring why)"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:  # an optional extra (transport.dds without cyclonedds)
        pytest.skip(f"{package}: {exc}")
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"{package}.__all__ repeats a name"
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which does not resolve"
