"""Append-only, hash-chained audit trail.

Every state change writes one event in the same transaction as the change. Each row holds
the hash of the previous row and a hash over its own content and that link, so editing a
row breaks its own hash and deleting one breaks the next row's link and the sequence.
Database triggers refuse UPDATE, DELETE and TRUNCATE on the table; the chain still catches
anyone who bypasses them with DDL rights.

A chain alone cannot show that its newest rows were deleted, or that a tail was rewritten
and re-hashed with :func:`content_hash` from the edit onwards: what is left is a valid
chain. Its head is therefore anchored outside it, in two ways:

- **Signed checkpoints**: beat (or the embedded scheduler) periodically writes
  (seq, head hash, time) with an HMAC-SHA256 under a server secret that is not in the
  database (:func:`checkpoint_key`), in an append-only table of its own. Someone who can
  rewrite the database cannot sign a checkpoint for the rewritten chain.
- **Published heads**: every clearing result carries the head at the moment it was
  stored, and participants hold copies of their results; callers pass these in as
  :class:`Anchor` s (the chain's core does not read stage tables).

:func:`verify` checks the chain against both: a checkpoint or published head whose seq is
past the end of the chain means deleted newest rows (or a truncated or emptied table); one
whose hash differs from the row at its seq means a rewritten tail. What happened after the
newest anchor is only as safe as the checkpoint interval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, exists, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from flexplatform.config import ConfigError, get_settings
from flexplatform.db import Base, utcnow
from flexplatform.identity import Participant

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


class AuditCheckpoint(Base):
    """The chain's head at a moment, signed with the server's checkpoint key."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column()
    mac: Mapped[str] = mapped_column(String(64))


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
    last = head(session, lock=True)
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


def _chain_lock(session: Session) -> None:
    """Serialise appends (and head reads that must stay the head) until the commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def head(session: Session, lock: bool = False) -> tuple[int, str] | None:
    """(seq, row hash) of the newest event, or None for an empty chain.

    ``lock`` holds the chain until the caller commits, so the head read is still the head
    when the caller's own event is appended after it.
    """
    if lock:
        _chain_lock(session)
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (last[0], last[1]) if last else None


def events(session: Session, after_seq: int = 0, limit: int = 100,
           entity_id: str | None = None) -> Sequence[AuditEvent]:
    """Events after ``after_seq`` in chain order, optionally about one entity."""
    q = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if entity_id:
        q = q.where(AuditEvent.entity_id == entity_id)
    return session.scalars(q.order_by(AuditEvent.seq).limit(limit)).all()


# --- anchors: signed checkpoints and published heads ---------------------------------

SECRET_FILE = "audit-secret"
MIN_SECRET_CHARS = 32


def checkpoint_key() -> bytes:
    """The server secret that signs checkpoints.

    ``FLEX_AUDIT_SECRET`` (at least 32 characters) when set. With a server database it must
    be set: a default key known to anyone would let whoever rewrites the database sign the
    rewrite. The embedded default (SQLite) generates a random key once into ``var_dir``.
    """
    s = get_settings()
    if s.audit_secret:
        if len(s.audit_secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"FLEX_AUDIT_SECRET must be at least {MIN_SECRET_CHARS} "
                              "characters")
        return s.audit_secret.encode()
    if not s.resolved_database_url.startswith("sqlite"):
        raise ConfigError("FLEX_AUDIT_SECRET must be set (32+ random characters) when "
                          "FLEX_DATABASE_URL is a server database: it signs the audit "
                          "chain's checkpoints")
    path = s.var_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_CHARS:
        raise ConfigError(f"{path} holds no usable audit secret; remove it to generate one")
    return key.encode()


def _mac(key: bytes, seq: int, head_hash: str, at: dt.datetime) -> str:
    at_s = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return hmac.new(key, f"{seq}|{head_hash}|{at_s}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(session: Session, now: dt.datetime | None = None) -> AuditCheckpoint | None:
    """Sign the chain's current head; None if the chain is empty or has not moved since
    the last checkpoint (or now ends before it: ``verify`` reports that, nothing covers it)."""
    key = checkpoint_key()
    h = head(session, lock=True)
    if h is None:
        return None
    last = session.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq.desc())
                          .limit(1))
    if last is not None and last >= h[0]:
        return None
    at = (now or utcnow()).astimezone(dt.UTC)
    cp = AuditCheckpoint(seq=h[0], head_hash=h[1], at=at, mac=_mac(key, h[0], h[1], at))
    session.add(cp)
    session.flush()
    return cp


@dataclass(frozen=True)
class Anchor:
    """A head of the chain recorded outside it: the row hash at ``seq``, and who saw it."""

    seq: int
    hash: str
    source: str


def _checkpoint_anchors(session: Session, problems: list[dict[str, Any]]) -> list[Anchor]:
    cps = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    if not cps:
        return []
    key = checkpoint_key()
    out = []
    for cp in cps:
        when = f"{cp.at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
        if not hmac.compare_digest(cp.mac, _mac(key, cp.seq, cp.head_hash, cp.at)):
            problems.append({"seq": cp.seq, "problem": "checkpoint_forged", "detail":
                             f"the checkpoint dated {when} does not carry the server's "
                             "signature"})
        else:
            out.append(Anchor(cp.seq, cp.head_hash, f"the checkpoint signed at {when}"))
    return out


@dataclass
class VerifyReport:
    ok: bool
    events: int
    head_seq: int | None
    head_hash: str | None
    problems: list[dict[str, Any]] = field(default_factory=list)


def verify(session: Session, batch: int = 5000, anchors: Iterable[Anchor] = ()
           ) -> VerifyReport:
    """Walk the chain in order and hold it against its anchors; report every problem.

    ``anchors`` are heads published outside the chain (clearing results); the signed
    checkpoints are read here. Raises ``ConfigError`` if there are checkpoints but no key
    to check them with.
    """
    problems: list[dict[str, Any]] = []
    want: dict[int, list[Anchor]] = {}
    for a in [*_checkpoint_anchors(session, problems), *anchors]:
        want.setdefault(a.seq, []).append(a)
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
            for a in want.pop(ev.seq, ()):
                if a.hash != ev.row_hash:
                    problems.append({"seq": ev.seq, "problem": "rewritten", "detail":
                                     f"the row differs from the head seen by {a.source}: "
                                     "the chain was rewritten from here or before"})
            expected_seq, prev, last_seq = ev.seq + 1, ev.row_hash, ev.seq
            session.expunge(ev)
    for seq, seen in sorted(want.items()):
        for a in seen:
            where = (f"the chain ends at seq {last_seq}" if seq > last_seq
                     else f"seq {seq} is missing")
            problems.append({"seq": seq, "problem": "truncated", "detail":
                             f"{a.source} saw seq {seq}; {where}: newest rows were deleted"})
    if count == 0 and session.scalar(select(exists().where(Participant.id.is_not(None)))):
        problems.append({"seq": None, "problem": "truncated", "detail":
                         "the trail is empty but participants exist, and creating each "
                         "was audited: the table was emptied"})
    return VerifyReport(
        ok=not problems,
        events=count,
        head_seq=last_seq or None,
        head_hash=prev if count else None,
        problems=problems,
    )
