"""Disputes: the FSP's route to recourse on a statement line.

raised (FSP, on an issued statement; the statement becomes disputed) -> the MO responds
before the deadline: accepted (an adjustment line and its own numbered document) or
rejected (with a reason) -> either party may escalate a rejected dispute, or one the MO
left past its deadline -> the platform (admin), independent of both, decides: resolved,
with the amount awarded (0 is a dismissal). Every step is audited and notified; the
regulator reads every dispute. The statement returns to issued when no dispute of it is
open, and the FSP may then accept it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.identity import Participant, Role
from flexplatform.notifications import notify
from flexplatform.reporting import settle_inputs
from flexplatform.reporting.settlement_models import Dispute, Statement, StatementLine
from flexplatform.reporting.settlement_service import add_adjustment, get_statement

OPEN = ("raised", "rejected", "escalated")
REMIND_BEFORE = dt.timedelta(hours=24)


def _visible(d: Dispute, who: Principal) -> bool:
    return who.is_("admin", "regulator") or who.id in (d.fsp_id, d.mo_id)


def get(session: Session, did: uuid.UUID, who: Principal, lock: bool = False) -> Dispute:
    d = session.get(Dispute, did, with_for_update=lock)
    if d is None or not _visible(d, who):
        raise NotFound("dispute not found")
    return d


def list_for(session: Session, who: Principal, limit: int, offset: int,
             status: str | None = None) -> tuple[list[Dispute], int]:
    q = select(Dispute)
    if who.is_("fsp"):
        q = q.where(Dispute.fsp_id == who.id)
    elif who.is_("mo"):
        q = q.where(Dispute.mo_id == who.id)
    if status:
        q = q.where(Dispute.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Dispute.created_at.desc(), Dispute.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def _tell(session: Session, d: Dispute, step: str, *to: uuid.UUID) -> None:
    for p in to:
        notify(session, p, f"dispute.{step}", {"dispute_id": str(d.id),
                                                "statement_id": str(d.statement_id),
                                                "status": d.status},
               f"dispute.{step}:{d.id}:{p}")


def _admins(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(Participant.id).where(Participant.role == Role.admin)))


def raise_dispute(session: Session, sid: uuid.UUID, data: Any, who: Principal) -> Dispute:
    s = get_statement(session, sid, who, lock=True)
    if s.fsp_id != who.id:
        raise NotFound("statement not found")
    if s.status not in ("issued", "disputed"):
        raise Conflict(f"statement is {s.status}: disputes are raised on issued statements")
    line = session.scalar(select(StatementLine).where(StatementLine.statement_id == s.id,
                                                      StatementLine.line_no == data.line_no))
    if line is None:
        raise InvalidInput("no such statement line", errors=[
            field_error(["body", "line_no"], f"statement has no line {data.line_no}")])
    if data.amount_claimed == 0:
        raise InvalidInput("nothing claimed", errors=[
            field_error(["body", "amount_claimed"], "must not be zero")])
    # One open dispute per line: a second would be a second award on the same money.
    open_one = session.scalar(select(Dispute.id).where(
        Dispute.statement_id == s.id, Dispute.line_no == data.line_no,
        Dispute.status.in_(OPEN)))
    if open_one is not None:
        raise Conflict(f"line {data.line_no} already has an open dispute ({open_one})",
                       errors=[field_error(["body", "line_no"], "has an open dispute",
                                           type="dispute_open")])
    days = settle_inputs.settings_for(session, s.market_id).response_days
    d = Dispute(statement_id=s.id, line_no=data.line_no, fsp_id=s.fsp_id, mo_id=s.mo_id,
                reason=data.reason, amount_claimed=data.amount_claimed,
                evidence=[e.model_dump(mode="json") for e in data.evidence],
                response_deadline=utcnow() + dt.timedelta(days=days))
    session.add(d)
    s.status = "disputed"
    session.flush()
    audit.record(session, who.actor, "dispute.raise", "dispute", d.id,
                 {"statement_id": s.id, "line_no": d.line_no, "amount_claimed": d.amount_claimed,
                  "reason": d.reason, "evidence": d.evidence})
    _tell(session, d, "raised", d.mo_id)
    return d


def _close(session: Session, d: Dispute) -> None:
    """The statement is issued again once none of its disputes is open."""
    s = session.get(Statement, d.statement_id, with_for_update=True)
    assert s is not None
    still = session.scalar(select(func.count()).select_from(Dispute).where(
        Dispute.statement_id == s.id, Dispute.status.in_(OPEN), Dispute.id != d.id))
    if not still and s.status == "disputed":
        s.status = "issued"


def _award(session: Session, d: Dispute, amount: Decimal) -> None:
    d.amount_awarded = amount
    if amount != 0:
        s = session.get(Statement, d.statement_id, with_for_update=True)
        assert s is not None
        inv = add_adjustment(session, s, amount, d.id, d.line_no, utcnow().date())
        d.adjustment_invoice_id = inv.id


def respond(session: Session, did: uuid.UUID, data: Any, who: Principal) -> Dispute:
    d = get(session, did, who, lock=True)
    if d.mo_id != who.id:
        raise NotFound("dispute not found")
    if d.status != "raised":
        raise Conflict(f"dispute is {d.status}: only a raised dispute is answered")
    d.response, d.responded_at = data.reason, utcnow()
    if data.decision == "accept":
        amount = d.amount_claimed if data.amount is None else data.amount
        if amount == 0 or (amount > 0) != (d.amount_claimed > 0) or abs(amount) > abs(
                d.amount_claimed):
            raise InvalidInput("the accepted amount is not within the claim", errors=[
                field_error(["body", "amount"], "must be non-zero, of the claim's sign and no "
                                                "larger than the amount claimed")])
        d.status = "accepted"
        _award(session, d, amount)
        d.resolved_at = utcnow()
        _close(session, d)
    else:
        if not data.reason:
            raise InvalidInput("a rejection needs a reason", errors=[
                field_error(["body", "reason"], "required when rejecting")])
        d.status = "rejected"
    audit.record(session, who.actor, f"dispute.{d.status}", "dispute", d.id,
                 {"reason": d.response, "amount_awarded": d.amount_awarded,
                  "adjustment_invoice_id": d.adjustment_invoice_id})
    _tell(session, d, d.status, d.fsp_id)
    return d


def escalate(session: Session, did: uuid.UUID, reason: str, who: Principal) -> Dispute:
    d = get(session, did, who, lock=True)
    if who.id not in (d.fsp_id, d.mo_id):
        raise NotFound("dispute not found")
    overdue = d.status == "raised" and utcnow() > d.response_deadline
    if not (d.status == "rejected" or overdue):
        raise Conflict(f"dispute is {d.status}: a rejected dispute, or one unanswered past "
                       "its deadline, is escalated")
    d.status, d.escalated_by, d.escalated_at = "escalated", who.id, utcnow()
    audit.record(session, who.actor, "dispute.escalate", "dispute", d.id, {"reason": reason})
    _tell(session, d, "escalated", *(p for p in (d.fsp_id, d.mo_id) if p != who.id),
          *_admins(session))
    return d


def decide(session: Session, did: uuid.UUID, data: Any, who: Principal) -> Dispute:
    d = get(session, did, who, lock=True)
    if d.status != "escalated":
        raise Conflict(f"dispute is {d.status}: the platform decides escalated disputes")
    if data.amount != 0 and ((data.amount > 0) != (d.amount_claimed > 0)
                             or abs(data.amount) > abs(d.amount_claimed)):
        raise InvalidInput("the award is not within the claim", errors=[
            field_error(["body", "amount"], "must be 0 or of the claim's sign and no larger")])
    d.decision, d.decided_by = data.reason, who.id
    _award(session, d, data.amount)
    d.status, d.resolved_at = "resolved", utcnow()
    _close(session, d)
    audit.record(session, who.actor, "dispute.decide", "dispute", d.id,
                 {"reason": data.reason, "amount_awarded": data.amount,
                  "adjustment_invoice_id": d.adjustment_invoice_id})
    _tell(session, d, "resolved", d.fsp_id, d.mo_id)
    return d


def remind(session: Session, now: dt.datetime | None = None) -> int:
    """Beat: remind the MO of a deadline within a day; tell both parties (and the
    admins) of one passed, once each (notifications are deduplicated)."""
    now = now or utcnow()
    n = 0
    for d in session.scalars(select(Dispute).where(
            Dispute.status == "raised", Dispute.response_deadline <= now + REMIND_BEFORE)):
        if d.response_deadline > now:
            _tell(session, d, "deadline_near", d.mo_id)
        else:
            _tell(session, d, "deadline_passed", d.mo_id, d.fsp_id, *_admins(session))
        n += 1
    return n
