"""End to end over the API: two MOs, three FSPs, overlapping needs in one zone, a stacking
conflict and a primacy decision; cleared eagerly and on a real Celery worker."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

from flexplatform.registration.mpan import make_mpan
from tests.competition.conftest import run_task

API = "/api/v1"


def _bootstrap(c):
    from flexplatform.audit import Actor
    from flexplatform.db import unit_of_work
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant

    with unit_of_work() as s:
        _, key = create_participant(s, ParticipantCreate(
            role="admin", legal_name="Platform Ops", billing_contact={
                "name": "Ops", "email": "ops@example.org"}), Actor.system())
    admin = {"Authorization": f"Bearer {key}"}
    c.post(f"{API}/terms", headers=admin, json={"version": "E2E-1", "title": "Terms",
                                                "body": "Rules."}).raise_for_status()
    c.put(f"{API}/zones/CMZ_E2E", headers=admin, json={
        "code": "CMZ_E2E", "name": "E2E zone", "kind": "cmz", "dso": "NGED"}).raise_for_status()
    parties = {}
    for name, role in [("mo1", "mo"), ("mo2", "mo"), ("fsp1", "fsp"), ("fsp2", "fsp"),
                       ("fsp3", "fsp"), ("reg", "regulator")]:
        r = c.post(f"{API}/participants", headers=admin, json={
            "role": role, "legal_name": f"{name} Ltd",
            "billing_contact": {"name": name, "email": f"{name}@example.org"}})
        r.raise_for_status()
        h = {"Authorization": f"Bearer {r.json()['api_key']}"}
        if role in ("mo", "fsp"):
            c.post(f"{API}/terms/E2E-1/accept", headers=h).raise_for_status()
        parties[name] = {"h": h, "id": r.json()["participant"]["id"]}
    parties["admin"] = {"h": admin}
    return parties


def _asset(c, h, name, n, tech, up, energy=None, emission=0.0):
    r = c.post(f"{API}/assets", headers=h, json={
        "name": name, "mpan": make_mpan(f"1500000{n:05d}"), "zone": "CMZ_E2E",
        "technology": tech, "up_mw": up, "down_mw": 0.0, "energy_mwh": energy,
        "ramp_mw_per_min": 10.0, "emission_t_per_mwh": emission})
    assert r.status_code == 201, r.text
    return r.json()["id"]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_market_day(live):
    c = live["client"]
    p = _bootstrap(c)
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    hook = c.put(f"{API}/me/webhook", headers=p["fsp1"]["h"],
                 json={"url": f"http://127.0.0.1:{server.server_port}/flex"}).json()

    b1 = _asset(c, p["fsp1"]["h"], "Battery", 1, "battery", 2.0, energy=4.0)
    d1 = _asset(c, p["fsp2"]["h"], "Cold store DSR", 2, "industrial_dsr", 1.5)
    g1 = _asset(c, p["fsp3"]["h"], "Gas engine", 3, "generator", 1.0, emission=0.45)

    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=1)).replace(hour=16, minute=0, second=0, microsecond=0)
    gate = now + dt.timedelta(seconds=4)

    def market(h, name, product, mw, penalty):
        r = c.post(f"{API}/markets", headers=h, json={
            "name": name, "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
            "gate_close_at": gate.isoformat(), "delivery_start": start.isoformat(),
            "delivery_end": (start + dt.timedelta(hours=2)).isoformat(), "open": True,
            "needs": [{"name": name, "product": product, "zone": "CMZ_E2E", "direction": "up",
                       "mw": [mw] * 4, "max_availability_price": "100",
                       "utilisation_price_cap": "500", "expected_utilisation": 0.1,
                       "unmet_penalty": str(penalty)}]})
        assert r.status_code == 201, r.text
        return r.json()

    m1 = market(p["mo1"]["h"], "DSO dynamic", "dynamic", 3.0, 1000)
    m2 = market(p["mo2"]["h"], "ESO reserve", "quick_reserve", 2.0, 5000)
    n1, n2 = m1["needs"][0]["id"], m2["needs"][0]["id"]
    assert m1["needs"][0]["priority"] == 1 and m2["needs"][0]["priority"] == 2

    def bid(h, need, asset, mw, price, key=None):
        headers = h | ({"Idempotency-Key": key} if key else {})
        r = c.post(f"{API}/bids", headers=headers, json={
            "need_id": need, "asset_id": asset, "mw": [mw] * 4, "availability_price": str(price),
            "utilisation_price": "200"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    # The battery offers to both: dynamic and quick_reserve cannot stack (default rules).
    v = c.post(f"{API}/bids/validate", headers=p["fsp1"]["h"], json={
        "need_id": n2, "asset_id": b1, "mw": [2.0] * 4, "availability_price": "10",
        "utilisation_price": "200"}).json()
    assert v["eligible"] and v["conflicts"] == []
    b1_n1 = bid(p["fsp1"]["h"], n1, b1, 2.0, 20, key="k-1")
    assert bid(p["fsp1"]["h"], n1, b1, 2.0, 20, key="k-1") == b1_n1  # retried, not doubled
    b1_n2 = bid(p["fsp1"]["h"], n2, b1, 2.0, 10)
    d1_n1 = bid(p["fsp2"]["h"], n1, d1, 1.5, 30)
    g1_n2 = bid(p["fsp3"]["h"], n2, g1, 1.0, 60)

    # Before gate closure: the MO sees no bids; FSPs never see each other's.
    assert c.get(f"{API}/bids?market_id={m1['id']}", headers=p["mo1"]["h"]).status_code == 403
    assert c.get(f"{API}/bids/{b1_n1}", headers=p["fsp2"]["h"]).status_code == 404
    assert c.get(f"{API}/bids", headers=p["fsp2"]["h"]).json()["total"] == 1

    while dt.datetime.now(dt.UTC) < gate:
        time.sleep(0.2)
    late = c.post(f"{API}/bids", headers=p["fsp3"]["h"], json={
        "need_id": n1, "asset_id": g1, "mw": [1.0] * 4, "availability_price": "50",
        "utilisation_price": "200"})
    assert late.status_code == 422 and late.json()["errors"][0]["code"] == "gate_closed"
    assert c.post(f"{API}/clearings/run", headers=p["admin"]["h"]).status_code == 200

    deadline = time.time() + 90
    rounds = []
    while time.time() < deadline:
        rounds = c.get(f"{API}/clearings", headers=p["reg"]["h"]).json()
        if rounds and rounds[0]["status"] in ("done", "failed", "held"):
            break
        time.sleep(0.3)
    assert len(rounds) == 1 and rounds[0]["status"] == "done", rounds
    rid = rounds[0]["id"]
    assert set(rounds[0]["market_ids"]) == {m1["id"], m2["id"]}  # one round, all markets

    # Primacy: the DSO need (priority 1) takes the battery; the ESO need is short.
    s1 = c.get(f"{API}/markets/{m1['id']}/schedule", headers=p["mo1"]["h"]).json()
    s2 = c.get(f"{API}/markets/{m2['id']}/schedule", headers=p["mo2"]["h"]).json()
    assert s1["needs"][0]["unmet_mwh"] == 0.0
    assert abs(s2["needs"][0]["unmet_mwh"] - 2.0) < 1e-6  # 1 MW short for 2 hours
    assert {a["asset_id"] for a in s1["needs"][0]["assets"]} == {b1, d1}
    assert c.get(f"{API}/markets/{m1['id']}/schedule", headers=p["mo2"]["h"]).status_code == 404
    # Now the battery holds dynamic awards: a quick_reserve bid for the same periods is
    # flagged against them (the two products cannot stack under the default rules).
    v = c.post(f"{API}/bids/validate", headers=p["fsp1"]["h"], json={
        "need_id": n2, "asset_id": b1, "mw": [2.0] * 4, "availability_price": "10",
        "utilisation_price": "200"}).json()
    assert not v["eligible"] and [x["code"] for x in v["problems"]] == ["gate_closed"]
    assert [x["code"] for x in v["conflicts"]] == ["stacking_conflict"] * 4
    rejected = c.get(f"{API}/bids/{b1_n2}", headers=p["fsp1"]["h"]).json()
    assert rejected["status"] == "rejected"
    assert {r["code"] for r in rejected["reasons"]} & {"stacking_conflict", "primacy"}
    assert c.get(f"{API}/bids/{g1_n2}", headers=p["fsp3"]["h"]).json()["status"] == "accepted"
    assert c.get(f"{API}/bids/{d1_n1}", headers=p["fsp2"]["h"]).json()["status"] == "accepted"
    awards = c.get(f"{API}/awards", headers=p["fsp1"]["h"]).json()
    assert awards["total"] == 4 and {a["need_id"] for a in awards["items"]} == {n1}

    # After clearing the MO sees the bids on its own market, and only those.
    mo_bids = c.get(f"{API}/bids?market_id={m1['id']}", headers=p["mo1"]["h"]).json()
    assert {b["id"] for b in mo_bids["items"]} == {b1_n1, d1_n1}
    assert c.get(f"{API}/bids/{g1_n2}", headers=p["mo1"]["h"]).status_code == 404
    assert c.get(f"{API}/assets/{b1}", headers=p["mo1"]["h"]).status_code == 200
    assert c.get(f"{API}/assets/{g1}", headers=p["mo1"]["h"]).status_code == 404

    # The round itself: oversight sees it whole; a party only its own markets, and no
    # total objective (as /result hides the others' costs).
    whole = c.get(f"{API}/clearings/{rid}", headers=p["reg"]["h"]).json()
    assert set(whole["market_ids"]) == {m1["id"], m2["id"]} and whole["objective"] > 0
    for who, mine in (("mo2", [m2["id"]]), ("fsp2", [m1["id"]]), ("fsp1", [m1["id"], m2["id"]])):
        seen = c.get(f"{API}/clearings/{rid}", headers=p[who]["h"]).json()
        assert sorted(seen["market_ids"]) == sorted(mine) and seen["objective"] is None, who
        listed = c.get(f"{API}/clearings", headers=p[who]["h"]).json()
        assert [(r["id"], sorted(r["market_ids"]), r["objective"]) for r in listed] == \
            [(rid, sorted(mine), None)], who

    # Documents: the regulator gets the exact snapshot/result; an FSP only its part.
    full = c.get(f"{API}/clearings/{rid}/snapshot", headers=p["reg"]["h"]).json()
    assert not full["redacted"] and len(full["bids"]) == 4
    part = c.get(f"{API}/clearings/{rid}/snapshot", headers=p["fsp2"]["h"]).json()
    assert part["redacted"] and [b["id"] for b in part["bids"]] == [d1_n1]
    assert part["sha256_of_full_document"] == full["sha256"]
    result = c.get(f"{API}/clearings/{rid}/result", headers=p["reg"]["h"]).json()
    assert result["status"] in ("optimal", "feasible")
    from optimiser import clear, load_snapshot

    snap = {k: v for k, v in full.items() if k not in ("redacted", "sha256")}
    rerun = clear(load_snapshot(snap)).to_dict()
    assert abs(rerun["objective"] - result["objective"]) <= 1e-6 * max(1, abs(result["objective"]))

    # Notifications stored for everyone in the round, pushed and signed for fsp1.
    kinds = [n["kind"] for n in c.get(f"{API}/notifications", headers=p["mo2"]["h"]).json()]
    assert kinds == ["market.cleared"]
    # fsp1 may also have been told of the opportunity when the market opened
    # (market.opportunity, transparency/advice.py): the cleared push is the one checked.
    def cleared() -> list:
        return [(h, b) for h, b in _Hook.received
                if json.loads(b)["kind"] == "market.cleared"]

    deadline = time.time() + 30
    while not cleared() and time.time() < deadline:
        time.sleep(0.2)
    server.shutdown()
    assert cleared(), "webhook not delivered"
    headers, body = cleared()[0]
    expected = "sha256=" + hmac.new(hook["signing_secret"].encode(), body, hashlib.sha256).hexdigest()
    assert {k.lower(): v for k, v in headers.items()}["x-flex-signature"] == expected
    assert json.loads(body)["payload"]["round_id"] == rid

    # Running the round again changes nothing (idempotent task).
    before = c.get(f"{API}/awards", headers=p["reg"]["h"]).json()["total"]
    run_task("flex.competition.clear_round", round_id=rid)
    run_task("flex.competition.scan_gate_closures")
    assert c.get(f"{API}/awards", headers=p["reg"]["h"]).json()["total"] == before
    assert len(c.get(f"{API}/clearings", headers=p["reg"]["h"]).json()) == 1
    v = c.get(f"{API}/audit/verify", headers=p["reg"]["h"]).json()
    assert v["ok"], v
    # The result published the chain's head as it stood when the round was stored.
    head = result["audit_head"]
    stored = next(e for e in c.get(f"{API}/audit/events?entity_id={rid}",
                                   headers=p["reg"]["h"]).json() if e["action"] == "clearing.done")
    assert stored["prev_hash"] == head["hash"] and stored["seq"] == head["seq"] + 1
    assert stored["data"]["audit_head"] == head
