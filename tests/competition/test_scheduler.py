"""The periodic tasks: one schedule for celery beat and the embedded scheduler.

Embedded (no Redis) ``flexplatform serve`` runs the beat schedule in a thread: gates close
and rounds clear on time, and audit checkpoints get signed, with nothing else running.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from flexplatform.config import Settings


@pytest.fixture(scope="module")
def mode() -> str:
    return "eager"  # the embedded scheduler is what runs when there is no worker


def test_beat_and_the_embedded_scheduler_share_one_schedule():
    from flexplatform.scheduler import schedule
    from workers.app import make_celery

    s = Settings(gate_scan_seconds=7, audit_checkpoint_seconds=11,
                 settlement_calendar_seconds=13, dispute_reminder_seconds=17)
    # Each stage adds its own entries (operations' sweep and conflict scan, reporting's
    # settlement calendar and dispute reminders).
    entries = schedule(s)
    assert entries["gate-closure-scan"] == ("flex.competition.scan_gate_closures", 7)
    assert entries["audit-checkpoint"] == ("flex.audit.checkpoint", 11)
    assert entries["operations-sweep"] == ("flex.operations.sweep", 7)
    assert entries["settlement-calendar"] == ("flex.reporting.settlement_calendar", 13)
    assert entries["dispute-reminders"] == ("flex.reporting.dispute_reminders", 17)
    assert entries["transparency-report-scan"] == ("flex.transparency.scan_reports", 300.0)
    assert entries["operations-sweep"] == ("flex.operations.sweep", 7)
    beat = make_celery().conf.beat_schedule
    assert {k: (v["task"], v["schedule"]) for k, v in beat.items()} == schedule()


def test_embedded_scheduler_closes_gates_clears_and_signs_checkpoints(live):
    from flexplatform.audit import AuditCheckpoint
    from flexplatform.competition.models import ClearingRound, Market
    from flexplatform.db import unit_of_work
    from flexplatform.scheduler import EmbeddedScheduler
    from tests.competition.hard_market import build

    with unit_of_work() as s:
        world = build(s, n_assets=8, gate_s=4)
    beat = EmbeddedScheduler({
        "gate-closure-scan": ("flex.competition.scan_gate_closures", 0.3),
        "audit-checkpoint": ("flex.audit.checkpoint", 0.5)})
    beat.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with unit_of_work() as s:
                statuses = {m.status.value for m in s.scalars(select(Market))}
                rounds = s.scalars(select(ClearingRound)).all()
                checkpoints = s.scalar(select(func.count()).select_from(AuditCheckpoint))
            if statuses == {"cleared"} and checkpoints >= 2:
                break
            time.sleep(0.2)
    finally:
        beat.stop()
    assert not beat.is_alive()
    assert statuses == {"cleared"} and len(rounds) == 1 and rounds[0].status.value == "done"
    assert rounds[0].created_at >= world["gate"]  # closed by the schedule, not before
    assert checkpoints >= 2  # one before the round, one after it moved the chain


def test_a_failing_task_does_not_stop_the_schedule(monkeypatch):
    from flexplatform import scheduler

    calls: list[str] = []

    def enqueue(name: str) -> None:
        calls.append(name)
        if name == "bad":
            raise RuntimeError("boom")

    monkeypatch.setattr(scheduler, "enqueue", enqueue)
    beat = scheduler.EmbeddedScheduler({"a": ("bad", 0.05), "b": ("good", 0.05)})
    beat.start()
    time.sleep(0.6)
    beat.stop()
    assert calls.count("bad") >= 3 and calls.count("good") >= 3
    assert not beat.is_alive()
