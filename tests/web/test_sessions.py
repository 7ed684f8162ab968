"""Sign-in into a server-side session, its cookie, its end, and CSRF on every form."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from flexplatform.audit import AuditEvent
from flexplatform.web.models import WebSession
from flexplatform.web.sessions import COOKIE
from tests.web.conftest import csrf_of, sign_in


def _session_row(db, c: TestClient) -> WebSession:
    token = c.cookies[COOKIE]
    db.expire_all()
    return db.scalar(select(WebSession).where(
        WebSession.token_sha256 == hashlib.sha256(token.encode()).hexdigest()))


def test_sign_in_sets_a_safe_cookie_and_stores_only_a_hash(app, client, make_party, db):
    fsp = make_party("fsp")
    form = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
    r = client.post("/signin", data={"csrf_token": token, "api_key": fsp.key},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fsp"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    row = _session_row(db, client)
    assert row is not None and row.participant_id == fsp.id and row.revoked_at is None
    raw = client.cookies[COOKIE]
    assert raw not in (row.token_sha256, row.csrf_token)
    assert row.expires_at - row.created_at == dt.timedelta(minutes=480)
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "web.sign_in")).all()
    assert events and all(raw not in str(e.data) and fsp.key not in str(e.data) for e in events)
    assert client.get("/fsp").status_code == 200


def test_cookie_is_secure_over_https(app, client, make_party):
    mo = make_party("mo")
    with TestClient(app, base_url="https://testserver") as c:
        form = c.get("/signin")
        assert "Secure" in form.headers["set-cookie"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
        r = c.post("/signin", data={"csrf_token": token, "api_key": mo.key},
                   follow_redirects=False)
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE))
        assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("key", ["", "nonsense", "fpk_000000000000.wrong"])
def test_bad_keys_are_shown_next_to_the_field(client, key):
    form = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
    r = client.post("/signin", data={"csrf_token": token, "api_key": key})
    assert r.status_code == 422
    assert 'id="f-api_key-error"' in r.text and 'aria-invalid="true"' in r.text
    assert COOKIE not in client.cookies


def test_sign_in_form_needs_its_own_token(client, make_party):
    """Login CSRF: a site cannot post a key into someone's browser."""
    fsp = make_party("fsp")
    client.get("/signin")
    r = client.post("/signin", data={"csrf_token": "forged", "api_key": fsp.key})
    assert r.status_code == 403 and "This form was refused" in r.text
    assert COOKIE not in client.cookies


def test_next_only_follows_paths_on_this_site(client, make_party):
    fsp = make_party("fsp")
    r = client.get("/fsp/bids", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Ffsp%2Fbids"
    for nxt, lands in (("/fsp/bids", "/fsp/bids"), ("//evil.example", "/fsp"),
                       ("https://evil.example/", "/fsp")):
        c = TestClient(client.app)
        form = c.get(f"/signin?next={nxt}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
        nx = re.search(r'name="next" value="([^"]*)"', form.text)[1]
        r = c.post("/signin", data={"csrf_token": token, "api_key": fsp.key, "next": nx},
                   follow_redirects=False)
        assert r.headers["location"] == lands, nxt


def test_sign_out_ends_the_session_on_the_server(pages, make_party, db):
    fsp = make_party("fsp")
    c = pages(fsp)
    old = c.cookies[COOKIE]
    r = c.post("/signout", data={"csrf_token": csrf_of(c, "/fsp")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert COOKIE not in c.cookies
    row = db.scalar(select(WebSession).where(
        WebSession.token_sha256 == hashlib.sha256(old.encode()).hexdigest()))
    assert row.revoked_at is not None
    c.cookies.set(COOKIE, old)  # a copied cookie is worth nothing now
    assert c.get("/fsp", follow_redirects=False).headers["location"].startswith("/signin")


def test_expired_session_signs_out(pages, make_party, db):
    c = pages(make_party("mo"))
    row = _session_row(db, c)
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.commit()
    r = c.get("/mo", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_revoking_the_key_ends_its_sessions(pages, make_party, client):
    admin, fsp = make_party("admin"), make_party("fsp")
    a, f = pages(admin), pages(fsp)
    assert f.get("/fsp").status_code == 200
    keys = client.get(f"/api/v1/participants/{fsp.id}/api-keys", headers=admin.h).json()
    r = a.post(f"/admin/keys/{keys[0]['id']}/revoke",
               data={"csrf_token": csrf_of(a, f"/admin/participants/{fsp.id}")},
               follow_redirects=False)
    assert r.status_code == 303
    assert f.get("/fsp", follow_redirects=False).headers["location"].startswith("/signin")


def test_suspended_participant_is_refused(pages, make_party, client):
    admin, mo = make_party("admin"), make_party("mo")
    c = pages(mo)
    client.patch(f"/api/v1/participants/{mo.id}", json={"status": "suspended"},
                 headers=admin.h).raise_for_status()
    r = c.get("/mo")
    assert r.status_code == 403 and "suspended" in r.text


def _open_market(client, mo, zones):
    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    r = client.post("/api/v1/markets", headers=mo.h, json={
        "name": "M", "gate_open_at": now.isoformat(),
        "gate_close_at": (now + dt.timedelta(days=1)).isoformat(),
        "delivery_start": start.isoformat(),
        "delivery_end": (start + dt.timedelta(hours=1)).isoformat(), "open": True,
        "needs": [{"product": "dynamic", "zone": zones[0], "direction": "up", "mw": [1, 1],
                   "max_availability_price": "50", "utilisation_price_cap": "300",
                   "unmet_penalty": "1000"}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_post_without_the_right_csrf_token_is_refused(pages, make_party, client, zones, token):
    mo = make_party("mo")
    mid = _open_market(client, mo, zones)
    c = pages(mo)
    data = {} if token is None else {"csrf_token": token}
    r = c.post(f"/mo/markets/{mid}/cancel", data=data)
    assert r.status_code == 403
    assert "This form was refused" in r.text and "nothing was changed" in r.text
    assert client.get(f"/api/v1/markets/{mid}", headers=mo.h).json()["status"] == "open"
    # The same form with the session's token goes through.
    r = c.post(f"/mo/markets/{mid}/cancel", data={"csrf_token": csrf_of(c, f"/mo/markets/{mid}")},
               follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/markets/{mid}", headers=mo.h).json()["status"] == "cancelled"


def test_another_sessions_token_is_refused(pages, make_party, client, zones):
    mo = make_party("mo")
    mid = _open_market(client, mo, zones)
    first, second = pages(mo), pages(mo)
    r = second.post(f"/mo/markets/{mid}/cancel", data={"csrf_token": csrf_of(first, "/mo")})
    assert r.status_code == 403


def test_neither_key_nor_token_is_logged(client, make_party, caplog):
    fsp = make_party("fsp")
    caplog.set_level(logging.DEBUG)
    c = sign_in(TestClient(client.app), fsp.key)
    c.get("/fsp")
    c.get("/no-such-page")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert fsp.key not in text and fsp.key.split(".")[1] not in text
    assert c.cookies[COOKIE] not in text
