"""Readings in, verification, a settlement run as shards and a merge, statements,
invoices, the run document re-run, a correction, and a dispute through every step; on
committed data, eagerly and on a real Celery worker."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from tests.competition.conftest import live, mode  # noqa: F401  (fixtures)
from tests.reporting.settle_setup import API, DAY, EVENT, HH, build, readings_csv


def _wait_run(c, h, run_id, timeout=60.0):
    import time

    t0 = time.monotonic()
    while True:
        r = c.get(f"{API}/settlement-runs/{run_id}", headers=h)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed") or time.monotonic() - t0 > timeout:
            return r.json()
        time.sleep(0.2)


def _wait(pred, timeout=60.0):
    import time

    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.2)


def _verifications(c, h, all_versions=False):
    r = c.get(f"{API}/verifications", headers=h, params={
        "start": EVENT.isoformat(), "end": (EVENT + 8 * HH).isoformat(),
        "all_versions": str(all_versions).lower()})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_settlement_end_to_end(live, tmp_path):  # noqa: F811
    c = live["client"]
    w = build(c)
    h = w.h
    # verification ran when the readings arrived: 2 instruction-periods per FSP
    _wait(lambda: len(_verifications(c, h["reg"])) == 4)
    mine = _verifications(c, h["fsp"])
    assert len(mine) == 2 and all(v["performance"] == 1.0 for v in mine)
    assert all(v["reading_versions"]["reading_version"] == 1 for v in mine)
    other = _verifications(c, h["fsp2"])
    assert [v["performance"] for v in other] == [0.5, 0.5]
    assert {v["delivered_kwh"] for v in other} == {250.0}

    # a settlement run: monthly, run by the MO
    r = c.post(f"{API}/settlement-runs", headers=h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    assert r.status_code == 202, r.text
    assert r.json()["period_label"] == "2025-01"
    run = _wait_run(c, h["mo"], r.json()["id"])
    assert run["status"] == "done", run
    assert c.get(f"{API}/settlement-runs/{run['id']}", headers=h["mo2"]).status_code == 404
    assert c.get(f"{API}/settlement-runs/{run['id']}", headers=h["fsp"]).status_code == 403

    sts = c.get(f"{API}/statements", headers=h["mo"]).json()["items"]
    assert len(sts) == 2 and {s["status"] for s in sts} == {"draft"}
    by_fsp = {s["fsp_id"]: s for s in sts}
    st = by_fsp[w.ids["fsp"]]
    # a draft is the MO's: the FSP does not see it yet
    assert c.get(f"{API}/statements/{st['id']}", headers=h["fsp"]).status_code == 404
    detail = c.get(f"{API}/statements/{st['id']}", headers=h["mo"]).json()
    kinds = [ln["kind"] for ln in detail["lines"]]
    assert kinds.count("availability") == 8 and kinds.count("utilisation") == 2
    total = sum(Decimal(ln["amount"]) for ln in detail["lines"])
    assert total == Decimal(detail["net"])
    # 1 MW x 0.5 h x 10.5 GBP/MW/h per contract-period (undeclared counts as available)
    assert {ln["amount"] for ln in detail["lines"] if ln["kind"] == "availability"} == {"5.25"}
    # 0.5 MWh x 150 GBP/MWh x 1.0 per fully delivered instruction
    assert {ln["amount"] for ln in detail["lines"] if ln["kind"] == "utilisation"} == {"75.00"}
    half = c.get(f"{API}/statements/{by_fsp[w.ids['fsp2']]['id']}", headers=h["mo"]).json()
    util = [ln for ln in half["lines"] if ln["kind"] == "utilisation"]
    # half delivered: 0.25 MWh paid x 150 x multiplier 0.5 (SSEN tiers)
    assert [(ln["quantity_mwh"], ln["multiplier"], ln["amount"]) for ln in util] == \
        [("0.250000", "0.500000", "18.75")] * 2

    # the run document re-runs to identical outputs
    doc = c.get(f"{API}/settlement-runs/{run['id']}/document", headers=h["reg"])
    assert doc.status_code == 200
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc.json()))
    import io

    from settlement.cli import main
    out = io.StringIO()
    assert main(path, check=True, stdout=out) == 0, out.getvalue()
    assert "outputs identical" in out.getvalue()
    assert doc.json()["outputs"]["sha256"] == run["outputs_sha256"]

    # a correction: a new reading version, a new verification version, the old kept
    fix = readings_csv(w.mpans["fsp"], DAY, DAY, 700.0, {EVENT})
    fix = "\n".join(ln for ln in fix.splitlines()
                    if ln.startswith("mpan") or EVENT.isoformat().replace("+00:00", "Z") in ln)
    r = c.post(f"{API}/meter-readings/csv", headers=h["fsp"] | {"content-type": "text/csv"},
               content=fix + "\n")
    assert r.status_code == 201 and r.json()["corrections"] == 1, r.text
    _wait(lambda: len(_verifications(c, h["fsp"], all_versions=True)) == 3)
    latest = {v["period_start"]: v for v in _verifications(c, h["fsp"])}
    corrected = latest[EVENT.isoformat().replace("+00:00", "Z")]
    assert corrected["version"] == 2 and corrected["delivered_kwh"] == 300.0
    assert corrected["reading_versions"]["reading_version"] == 2
    # Paged in the database: the latest versions in order, a total, an offset.
    q = {"start": EVENT.isoformat(), "end": (EVENT + 8 * HH).isoformat(), "limit": 1}
    pages = [c.get(f"{API}/verifications", headers=h["fsp"], params=q | {"offset": k}).json()
             for k in range(3)]
    assert [p["total"] for p in pages] == [2, 2, 2] and [len(p["items"]) for p in pages] == \
        [1, 1, 0]
    assert {p["items"][0]["period_start"] for p in pages[:2]} == set(latest)

    # re-run while still draft: version 2, the first run kept
    r = c.post(f"{API}/settlement-runs", headers=h["admin"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    assert r.status_code == 202, r.text
    run2 = _wait_run(c, h["mo"], r.json()["id"])
    assert run2["status"] == "done" and run2["version"] == 2
    assert run2["outputs_sha256"] != run["outputs_sha256"]
    sts2 = [s for s in c.get(f"{API}/statements", headers=h["mo"]).json()["items"]
            if s["run_id"] == run2["id"]]
    st2 = next(s for s in sts2 if s["fsp_id"] == w.ids["fsp"])
    # the superseded statement cannot be issued; the new one can
    assert c.post(f"{API}/statements/{st['id']}/issue", headers=h["mo"]).status_code == 409
    assert c.post(f"{API}/statements/{st2['id']}/issue", headers=h["mo2"]).status_code == 404
    r = c.post(f"{API}/statements/{st2['id']}/issue", headers=h["mo"])
    assert r.status_code == 200 and r.json()["status"] == "issued"
    # once issued, no re-run: corrections go through disputes
    r = c.post(f"{API}/settlement-runs", headers=h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    assert r.status_code == 409

    # the invoice: JSON and CSV, lines adding up exactly
    invs = c.get(f"{API}/invoices", headers=h["fsp"]).json()["items"]
    assert len(invs) == 1
    inv = invs[0]
    lines = inv["document"]["lines"]
    assert sum(Decimal(x["net"]) for x in lines) == Decimal(inv["net"]) == Decimal(st2["net"])
    assert Decimal(inv["net"]) + Decimal(inv["vat"]) == Decimal(inv["gross"])
    assert inv["document"]["self_billed"] is True
    csv = c.get(f"{API}/invoices/{inv['id']}/csv", headers=h["fsp"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + len(lines)
    for who in ("fsp2", "mo2"):
        assert c.get(f"{API}/invoices/{inv['id']}", headers=h[who]).status_code == 404
        assert c.get(f"{API}/invoices/{inv['id']}/csv", headers=h[who]).status_code == 404
        assert c.get(f"{API}/statements/{st2['id']}", headers=h[who]).status_code == 404

    _dispute(c, h, w, st2)


def _dispute(c, h, w, st):
    util = next(ln for ln in c.get(f"{API}/statements/{st['id']}", headers=h["fsp"]).json()
                ["lines"] if ln["kind"] == "utilisation")
    body = {"line_no": util["line_no"], "reason": "meter clock drift: the first period is wrong",
            "amount_claimed": "30.00",
            "evidence": [{"name": "site log", "sha256": "a" * 64, "note": "logger export"}]}
    assert c.post(f"{API}/statements/{st['id']}/disputes", headers=h["fsp2"],
                  json=body).status_code == 404
    bad = c.post(f"{API}/statements/{st['id']}/disputes", headers=h["fsp"],
                 json=body | {"line_no": 999})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json")
    r = c.post(f"{API}/statements/{st['id']}/disputes", headers=h["fsp"], json=body)
    assert r.status_code == 201, r.text
    d = r.json()
    assert c.get(f"{API}/statements/{st['id']}", headers=h["fsp"]).json()["status"] == "disputed"
    again = c.post(f"{API}/statements/{st['id']}/disputes", headers=h["fsp"], json=body)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "body.line_no"
    for who in ("fsp2", "mo2"):
        assert c.get(f"{API}/disputes/{d['id']}", headers=h[who]).status_code == 404
    assert c.get(f"{API}/disputes/{d['id']}", headers=h["reg"]).status_code == 200
    assert [x["id"] for x in c.get(f"{API}/disputes", headers=h["reg"]).json()["items"]] == [d["id"]]
    assert c.get(f"{API}/disputes", headers=h["fsp2"]).json()["items"] == []
    # accepting is the FSP's only when nothing is open
    assert c.post(f"{API}/statements/{st['id']}/accept", headers=h["fsp"]).status_code == 409
    # escalation needs a rejection (or a passed deadline)
    assert c.post(f"{API}/disputes/{d['id']}/escalation", headers=h["fsp"],
                  json={"reason": "no answer"}).status_code == 409
    r = c.post(f"{API}/disputes/{d['id']}/response", headers=h["mo"],
               json={"decision": "reject", "reason": "the meter is certified"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = c.post(f"{API}/disputes/{d['id']}/escalation", headers=h["fsp"],
               json={"reason": "the certificate predates the drift"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert c.post(f"{API}/disputes/{d['id']}/decision", headers=h["mo"],
                  json={"amount": "10.00", "reason": "x"}).status_code == 403
    r = c.post(f"{API}/disputes/{d['id']}/decision", headers=h["admin"],
               json={"amount": "12.50", "reason": "drift shown for one period of two"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "resolved" and d["amount_awarded"] == "12.50"
    after = c.get(f"{API}/statements/{st['id']}", headers=h["fsp"]).json()
    assert after["status"] == "issued"
    assert Decimal(after["net"]) == Decimal(st["net"]) + Decimal("12.50")
    assert after["lines"][-1]["kind"] == "adjustment"
    assert sum(Decimal(ln["amount"]) for ln in after["lines"]) == Decimal(after["net"])
    docs = c.get(f"{API}/invoices", headers=h["fsp"],
                 params={"statement_id": st["id"]}).json()["items"]
    adj = next(x for x in docs if x["kind"] == "adjustment")
    assert adj["id"] == d["adjustment_invoice_id"] and adj["net"] == "12.50"
    assert Decimal(adj["net"]) + Decimal(adj["vat"]) == Decimal(adj["gross"])
    r = c.post(f"{API}/statements/{st['id']}/accept", headers=h["fsp"])
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    # every step audited
    from sqlalchemy import select

    from flexplatform.audit import AuditEvent
    from flexplatform.db import unit_of_work

    with unit_of_work() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"dispute.raise", "dispute.rejected", "dispute.escalate", "dispute.decide",
            "statement.issue", "statement.accept", "settlement.run.done"} <= actions


def test_dispute_accepted_by_the_mo_is_a_credit_note(live):  # noqa: F811
    c = live["client"]
    w = build(c, seq=1)
    h = w.h
    r = c.post(f"{API}/settlement-runs", headers=h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    run = _wait_run(c, h["mo"], r.json()["id"])
    assert run["status"] == "done", run
    st = next(s for s in c.get(f"{API}/statements", headers=h["mo"]).json()["items"]
              if s["fsp_id"] == w.ids["fsp2"])
    c.post(f"{API}/statements/{st['id']}/issue", headers=h["mo"]).raise_for_status()
    r = c.post(f"{API}/statements/{st['id']}/disputes", headers=h["fsp2"],
               json={"line_no": 1, "reason": "overpaid availability", "amount_claimed": "-5.25"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert c.post(f"{API}/disputes/{d['id']}/response", headers=h["mo2"],
                  json={"decision": "accept"}).status_code == 404
    r = c.post(f"{API}/disputes/{d['id']}/response", headers=h["mo"],
               json={"decision": "accept", "amount": "-6.00"})
    assert r.status_code == 422
    r = c.post(f"{API}/disputes/{d['id']}/response", headers=h["mo"], json={"decision": "accept"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    inv = c.get(f"{API}/invoices/{r.json()['adjustment_invoice_id']}", headers=h["fsp2"]).json()
    assert inv["kind"] == "credit_note" and inv["net"] == "-5.25"
    assert c.get(f"{API}/statements/{st['id']}", headers=h["fsp2"]).json()["status"] == "issued"
    _ = dt


def test_a_run_in_shards_is_a_chord_with_the_single_shard_outputs(live, tmp_path,  # noqa: F811
                                                                  monkeypatch):
    """One meter per shard: a chord of two shard tasks and one merge, whose outputs are
    byte-identical to the document's single-shard re-run."""
    import io

    from flexplatform.reporting import settle_inputs
    from settlement.cli import main

    monkeypatch.setattr(settle_inputs, "SHARD_METERS", 1)
    c = live["client"]
    w = build(c, seq=2)
    r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    run = _wait_run(c, w.h["mo"], r.json()["id"])
    assert run["status"] == "done" and run["shards"] == 2, run
    doc = c.get(f"{API}/settlement-runs/{run['id']}/document", headers=w.h["admin"]).json()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    out = io.StringIO()
    assert main(path, check=True, stdout=out) == 0, out.getvalue()
    # a redelivered merge stores nothing more
    from sqlalchemy import func, select

    from flexplatform.db import unit_of_work
    from flexplatform.reporting.settlement_models import Statement
    from workers.reporting import merge_run

    assert merge_run([0, 1], run["id"])["status"] == "done"
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 2


def test_a_run_that_cannot_be_settled_fails_with_the_reason(live):  # noqa: F811
    """Contradictory instructions (one meter, one period, opposite directions) are refused
    by the engine: the run fails at once with the reason, and nothing is stored."""
    import uuid

    from sqlalchemy import func, select

    from flexplatform.db import unit_of_work
    from flexplatform.operations.models import DispatchRun, Instruction
    from flexplatform.reporting.settlement_models import Statement

    c = live["client"]
    w = build(c, seq=5)
    with unit_of_work() as s:
        i = s.get(Instruction, uuid.UUID(w.instructions[0]))
        redispatch = DispatchRun(trigger="redispatch", status="done")
        s.add(redispatch)
        s.flush()
        s.add(Instruction(run_id=redispatch.id, request_id=i.request_id, contract_id=i.contract_id,
                          asset_id=i.asset_id, fsp_id=i.fsp_id, mo_id=i.mo_id,
                          product_code=i.product_code, direction="down",
                          period_start=i.period_start, period_end=i.period_end, mw=0.5,
                          status="accepted", ack_deadline=i.ack_deadline, acked_at=i.acked_at))
    r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    run = _wait_run(c, w.h["mo"], r.json()["id"])
    assert run["status"] == "failed" and "direction" in run["error"], run
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 0
    # a failed run may be run again (the next version)
    r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    assert r.status_code == 202 and r.json()["version"] == 2
