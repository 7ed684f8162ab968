"""The settlement side of secondary trading: what settlement runs read and mark.

Settlement (branch ``reporting``) imports these two functions rather than querying
``transfer_payments`` itself, so the rule "pending until one run collects it, once" lives
here. Neither commits: the settlement run's transaction marks its rows with its statements.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flexplatform.competition.transfer_models import TransferPayment


def payments_between(session: Session, start: dt.datetime, end: dt.datetime, *,
                     participant_id: uuid.UUID | None = None, status: str | None = "pending",
                     lock: bool = False) -> Sequence[TransferPayment]:
    """Payment rows with ``start <= period_start < end`` (pending ones by default), for one
    participant as payer or payee if given; ``lock`` takes them FOR UPDATE on Postgres so
    two settlement runs never collect the same row."""
    P = TransferPayment
    q = select(P).where(P.period_start >= start, P.period_start < end)
    if status is not None:
        q = q.where(P.status == status)
    if participant_id is not None:
        q = q.where((P.payer_id == participant_id) | (P.payee_id == participant_id))
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.scalars(q.order_by(P.period_start, P.id)).all()


def mark_settled(session: Session, payment_ids: list[int], settlement_ref: str) -> int:
    """Mark pending rows settled by one run; returns how many changed (a row already
    settled by another run is left alone, so a re-run cannot collect it twice)."""
    if not payment_ids:
        return 0
    res = session.execute(update(TransferPayment).where(
        TransferPayment.id.in_(payment_ids), TransferPayment.status == "pending")
        .values(status="settled", settlement_ref=settlement_ref[:80])
        .execution_options(synchronize_session=False))
    return res.rowcount or 0
