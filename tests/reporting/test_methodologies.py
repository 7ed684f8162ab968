"""Baseline methodologies as versioned data per product, with four-eyes change management
that is never retroactive; content checked by the settlement engine's own schema."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from flexplatform.audit import AuditEvent
from flexplatform.reporting import methodologies
from flexplatform.reporting.models import BaselineMethodology

API = "/api/v1/methodologies"
BL01 = {"product": "sustain", "kind": "BL01",
        "params": {"adjustment": "positive_only", "y": 10, "lookback_days": 60}}


@pytest.fixture
def admins(make_party):
    return make_party("admin"), make_party("admin")


def _propose(client, admin, body=None, **over):
    r = client.post(API, json=(body or BL01) | over, headers=admin.h)
    return r


def test_propose_approve_current_and_every_version_kept(client, db, admins):
    a, b = admins
    r = _propose(client, a)
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["status"], v1["kind"]) == (1, "proposed", "BL01")
    # Stored in the engine's normalised form: defaults filled in.
    assert v1["params"]["window_periods"] == 6 and v1["params"]["adjustment"] == "positive_only"
    assert client.get(f"{API}/sustain/current").status_code == 404  # not approved yet
    # Four eyes: the proposer may neither approve nor reject.
    assert client.post(f"{API}/sustain/1/approve", headers=a.h).status_code == 403
    assert client.post(f"{API}/sustain/1/reject", headers=a.h).status_code == 403
    r = client.post(f"{API}/sustain/1/approve", headers=b.h)
    assert r.status_code == 200 and r.json()["decided_by"] == str(b.id)
    assert client.post(f"{API}/sustain/1/approve", headers=b.h).status_code == 409
    cur = client.get(f"{API}/sustain/current").json()
    assert cur["version"] == 1
    # Version 2 (X-of-Y) is rejected, version 3 (nominated) approved: all kept.
    r = _propose(client, b, {"product": "sustain", "kind": "XofY",
                             "params": {"x": 4, "y": 5, "selector": "highest"}})
    assert r.json()["version"] == 2
    assert client.post(f"{API}/sustain/2/reject", headers=a.h).json()["status"] == "rejected"
    r = _propose(client, a, {"product": "sustain", "kind": "Nominated",
                             "params": {"deadline_days_before": 1, "deadline_time": "10:00",
                                        "fallback": {"kind": "Zero"}}})
    assert r.json()["version"] == 3
    client.post(f"{API}/sustain/3/approve", headers=b.h)
    assert client.get(f"{API}/sustain/current").json()["kind"] == "Nominated"
    listed = client.get(API, params={"product": "sustain"}).json()
    assert [(m["version"], m["status"]) for m in listed] == [
        (1, "approved"), (2, "rejected"), (3, "approved")]
    actions = db.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "baseline_methodology")).all()
    assert actions == ["methodology.propose", "methodology.approve", "methodology.propose",
                       "methodology.reject", "methodology.propose", "methodology.approve"]
    # The stored rows are what the engine runs.
    row = methodologies.in_force(db, "sustain")
    assert methodologies.engine_methodology(row).to_dict()["params"] == row.params


def test_never_retroactive(client, db, admins):
    a, b = admins
    approved_at = dt.datetime.now(dt.UTC)
    past = "2020-01-01T00:00:00Z"
    _propose(client, a, effective_from=past)
    r = client.post(f"{API}/sustain/1/approve", headers=b.h).json()
    assert dt.datetime.fromisoformat(r["effective_from"]) >= approved_at - dt.timedelta(seconds=5)
    # In force from approval, not from 2020: a settlement of 2024 does not see it.
    assert client.get(f"{API}/sustain/current", params={"at": "2024-06-01T00:00:00Z"}
                      ).status_code == 404
    # A future version takes effect only when due.
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    _propose(client, a, {"product": "sustain", "kind": "Zero"}, effective_from=later)
    client.post(f"{API}/sustain/2/approve", headers=b.h)
    assert client.get(f"{API}/sustain/current").json()["version"] == 1
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=31)).isoformat()
    assert client.get(f"{API}/sustain/current", params={"at": soon}).json()["version"] == 2
    assert db.scalar(select(BaselineMethodology.kind).where(
        BaselineMethodology.version == 2)) == "Zero"


@pytest.mark.parametrize("body, pointer", [
    ({"product": "sustain", "kind": "BL02"}, "/kind"),
    ({"product": "sustain", "kind": "BL01", "params": {"y": 0}}, "/params/y"),
    ({"product": "sustain", "kind": "BL01", "params": {"adjustment": "sideways"}},
     "/params/adjustment"),
    ({"product": "sustain", "kind": "XofY", "params": {"x": 7, "y": 5, "selector": "highest"}},
     "/params/x"),
    ({"product": "sustain", "kind": "Nominated", "params": {"fallback": {"kind": "Nominated"}}},
     "/params/fallback/kind"),
    ({"product": "sustain", "kind": "ReferenceProfile", "params": {"profile_kwh": [1, 2]}},
     "/params/profile_kwh"),
    ({"product": "sustain", "kind": "Zero", "params": {"surprise": 1}}, "/params/surprise"),
    ({"product": "nonesuch", "kind": "Zero"}, "/product"),
])
def test_invalid_methodologies_name_the_field(client, db, admins, body, pointer):
    r = _propose(client, admins[0], body)
    assert r.status_code == 422, r.text
    assert pointer in {e["pointer"] for e in r.json()["errors"]}, r.json()
    assert db.scalar(select(BaselineMethodology.id)) is None


def test_only_admins_change_methodologies(client, make_party, admins):
    fsp, reg = make_party("fsp"), make_party("regulator")
    for who in (fsp, reg):
        assert _propose(client, who).status_code == 403
    _propose(client, admins[0])
    assert client.post(f"{API}/sustain/1/approve", headers=reg.h).status_code == 403
    assert client.post(f"{API}/sustain/9/approve", headers=admins[1].h).status_code == 404
    assert client.get(API).status_code == 200  # public, like the rules
