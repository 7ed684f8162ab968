"""One transfer end to end over the API on committed data: a market cleared by a round, the
holder's contract offered after an outage, two offers, the Celery task picking them with
the clearing engine (in-process, and on a real worker where Redis is configured), new
contracts and the payments settlement collects."""

from __future__ import annotations

import datetime as dt
import time

from tests.competition.test_e2e import _asset, _bootstrap

API = "/api/v1"


def _wait(c, url, h, done, timeout=90):
    deadline = time.time() + timeout
    body = None
    while time.time() < deadline:
        body = c.get(url, headers=h).json()
        if done(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"timed out: {body}")


def test_transfer_end_to_end(live):
    c = live["client"]
    p = _bootstrap(c)
    holder = _asset(c, p["fsp1"]["h"], "Battery", 11, "battery", 2.0, energy=4.0)
    taker = _asset(c, p["fsp2"]["h"], "Cold store DSR", 12, "industrial_dsr", 1.5)
    cheap = _asset(c, p["fsp3"]["h"], "Gas engine", 13, "generator", 1.0, emission=0.45)

    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=1)).replace(hour=16, minute=0, second=0, microsecond=0)
    gate = now + dt.timedelta(seconds=3)
    r = c.post(f"{API}/markets", headers=p["mo1"]["h"], json={
        "name": "DSO sustain", "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
        "gate_close_at": gate.isoformat(), "delivery_start": start.isoformat(),
        "delivery_end": (start + dt.timedelta(hours=1)).isoformat(), "open": True,
        "needs": [{"product": "sustain", "zone": "CMZ_E2E", "direction": "up",
                   "mw": [2.0, 2.0], "max_availability_price": "100",
                   "utilisation_price_cap": "500", "expected_utilisation": 0.1,
                   "unmet_penalty": "1000"}]})
    assert r.status_code == 201, r.text
    market = r.json()
    bid = c.post(f"{API}/bids", headers=p["fsp1"]["h"], json={
        "need_id": market["needs"][0]["id"], "asset_id": holder, "mw": [2.0, 2.0],
        "availability_price": "20", "utilisation_price": "200"})
    assert bid.status_code == 201, bid.text
    while dt.datetime.now(dt.UTC) < gate:
        time.sleep(0.2)
    c.post(f"{API}/clearings/run", headers=p["admin"]["h"]).raise_for_status()
    _wait(c, f"{API}/clearings", p["reg"]["h"],
          lambda b: bool(b) and b[0]["status"] in ("done", "failed", "held"))
    awards = c.get(f"{API}/awards", headers=p["fsp1"]["h"]).json()["items"]
    assert [a["mw"] for a in awards] == [2.0, 2.0]

    # An outage: the holder offers both periods; two FSPs offer to take them over.
    t = c.post(f"{API}/transfers", headers=p["fsp1"]["h"], json={
        "contracts": [{"contract_id": a["id"]} for a in awards], "reason": "inverter fault",
        "offer_deadline": (start - dt.timedelta(hours=2)).isoformat()})
    assert t.status_code == 201, t.text
    tid = t.json()["id"]
    for h, asset, mw, price in ((p["fsp2"]["h"], taker, 1.5, "26"),
                                (p["fsp3"]["h"], cheap, 1.0, "15")):
        r = c.post(f"{API}/transfers/{tid}/offers", headers=h, json={
            "asset_id": asset, "mw": [mw, mw], "price": price})
        assert r.status_code == 201, r.text
    assert c.post(f"{API}/transfers/{tid}/close", headers=p["fsp1"]["h"]).status_code == 200
    done = _wait(c, f"{API}/transfers/{tid}", p["fsp1"]["h"],
                 lambda b: b["status"] not in ("open", "clearing"))
    assert done["status"] == "completed" and done["covered"] == [2.0, 2.0], done

    mine = c.get(f"{API}/awards", headers=p["fsp1"]["h"]).json()["items"]
    assert sorted(a["status"] for a in mine) == ["transferred", "transferred"]
    got = {who: c.get(f"{API}/awards", headers=p[who]["h"]).json()["items"]
           for who in ("fsp2", "fsp3")}
    assert {a["transferred_from_id"] for a in got["fsp2"] + got["fsp3"]} == \
        {a["id"] for a in awards}
    assert sum(a["mw"] for a in got["fsp2"] + got["fsp3"]) == 4.0
    # The MO's schedule shows the holders of record, 2 MW a period as before.
    sched = c.get(f"{API}/markets/{market['id']}/schedule", headers=p["mo1"]["h"]).json()
    assets = {a["asset_id"] for a in sched["needs"][0]["assets"]}
    assert assets == {taker, cheap}
    pays = c.get(f"{API}/transfer-payments", headers=p["reg"]["h"]).json()["items"]
    assert pays and all(x["status"] == "pending" for x in pays)
    run = c.get(f"{API}/transfers/{tid}/clearing", headers=p["reg"]["h"]).json()
    assert run["status"] == "done" and len(run["snapshot_sha256"]) == 64
