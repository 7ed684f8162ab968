"""Route introspection: which roles each endpoint declares (shared by tests and docs)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from flexplatform.auth import declared_roles, walk_routes


def api_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    out = []
    for path, r in walk_routes(app.routes):
        if not path.startswith("/api/v1"):
            continue
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, path, r))
    return out


def matrix_markdown(app: Any) -> str:
    roles = ["public", "mo", "fsp", "mda", "regulator", "admin"]
    lines = ["| method | path | " + " | ".join(roles) + " | terms |",
             "|---|---|" + "---|" * len(roles) + "---|"]
    for m, path, r in api_routes(app):
        allowed, terms = declared_roles(r) or (frozenset(), False)
        cells = []
        for role in roles:
            ok = "public" in allowed or role in allowed
            cells.append("yes" if ok else "-")
        lines.append(f"| {m} | `{path}` | " + " | ".join(cells) + f" | {'yes' if terms else ''} |")
    return "\n".join(lines) + "\n"
