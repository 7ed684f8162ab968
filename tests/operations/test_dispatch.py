"""Utilisation requests to instructions: event runs, acknowledgement, re-dispatch, views."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.operations.conftest import HALF, drain

API = "/api/v1"


def call(client, ops, who="mo1", mw=3.0, periods=2, offset=0, need=None):
    start = ops["start"] + offset * HALF
    return client.post(f"{API}/utilisation-requests", headers=ops[who].h, json={
        "need_id": str(need or ops["needs"][who]), "period_start": start.isoformat(),
        "period_end": (start + periods * HALF).isoformat(), "mw": mw})


def test_request_dispatches_and_each_party_sees_its_own(client, db, ops, queued):
    r = call(client, ops)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["mode"] == "event" and req["status"] == "requested"
    assert drain(db, queued) == 1
    mo1, fsp1, fsp2, reg, mo2 = (ops[k] for k in ("mo1", "fsp1", "fsp2", "reg", "mo2"))
    d = client.get(f"{API}/utilisation-requests/{req['id']}", headers=mo1.h).json()
    assert d["status"] == "dispatched"
    assert abs(sum(i["mw"] for i in d["instructions"]) - 6.0) < 1e-6  # 3 MW x 2 periods
    # the cheapest two assets (100 and 110 GBP/MWh) are called; the others have reasons
    called = {i["asset_id"] for i in d["instructions"]}
    assert called == {str(ops["assets"][0]), str(ops["assets"][2])}
    assert {x["asset_id"] for x in d["rationale"]} >= {str(ops["assets"][1])}
    assert all(x["reasons"] for x in d["rationale"])
    mine = client.get(f"{API}/instructions", headers=fsp1.h).json()["items"]
    assert mine and all(i["fsp_id"] == str(fsp1.id) for i in mine)
    theirs = client.get(f"{API}/instructions", headers=fsp2.h).json()["items"]
    assert client.get(f"{API}/instructions/{theirs[0]['id']}", headers=fsp1.h).status_code == 404
    assert client.get(f"{API}/utilisation-requests/{req['id']}", headers=mo2.h).status_code == 404
    run_id = d["last_run_id"]
    full = client.get(f"{API}/dispatch-runs/{run_id}", headers=reg.h).json()
    assert full["scope"] == "full" and full["snapshot_sha256"] and full["result_sha256"]
    part = client.get(f"{API}/dispatch-runs/{run_id}", headers=fsp1.h).json()
    assert part["scope"] == "own"
    assert {a["fsp"] for a in part["snapshot"]["assets"]} == {str(fsp1.id)}
    assert client.get(f"{API}/dispatch-runs/{run_id}", headers=mo2.h).status_code == 404
    kinds = {n["kind"] for n in client.get(f"{API}/notifications", headers=fsp1.h).json()}
    assert "instructions.issued" in kinds


def test_rerun_of_a_stored_run_adds_nothing(client, db, ops, queued):
    from sqlalchemy import func, select

    from flexplatform.operations import runs
    from flexplatform.operations.models import DispatchRun, Instruction

    call(client, ops)
    drain(db, queued)
    run = db.scalars(select(DispatchRun)).one()
    before = db.scalar(select(func.count()).select_from(Instruction))
    assert runs.prepare(db, run.id) is None  # done: a redelivered task does nothing
    assert runs.store(db, run.id, run.result) is False
    assert db.scalar(select(func.count()).select_from(Instruction)) == before
    from tests.operations.conftest import solver
    again = solver()(run.snapshot)
    assert again["instructions"] == run.result["instructions"]


def test_bad_requests(client, db, ops, queued):
    # another MO's need looks like no need
    r = call(client, ops, who="mo2", need=ops["needs"]["mo1"])
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "need_id"
    # outside the contracted periods
    r = call(client, ops, offset=ops["n"], periods=2)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "contracted"
    # secure needs a day's notice; its periods start in two hours
    r = call(client, ops, who="mo2")
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "notice_minutes"
    r = client.post(f"{API}/utilisation-requests", headers=ops["fsp1"].h, json={})
    assert r.status_code == 403
    from sqlalchemy import func, select

    from flexplatform.operations.models import UtilisationRequest
    assert db.scalar(select(func.count()).select_from(UtilisationRequest)) == 0


def test_cancel_until_instructions_issued(client, db, ops, queued):
    a = call(client, ops).json()
    r = client.post(f"{API}/utilisation-requests/{a['id']}/cancel", headers=ops["mo2"].h)
    assert r.status_code == 404
    r = client.post(f"{API}/utilisation-requests/{a['id']}/cancel", headers=ops["mo1"].h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    drain(db, queued)  # the run finds nothing left to call
    b = call(client, ops, offset=2).json()
    drain(db, queued)
    r = client.post(f"{API}/utilisation-requests/{b['id']}/cancel", headers=ops["mo1"].h)
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "cancel_before_issue"


def test_reject_redispatches_without_that_asset(client, db, ops, queued):
    req = call(client, ops, mw=2.0, periods=1).json()
    drain(db, queued)
    fsp1 = ops["fsp1"]
    ins = client.get(f"{API}/instructions", headers=fsp1.h).json()["items"]
    assert len(ins) == 1 and ins[0]["asset_id"] == str(ops["assets"][0])
    # someone else's instruction looks like none
    r = client.post(f"{API}/instructions/{ins[0]['id']}/ack", headers=ops["fsp2"].h,
                    json={"decision": "accept"})
    assert r.status_code == 404
    r = client.post(f"{API}/instructions/{ins[0]['id']}/ack", headers=fsp1.h,
                    json={"decision": "reject"})
    assert r.status_code == 422  # a rejection needs its reason
    r = client.post(f"{API}/instructions/{ins[0]['id']}/ack", headers=fsp1.h,
                    json={"decision": "reject", "reason": "site maintenance"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert drain(db, queued) == 1
    d = client.get(f"{API}/utilisation-requests/{req['id']}", headers=ops["mo1"].h).json()
    live = [i for i in d["instructions"] if i["status"] == "issued"]
    assert live and str(ops["assets"][0]) not in {i["asset_id"] for i in live}
    assert abs(sum(i["mw"] for i in live) - 2.0) < 1e-6
    assert d["status"] == "dispatched"
    # The re-dispatch left fsp1's asset out: fsp1 sees that, the other FSP and the MO do not.
    def excluded(who):
        return client.get(f"{API}/dispatch-runs", headers=who.h).json()["items"][0][
            "excluded_asset_ids"]
    assert excluded(fsp1) == excluded(ops["reg"]) == [str(ops["assets"][0])]
    assert excluded(ops["fsp2"]) == [] and excluded(ops["mo1"]) == []
    r = client.post(f"{API}/instructions/{ins[0]['id']}/ack", headers=fsp1.h,
                    json={"decision": "accept"})
    assert r.status_code == 409
    for i in live:
        who = ops["fsp1"] if i["fsp_id"] == str(ops["fsp1"].id) else ops["fsp2"]
        assert client.post(f"{API}/instructions/{i['id']}/ack", headers=who.h,
                           json={"decision": "accept"}).status_code == 200
    d = client.get(f"{API}/utilisation-requests/{req['id']}", headers=ops["mo1"].h).json()
    assert d["status"] == "accepted"


def test_missed_deadline_expires_and_redispatches(client, db, ops, queued):
    from flexplatform.db import utcnow
    from flexplatform.operations.instructions import sweep
    from flexplatform.operations.models import Instruction

    call(client, ops, mw=2.0, periods=1)
    drain(db, queued)
    ins = client.get(f"{API}/instructions", headers=ops["fsp1"].h).json()["items"][0]
    row = db.get(Instruction, uuid.UUID(ins["id"]))
    row.ack_deadline = utcnow() - dt.timedelta(minutes=1)
    db.commit()
    r = client.post(f"{API}/instructions/{ins['id']}/ack", headers=ops["fsp1"].h,
                    json={"decision": "accept"})
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "ack_deadline"
    out = sweep(db)
    db.commit()
    from flexplatform.db import run_after_commit
    run_after_commit(db)
    assert out["expired"] == 1
    assert drain(db, queued) == 1
    live = client.get(f"{API}/instructions", headers=ops["fsp2"].h,
                      params={"status": "issued"}).json()["items"]
    assert live


def test_conflicts_seen_by_the_parties_only(client, db, ops, queued):
    from flexplatform.operations.conflicts import scan

    a3 = ops["assets"][3]  # contracted 3 MW to MO1 (dynamic) and 3 MW to MO2 (secure)
    r = client.post(f"{API}/availability", headers=ops["fsp2"].h, json={
        "direction": "up", "period_start": ops["start"].isoformat(), "periods": 1,
        "reason": "derated",
        "assets": [{"asset_id": str(a3), "mw": 2.0}]})
    assert r.status_code == 201, r.text
    assert scan(db) >= 1
    db.commit()
    seen = client.get(f"{API}/conflicts", headers=ops["mo2"].h).json()["items"]
    assert seen and seen[0]["kind"] == "declared_below_contracted"
    assert seen[0]["status"] == "resolved" and seen[0]["rationale"]
    cid = seen[0]["id"]
    assert client.get(f"{API}/conflicts/{cid}", headers=ops["reg"].h).status_code == 200
    assert client.get(f"{API}/conflicts/{cid}", headers=ops["fsp2"].h).status_code == 200
    assert client.get(f"{API}/conflicts/{cid}", headers=ops["fsp1"].h).status_code == 404
    assert client.get(f"{API}/conflicts", headers=ops["fsp1"].h).json()["total"] == 0
    assert scan(db) == 0  # found again, recorded once


def test_day_ahead_requests_wait_for_the_batch(client, db, ops, queued):
    from sqlalchemy import select

    from flexplatform.competition.models import Market, Need
    from flexplatform.db import run_after_commit
    from flexplatform.operations.instructions import sweep
    from flexplatform.operations.models import DispatchRun, UtilisationRequest
    from flexplatform.operations.rules import rules_for

    need = db.get(Need, ops["needs"]["mo2"])  # secure: day-ahead notice, batched
    m = db.get(Market, need.market_id)
    req = UtilisationRequest(mo_id=m.mo_id, market_id=m.id, need_id=need.id,
                             product_code="secure", zone_code="CMZ_NORTH", direction="up",
                             period_start=ops["start"], period_end=ops["start"] + HALF, mw=1.0,
                             mode="scheduled", covered_mw=[0.0])
    db.add(req)
    db.commit()
    from flexplatform.governance.models import Product
    batch = rules_for(db.get(Product, "secure")).batch_at(ops["start"])
    assert sweep(db, now=batch - dt.timedelta(minutes=1))["batched"] == 0
    db.commit()
    assert sweep(db, now=batch)["batched"] == 1
    db.commit()
    run_after_commit(db)
    assert sweep(db, now=batch)["batched"] == 0  # taken once
    db.commit()
    assert drain(db, queued) == 1
    run = db.scalars(select(DispatchRun)).one()
    assert run.trigger == "scheduled" and run.status == "done"
    db.refresh(req)
    assert req.status == "dispatched" and req.last_run_id == run.id


def test_opposite_directions_in_one_zone_resolved_by_primacy(client, db, ops, queued):
    from flexplatform.competition.models import Market, Need
    from flexplatform.operations.conflicts import check_request
    from flexplatform.operations.models import UtilisationRequest

    def req(who, direction, priority):
        need = db.get(Need, ops["needs"][who])
        m = db.get(Market, need.market_id)
        r = UtilisationRequest(mo_id=m.mo_id, market_id=m.id, need_id=need.id,
                               product_code=need.product_code, zone_code="CMZ_NORTH",
                               direction=direction, period_start=ops["start"],
                               period_end=ops["start"] + 2 * HALF, mw=1.0, priority=priority,
                               covered_mw=[0.0, 0.0])
        db.add(r)
        db.flush()
        return r

    up = req("mo1", "up", 1)
    down = req("mo2", "down", 2)
    [c] = check_request(db, down)
    assert c.kind == "opposite_directions" and c.status == "resolved"
    assert c.resolution == f"primacy:{up.id}" and "priority 1" in c.rationale
    assert check_request(db, down) == []  # one record per situation
    db.commit()
    for who, n in (("mo1", 1), ("mo2", 1), ("fsp1", 0), ("reg", 1)):
        assert client.get(f"{API}/conflicts", headers=ops[who].h).json()["total"] == n


def test_a_request_cancelled_while_its_run_solves_gets_no_instruction(client, db, ops, queued):
    """Between prepare and store no instruction exists, so the cancel is allowed; the
    stored run must then issue nothing for that request."""
    from sqlalchemy import func, select

    from flexplatform.operations import runs
    from flexplatform.operations.models import Instruction
    from tests.operations.conftest import solver

    a = call(client, ops).json()
    rid = next(kw["run_id"] for name, kw in queued if name == runs.RUN_TASK)
    queued.clear()
    snap = runs.prepare(db, uuid.UUID(rid))
    db.commit()
    assert snap is not None and [r["id"] for r in snap["requests"]] == [a["id"]]
    result = solver()(snap)
    assert result["instructions"]  # the engine would call assets for it
    r = client.post(f"{API}/utilisation-requests/{a['id']}/cancel", headers=ops["mo1"].h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    runs.store(db, uuid.UUID(rid), result, snap)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Instruction).where(
        Instruction.request_id == uuid.UUID(a["id"]))) == 0
