"""End to end on committed data: an opened market tells the qualifying FSP (with advice),
a regulator's on-demand run flags a burst of bad keys, and the beat scan runs; tasks run
in-process and, where Redis is configured, on a real Celery worker."""

from __future__ import annotations

import datetime as dt
import time

from tests.competition.conftest import live, mode, run_task  # noqa: F401  (fixtures)
from tests.competition.test_e2e import _asset, _bootstrap

API = "/api/v1"


def _wait(fn, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    return fn()


def test_alerts_runs_and_scan_end_to_end(live):  # noqa: F811
    c = live["client"]
    p = _bootstrap(c)
    b1 = _asset(c, p["fsp1"]["h"], "Battery", 11, "battery", 2.0, energy=4.0)
    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(days=1)).replace(hour=16, minute=0, second=0, microsecond=0)
    r = c.post(f"{API}/markets", headers=p["mo1"]["h"], json={
        "name": "DSO sustain", "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
        "gate_close_at": (now + dt.timedelta(hours=2)).isoformat(),
        "delivery_start": start.isoformat(),
        "delivery_end": (start + dt.timedelta(hours=2)).isoformat(), "open": True,
        "needs": [{"name": "N", "product": "sustain", "zone": "CMZ_E2E", "direction": "up",
                   "mw": [1.0] * 4, "max_availability_price": "40",
                   "utilisation_price_cap": "300", "unmet_penalty": "900"}]})
    assert r.status_code == 201, r.text

    def alerts(who: str) -> list:
        return c.get(f"{API}/notifications?kind=market.opportunity",
                     headers=p[who]["h"]).json()

    (note,) = _wait(lambda: alerts("fsp1"))
    assert note["payload"]["asset_id"] == b1
    assert note["payload"]["advice"]["bids"][0]["need"] == r.json()["needs"][0]["id"]
    assert alerts("fsp2") == []  # no asset, no alert

    for _ in range(11):
        assert c.get(f"{API}/markets", headers={
            "Authorization": "Bearer fpk_0123456789ab.wrong"}).status_code == 401
    reg = p["reg"]["h"]
    run = c.post(f"{API}/monitoring/runs", headers=reg, json={
        "window_start": (now - dt.timedelta(hours=1)).isoformat(),
        "window_end": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat(),
        "rules": ["auth_failure_burst"]})
    assert run.status_code == 202, run.text
    rid = run.json()["id"]
    done = _wait(lambda: (x := c.get(f"{API}/monitoring/runs/{rid}", headers=reg).json())
                 ["status"] == "done" and x)
    assert done and done["flags_raised"] == 1, done
    (flag,) = c.get(f"{API}/monitoring/flags?rule=auth_failure_burst", headers=reg).json()["items"]
    assert flag["subject_kind"] == "key" and flag["evidence"]["burst"] == 11
    assert "0123456789ab" not in str(flag)

    run_task("flex.monitoring.scan")  # the beat entry: a scheduled run, then ratings

    def scheduled() -> list:
        from sqlalchemy import select

        from flexplatform.db import unit_of_work
        from flexplatform.transparency.monitoring_models import MonitoringRun

        with unit_of_work() as s:
            return [r.status for r in s.scalars(select(MonitoringRun).where(
                MonitoringRun.trigger == "scheduled"))]

    assert _wait(lambda: scheduled() == ["done"]), scheduled()
    # Same evidence, same flag: the scheduled run over the same failures added none.
    assert c.get(f"{API}/monitoring/flags?rule=auth_failure_burst",
                 headers=reg).json()["total"] == 1
