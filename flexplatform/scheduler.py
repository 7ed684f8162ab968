"""The periodic tasks, defined once: celery beat runs them, or, embedded, a thread here.

The embedded scheduler is only used when no Redis is configured, so a single
``flexplatform serve`` still closes gates, clears markets and signs audit checkpoints on
time. Each task has its own cadence; a task that fails is logged and tried again at its
next tick, so one bad run never stops the schedule.
"""

from __future__ import annotations

import logging
import threading
import time

from flexplatform.config import Settings, get_settings
from flexplatform.queue import enqueue

log = logging.getLogger(__name__)


def schedule(settings: Settings | None = None) -> dict[str, tuple[str, float]]:
    """Entry name -> (task name, seconds between runs)."""
    s = settings or get_settings()
    return {
        "gate-closure-scan": ("flex.competition.scan_gate_closures", s.gate_scan_seconds),
        "audit-checkpoint": ("flex.audit.checkpoint", s.audit_checkpoint_seconds),
        "operations-sweep": ("flex.operations.sweep", s.gate_scan_seconds),
        "operations-conflict-scan": ("flex.operations.conflict_scan", 15 * 60.0),
        "transfer-deadline-scan": ("flex.trading.scan_transfers", s.gate_scan_seconds),
        "transfer-approval-expiry": ("flex.trading.expire_approvals", s.gate_scan_seconds),
        "settlement-calendar": ("flex.reporting.settlement_calendar",
                                s.settlement_calendar_seconds),
        "dispute-reminders": ("flex.reporting.dispute_reminders", s.dispute_reminder_seconds),
        "transparency-report-scan": ("flex.transparency.scan_reports", 5 * 60.0),
        "market-monitoring": ("flex.monitoring.scan", s.monitoring_scan_seconds),
    }


class EmbeddedScheduler(threading.Thread):
    """Runs every scheduled task in-process at its cadence until :meth:`stop`."""

    def __init__(self, entries: dict[str, tuple[str, float]]):
        super().__init__(name="flex-embedded-beat", daemon=True)
        self.entries = entries
        self._stop_event = threading.Event()

    def run(self) -> None:
        due = dict.fromkeys(self.entries, time.monotonic())  # all run at start
        while not self._stop_event.is_set():
            now = time.monotonic()
            for key, (task, every) in self.entries.items():
                if now >= due[key]:
                    due[key] = now + every
                    try:
                        enqueue(task)
                    except Exception:  # keep the scheduler alive; the next tick retries
                        log.exception("scheduled task %s failed", task)
            self._stop_event.wait(max(0.0, min(due.values()) - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> None:
        self._stop_event.set()
        self.join(timeout)


def start_embedded_scheduler() -> EmbeddedScheduler:
    t = EmbeddedScheduler(schedule())
    t.start()
    return t
