"""A real Celery worker SIGKILLed mid-settlement: the run is restarted by the calendar beat
on another worker; nothing is lost or doubled and the statements are byte-identical to a
clean run's.

Two ``celery worker --pool solo`` processes against Postgres and Redis, nothing mocked;
one meter per shard, so the run is a chord of two shards and a merge, and the first worker
is killed as soon as the run is taken (while its shards or merge run). The second worker
either carries on the chord's queued tasks (the run finishes in its first attempt) or, once
the lease has lapsed, the calendar beat restarts the run (a second attempt); either way
the statements are stored once.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.competition.conftest import live_postgres_url, migrate_and_seed, redis_url
from tests.competition.test_worker_killed import Worker
from tests.conftest import missing_service
from tests.reporting.settle_setup import API, DAY, build


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import os

    from flexplatform.db import reset_runtime

    if not redis_url():
        missing_service("no Redis configured for the real-worker run (FLEX_REDIS_URL)")
    url = live_postgres_url()
    settings = {
        "FLEX_DATABASE_URL": url, "FLEX_REDIS_URL": redis_url(),
        "FLEX_REDIS_KEY_PREFIX": f"flexkill-{uuid.uuid4().hex[:8]}:",
        "FLEX_TASK_ALWAYS_EAGER": "false", "FLEX_VAR_DIR": str(tmp_path),
        "FLEX_RUN_LEASE_SECONDS": "2", "FLEX_SETTLEMENT_SHARD_METERS": "1",
    }
    for k, v in settings.items():
        monkeypatch.setenv(k, v)
    reset_runtime()
    migrate_and_seed(url)
    yield {**os.environ, **settings}
    reset_runtime()


def _run(rid):
    from flexplatform.db import unit_of_work
    from flexplatform.reporting.settlement_models import SettlementRun

    with unit_of_work() as s:
        return s.get(SettlementRun, rid)


def _until(rid, ok, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _run(rid)
        if ok(run):
            return run
        time.sleep(0.02)
    raise AssertionError(f"run never {what}: {run.status} {run.error}")


def test_a_worker_killed_mid_settlement_loses_nothing(env, tmp_path: Path):
    from flexplatform.app import create_app
    from flexplatform.audit import AuditEvent
    from flexplatform.db import unit_of_work, utcnow
    from flexplatform.queue import enqueue
    from flexplatform.reporting.settlement_models import Invoice, Statement, Verification
    from settlement.schema import canonical_json

    first = second = None
    try:
        with TestClient(create_app()) as c:
            # The kill must land while the run is in flight. On a fast machine the run can
            # finish first; then the scenario is tried again on a fresh market (never a
            # skip: under CI this test must prove the recovery).
            for attempt in range(3):
                w = build(c, seq=4 + attempt)
                first = Worker(env, tmp_path / f"worker-1-{attempt}.log", "first")
                first.wait_ready()
                r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
                           json={"market_id": w.market_id, "day": DAY.isoformat()})
                assert r.status_code == 202, r.text
                rid = uuid.UUID(r.json()["id"])
                run = _until(rid, lambda x: x.status != "queued", 120, "taken")
                first.kill()
                run = _run(rid)
                if run.status != "done":
                    break
                first.stop()
            assert run.status == "running" and run.attempts == 1, \
                "the run finished before the kill landed, three times"
            mine = select(Statement.id).where(Statement.run_id == rid)
            with unit_of_work() as s:
                assert s.scalar(select(func.count()).select_from(mine.subquery())) == 0
            second = Worker(env, tmp_path / "worker-2.log", "second")
            # Either the second worker carries on the chord's queued shards and merge, or
            # the lease lapses and the calendar beat restarts the run (a second attempt).
            _until(rid, lambda x: x.status == "done" or (
                x.lease_expires_at is not None and x.lease_expires_at < utcnow()), 30, "lapsed")
            second.wait_ready()
            enqueue("flex.reporting.settlement_calendar")
            run = _until(rid, lambda x: x.status in ("done", "failed"), 120, "finished")
            assert run.status == "done" and run.attempts in (1, 2), (run.status, run.error)
            with unit_of_work() as s:
                assert s.scalar(select(func.count()).select_from(mine.subquery())) == 2
                assert s.scalar(select(func.count()).select_from(Invoice).where(
                    Invoice.statement_id.in_(mine))) == 2
                assert s.scalar(select(func.count()).select_from(AuditEvent).where(
                    AuditEvent.action == "settlement.run.done",
                    AuditEvent.entity_id == str(rid))) == 1
                keys = s.execute(select(Verification.instruction_id, Verification.period_start,
                                        Verification.version)).all()
                assert len(keys) == len(set(keys)) == 4 * (attempt + 1)  # 4 per market built
            r = c.post(f"{API}/settlement-runs", headers=w.h["mo"],
                       json={"market_id": w.market_id, "day": DAY.isoformat()})
            rid2 = uuid.UUID(r.json()["id"])
            clean = _until(rid2, lambda x: x.status in ("done", "failed"), 120, "finished")
            assert clean.status == "done" and clean.attempts == 1
            assert canonical_json(run.document["outputs"]["data"]["statements"]) == \
                canonical_json(clean.document["outputs"]["data"]["statements"])
    finally:
        if first is not None:
            first.stop()
        if second is not None:
            second.stop()
    log = (tmp_path / "worker-2.log").read_bytes()
    assert b"settle_shard" in log or b"merge_run" in log
