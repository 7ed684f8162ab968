"""A worker lost mid-settlement: it took the run and stored one of two shards, then stopped
renewing its lease. The calendar beat restarts the run; nothing is lost or doubled, and
the statements are byte-identical to a clean run's.

The loss is the state a SIGKILLed worker leaves (a running run, a lapsed lease, a shard
stored, no merge), set up directly; the restart runs eagerly and on a real worker.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from sqlalchemy import func, select

from tests.competition.conftest import live, mode, run_task  # noqa: F401  (fixtures)
from tests.reporting.settle_setup import API, DAY, build


def _run(rid):
    from flexplatform.db import unit_of_work
    from flexplatform.reporting.settlement_models import SettlementRun

    with unit_of_work() as s:
        return s.get(SettlementRun, rid)


def test_a_lost_worker_loses_nothing_and_the_rerun_is_identical(live, monkeypatch):  # noqa: F811
    from flexplatform.audit import AuditEvent
    from flexplatform.db import unit_of_work
    from flexplatform.reporting import settle_inputs
    from flexplatform.reporting import settlement_service as svc
    from flexplatform.reporting.settlement_models import (
        Invoice,
        SettlementRun,
        SettlementShard,
        Statement,
    )
    from settlement.schema import canonical_json

    monkeypatch.setattr(settle_inputs, "SHARD_METERS", 1)
    c = live["client"]
    w = build(c, seq=3)
    market = uuid.UUID(w.market_id)
    with unit_of_work() as s:
        rid = svc.create_run(s, market, DAY, None).id
    with unit_of_work() as s:  # the worker takes it...
        _, plan = svc.prepare(s, rid)
    assert len(plan) == 2
    with unit_of_work() as s:  # ...stores one shard...
        svc.settle_one_shard(s, rid, 0)
    with unit_of_work() as s:  # ...and dies: its lease lapses
        s.get(SettlementRun, rid).lease_expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(1)
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 0
        assert s.scalar(select(func.count()).select_from(SettlementShard)) == 1
    run_task("flex.reporting.settlement_calendar")
    t0 = time.monotonic()
    while _run(rid).status not in ("done", "failed"):
        assert time.monotonic() - t0 < 60, "the run was never restarted"
        time.sleep(0.2)
    run = _run(rid)
    assert run.status == "done" and run.attempts == 2, (run.status, run.error)
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 2
        assert s.scalar(select(func.count()).select_from(Invoice)) == 2
        assert s.scalar(select(func.count()).select_from(SettlementShard)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "settlement.run.done", AuditEvent.entity_id == str(rid))) == 1
    # a clean re-run (the next version, nothing lost) gives byte-identical statements
    r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
               json={"market_id": w.market_id, "day": DAY.isoformat()})
    assert r.status_code == 202, r.text
    rid2 = uuid.UUID(r.json()["id"])
    t0 = time.monotonic()
    while _run(rid2).status not in ("done", "failed"):
        assert time.monotonic() - t0 < 60
        time.sleep(0.2)
    clean = _run(rid2)
    assert clean.status == "done" and clean.attempts == 1
    first = canonical_json(run.document["outputs"]["data"]["statements"])
    second = canonical_json(clean.document["outputs"]["data"]["statements"])
    assert first == second
    assert run.document["inputs"]["readings"]["sha256"] == \
        clean.document["inputs"]["readings"]["sha256"]
