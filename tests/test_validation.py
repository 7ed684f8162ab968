"""Input rules every endpoint shares: no NUL, integers that fit, times as ISO 8601 text.

Each of these was a 500 (or a silent 1970) before: Postgres cannot store U+0000, and the
drivers overflow past 64 bits. They must be a 422 naming the field on every backend.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from flexplatform.audit import AuditEvent
from flexplatform.validation import INT64_MAX, escaped_nul
from tests.helpers import asset_body

API = "/api/v1"


def _events(db) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("method, path, body, pointer", [
    ("GET", "/assets?zone=%00", None, "/query/zone"),
    ("GET", "/assets?zone=a%00b&limit=5", None, "/query/zone"),
    ("GET", "/catalogue/needs?product=%00", None, "/query/product"),
    ("GET", "/audit/events?entity_id=%00", None, "/query/entity_id"),
    ("GET", "/terms/v%001", None, "/path/version"),
    ("GET", "/products/%00", None, "/path/code"),
    ("POST", "/terms/%00/accept", None, "/path/version"),
    ("POST", "/participants", {"role": "fsp", "legal_name": "Evil\u0000Ltd",
                               "billing_contact": {"name": "B", "email": "b@example.org"}},
     "/legal_name"),
    ("POST", "/participants", {"role": "fsp", "legal_name": "Ltd",
                               "billing_contact": {"name": "B\u0000", "email": "b@example.org"}},
     "/billing_contact/name"),
    ("POST", "/assets/bulk", {"assets": [{"name": "ok"}, {"name": "x\u0000"}]},
     "/assets/1/name"),
    ("POST", "/assets", {"name\u0000": 1}, "/name\u0000"),
    ("PUT", "/zones/Z1", {"code": "Z1", "name": "\u0000", "kind": "cmz"}, "/name"),
    ("POST", "/terms", {"version": "v1", "title": "t", "body": "a\u0000b"}, "/body"),
    ("PUT", "/me/webhook", {"url": "https://example.com/\u0000"}, "/url"),
])
def test_nul_anywhere_is_a_422_naming_the_field(client, make_party, zones, db, method, path,
                                                 body, pointer):
    who = make_party("admin" if path.startswith(("/participants", "/zones", "/terms",
                                                 "/audit", "/products")) else "fsp")
    before = _events(db)
    r = client.request(method, API + path, headers=who.h | {"content-type": "application/json"},
                       content=None if body is None else json.dumps(body))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["pointer"] for e in problem["errors"]] == [pointer], problem
    assert problem["errors"][0]["type"] == "nul_character"
    assert _events(db) == before


def test_a_backslash_u0000_text_is_not_a_nul(client, make_party):
    """JSON ``"\\\\u0000"`` is a backslash followed by 'u0000': text, not a NUL."""
    admin = make_party("admin")
    r = client.post(f"{API}/participants", headers=admin.h, json={
        "role": "fsp", "legal_name": "Odd \\u0000 Ltd",
        "billing_contact": {"name": "B", "email": "b@example.org"}})
    assert r.status_code == 201, r.text
    assert r.json()["participant"]["legal_name"] == "Odd \\u0000 Ltd"


@pytest.mark.parametrize("raw, nul", [
    (rb'"\u0000"', True), (rb'"\\u0000"', False), (rb'"\\\u0000"', True),
    (rb'"\\\\u0000"', False), (rb'"a\u0000b\\u0000"', True), (rb'"\u00001"', True),
    (b'"plain"', False),
])
def testescaped_nul_reads_backslash_runs(raw, nul):
    assert escaped_nul(raw) is nul
    assert ("\x00" in json.loads(raw)) is nul


@pytest.mark.parametrize("path, pointer", [
    (f"/assets?offset={2**64}", "/query/offset"),
    (f"/assets?offset={INT64_MAX}", "/query/offset"),
    (f"/bids?offset={2**64}", "/query/offset"),
    (f"/markets?offset={2**70}", "/query/offset"),
    (f"/participants?offset={2**64}", "/query/offset"),
    (f"/catalogue/needs?offset={2**64}", "/query/offset"),
    (f"/awards?offset={2**64}", "/query/offset"),
    (f"/clearings?offset={2**64}", "/query/offset"),
    (f"/notifications?offset={2**64}", "/query/offset"),
    (f"/audit/events?after_seq={2**64}", "/query/after_seq"),
    (f"/audit/events?after_seq={-1}", "/query/after_seq"),
])
def test_integers_past_the_columns_are_422(client, make_party, path, pointer):
    admin, fsp = make_party("admin"), make_party("fsp")
    who = fsp if path.startswith(("/bids", "/notifications")) else admin
    r = client.get(API + path, headers=who.h)
    assert r.status_code == 422, (path, r.text)
    assert r.json()["errors"][0]["pointer"] == pointer


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_rule_versions_past_32_bits_are_422(client, make_party, action):
    admin = make_party("admin")
    r = client.post(f"{API}/rules/{2**64}/{action}", headers=admin.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/path/version"
    assert client.post(f"{API}/rules/{2**31 - 1}/{action}", headers=admin.h).status_code == 404


@pytest.mark.parametrize("value", ["0.5", "0", "1700000000", "-1", "now"])
def test_catalogue_windows_are_times_not_numbers(client, value):
    for name in ("window_from", "window_to"):
        r = client.get(f"{API}/catalogue/needs", params={name: value})
        assert r.status_code == 422, (name, value, r.text)
        assert r.json()["errors"][0]["pointer"] == f"/query/{name}"
    ok = client.get(f"{API}/catalogue/needs", params={"window_to": "2030-01-01T00:00:00Z"})
    assert ok.status_code == 200


@pytest.mark.parametrize("value", [0, 0.5, 1700000000, "1700000000", True])
def test_effective_from_is_a_time_not_a_number(client, make_party, value):
    admin = make_party("admin")
    r = client.post(f"{API}/terms", headers=admin.h, json={
        "version": "N-1", "title": "t", "body": "b", "effective_from": value})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/effective_from"
    r = client.post(f"{API}/rules", headers=admin.h, json={"rules": {}, "effective_from": value})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/effective_from"
    r = client.post(f"{API}/terms", headers=admin.h, json={
        "version": "N-2", "title": "t", "body": "b", "effective_from": "2020-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("version", ["a/b", "../x", "v 1", "v?1", "v#1", "%2F", ".hidden"])
def test_terms_versions_are_path_safe(client, make_party, version):
    """A version that cannot be a path segment could never be accepted: all trading stops."""
    admin = make_party("admin")
    r = client.post(f"{API}/terms", headers=admin.h, json={
        "version": version, "title": "t", "body": "b"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/version", r.text


def test_a_valid_terms_version_round_trips_through_its_path(client, make_party, zones):
    admin, fsp = make_party("admin"), make_party("fsp", accept=False)
    r = client.post(f"{API}/terms", headers=admin.h, json={
        "version": "2026.2-final_A", "title": "t", "body": "b"})
    assert r.status_code == 201
    assert client.post(f"{API}/terms/2026.2-final_A/accept", headers=fsp.h).status_code == 200
    assert client.post(f"{API}/assets", headers=fsp.h, json=asset_body()).status_code == 201
