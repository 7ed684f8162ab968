"""VEN registrations through the API, and the VTN's decisions without a network: which
instructions become events, the event document, opt-in/opt-out as acceptance or
rejection (once, before the deadline), withdrawn events, reports into telemetry and
meter readings. Both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from flexplatform.auth import Principal
from flexplatform.identity import Participant
from flexplatform.openadr import service
from flexplatform.openadr.certs import fingerprint, issue, make_ca
from flexplatform.openadr.models import OpenadrEvent, VenTelemetry
from flexplatform.openadr.schemas import VenCreate
from flexplatform.operations.models import Instruction
from flexplatform.reporting.models import MeterReading
from tests.openadr.world import build

FP = "AA:BB:CC:DD:EE:FF:00:11:22:33"


@pytest.fixture
def world(db, terms):
    from flexplatform.registration.service import accept_terms

    w = build(db)
    for pid in (w.fsp_id, w.other_fsp_id):
        accept_terms(db, terms, Principal(participant=db.get(Participant, pid), key_prefix="t"))
    db.commit()
    return w


def _h(key):
    return {"Authorization": f"Bearer {key}"}


def _body(w, **over):
    body = {"ven_name": "acme-ven-1", "fingerprint": FP,
            "resources": [{"resource_id": "battery-1", "asset_id": str(w.assets[0])},
                          {"resource_id": "battery-2", "asset_id": str(w.assets[1])}]}
    body.update(over)
    return body


def _fsp(db, w):
    return Principal(participant=db.get(Participant, w.fsp_id), key_prefix="t")


def test_register_read_and_another_fsps_ven_is_404(client, world):
    w = world
    r = client.post("/api/v1/openadr/vens", json=_body(w), headers=_h(w.fsp_key))
    assert r.status_code == 201, r.text
    ven = r.json()
    assert ven["registered"] is False and ven["fingerprint"] == FP
    assert {x["resource_id"] for x in ven["resources"]} == {"battery-1", "battery-2"}
    assert client.get(f"/api/v1/openadr/vens/{ven['ven_id']}",
                      headers=_h(w.fsp_key)).status_code == 200
    other = _h(w.other_fsp_key)
    assert client.get(f"/api/v1/openadr/vens/{ven['ven_id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/openadr/vens/{ven['ven_id']}/events",
                      headers=other).status_code == 404
    assert client.post(f"/api/v1/openadr/vens/{ven['ven_id']}/deactivate",
                       headers=other).status_code == 404
    assert client.get("/api/v1/openadr/vens", headers=other).json() == []


@pytest.mark.parametrize(("over", "pointer", "status"), [
    ({"fingerprint": "not-a-fingerprint"}, "/fingerprint", 422),
    ({"ven_name": "bad name!"}, "/ven_name", 422),
    ({"resources": []}, "/resources", 422),
])
def test_bad_registrations_are_4xx(client, world, over, pointer, status):
    r = client.post("/api/v1/openadr/vens", json=_body(world, **over), headers=_h(world.fsp_key))
    assert r.status_code == status, r.text
    assert any(e["pointer"] == pointer for e in r.json()["errors"]), r.json()


def test_another_fsps_asset_duplicates_and_taken_assets_are_refused(client, world):
    w = world
    bad = _body(w, resources=[{"resource_id": "x", "asset_id": str(w.other_asset)}])
    r = client.post("/api/v1/openadr/vens", json=bad, headers=_h(w.fsp_key))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/resources/0/asset_id"
    dup = _body(w, resources=[{"resource_id": "a", "asset_id": str(w.assets[0])},
                              {"resource_id": "a", "asset_id": str(w.assets[0])}])
    r = client.post("/api/v1/openadr/vens", json=dup, headers=_h(w.fsp_key))
    assert r.status_code == 422
    assert client.post("/api/v1/openadr/vens", json=_body(w),
                       headers=_h(w.fsp_key)).status_code == 201
    again = client.post("/api/v1/openadr/vens", json=_body(w), headers=_h(w.fsp_key))
    assert again.status_code == 409 and again.json()["errors"][0]["pointer"] == "/ven_name"
    taken = client.post("/api/v1/openadr/vens", json=_body(w, ven_name="second"),
                        headers=_h(w.fsp_key))
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["pointer"] == "/resources/0/asset_id"


def _registered(db, w):
    ven = service.register_ven(db, VenCreate(**_body(w)), _fsp(db, w))
    assert service.create_party_registration(db, "acme-ven-1", "00:00:00:00:00:00:00:00:00:00"
                                             ) is None  # another certificate
    assert service.create_party_registration(db, "acme-ven-1", None) is None  # no TLS
    ven_id, reg = service.create_party_registration(db, "acme-ven-1", FP.lower())
    assert ven_id == ven.ven_id and reg
    assert service.ven_lookup(db, ven_id)["fingerprint"] == FP
    return ven_id


def test_instructions_become_events_and_opts_acknowledge(db, world):
    w = world
    ven_id = _registered(db, w)
    todo = service.new_instructions(db)
    assert sorted(i.id for i, _ in todo) == sorted(w.instructions[:2])  # never the other FSP's
    events = {}
    for ins, res in todo:
        service.queue_event(db, ins, res)
        events[ins.id] = service.event_payload(ins, ven_id, res.resource_id)
    assert service.new_instructions(db) == []  # sent once
    doc = events[w.instructions[0]]
    sig = doc["event_signals"][0]
    assert (sig["signal_name"], sig["signal_type"]) == ("LOAD_DISPATCH", "delta")
    assert [iv["signal_payload"] for iv in sig["intervals"]] == [-1.5, -1.5]  # up: less load
    assert [iv["dtstart"] for iv in sig["intervals"]] == [w.start, w.start + dt.timedelta(minutes=30)]
    assert doc["targets"] == [{"ven_id": ven_id, "resource_id": "battery-1"}]

    a, b = (str(i) for i in w.instructions[:2])
    assert service.apply_opt(db, ven_id, a, "optIn") == "accepted"
    assert service.apply_opt(db, ven_id, a, "optIn") == "accepted"  # a re-sent answer
    assert service.apply_opt(db, ven_id, b, "optOut") == "rejected"
    assert service.apply_opt(db, ven_id, str(w.instructions[2]), "optIn").startswith("ignored")
    db.flush()
    i1, i2 = db.get(Instruction, w.instructions[0]), db.get(Instruction, w.instructions[1])
    assert (i1.status, i2.status) == ("accepted", "rejected")
    assert "opted out" in i2.reject_reason and i1.acked_at is not None
    # changing its mind after answering: the operations rule (once) holds
    assert service.apply_opt(db, ven_id, a, "optOut").startswith("not applied")
    assert db.get(Instruction, w.instructions[0]).status == "accepted"
    from flexplatform.openadr.models import OpenadrEvent

    ev = db.get(OpenadrEvent, a)  # the event still says what the instruction says
    assert (ev.status, ev.opt_type) == ("opted_in", "optIn")
    assert ev.outcome.startswith("not applied")


def test_a_late_answer_is_not_applied_and_withdrawn_events_are_found(db, world):
    w = world
    ven_id = _registered(db, w)
    for ins, res in service.new_instructions(db):
        service.queue_event(db, ins, res)
    late = db.get(Instruction, w.instructions[0]).ack_deadline + dt.timedelta(seconds=1)
    out = service.apply_opt(db, ven_id, str(w.instructions[0]), "optIn", now=late)
    assert out.startswith("not applied") and "deadline" in out
    db.get(Instruction, w.instructions[1]).status = "cancelled"
    db.flush()
    open_ = {e.event_id: i.status for e, i in service.open_events(db)}
    assert open_[str(w.instructions[1])] == "cancelled"  # the VTN withdraws this one
    service.mark_cancelled(db, str(w.instructions[1]))
    assert db.get(OpenadrEvent, str(w.instructions[1])).status == "cancelled"


def test_reports_become_telemetry_and_meter_readings(db, world):
    w = world
    ven_id = _registered(db, w)
    now = dt.datetime.now(dt.UTC)
    period = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0) \
        - dt.timedelta(hours=1)
    assert service.report_kind("RealPower", "W") == "telemetry"
    assert service.report_kind("RealEnergy", "Wh") == "energy"
    assert service.report_kind("Voltage", "V") is None
    assert service.store_telemetry(db, ven_id, "battery-1", [(now, -250.0)], "k") == 1
    assert service.store_telemetry(db, ven_id, "unknown", [(now, 1.0)], "k") == 0
    assert db.scalars(select(VenTelemetry)).one().mw == pytest.approx(-0.25)
    out = service.store_energy(db, ven_id, "battery-2", [(period, -8.0)], "k")
    assert out.stored == 1
    r = db.scalars(select(MeterReading)).one()
    assert (r.import_kwh, r.export_kwh) == (0.0, 8.0)
    from flexplatform.errors import InvalidInput

    with pytest.raises(InvalidInput):  # a period not yet ended: the metering checks refuse
        service.store_energy(db, ven_id, "battery-2", [(period + dt.timedelta(hours=2), 1.0)],
                             "k")
    assert db.scalar(select(func.count()).select_from(MeterReading)) == 1


def test_certificates_and_fingerprints():
    ca, ca_key = make_ca()
    cert, key = issue(ca, ca_key, "ven-1", server=False)
    fp = fingerprint(cert)
    assert len(fp.split(":")) == 10 and fp == fp.upper()
    assert b"PRIVATE KEY" in key and fingerprint(issue(ca, ca_key, "ven-1", server=False)[0]) != fp
