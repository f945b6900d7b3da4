"""The package's layers (docs/design.md, "Layers"): a module imports only from its own layer or below, and the
imports among ganforge modules form no cycle.

Every `import` / `from … import` of a ganforge module is counted, at the top of a file or inside a function, class
or `if TYPE_CHECKING:` block alike: a lazy import still ties the layers together. An import of a name that a
package's `__init__` re-exports (`from ganforge import __version__`, `from ..families import draw_latents`)
counts as an import of the module the `__init__` took it from, since that is the code it needs; a name the
`__init__` defines itself counts as an import of the `__init__`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ganforge"

# Lowest first. A module's layer is that of the longest prefix listed here (a subpackage brings its modules); a
# module that matches none fails the test until it is given a layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("ganforge._version", "ganforge.errors", "ganforge.config", "ganforge.fileio", "ganforge.rundir",
              "ganforge.seeds")),
    ("parts", ("ganforge.data", "ganforge.nets", "ganforge.objectives", "ganforge.metrics", "ganforge.augment",
               "ganforge.text")),
    ("families", ("ganforge.families",)),
    ("sampling", ("ganforge.sampling", "ganforge.images")),
    ("evaluate", ("ganforge.scoring", "ganforge.evaluator_training")),
    ("report", ("ganforge.report",)),  # RUN/report.html: reads run folders; training writes it as a run ends
    ("train", ("ganforge.train",)),
    ("api", ("ganforge", "ganforge.api", "ganforge.latent")),  # `ganforge` itself: its __init__ re-exports the API
    ("serve", ("ganforge.serve",)),  # the explorer's web app: over the API (and train's stepper, for the live view)
    ("cli", ("ganforge.cli", "ganforge.__main__")),  # the package ganforge/cli/ and `python -m ganforge`
]
# The CLI is thin: it parses, checks its output paths and prints; all else it asks of the API layer.
CLI_MAY_IMPORT = ("ganforge._version", "ganforge.errors", "ganforge.config", "ganforge.fileio", "ganforge.rundir",
                  "ganforge.serve")  # `ganforge serve` hands its arguments to the web app's entry point
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    best = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (name, prefix)
    return best[0] if best else None


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module `from <node.module> import …` names, relative imports resolved against `module`."""
    if not node.level:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _reexports(package: str) -> dict[str, str]:
    """Names a package's __init__ binds by `from <ganforge module> import name` → that module."""
    out = {}
    for node in ast.walk(ast.parse(MODULES[package].read_text())):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(package, node)
            for alias in node.names:
                if base in MODULES and f"{base}.{alias.name}" not in MODULES:
                    out[alias.asname or alias.name] = base
    return out


def _resolve(base: str, name: str, seen: frozenset = frozenset()) -> str:
    """The ganforge module behind `from base import name`: a submodule, the module a package re-exports it from,
    or `base` itself."""
    if f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    if _is_package(base) and (base, name) not in seen:
        source = _reexports(base).get(name)
        if source is not None and source != base:
            return _resolve(source, name, seen | {(base, name)})
    return base


def imports_of(module: str) -> dict[str, int]:
    """Every ganforge module `module` imports → the line of its first such import."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            targets = [_resolve(base, a.name) for a in node.names] if base in MODULES else [base]
        for target in targets:
            if target.split(".")[0] == "ganforge" and target != module:
                assert target in MODULES, f"{module}:{node.lineno} imports {target}, which is no ganforge module"
                found.setdefault(target, node.lineno)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if layer_of(m) is None]
    assert not missing, f"give these modules a layer in LAYERS (and docs/design.md): {missing}"


def test_no_module_imports_from_a_higher_layer():
    upward = [f"{MODULES[m].relative_to(ROOT.parent)}:{line}: {m} ({layer_of(m)}) imports {t} ({layer_of(t)})"
              for m, targets in GRAPH.items() for t, line in targets.items()
              if layer_of(m) and layer_of(t) and RANK[layer_of(t)] > RANK[layer_of(m)]]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_cli_goes_through_the_api():
    """ganforge.cli.* imports only the API layer, the base modules and itself: never data, train, metrics, … ."""
    past = [f"{MODULES[m].relative_to(ROOT.parent)}:{line}: {m} imports {t} ({layer_of(t)})"
            for m, targets in GRAPH.items() if layer_of(m) == "cli"
            for t, line in targets.items() if layer_of(t) not in ("api", "cli") and t not in CLI_MAY_IMPORT]
    assert [m for m in MODULES if layer_of(m) == "cli"], "no ganforge.cli modules found"
    assert not past, "the CLI reaches past the API:\n" + "\n".join(past)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_imports_among_ganforge_modules_form_no_cycle():
    cycles = _cycles(GRAPH)
    shown = []
    for component in cycles:
        edges = [f"    {m}:{GRAPH[m][t]} → {t}" for m in component for t in GRAPH[m] if t in component]
        shown.append(" ↔ ".join(component) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles:\n" + "\n".join(shown)


@pytest.mark.parametrize("source, expected", [
    ("from ..api import generate_batches\n", {"ganforge.api"}),
    ("def f():\n    from ..scoring import write_report\n", {"ganforge.scoring"}),
    ("from . import checkpoint\nimport ganforge.errors\n", {"ganforge.train.checkpoint", "ganforge.errors"}),
    ("from ganforge.families import get_family\n", {"ganforge.families.base"}),
])
def test_the_walk_sees_every_kind_of_import(tmp_path, monkeypatch, source, expected):
    """The checker itself: relative, absolute, lazy and re-exported imports are all found (as in train/loop.py)."""
    fake = tmp_path / "loop.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "ganforge.train.fake_loop", fake)
    assert set(imports_of("ganforge.train.fake_loop")) == expected
