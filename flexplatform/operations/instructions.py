"""Instructions to FSPs: listing, acknowledgement, and the sweep for missed deadlines.

A rejection or a lapsed deadline frees the asset's MW for the instruction's periods and
queues a re-dispatch over those periods; the re-dispatch snapshot leaves that asset out
(:mod:`flexplatform.operations.runs`), so the MO's request is covered by someone else or
shows its shortfall.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform import runs as leases
from flexplatform.auth import Principal
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, NotFound, field_error
from flexplatform.notifications import notify
from flexplatform.operations.models import (
    DispatchRun,
    Instruction,
    UtilisationRequest,
)
from flexplatform.operations.rules import rules_for
from flexplatform.operations.runs import queue_run

SYSTEM = audit.Actor.system()


def instructions_between(session: Session, start: dt.datetime, end: dt.datetime, *,
                         fsp_id: uuid.UUID | None = None, mo_id: uuid.UUID | None = None,
                         status: str | Sequence[str] | None = None) -> list[Instruction]:
    """Instructions whose period starts in ``[start, end)`` (settlement and reporting)."""
    q = select(Instruction).where(Instruction.period_start >= start,
                                  Instruction.period_start < end)
    if fsp_id is not None:
        q = q.where(Instruction.fsp_id == fsp_id)
    if mo_id is not None:
        q = q.where(Instruction.mo_id == mo_id)
    if isinstance(status, str):
        q = q.where(Instruction.status == status)
    elif status is not None:
        q = q.where(Instruction.status.in_(list(status)))
    return list(session.scalars(q.order_by(Instruction.period_start, Instruction.id)))


def visible(session: Session, who: Principal, *, status: str | None, request_id: uuid.UUID |
            None, limit: int, offset: int) -> tuple[list[Instruction], int]:
    q = select(Instruction)
    if who.is_("fsp"):
        q = q.where(Instruction.fsp_id == who.id)
    elif who.is_("mo"):
        q = q.where(Instruction.mo_id == who.id)
    if status:
        q = q.where(Instruction.status == status)
    if request_id:
        q = q.where(Instruction.request_id == request_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Instruction.period_start, Instruction.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def get(session: Session, instruction_id: uuid.UUID, who: Principal) -> Instruction:
    i = session.get(Instruction, instruction_id)
    if i is None or (who.is_("fsp") and i.fsp_id != who.id) \
            or (who.is_("mo") and i.mo_id != who.id):
        raise NotFound(f"instruction {instruction_id} not found")
    return i


def acknowledge(session: Session, instruction_id: uuid.UUID, accept: bool,
                reason: str | None, who: Principal, now: dt.datetime | None = None
                ) -> Instruction:
    now = now or utcnow()
    i = session.scalar(select(Instruction).where(Instruction.id == instruction_id)
                       .with_for_update())
    if i is None or i.fsp_id != who.id:
        raise NotFound(f"instruction {instruction_id} not found")
    if i.status != "issued":
        raise Conflict(f"the instruction is already {i.status}", errors=[
            field_error("decision", f"instruction is {i.status}", rule="ack_once")])
    if now > i.ack_deadline:
        raise Conflict(f"the acknowledgement deadline passed at "
                       f"{i.ack_deadline:%Y-%m-%dT%H:%M:%SZ}", errors=[field_error(
                           "decision", "acknowledgement after the deadline",
                           rule="ack_deadline", ack_deadline=i.ack_deadline.isoformat())],
                       ack_deadline=i.ack_deadline.isoformat())
    i.acked_at = now
    if accept:
        i.status = "accepted"
        _maybe_accepted(session, i.request_id)
    else:
        i.status, i.reject_reason = "rejected", (reason or "").strip()[:300]
    audit.record(session, who.actor, f"instruction.{i.status}", "instruction", i.id,
                 {"reason": i.reject_reason})
    notify(session, i.mo_id, f"instruction.{i.status}", {
        "instruction_id": str(i.id), "request_id": str(i.request_id),
        "asset_id": str(i.asset_id), "period_start": i.period_start.isoformat(),
        "mw": i.mw, "reason": i.reject_reason}, dedupe_key=f"instruction.ack:{i.id}")
    if not accept:
        redispatch(session, [i])
    return i


def _maybe_accepted(session: Session, request_id: uuid.UUID) -> None:
    req = session.get(UtilisationRequest, request_id)
    if req is None or req.status != "dispatched":
        return
    pending = session.scalar(select(func.count()).select_from(Instruction).where(
        Instruction.request_id == request_id, Instruction.status == "issued"))
    if not pending:
        req.status = "accepted"


def redispatch(session: Session, lost: list[Instruction]) -> DispatchRun | None:
    """Queue one run over the periods the lost instructions leave open."""
    lost = [i for i in lost if i.period_end > utcnow()]
    if not lost:
        return None
    start = min(i.period_start for i in lost)
    end = max(i.period_end for i in lost)
    run = queue_run(session, "redispatch", start, end, sorted({i.request_id for i in lost}))
    run.excluded_asset_ids = sorted({str(i.asset_id) for i in lost})
    return run


def sweep(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: expire missed acknowledgements (and re-dispatch), start due day-ahead batches,
    restart runs whose message or worker was lost."""
    now = now or utcnow()
    missed = session.scalars(select(Instruction).where(
        Instruction.status == "issued", Instruction.ack_deadline < now)
        .order_by(Instruction.id).with_for_update()).all()
    for i in missed:
        i.status = "expired"
        notify(session, i.fsp_id, "instruction.expired", {
            "instruction_id": str(i.id), "ack_deadline": i.ack_deadline.isoformat()},
            dedupe_key=f"instruction.expired:{i.id}")
        notify(session, i.mo_id, "instruction.expired", {
            "instruction_id": str(i.id), "request_id": str(i.request_id),
            "asset_id": str(i.asset_id)}, dedupe_key=f"instruction.expired.mo:{i.id}")
    if missed:
        audit.record(session, SYSTEM, "instruction.expired", "instruction", None,
                     {"count": len(missed)})
        redispatch(session, list(missed))
    batched = _batches(session, now)
    restarted = _restart(session, now)
    return {"expired": len(missed), "batched": batched, "restarted": restarted}


def _batches(session: Session, now: dt.datetime) -> int:
    from flexplatform.governance.models import Product

    waiting = session.scalars(select(UtilisationRequest).where(
        UtilisationRequest.mode == "scheduled", UtilisationRequest.status == "requested",
        UtilisationRequest.last_run_id.is_(None)).order_by(UtilisationRequest.created_at)
        .with_for_update()).all()
    rules = {p.code: rules_for(p) for p in session.scalars(select(Product))}
    due = [r for r in waiting if rules[r.product_code].batch_at(r.period_start) <= now]
    if not due:
        return 0
    run = queue_run(session, "scheduled", min(r.period_start for r in due),
                    max(r.period_end for r in due), [r.id for r in due])
    for r in due:
        r.last_run_id = run.id
    return len(due)


def _restart(session: Session, now: dt.datetime) -> int:
    """A queued run whose message was lost or a running one whose worker died."""
    from flexplatform.operations.runs import RUN_TASK, fail

    stale = session.scalars(select(DispatchRun).where(
        ((DispatchRun.status == "queued") & (DispatchRun.created_at < now - dt.timedelta(
            seconds=30))) | leases.lapsed(DispatchRun, now)).order_by(DispatchRun.created_at)
    ).all()
    n = 0
    for run in stale:
        if run.status == "running" and leases.exhausted(run):
            fail(session, run.id, f"the dispatching worker was lost {run.attempts} times")
            continue
        rid = str(run.id)

        def go(rid: str = rid) -> None:
            from flexplatform.queue import enqueue

            enqueue(RUN_TASK, run_id=rid)

        from flexplatform.db import after_commit

        after_commit(session, go)
        n += 1
    return n
