"""The layering the handbook describes, checked on the source: core never imports a stage,
routes never query the database themselves."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1] / "flexplatform"
STAGES = ("registration", "exploration", "competition", "operations", "reporting",
          "transparency", "governance", "web", "demo")
# Core modules every stage builds on (app.py and cli.py compose the stages: exempt).
CORE = ("auth", "audit", "config", "db", "errors", "identity", "idempotency", "migrate",
        "notifications", "pagination", "queue", "runs", "scheduler", "validation")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_core_modules_import_no_stage():
    bad = {m: sorted(i for i in _imports(ROOT / f"{m}.py")
                     if i.startswith(tuple(f"flexplatform.{s}" for s in STAGES)))
           for m in CORE}
    assert not {m: i for m, i in bad.items() if i}, bad


def test_routes_do_not_query():
    """Queries and rules belong to services; a route parses, calls, and shapes the answer."""
    found = []
    for path in ROOT.glob("*/routes.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("select", "execute", "scalars", "scalar", "query"):
                    found.append(f"{path.parent.name}/routes.py:{node.lineno} {name}")
    assert not found, found
