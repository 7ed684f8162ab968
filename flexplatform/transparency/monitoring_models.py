"""Market monitoring flags, their runs, failed authentication attempts and ratings.

Flags are findings for the regulator, not verdicts: each carries the evidence a person
needs to check it by hand. A flag's ``fingerprint`` (rule, subject, window) makes a re-run
of the same rules over the same data a no-op, so the scheduled and on-demand runs can
overlap without doubling anything.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, utcnow


class MonitoringRun(Base):
    """One pass of every rule over a window: one transaction under its row lock (monitoring.execute)."""

    __tablename__ = "monitoring_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    trigger: Mapped[str] = mapped_column(String(12))  # 'scheduled' | 'on_demand'
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("participants.id"), default=None)
    window_start: Mapped[dt.datetime] = mapped_column()
    window_end: Mapped[dt.datetime] = mapped_column()
    rules: Mapped[list[Any]] = mapped_column(JSON, default=list)
    flags_raised: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class MonitoringFlag(Base):
    __tablename__ = "monitoring_flags"
    __table_args__ = (Index("ix_monitoring_flags_rule_detected", "rule", "detected_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))  # 'low' | 'medium' | 'high'
    subject_kind: Mapped[str] = mapped_column(String(12))  # asset|fsp|zone|need|key|platform
    subject_id: Mapped[str] = mapped_column(String(80))
    fsp_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    window_start: Mapped[dt.datetime] = mapped_column()
    window_end: Mapped[dt.datetime] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    detected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuthFailure(Base):
    """A refused API key: only a hash of the key's public prefix, never the secret.

    The hash (not the prefix itself) so that the table cannot be used to look up which
    keys exist; the same prefix always hashes the same, which is all a burst count needs.
    """

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix_hash: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    reason: Mapped[str] = mapped_column(String(20))  # 'malformed' | 'unknown' | 'bad_secret' | 'revoked'
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class AssetRating(Base):
    """Performance of one asset, or of one FSP over all its assets, over a window.

    Each component is a share in [0, 1] or None when there is nothing to rate it on (no
    contracts, no instructions), so "not yet rated" never reads as "perfect" or "zero".
    """

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(8))  # 'asset' | 'fsp'
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    window_start: Mapped[dt.datetime] = mapped_column()
    window_end: Mapped[dt.datetime] = mapped_column()
    availability: Mapped[float | None] = mapped_column(Float, default=None)
    delivery: Mapped[float | None] = mapped_column(Float, default=None)
    response: Mapped[float | None] = mapped_column(Float, default=None)
    median_ack_s: Mapped[float | None] = mapped_column(Float, default=None)
    disputes: Mapped[int] = mapped_column(Integer, default=0)
    contracted_periods: Mapped[int] = mapped_column(Integer, default=0)
    instructed_periods: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    reliability: Mapped[float | None] = mapped_column(Float, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
