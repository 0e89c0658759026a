"""The data flow of DESIGN.md holds in the imports: no import cycles.

Every import between the project's modules (at module level or inside functions, where imports
are deferred for start-up time; ``if TYPE_CHECKING`` blocks excepted) forms a graph that must be
acyclic. ``--help`` must not import the model's heavy dependencies.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("sim", "calibration", "experiments")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and getattr(node.test, "id", None) == "TYPE_CHECKING"
                       for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):
                    graph[name].add(t)
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_help_does_not_import_the_model():
    code = ("import sys, sim.cli; heavy = [m for m in ('numpy', 'pandas', 'numba', "
            "'matplotlib', 'dask', 'scipy', 'pyarrow') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_usage_errors_are_one_line_too():
    """Typer's own errors (a bad option value, an unknown command) read like ours: one line."""
    for args in (["run", "--runs", "abc"], ["rn"], ["run", "--no-such-option"]):
        out = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True,
                             text=True, cwd=ROOT)
        assert out.returncode == 2, (args, out.stderr)
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: command line: "), out.stderr
        assert out.stdout == ""
    help_ = subprocess.run([sys.executable, "-m", "sim.cli"], capture_output=True, text=True,
                           cwd=ROOT)
    assert help_.returncode == 0 and "Usage" in help_.stdout
