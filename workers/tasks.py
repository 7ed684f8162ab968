"""Celery tasks: load through flexplatform services, run the engines, store results.

Every task is idempotent (its effects are keyed by ids and guarded by state), which is what
makes ``acks_late`` safe: a redelivered message after a worker died repeats nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import chord, group, shared_task

from flexplatform import audit, notifications, runs
from flexplatform.competition import clearing, finality
from flexplatform.competition.models import ClearingRound
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


def _options(time_limit: float | None = None) -> Any:
    from optimiser import ClearingOptions

    s = get_settings()
    return ClearingOptions(time_limit=time_limit or s.solver_time_limit,
                           mip_rel_gap=s.solver_mip_gap)


def _solve(doc: dict[str, Any], time_limit: float | None = None) -> dict[str, Any]:
    """Solve one snapshot document; a crash becomes an ``error`` result, never a lost part."""
    from optimiser import ClearingResult, clear, load_snapshot

    try:
        return clear(load_snapshot(doc), _options(time_limit)).to_dict()
    except Exception as e:
        log.exception("solver failed")
        return ClearingResult(status="error", message=f"solver failed: {e!r}").to_dict()


def _pack(parts: list[Any], k: int) -> list[Any]:
    """Independent parts packed into at most ``k`` snapshots of similar size (largest first,
    ``optimiser.components.pack``)."""
    from optimiser import Snapshot
    from optimiser.components import pack

    if len(parts) <= 1 or k <= 1:
        return parts
    bins = pack([len(p.bids) + len(p.needs) for p in parts], k)
    first = parts[0]
    return [Snapshot(version=first.version, period_minutes=first.period_minutes,
                     periods=first.periods,
                     assets=tuple(a for i in b for a in parts[i].assets),
                     needs=tuple(n for i in b for n in parts[i].needs),
                     bids=tuple(x for i in b for x in parts[i].bids), rules=first.rules)
            for b in bins]


@shared_task(name="flex.competition.clear_round", acks_late=True)
def clear_round(round_id: str) -> dict:
    """Freeze the snapshot, then solve it whole or fan its independent parts out.

    Fan-out is a chord (group of part solves, then one store), so no task ever waits on
    another; the chord needs the result backend, which the Redis URL provides.
    """
    from optimiser import SnapshotError, load_snapshot, split_components

    rid = uuid.UUID(round_id)
    with unit_of_work() as s:
        snapshot = clearing.prepare(s, rid)
        # The default limit, or more for a re-run after a result that was not final.
        limit = finality.time_limit(s.get(ClearingRound, rid)) if snapshot else None
    if snapshot is None:
        return {"round": round_id, "skipped": True}
    try:
        snap = load_snapshot(snapshot)
    except SnapshotError as e:
        with unit_of_work() as s:
            clearing.fail(s, rid, str(e))
        return {"round": round_id, "status": "failed"}
    parts = _pack(split_components(snap), get_settings().clearing_fanout)
    if len(parts) > 1:
        chord(group(solve_part.s(p.to_dict(), round_id=round_id, time_limit=limit)
                    for p in parts))(store_round.s(round_id=round_id))
        return {"round": round_id, "parts": len(parts)}
    with runs.heartbeat(ClearingRound, rid):
        result = _solve(snapshot, limit)
    return store_round([result], round_id)


@shared_task(name="flex.competition.solve_part", acks_late=True)
def solve_part(snapshot: dict[str, Any], round_id: str | None = None,
               time_limit: float | None = None) -> dict[str, Any]:
    """One independent part; it keeps the round's lease alive while it solves."""
    if round_id is None:
        return _solve(snapshot, time_limit)
    with runs.heartbeat(ClearingRound, uuid.UUID(round_id)):
        return _solve(snapshot, time_limit)


@shared_task(name="flex.competition.store_round", acks_late=True)
def store_round(results: list[dict[str, Any]], round_id: str) -> dict:
    """Merge the parts' results and store the round (a second delivery stores nothing)."""
    from optimiser import ClearingResult, merge_results

    if len(results) == 1:
        doc = results[0]
    else:
        doc = merge_results([ClearingResult.from_dict(r) for r in results]).to_dict()
    with unit_of_work() as s:
        clearing.store(s, uuid.UUID(round_id), doc, parts=len(results))
    return {"round": round_id, "status": doc["status"], "objective": doc.get("objective")}


@shared_task(name="flex.notifications.deliver", acks_late=True, bind=True,
             max_retries=notifications.MAX_RETRIES)
def deliver_notification(self, notification_id: str) -> str:  # type: ignore[no-untyped-def]
    """Push one notification; a failed push is retried with exponential backoff (on a
    worker: in-process, a retry would block the request that enqueued it)."""
    with unit_of_work() as s:
        status = notifications.deliver(s, uuid.UUID(notification_id))
    if status == "failed" and not get_settings().eager \
            and self.request.retries < notifications.MAX_RETRIES:
        raise self.retry(countdown=notifications.retry_delay(self.request.retries))
    return status


@shared_task(name="flex.audit.checkpoint", acks_late=True)
def audit_checkpoint() -> int | None:
    """Beat entry: sign the audit chain's head (see flexplatform.audit)."""
    with unit_of_work() as s:
        cp = audit.write_checkpoint(s)
        return cp.seq if cp else None
