"""Append-only, hash-chained audit trail.

Every state change writes one event in the same transaction as the change. Each row holds
the hash of the previous row and a hash over its own content and that link, so editing a
row breaks its own hash and deleting one breaks the next row's link and the sequence.
Database triggers refuse UPDATE and DELETE on the table; the chain still catches anyone who
bypasses them with DDL rights. (Truncating the newest rows can only be caught against a
head hash kept elsewhere: ``audit verify`` prints the head for that purpose.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from flexplatform.db import Base, utcnow

GENESIS = "0" * 64
# Arbitrary constant key for pg_advisory_xact_lock: serialises chain appends on Postgres.
_PG_LOCK_KEY = 7_201_337


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column()
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(80), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return o.astimezone(dt.UTC).isoformat()
    if isinstance(o, (uuid.UUID, dt.date)):
        return str(o)
    if hasattr(o, "value"):
        return o.value
    return str(o)


def canonical(obj: Any) -> Any:
    """JSON-normalise (what the database will give back), so hashes survive a round trip."""
    return json.loads(json.dumps(obj, default=_default, sort_keys=True))


def content_hash(
    seq: int,
    at: dt.datetime,
    actor_id: str | None,
    actor_role: str | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    at_s = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps(
        [seq, at_s, actor_id, actor_role, action, entity_type, entity_id, data, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        default=_default,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class Actor:
    id: str | None
    role: str | None

    @classmethod
    def system(cls) -> Actor:
        return cls(id=None, role="system")


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # Microsecond precision: what both backends store exactly.
    at = utcnow()
    payload = canonical(data or {})
    eid = str(entity_id) if entity_id is not None else None
    h = content_hash(seq, at, actor.id, actor.role, action, entity_type, eid, payload, prev)
    ev = AuditEvent(
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor_role=actor.role,
        action=action,
        entity_type=entity_type,
        entity_id=eid,
        data=payload,
        prev_hash=prev,
        row_hash=h,
    )
    session.add(ev)
    session.flush()
    return ev


def events(session: Session, after_seq: int = 0, limit: int = 100,
           entity_id: str | None = None) -> Sequence[AuditEvent]:
    """Events after ``after_seq`` in chain order, optionally about one entity."""
    q = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if entity_id:
        q = q.where(AuditEvent.entity_id == entity_id)
    return session.scalars(q.order_by(AuditEvent.seq).limit(limit)).all()


@dataclass
class VerifyReport:
    ok: bool
    events: int
    head_seq: int | None
    head_hash: str | None
    problems: list[dict[str, Any]] = field(default_factory=list)


def verify(session: Session, batch: int = 5000) -> VerifyReport:
    """Walk the chain in order; report every broken row, not only the first."""
    problems: list[dict[str, Any]] = []
    expected_seq, prev = 1, GENESIS
    count = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq)
            .execution_options(populate_existing=True)
            .limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            count += 1
            if ev.seq != expected_seq:
                problems.append(
                    {"seq": ev.seq, "problem": "gap", "detail": f"expected seq {expected_seq}: "
                     f"{ev.seq - expected_seq} event(s) missing"}
                )
            if ev.prev_hash != prev:
                problems.append({"seq": ev.seq, "problem": "broken_link",
                                 "detail": "prev_hash does not match the previous row"})
            h = content_hash(ev.seq, ev.at, ev.actor_id, ev.actor_role, ev.action,
                             ev.entity_type, ev.entity_id, ev.data, ev.prev_hash)
            if h != ev.row_hash:
                problems.append({"seq": ev.seq, "problem": "content_changed",
                                 "detail": "row content does not match its hash"})
            expected_seq, prev, last_seq = ev.seq + 1, ev.row_hash, ev.seq
            session.expunge(ev)
    return VerifyReport(
        ok=not problems,
        events=count,
        head_seq=last_seq or None,
        head_hash=prev if count else None,
        problems=problems,
    )
