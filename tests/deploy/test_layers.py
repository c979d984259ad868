"""The packages import one way (docs/architecture.md): each layer only from those below it,
no import cycle between modules (imports inside functions count), no private module or name
of another package, and the Triton stubs load none of the offline tools."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from serving.paths import MODEL_REPOSITORY, REPO_ROOT

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS = ("ops", "segmentation", "serving", "serving.pipeline", "serving.server", "clients", "bench")
# What a Triton stub must not load: the pipeline tools' libraries.
OFFLINE_ONLY = ("yaml", "tritonclient", "google.protobuf", "serving.pipeline", "serving.server")


def layer_of(module: str) -> str:
    return max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)


def project_modules(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Every module of the layered packages, by dotted name."""
    out = {}
    for top in {p.split(".")[0] for p in LAYERS}:
        for f in (root / top).rglob("*.py"):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, str, int]]:
    """(imported module, the private name it takes or "", line) for every import of the
    project in a module, at any depth (inside functions too)."""
    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := known(alias.name)) is not None:
                    found.add((target, "", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add((sub, "", node.lineno))
                elif (target := known(base)) is not None:
                    private = alias.name if alias.name.startswith("_") and not alias.name.startswith("__") else ""
                    found.add((target, private, node.lineno))
    return found


MODULES = project_modules()
GRAPH = {m: imports(m, p, MODULES) for m, p in MODULES.items()}


def test_the_walk_sees_the_packages():
    """The walk finds what it checks (a renamed package would make every check vacuous)."""
    assert {"ops.geometry", "segmentation.runner", "serving.base", "serving.pipeline.cli",
            "serving.server.supervisor", "clients.blur", "bench.gpu_check"} <= set(MODULES)
    assert ("serving.base", "", ) in {(t, p) for t, p, _ in GRAPH["serving.fused"]}


def test_each_layer_imports_only_the_layers_below_it():
    upward = [f"{MODULES[m].relative_to(REPO_ROOT)}:{line}: {m} ({layer_of(m)}) imports {t} ({layer_of(t)})"
              for m, found in GRAPH.items() for t, _, line in found
              if LAYERS.index(layer_of(t)) > LAYERS.index(layer_of(m))]
    assert upward == [], "\n".join(upward)


def test_no_private_import_across_packages():
    """A module's private modules and names (a leading underscore) are its package's own."""
    def private(target: str, name: str) -> bool:
        return bool(name) or any(p.startswith("_") and not p.startswith("__") for p in target.split("."))

    found = [f"{MODULES[m].relative_to(REPO_ROOT)}:{line}: {m} imports {t}{'.' + n if n else ''}"
             for m, deps in GRAPH.items() for t, n, line in deps
             if layer_of(t) != layer_of(m) and private(t, n)]
    assert found == [], "\n".join(found)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    # A package's __init__ re-exporting its modules is not a cycle of theirs.
    graph = {m: {t for t, _, _ in deps if t != m and not (m.startswith(t + ".") and MODULES[t].name == "__init__.py")}
             for m, deps in GRAPH.items()}
    assert cycles(graph) == []


@pytest.mark.parametrize("model_py", sorted(MODEL_REPOSITORY.glob("*/1/model.py")),
                         ids=lambda p: p.parent.parent.name)
def test_a_stub_loads_none_of_the_offline_tools(model_py):
    """What Triton's stub imports for a model (its model.py, from any folder) pulls in no
    pipeline tool, no process-side module and none of their libraries: the server image
    does not install them."""
    code = (f"import importlib.util, json, sys\n"
            f"spec = importlib.util.spec_from_file_location('model', {str(model_py)!r})\n"
            f"spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            f"print(json.dumps(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout.splitlines()[-1])
    assert [m for m in loaded if m.startswith(OFFLINE_ONLY)] == []
