"""Availability declarations: bulk, versions, the lock, bad input, who sees what."""

from __future__ import annotations

import datetime as dt

API = "/api/v1"


def body(ops, assets, mw, periods=None, reason=None, direction="up"):
    return {"direction": direction, "period_start": ops["start"].isoformat(),
            "periods": periods or ops["n"], "reason": reason,
            "assets": [{"asset_id": str(a), "mw": mw} for a in assets]}


def test_bulk_declare_keeps_every_version(client, ops, queued):
    f1 = ops["fsp1"]
    a0, a1 = ops["assets"][:2]
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0, a1], 2.0))
    assert r.status_code == 201, r.text
    assert r.json()["stored"] == 16
    per_period = [1.5] * ops["n"]
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], per_period))
    assert r.status_code == 201 and r.json()["stored"] == 8 and r.json()["shortfalls"] == 8
    q = {"start": ops["start"].isoformat(),
         "end": (ops["start"] + dt.timedelta(hours=4)).isoformat(), "asset_id": str(a0)}
    latest = client.get(f"{API}/availability", headers=f1.h, params=q).json()
    assert latest["total"] == 8 and {d["mw"] for d in latest["items"]} == {1.5}
    allv = client.get(f"{API}/availability", headers=f1.h, params={**q, "all_versions": True})
    assert allv.json()["total"] == 16
    # the MO holding the contract was told of the shortfall
    kinds = [n["kind"] for n in client.get(f"{API}/notifications",
                                           headers=ops["mo1"].h).json()]
    assert "availability.shortfall" in kinds
    # another FSP sees none of it
    other = client.get(f"{API}/availability", headers=ops["fsp2"].h, params=q).json()
    assert other["total"] == 0


def test_bad_declarations(client, ops, queued):
    f1 = ops["fsp1"]
    a0 = ops["assets"][0]
    theirs = ops["assets"][2]
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [theirs], 1.0))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "assets.0.asset_id"
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], -1.0))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "non_negative"
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], 9.0))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "capability"
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], 1.0, periods=9))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "contracted"
    assert r.json()["errors"][0]["field"] == "assets.0.mw"
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], [1.0, 2.0]))
    assert r.status_code == 422
    # nothing half-written
    q = {"start": ops["start"].isoformat(),
         "end": (ops["start"] + dt.timedelta(hours=5)).isoformat()}
    assert client.get(f"{API}/availability", headers=f1.h, params=q).json()["total"] == 0


def test_lock_allows_only_downward_with_reason(client, db, ops, queued):
    from flexplatform.governance.models import Product

    f1 = ops["fsp1"]
    a0 = ops["assets"][0]
    assert client.post(f"{API}/availability", headers=f1.h,
                       json=body(ops, [a0], 1.0)).status_code == 201
    p = db.get(Product, "dynamic")
    p.operations_rules = {"declaration_deadline": "day_ahead"}  # locked since yesterday 12:00
    db.commit()
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], 1.5, reason="x"))
    assert r.status_code == 409, r.text
    e = r.json()["errors"][0]
    assert e["rule"] == "locked_upward" and "locked_at" in e
    r = client.post(f"{API}/availability", headers=f1.h, json=body(ops, [a0], 0.5))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = client.post(f"{API}/availability", headers=f1.h,
                    json=body(ops, [a0], 0.5, reason="inverter {derating}\t50% \\ tap"))
    assert r.status_code == 201 and r.json()["after_lock"] == 8
    q = {"start": ops["start"].isoformat(), "asset_id": str(a0),
         "end": (ops["start"] + dt.timedelta(hours=4)).isoformat()}
    got = client.get(f"{API}/availability", headers=f1.h, params=q).json()["items"]
    assert {(d["reason"], d["after_lock"], d["version"]) for d in got} == {
        ("inverter {derating}\t50% \\ tap", True, 2)}
    notes = client.get(f"{API}/notifications", headers=ops["mo1"].h).json()
    assert any(n["kind"] == "availability.redeclared" for n in notes)


def test_availability_factor_and_monitoring(client, db, ops, queued):
    from sqlalchemy import select

    from flexplatform.competition.models import Contract
    from flexplatform.operations.service import availability_factor

    a0 = ops["assets"][0]
    client.post(f"{API}/availability", headers=ops["fsp1"].h, json=body(ops, [a0], 0.5))
    c = db.scalars(select(Contract).where(Contract.asset_id == a0)).first()
    assert abs(availability_factor(db, c) - 0.25) < 1e-9
    undeclared = db.scalars(select(Contract).where(Contract.asset_id == ops["assets"][1])).first()
    assert availability_factor(db, undeclared) == 1.0
    q = {"start": ops["start"].isoformat(),
         "end": (ops["start"] + dt.timedelta(hours=4)).isoformat()}
    rows = client.get(f"{API}/availability/monitoring", headers=ops["mo1"].h, params=q).json()
    assert rows["total"] == 32
    mine = client.get(f"{API}/availability/monitoring", headers=ops["fsp1"].h, params=q).json()
    assert mine["total"] == 16
    assert all(r["fsp_id"] == str(ops["fsp1"].id) for r in mine["items"])


def test_operations_rules_are_product_data(client, make_party, ops, queued):
    admin = make_party("admin")
    p = client.get(f"{API}/products/dynamic").json()
    assert p["operations_rules"] == {}
    body = {k: p[k] for k in ("code", "name", "operator_kind", "direction", "notice_minutes",
                              "min_utilisation_minutes", "max_utilisation_minutes",
                              "stacking_class", "min_mw", "allowed_technologies",
                              "accepts_pre_energisation", "active")}
    r = client.put(f"{API}/products/dynamic", headers=admin.h, json={
        **body, "operations_rules": {"ack_minutes": 5, "declaration_deadline": "day_ahead"}})
    assert r.status_code == 200, r.text
    assert r.json()["operations_rules"] == {"ack_minutes": 5, "declaration_deadline": "day_ahead"}
    r = client.put(f"{API}/products/dynamic", headers=admin.h, json={
        **body, "operations_rules": {"ack_minutes": 0, "batch_time": "25:00", "x": 1}})
    assert r.status_code == 422
    # now locked (day ahead): an upward first declaration is refused with the lock time
    r = client.post(f"{API}/availability", headers=ops["fsp1"].h,
                    json=body_of(ops, [ops["assets"][0]], 2.0, reason="r"))
    assert r.status_code == 201  # at capability: not above what undeclared counts as
    r = client.post(f"{API}/availability", headers=ops["fsp1"].h,
                    json=body_of(ops, [ops["assets"][0]], 1.0))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "reason_after_lock"


body_of = body
