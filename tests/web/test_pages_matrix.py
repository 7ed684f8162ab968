"""Every page against every role: who may open it is declared and enforced.

Like tests/test_authz_matrix.py for the API: each page route must declare its roles
through ``flexplatform.web.access``; docs/web.md carries the generated table; and every
page is requested as every role (public included), with a valid CSRF token on POSTs so
the role check is what answers.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.authz import declared_roles
from tests.web.conftest import csrf_of
from tests.web.pages_table import DOC, page_routes, pages_markdown

ROLES = ["mo", "fsp", "regulator", "admin"]
# Tested on their own (tests/web/test_sessions.py): signing in needs the sign-in form's own
# token, and signing out ends the session the rest of the matrix uses.
OWN_TESTS = {("POST", "/signin"), ("POST", "/signout")}


def test_every_page_declares_its_roles(app):
    routes = page_routes(app)
    assert len(routes) >= 40
    missing = [f"{m} {p}" for m, p, r in routes if declared_roles(r) is None]
    assert not missing, f"pages without a declared role dependency: {missing}"


def test_pages_doc_matches_code(app):
    """docs/web.md carries the generated table: ``python -m tests.web.pages_table``."""
    assert pages_markdown(app) in Path(DOC).read_text(), "docs/web.md's page table is stale"


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{version}"
                  else str(uuid.uuid4()), path)


def test_matrix_enforced(app, client, make_party, pages):
    clients = {r: pages(make_party(r)) for r in ROLES}
    tokens = {r: csrf_of(c, "/catalogue") for r, c in clients.items()}
    checked = 0
    for method, path, route in page_routes(app):
        if (method, path) in OWN_TESTS:
            continue
        allowed, _ = declared_roles(route)
        url = _fill(path)
        for who in ["public", *ROLES]:
            c = client if who == "public" else clients[who]
            data = {"csrf_token": tokens[who]} if method == "POST" and who != "public" else {}
            r = c.request(method, url, data=data if method == "POST" else None,
                          follow_redirects=False)
            may = "public" in allowed or who in allowed
            if may:
                assert r.status_code not in (401, 403), (method, path, who, r.text[:300])
                assert not r.headers.get("location", "").startswith("/signin"), (method, path)
            elif who == "public":
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/signin"), (method, path)
            else:
                assert r.status_code == 403, (method, path, who, r.status_code)
                assert "text/html" in r.headers["content-type"]
            assert r.status_code < 500, (method, path, who, r.text[:500])
            checked += 1
    assert checked >= 5 * 40
