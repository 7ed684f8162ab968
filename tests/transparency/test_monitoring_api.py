"""Monitoring endpoints: the regulator's, 404 for what does not exist, 422 naming the field."""

from __future__ import annotations

import datetime as dt
import uuid

from flexplatform.transparency import monitoring
from tests.transparency.monitoring_world import API, T0


def _plant_unmet(world):
    for k in range(3):
        _, n, r = world.market(T0 + k * dt.timedelta(hours=2), periods=1)
        world.outcome(r, n, T0 + k * dt.timedelta(hours=2), unmet=1.0)
    world.db.commit()


def test_regulator_runs_the_rules_and_reads_the_flag(client, world, db, make_party):
    reg = make_party("regulator")
    _plant_unmet(world)
    body = {"window_start": "2026-11-19T00:00:00Z", "window_end": "2026-11-22T00:00:00Z",
            "rules": ["persistent_unmet"]}
    r = client.post(f"{API}/monitoring/runs", json=body, headers=reg.h)
    assert r.status_code == 202, r.text
    run_id = uuid.UUID(r.json()["id"])
    monitoring.execute(db, run_id)  # what the worker does (here in the test's transaction)
    db.commit()
    run = client.get(f"{API}/monitoring/runs/{run_id}", headers=reg.h).json()
    assert run["status"] == "done" and run["flags_raised"] == 1
    flags = client.get(f"{API}/monitoring/flags?rule=persistent_unmet", headers=reg.h).json()
    assert flags["total"] == 1
    f = flags["items"][0]
    assert f["subject_id"] == "CMZ_NORTH/sustain/up" and len(f["evidence"]["unmet_needs"]) == 3
    one = client.get(f"{API}/monitoring/flags/{f['id']}", headers=reg.h)
    assert one.status_code == 200 and one.json()["run_id"] == str(run_id)
    rules = client.get(f"{API}/monitoring/rules", headers=reg.h).json()
    assert {x["rule"] for x in rules} >= {"baseline_inflation", "auth_failure_burst"}


def test_participants_cannot_see_monitoring(client, make_party, world):
    for role in ("fsp", "mo"):
        p = make_party(role)
        assert client.get(f"{API}/monitoring/flags", headers=p.h).status_code == 403
        assert client.post(f"{API}/monitoring/runs", json={}, headers=p.h).status_code == 403


def test_unknown_run_and_flag_are_404(client, make_party):
    reg = make_party("regulator")
    for path in ("runs", "flags"):
        r = client.get(f"{API}/monitoring/{path}/{uuid.uuid4()}", headers=reg.h)
        assert r.status_code == 404 and r.headers["content-type"].startswith(
            "application/problem+json")


def test_bad_run_requests_name_the_field(client, make_party):
    reg = make_party("regulator")
    r = client.post(f"{API}/monitoring/runs", json={"rules": ["no_such_rule"]}, headers=reg.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/rules/0"
    r = client.post(f"{API}/monitoring/runs", headers=reg.h,
                    json={"window_start": "2026-11-20T00:00:00Z",
                          "window_end": "2026-11-19T00:00:00Z"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/window_end"
    r = client.post(f"{API}/monitoring/runs", headers=reg.h,
                    json={"window_start": "2026-11-20T00:00:00Z"})
    assert r.status_code == 422


def test_scheduled_scan_is_on_the_beat():
    from flexplatform.scheduler import schedule

    assert schedule()["market-monitoring"][0] == "flex.monitoring.scan"


def test_a_run_whose_message_was_lost_is_found_by_the_scan(db, make_party):
    """A run still queued long after it was asked for is queued again by the beat scan."""
    import datetime as dt

    from flexplatform.db import utcnow
    from flexplatform.transparency import monitoring
    from flexplatform.transparency.monitoring_models import MonitoringRun

    w = monitoring.default_window(days=1)
    old = MonitoringRun(trigger="scheduled", window_start=w.start, window_end=w.end, rules=[],
                        created_at=utcnow() - dt.timedelta(hours=1))
    new = MonitoringRun(trigger="scheduled", window_start=w.start, window_end=w.end, rules=[])
    done = MonitoringRun(trigger="scheduled", window_start=w.start, window_end=w.end, rules=[],
                         status="done", created_at=utcnow() - dt.timedelta(hours=1))
    db.add_all([old, new, done])
    db.flush()
    assert monitoring.lost_runs(db) == [old.id]
    assert monitoring.execute(db, old.id).status == "done"
    assert monitoring.lost_runs(db) == []
