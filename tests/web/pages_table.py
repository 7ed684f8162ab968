"""Page introspection: every dashboard route and the roles it declares (tests and docs).

``python -m tests.web.pages_table`` rewrites the page table in docs/web.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from tests.authz import declared_roles, walk_routes

ROLES = ["public", "mo", "fsp", "regulator", "admin"]
DOC = Path(__file__).parents[2] / "docs" / "web.md"
START, END = "<!-- pages:start -->\n", "<!-- pages:end -->\n"


def page_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every page: every route outside the API."""
    out = []
    for path, r in walk_routes(app.routes):
        if path.startswith("/api/"):
            continue
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, path, r))
    return out


def pages_markdown(app: Any) -> str:
    lines = ["| method | path | " + " | ".join(ROLES) + " | terms |",
             "|---|---|" + "---|" * len(ROLES) + "---|"]
    for m, path, r in page_routes(app):
        allowed, terms = declared_roles(r) or (frozenset(), False)
        cells = ["yes" if "public" in allowed or role in allowed else "-" for role in ROLES]
        lines.append(f"| {m} | `{path}` | " + " | ".join(cells) + f" | {'yes' if terms else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from flexplatform.app import create_app

    text = DOC.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + pages_markdown(create_app()) + END + tail)
    print(f"updated {DOC}")
