"""Celery tasks: load through flexplatform services, run the engines, store results.

Every task is idempotent (its effects are keyed by ids and guarded by state), which is what
makes ``acks_late`` safe: a redelivered message after a worker died repeats nothing.
"""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from flexplatform.competition import clearing, notifications
from flexplatform.config import get_settings
from flexplatform.db import after_commit, unit_of_work
from flexplatform.queue import enqueue

log = logging.getLogger(__name__)


@shared_task(name="flex.competition.scan_gate_closures", acks_late=True)
def scan_gate_closures() -> list[str]:
    """Beat entry: close due gates into a round and (re)start rounds that need it."""
    with unit_of_work() as s:
        rounds = clearing.close_gates(s)
        ids = [str(r) for r in rounds]
        after_commit(s, lambda: [enqueue("flex.competition.clear_round", round_id=i) for i in ids])
    return ids


@shared_task(name="flex.competition.clear_round", acks_late=True, bind=True, max_retries=3)
def clear_round(self, round_id: str) -> dict:  # type: ignore[no-untyped-def]
    from optimiser import ClearingOptions, SnapshotError, clear, load_snapshot

    rid = uuid.UUID(round_id)
    with unit_of_work() as s:
        snapshot = clearing.prepare(s, rid)
    if snapshot is None:
        return {"round": round_id, "skipped": True}
    settings = get_settings()
    try:
        snap = load_snapshot(snapshot)
    except SnapshotError as e:
        with unit_of_work() as s:
            clearing.fail(s, rid, str(e))
        return {"round": round_id, "status": "failed"}
    try:
        result = clear(snap, ClearingOptions(time_limit=settings.solver_time_limit,
                                             mip_rel_gap=settings.solver_mip_gap))
    except Exception as e:  # a solver crash is the round's outcome, recorded, not retried
        log.exception("clearing round %s: solver failed", round_id)
        with unit_of_work() as s:
            clearing.fail(s, rid, f"solver failed: {e!r}")
        return {"round": round_id, "status": "failed"}
    doc = result.to_dict()
    with unit_of_work() as s:
        clearing.store(s, rid, doc)
    return {"round": round_id, "status": doc["status"], "objective": doc.get("objective")}


@shared_task(name="flex.notifications.deliver", acks_late=True, bind=True, max_retries=5)
def deliver_notification(self, notification_id: str) -> str:  # type: ignore[no-untyped-def]
    with unit_of_work() as s:
        status = notifications.deliver(s, uuid.UUID(notification_id))
    if status == "failed" and not get_settings().eager:
        raise self.retry(countdown=min(600, 10 * 2**self.request.retries))
    return status
