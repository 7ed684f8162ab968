"""Bad input gets a clear 4xx problem naming the field, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from flexplatform.audit import AuditEvent
from flexplatform.registration.models import Asset
from tests.helpers import asset_body


def _counts(db):
    return (db.scalar(select(func.count()).select_from(Asset)),
            db.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize("override, field", [
    ({"up_mw": -1}, "/up_mw"),
    ({"up_mw": "lots"}, "/up_mw"),
    ({"down_mw": 1e9}, "/down_mw"),
    ({"mpan": "123"}, "/mpan"),
    ({"mpan": "1200000000001"}, "/mpan"),
    ({"technology": "fusion"}, "/technology"),
    ({"zone": "ATLANTIS"}, "/zone"),
    ({"status": "exploded"}, "/status"),
    ({"latitude": 10.0, "longitude": 0.0}, "/latitude"),
    ({"reliability": 1.5}, "/reliability"),
    ({"unexpected": True}, "/unexpected"),
    ({"up_mw": 0, "down_mw": 0}, ""),
    ({"emission_t_per_mwh": float("nan")}, None),
])
def test_bad_asset_fields(client, make_party, zones, db, override, field):
    fsp = make_party("fsp")
    before = _counts(db)
    body = asset_body(**override)
    if field is None:  # NaN is not valid JSON at all
        r = client.post("/api/v1/assets", content='{"up_mw": NaN}', headers=fsp.h | {
            "content-type": "application/json"})
        assert r.status_code in (400, 422)
    else:
        r = client.post("/api/v1/assets", json=body, headers=fsp.h)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert problem["status"] == 422 and problem["errors"]
        if field:
            assert any(e["pointer"] == field for e in problem["errors"]), problem
    assert _counts(db) == before


def test_malformed_json(client, make_party, zones, db):
    fsp = make_party("fsp")
    before = _counts(db)
    r = client.post("/api/v1/assets", content=b'{"name": "x",', headers=fsp.h | {
        "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"
    r = client.post("/api/v1/assets/bulk", content=b"[1,2", headers=fsp.h | {
        "content-type": "application/json"})
    assert r.status_code == 400
    assert _counts(db) == before


def test_wrong_types_everywhere(client, make_party, zones):
    admin = make_party("admin")
    r = client.post("/api/v1/participants", json={"role": "king", "legal_name": 5,
                                                  "billing_contact": "me"}, headers=admin.h)
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/role", "/legal_name", "/billing_contact"} <= pointers
    r = client.get("/api/v1/catalogue/needs?limit=0")
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/query/limit"
    r = client.get("/api/v1/catalogue/needs?direction=sideways")
    assert r.status_code == 422
    r = client.get("/api/v1/assets/not-a-uuid", headers=admin.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/path/asset_id"


def test_huge_payload_refused_before_parsing(client, make_party, monkeypatch, app, db):
    fsp = make_party("fsp")
    before = _counts(db)
    big = b'{"assets": [' + b",".join([b'{"name": "x"}'] * 200_000) + b"]}"
    # The app was built with the default limit; build the check against a small one.
    from flexplatform.app import BodyLimit

    limit = next(m for m in app.user_middleware if m.cls is BodyLimit).kwargs["max_bytes"]
    assert len(big) < limit  # default limit admits this; prove the mechanism separately
    small = BodyLimit(app, max_bytes=1000)
    from fastapi.testclient import TestClient

    with TestClient(small, raise_server_exceptions=False) as c:
        r = c.post("/api/v1/assets/bulk", content=big, headers=fsp.h | {
            "content-type": "application/json"})
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")

        def gen():
            for _ in range(100):
                yield b"x" * 100

        r = c.post("/api/v1/assets/bulk", content=gen(), headers=fsp.h | {
            "content-type": "application/json"})
        assert r.status_code == 413
    assert _counts(db) == before


def test_unknown_route_and_method_are_problems(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    r = client.delete("/api/v1/products")
    assert r.status_code == 405


def test_failed_request_writes_nothing_even_after_partial_work(client, make_party, zones, db):
    """The second row fails after the first was fully validated: nothing is kept."""
    fsp = make_party("fsp")
    before = _counts(db)
    good = asset_body()
    r = client.post("/api/v1/assets/bulk", json={"assets": [good, good]}, headers=fsp.h)
    assert r.status_code == 422
    assert _counts(db) == before
