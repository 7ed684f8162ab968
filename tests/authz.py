"""Route introspection: which roles each endpoint declares (shared by tests and docs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute of an app with its full path, through included routers."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix + r.path, r
        elif hasattr(r, "original_router"):
            p = getattr(r.include_context, "prefix", "") or ""
            yield from walk_routes(r.original_router.routes, prefix + p)


def declared_roles(route: APIRoute) -> tuple[frozenset[str], bool] | None:
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        roles = getattr(d.call, "allowed_roles", None)
        if roles is not None:
            return roles, getattr(d.call, "requires_terms", False)
        stack.extend(d.dependencies)
    return None


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
