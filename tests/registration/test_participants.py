"""Participants, keys and terms over the API."""

from __future__ import annotations

from sqlalchemy import select

from flexplatform.registration.models import ApiKey


def test_admin_creates_participant_key_shown_once_and_hashed(client, make_party, db):
    admin = make_party("admin")
    r = client.post("/api/v1/participants", headers=admin.h, json={
        "role": "fsp", "legal_name": "Octopus Energy Limited", "company_number": "09263424",
        "billing_contact": {"name": "Accounts", "email": "accounts@example.org"}})
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    pid = r.json()["participant"]["id"]
    stored = db.scalars(select(ApiKey)).all()
    assert all(key not in (k.secret_hash, k.prefix) for k in stored)
    assert key.split(".", 1)[1] not in str([(k.secret_hash, k.prefix) for k in stored])
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me["id"] == pid and me["terms_version"] is None


def test_key_rotation_and_revocation(client, make_party):
    fsp = make_party("fsp")
    r = client.post(f"/api/v1/participants/{fsp.id}/api-keys", json={"label": "ci"},
                    headers=fsp.h)
    assert r.status_code == 201
    new = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert client.get("/api/v1/me", headers=new).status_code == 200
    keys = client.get(f"/api/v1/participants/{fsp.id}/api-keys", headers=new).json()
    assert len(keys) == 2 and any(k["last_used_at"] for k in keys)
    old = next(k for k in keys if k["label"] == "initial")
    assert client.delete(f"/api/v1/api-keys/{old['id']}", headers=new).status_code == 200
    assert client.get("/api/v1/me", headers=fsp.h).status_code == 401


def test_terms_versions_and_acceptance(client, make_party):
    admin, mo = make_party("admin"), make_party("mo")
    r = client.post("/api/v1/terms", headers=admin.h, json={
        "version": "T-2027.1", "title": "Market terms 2027", "body": "New rules."})
    assert r.status_code == 201
    assert client.post("/api/v1/terms", headers=admin.h, json={
        "version": "T-2027.1", "title": "again", "body": "x"}).status_code == 409
    assert client.get("/api/v1/terms/current").json()["version"] == "T-2027.1"
    # The MO accepted the old version; trading is now blocked until it accepts the new one.
    r = client.put("/api/v1/me/webhook", json={"url": None}, headers=mo.h)
    assert r.status_code == 200
    assert client.post("/api/v1/terms/T-2026.1/accept", headers=mo.h).status_code == 409
    r = client.post("/api/v1/terms/T-2027.1/accept", headers=mo.h)
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=mo.h).json()["terms_version"] == "T-2027.1"
