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
