"""A clearing round that cannot be solved is recorded as failed, never left running."""

from __future__ import annotations

import uuid

from flexplatform.competition.models import ClearingRound, RoundStatus
from tests.competition.conftest import run_task


def test_solver_crash_fails_the_round(live, monkeypatch):
    from flexplatform.db import unit_of_work

    snap = {"version": 1, "period_minutes": 30, "periods": ["2026-06-01T00:00:00Z"],
            "assets": [], "needs": [], "bids": [], "rules": {}}
    with unit_of_work() as s:
        rnd = ClearingRound(market_ids=[], snapshot=snap, snapshot_sha256="x")
        s.add(rnd)
        s.flush()
        rid = rnd.id

    def boom(*a, **k):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("optimiser.clear", boom)  # the worker thread sees it too
    run_task("flex.competition.clear_round", round_id=str(rid))
    with unit_of_work() as s:
        rnd = s.get(ClearingRound, rid)
        assert rnd.status == RoundStatus.failed and "solver exploded" in rnd.error
        assert rnd.attempts == 1
    # Running it again does nothing: a failed round stays failed.
    run_task("flex.competition.clear_round", round_id=str(rid))
    with unit_of_work() as s:
        assert s.get(ClearingRound, rid).attempts == 1


def test_unknown_round_is_a_no_op(live):
    from flexplatform.competition import clearing
    from flexplatform.db import unit_of_work

    with unit_of_work() as s:
        assert clearing.prepare(s, uuid.uuid4()) is None


def _running_round(s, lease_s: float):
    import datetime as dt

    from flexplatform.db import utcnow

    snap = {"version": 1, "period_minutes": 30, "periods": ["2026-06-01T00:00:00Z"],
            "assets": [], "needs": [], "bids": [], "rules": {}}
    rnd = ClearingRound(market_ids=[], snapshot=snap, snapshot_sha256="x",
                        status=RoundStatus.running, attempts=1, started_at=utcnow(),
                        lease_expires_at=utcnow() + dt.timedelta(seconds=lease_s))
    s.add(rnd)
    s.flush()
    return rnd.id


def test_dead_worker_is_noticed_by_its_lease_and_the_round_rerun_once(live):
    """A worker killed whole stops renewing: the next scan restarts the round, once."""
    import datetime as dt

    from flexplatform.competition import clearing
    from flexplatform.db import unit_of_work, utcnow

    with unit_of_work() as s:
        alive = _running_round(s, lease_s=60)
        dead = _running_round(s, lease_s=-1)
    with unit_of_work() as s:
        due = clearing.close_gates(s)
    assert dead in due and alive not in due
    # A duplicate message for the live round does nothing while its lease holds.
    with unit_of_work() as s:
        assert clearing.prepare(s, alive) is None
    # The dead round runs again (attempt 2); if that worker dies too, the round fails.
    with unit_of_work() as s:
        assert clearing.prepare(s, dead) is not None
        rnd = s.get(ClearingRound, dead)
        assert rnd.attempts == 2 and rnd.lease_expires_at > utcnow()
        rnd.lease_expires_at = utcnow() - dt.timedelta(seconds=1)
    with unit_of_work() as s:
        assert dead not in clearing.close_gates(s)
    with unit_of_work() as s:
        rnd = s.get(ClearingRound, dead)
        assert rnd.status == RoundStatus.failed and "lost 2 times" in rnd.error


def test_heartbeat_renews_the_lease_while_the_solve_runs(live, monkeypatch):
    import time

    from flexplatform import runs
    from flexplatform.db import reset_runtime, unit_of_work

    monkeypatch.setenv("FLEX_RUN_LEASE_SECONDS", "1")
    reset_runtime()
    with unit_of_work() as s:
        rid = _running_round(s, lease_s=1)
    with runs.heartbeat(ClearingRound, rid, every=0.2):
        time.sleep(2.0)  # longer than the lease: only the heartbeat keeps it alive
        with unit_of_work() as s:
            assert runs.held(s.get(ClearingRound, rid))
    time.sleep(1.5)
    with unit_of_work() as s:
        assert not runs.held(s.get(ClearingRound, rid))
