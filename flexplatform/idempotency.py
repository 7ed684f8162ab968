"""Idempotency keys: a repeated request with the same key replays the first response.

Any write endpoint may honour ``Idempotency-Key``. The request is identified by the
SHA-256 of its canonical JSON (sorted keys, no spacing), so the same body sent with other
whitespace or key order is the same request, while a different body under a used key is a
409. On Postgres a transaction-scoped advisory lock per (participant, key) makes a second
concurrent request with the same key wait for the first and then replay it, instead of
both doing the work; the lock is taken by a synchronous request in the thread pool, so a
waiter never blocks the event loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from flexplatform.db import Base, utcnow
from flexplatform.errors import Conflict


class IdempotencyRecord(Base):
    """A replayable response per (participant, Idempotency-Key)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("participant_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def request_digest(body: Any) -> str:
    """SHA-256 of the canonical JSON of a parsed request body."""
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                     default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _lock(session: Session, participant_id: uuid.UUID, key: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the write transaction is already exclusive
    k = int.from_bytes(hashlib.sha256(f"idem:{participant_id}:{key}".encode()).digest()[:8],
                       "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": k})


def run_once(session: Session, participant_id: uuid.UUID, key: str | None, body: Any,
             compute: Callable[[], dict[str, Any]], status: int = 201
             ) -> tuple[dict[str, Any], int, bool]:
    """Return (response body, status, replayed) for a request under an optional key.

    Without a key the work simply runs. With one, the first request's response is stored
    in the same transaction as its effects, so a replay can never see one without the other.
    """
    if not key:
        return compute(), status, False
    digest = request_digest(body)
    _lock(session, participant_id, key)
    rec = session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.participant_id == participant_id, IdempotencyRecord.key == key))
    if rec is not None:
        if rec.request_sha256 != digest:
            raise Conflict("this Idempotency-Key was used with a different request body",
                           idempotency_key=key)
        return rec.response, rec.status_code, True
    out = compute()
    session.add(IdempotencyRecord(participant_id=participant_id, key=key,
                                  request_sha256=digest, status_code=status, response=out))
    session.flush()
    return out, status, False
