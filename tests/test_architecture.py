"""The package's layers: imports point down, and no two packages import each other.

Every ``import`` in ``timbral/`` (including those inside functions) is read from
the source, so a lazy import cannot hide an upward dependency.
"""

import ast
from collections import defaultdict
from pathlib import Path

import timbral

ROOT = Path(timbral.__file__).parent

#: Layer of each top-level module or package of timbral, bottom first; README's
#: "Where things live" and docs/architecture.md describe the same table.
LAYERS = {
    "functions": ["validation", "files", "audio", "dsp", "core", "spectral_ops", "options"],
    "processors": ["processors", "synths", "effects", "losses"],
    "models": ["models", "features", "interop", "plots"],
    "pipelines": ["data", "train", "zoo", "transfer", "stream", "recipes", "demo", "midi",
                  "transcribe"],
    "interfaces": ["cli", "app", "notebook", "__main__", "__init__"],
}
LEVEL = {name: i for i, names in enumerate(LAYERS.values()) for name in names}


def _unit(path: Path, root: Path = ROOT) -> str:
    """The top-level module or package a file belongs to."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def _imports(path: Path, root: Path = ROOT):
    """``(line, top-level timbral name)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = path.relative_to(root.parent).parts[:-1]  # the package holding the file
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "timbral" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = node.module.split(".")
            if parts[0] != "timbral":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from timbral import x, y
                for alias in node.names:
                    yield node.lineno, alias.name


def _graph(root: Path = ROOT):
    """Top-level name -> {(imported top-level name, "file:line")}."""
    edges = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        source = _unit(path, root)
        for line, target in _imports(path, root):
            if target != source:
                edges[source].add((target, f"{path.relative_to(root.parent)}:{line}"))
    return edges


def test_every_module_has_a_layer():
    units = {_unit(p) for p in ROOT.rglob("*.py")}
    assert units - set(LEVEL) == set(), "add new modules to LAYERS (and the README table)"


def test_imports_point_down_the_layers():
    assert _upward(_graph()) == []


def _upward(graph):
    return [f"{where}: {source} ({_layer(source)}) imports {target} ({_layer(target)})"
            for source, targets in graph.items()
            for target, where in targets if LEVEL[target] > LEVEL[source]]


def test_no_import_cycles_between_packages():
    assert _cycles(_graph()) == []


def _cycles(graph):
    edges = {s: {t for t, _ in targets} for s, targets in graph.items()}
    edges = {s: t - {"__init__", "__main__"} for s, t in edges.items()
             if s not in ("__init__", "__main__")}  # the package's public face sits on top
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_the_check_sees_lazy_and_relative_upward_imports(tmp_path):
    package = tmp_path / "timbral"
    (package / "dsp").mkdir(parents=True)
    (package / "dsp" / "x.py").write_text(
        "from . import filters\n"
        "def f():\n"
        "    from ..cli import main\n"
        "    import timbral.app.server\n")
    found = _upward(_graph(package))
    assert sorted(line.split(": ", 1)[1] for line in found) == [
        "dsp (functions) imports app (interfaces)", "dsp (functions) imports cli (interfaces)"]
    assert all(line.startswith("timbral/dsp/x.py:") for line in found)
    (package / "zoo").mkdir()
    (package / "zoo" / "__init__.py").write_text("from ..transfer import transfer\n")
    (package / "transfer.py").write_text("def f():\n    from .zoo import load_model\n")
    assert _cycles(_graph(package)) == ["transfer -> zoo -> transfer"]


def _layer(name: str) -> str:
    return next(layer for layer, names in LAYERS.items() if name in names)


def test_every_exported_name_resolves():
    """Each package's ``__all__`` (lazy ones included) names something that exists."""
    import importlib

    for init in sorted(ROOT.rglob("__init__.py")):
        name = ".".join(init.parent.relative_to(ROOT.parent).parts)
        module = importlib.import_module(name)
        missing = [n for n in getattr(module, "__all__", []) if not hasattr(module, n)]
        assert not missing, f"{name}: {missing}"
