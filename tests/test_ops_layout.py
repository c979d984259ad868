"""ops as a library: its modules import each other without a cycle (imports inside
functions counted), and it works from any directory."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

OPS = Path(__file__).resolve().parent.parent / "ops"


def module_graph() -> dict[str, set[str]]:
    """{module: ops modules it imports}, over every import statement of ops/*.py."""
    mods = {p.stem for p in OPS.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for p in OPS.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= ({node.module.split(".")[0]} if node.module
                         else {a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ops"):
                parts = node.module.split(".")
                deps |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ops.")}
        graph[p.stem] = (deps & mods) - {p.stem}
    return graph


def test_no_import_cycle_in_ops():
    graph, done, cycles = module_graph(), set(), []

    def visit(m: str, path: list[str]) -> None:
        for d in sorted(graph[m]):
            if d in path:
                cycles.append(path[path.index(d):] + [d])
            elif d not in done:
                visit(d, path + [d])
        done.add(m)

    for m in sorted(graph):
        visit(m, [m])
    assert not cycles, f"import cycles in ops: {cycles}"


def test_ops_works_from_any_directory(tmp_path):
    code = ("import ops, numpy as np; "
            "print(ops.resize(np.zeros((8, 8, 3), np.uint8), (4, 4)).shape)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(OPS.parent)})
    assert r.returncode == 0 and r.stdout.strip() == "(4, 4, 3)", r.stderr
