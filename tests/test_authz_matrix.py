"""Every endpoint against every role: who may call it is declared and enforced.

Object-level rules (another participant's objects) are proven per resource in the
stage test files and in test_object_access below.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.authz import api_routes, declared_roles, matrix_markdown
from tests.helpers import asset_body

ROLES = ["mo", "fsp", "mda", "regulator", "admin"]


def test_every_endpoint_declares_its_roles(app):
    missing = [f"{m} {p}" for m, p, r in api_routes(app) if declared_roles(r) is None]
    assert not missing, f"endpoints without a declared role dependency: {missing}"


def test_roles_doc_matches_code(app):
    """docs/roles.md carries the generated matrix; regenerate it when endpoints change."""
    doc = (Path(__file__).parents[1] / "docs" / "roles.md").read_text()
    table = matrix_markdown(app)
    assert table in doc, "docs/roles.md is stale; paste tests.authz.matrix_markdown(app) output"


def _fill(path: str, route: Any) -> str:
    """Every path parameter names nothing that exists (an integer one a valid integer)."""
    fills = {"{code}": "no-such-code", "{version}": "999999"}
    fills |= {f"{{{p.name}}}": "999999" for p in route.dependant.path_params
              if p.field_info.annotation is int}
    return re.sub(r"\{[^}]+\}", lambda m: fills.get(m.group(0), str(uuid.uuid4())), path)


# Where the general expectation below does not hold, and why.
EXPECTED = {
    ("GET", "/api/v1/bids", "mo"): (422, "validation-error"),  # an MO lists per market
    # A streamed CSV body (no body model): an empty body lacks the required columns.
    **{("POST", "/api/v1/meter-readings/csv", who): (422, "validation-error")
       for who in ("fsp", "mda")},
}


def _expected(method: str, path: str, route: Any, who: str) -> tuple[int, str | None]:
    """What an allowed caller gets for ``{}`` and ids that do not exist: a 422 when the
    body or the query has required fields, else a 404 when the path names an object, else success."""
    if (method, path, who) in EXPECTED:
        return EXPECTED[(method, path, who)]
    body = route.body_field
    if body is not None:
        model = body.field_info.annotation
        if any(f.is_required() for f in getattr(model, "model_fields", {}).values()):
            return 422, "validation-error"
    if any(q.field_info.is_required() for q in route.dependant.query_params):
        return 422, "validation-error"  # e.g. a reading range without its start and end
    if "{" in path:
        return 404, "not-found"
    return route.status_code or 200, None


def _problem(r: Any, status: int, slug: str) -> None:
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["type"].endswith(f"/{slug}"), body
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    if status == 422:
        assert body["errors"] and all(e["pointer"].startswith("/") for e in body["errors"])


def test_matrix_enforced(client, make_party, app):
    """Refused roles get 401/403; allowed roles get the answer the endpoint gives anyone
    for these inputs, checked for status and body shape (a 2xx against its model)."""
    from pydantic import TypeAdapter

    parties = {r: make_party(r) for r in ROLES}
    checked = 0
    for method, path, route in api_routes(app):
        allowed, _ = declared_roles(route)
        url = _fill(path, route)
        for who in ["public", *ROLES]:
            headers = parties[who].h if who != "public" else {}
            r = client.request(method, url, headers=headers,
                               json={} if method in ("POST", "PUT", "PATCH") else None)
            where = (method, path, who, r.status_code, r.text[:300])
            may = "public" in allowed or who in allowed
            if not may:
                status = 401 if who == "public" else 403
                assert r.status_code == status, where
                _problem(r, status, "unauthenticated" if status == 401 else "forbidden")
                continue
            status, slug = _expected(method, path, route, who)
            assert r.status_code == status, where
            if slug is not None:
                _problem(r, status, slug)
            elif route.response_model is not None:
                TypeAdapter(route.response_model).validate_python(r.json())
            else:
                assert isinstance(r.json(), dict), where
            checked += 1
    assert checked >= 5 * 20


def test_terms_gate_trading(client, make_party, zones):
    fsp = make_party("fsp", accept=False)
    r = client.post("/api/v1/assets", json=asset_body(), headers=fsp.h)
    assert r.status_code == 403 and r.json()["type"].endswith("terms-not-accepted")
    version = client.get("/api/v1/terms/current").json()["version"]
    assert client.post(f"/api/v1/terms/{version}/accept", headers=fsp.h).status_code == 200
    assert client.post("/api/v1/assets", json=asset_body(), headers=fsp.h).status_code == 201


def test_suspended_participant_locked_out(client, make_party):
    admin, fsp = make_party("admin"), make_party("fsp")
    r = client.patch(f"/api/v1/participants/{fsp.id}", json={"status": "suspended"},
                     headers=admin.h)
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=fsp.h).status_code == 403


@pytest.mark.parametrize("header", ["Bearer nope", "Basic abc", "Bearer fpk_000000000000.x"])
def test_bad_credentials_are_401(client, header):
    r = client.get("/api/v1/me", headers={"Authorization": header})
    assert r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"


class TestObjectAccess:
    """A participant never reads or changes another's data."""

    def test_assets_of_another_fsp(self, client, make_party, zones):
        a, b, mo = make_party("fsp"), make_party("fsp"), make_party("mo")
        reg, admin = make_party("regulator"), make_party("admin")
        asset = client.post("/api/v1/assets", json=asset_body(), headers=a.h).json()
        aid = asset["id"]
        for who in (b, mo):
            assert client.get(f"/api/v1/assets/{aid}", headers=who.h).status_code == 404
            assert client.get("/api/v1/assets", headers=who.h).json()["total"] == 0
        assert client.patch(f"/api/v1/assets/{aid}", json={"name": "mine"},
                            headers=b.h).status_code == 404
        assert client.post(f"/api/v1/assets/{aid}/decommission", headers=b.h).status_code == 404
        assert client.get(f"/api/v1/assets/{aid}/prequalification",
                          headers=b.h).status_code == 404
        assert client.get(f"/api/v1/assets/{aid}/opportunities", headers=b.h).status_code == 404
        # Oversight reads but cannot write.
        assert client.get(f"/api/v1/assets/{aid}", headers=reg.h).status_code == 200
        assert client.patch(f"/api/v1/assets/{aid}", json={"name": "x"},
                            headers=reg.h).status_code == 403
        assert client.get(f"/api/v1/assets/{aid}", headers=admin.h).status_code == 200
        assert client.get(f"/api/v1/assets/{aid}", headers=a.h).json()["name"] == asset["name"]

    def test_participants_and_keys_of_another(self, client, make_party):
        a, b = make_party("fsp"), make_party("mo")
        assert client.get(f"/api/v1/participants/{a.id}", headers=b.h).status_code == 404
        assert client.patch(f"/api/v1/participants/{a.id}", json={"legal_name": "Hijack"},
                            headers=b.h).status_code == 404
        assert client.get(f"/api/v1/participants/{a.id}/api-keys",
                          headers=b.h).status_code == 404
        assert client.post(f"/api/v1/participants/{a.id}/api-keys", json={},
                           headers=b.h).status_code == 404
        keys = client.get(f"/api/v1/participants/{a.id}/api-keys", headers=a.h).json()
        assert len(keys) == 1 and "secret_hash" not in keys[0]
        assert client.delete(f"/api/v1/api-keys/{keys[0]['id']}", headers=b.h).status_code == 404
        # A participant may not change its own status.
        r = client.patch(f"/api/v1/participants/{a.id}", json={"status": "active"}, headers=a.h)
        assert r.status_code == 403


def test_write_matrix_doc(app, tmp_path):
    """Keeps the generator exercised; the doc itself is checked above."""
    out = matrix_markdown(app)
    assert out.count("\n") == len(api_routes(app)) + 2


def test_openapi_lists_every_endpoint(client, app):
    spec = client.get("/api/v1/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routes = {(m, p) for m, p, _ in api_routes(app)}
    assert routes <= documented
    assert client.get("/docs").status_code == 200
