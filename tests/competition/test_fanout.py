"""Independent markets in one round are solved as separate parts (a Celery chord) and
stored as one result, the same as solving the round whole."""

from __future__ import annotations

import datetime as dt
import time

from flexplatform.registration.mpan import make_mpan
from tests.competition.test_e2e import API, _bootstrap


def _market_day(c, p, zones):
    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=1)).replace(hour=17, minute=0, second=0, microsecond=0)
    gate = now + dt.timedelta(seconds=3)
    for i, (zone, mo, fsp) in enumerate(zones):
        c.put(f"{API}/zones/{zone}", headers=p["admin"]["h"],
              json={"code": zone, "name": zone, "kind": "cmz"}).raise_for_status()
        assets = []
        for j in range(3):
            r = c.post(f"{API}/assets", headers=p[fsp]["h"], json={
                "name": f"{zone} DSR {j}", "mpan": make_mpan(f"16{i:02d}000{j:05d}"),
                "zone": zone, "technology": "industrial_dsr", "up_mw": 1.0})
            assert r.status_code == 201, r.text
            assets.append(r.json()["id"])
        m = c.post(f"{API}/markets", headers=p[mo]["h"], json={
            "name": f"{zone} sustain", "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
            "gate_close_at": gate.isoformat(), "delivery_start": start.isoformat(),
            "delivery_end": (start + dt.timedelta(hours=1)).isoformat(), "open": True,
            "needs": [{"product": "sustain", "zone": zone, "direction": "up", "mw": [2.0, 2.5],
                       "max_availability_price": "80", "utilisation_price_cap": "400",
                       "unmet_penalty": "1000"}]}).json()
        rows = [{"need_id": m["needs"][0]["id"], "asset_id": a, "mw": [1.0, 1.0],
                 "availability_price": str(10 + 5 * j), "utilisation_price": "100"}
                for j, a in enumerate(assets)]
        c.post(f"{API}/bids/bulk", headers=p[fsp]["h"], json={"bids": rows}).raise_for_status()
    while dt.datetime.now(dt.UTC) < gate:
        time.sleep(0.2)
    c.post(f"{API}/clearings/run", headers=p["admin"]["h"]).raise_for_status()
    deadline = time.time() + 90
    while time.time() < deadline:
        rounds = c.get(f"{API}/clearings", headers=p["reg"]["h"]).json()
        if rounds and rounds[0]["status"] in ("done", "failed", "held"):
            return rounds[0]
        time.sleep(0.3)
    raise AssertionError("round did not finish")


def test_independent_markets_fan_out(live):
    c = live["client"]
    p = _bootstrap(c)
    rnd = _market_day(c, p, [("CMZ_FAN_A", "mo1", "fsp1"), ("CMZ_FAN_B", "mo2", "fsp2")])
    assert rnd["status"] == "done", rnd
    assert rnd["timing"]["parts"] == 2
    result = c.get(f"{API}/clearings/{rnd['id']}/result", headers=p["reg"]["h"]).json()
    # Each zone: 2 MW then 2.5 MW from three 1 MW assets at 10, 15, 20 GBP/MW/h.
    assert len(result["unmet"]) == 0
    assert abs(result["cost"]["availability"] - 2 * (0.5 * (10 + 15) + 0.5 * (10 + 15 + 10))) < 1e-6
    snap = c.get(f"{API}/clearings/{rnd['id']}/snapshot", headers=p["reg"]["h"]).json()
    from optimiser import clear, load_snapshot

    whole = clear(load_snapshot({k: v for k, v in snap.items()
                                 if k not in ("redacted", "sha256")})).to_dict()
    assert abs(whole["objective"] - result["objective"]) < 1e-6
    for mo in ("mo1", "mo2"):
        mid = c.get(f"{API}/markets", headers=p[mo]["h"]).json()["items"][0]["id"]
        sched = c.get(f"{API}/markets/{mid}/schedule", headers=p[mo]["h"]).json()
        assert sched["needs"][0]["unmet_mwh"] == 0.0
