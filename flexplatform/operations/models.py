"""Operations records: availability declarations, utilisation requests, dispatch runs,
instructions and dispatch-stage conflicts.

Statuses are plain strings (not enums) because reporting, monitoring and the OpenADR
bridge read these tables from other branches and compare against the literal values the
interface names. Declarations are append-only: a redeclaration is a new version, so what
an FSP said at any time (and whether it said it after the lock) can be shown later.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, utcnow

REQUEST_STATUSES = ("requested", "dispatched", "accepted", "partly_covered", "shortfall",
                    "cancelled")
RUN_STATUSES = ("queued", "running", "done", "failed")
INSTRUCTION_STATUSES = ("issued", "accepted", "rejected", "expired", "cancelled")
# Instructions that still hold an asset's capacity (a rejected or expired one frees it).
LIVE_INSTRUCTION = ("issued", "accepted")


class AvailabilityDeclaration(Base):
    __tablename__ = "availability_declarations"
    __table_args__ = (
        UniqueConstraint("asset_id", "direction", "period_start", "version"),
        Index("ix_availability_declarations_period", "period_start"),
        Index("ix_availability_declarations_fsp_period", "fsp_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    direction: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    after_lock: Mapped[bool] = mapped_column(Boolean, default=False)
    declared_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UtilisationRequest(Base):
    __tablename__ = "utilisation_requests"
    __table_args__ = (
        Index("ix_utilisation_requests_window", "period_start", "period_end"),
        Index("ix_utilisation_requests_mo_status", "mo_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"))
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("needs.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    zone_code: Mapped[str] = mapped_column(String(60))
    direction: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[dt.datetime] = mapped_column()
    period_end: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    # 'event' requests are dispatched at once; 'scheduled' ones wait for the day-ahead batch.
    mode: Mapped[str] = mapped_column(String(10), default="event")
    last_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # Served MW per period of the latest run (list aligned with the request's periods).
    covered_mw: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class DispatchRun(Base):
    __tablename__ = "dispatch_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    trigger: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    request_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Assets left out of this run (rejected or expired instructions being re-dispatched).
    excluded_asset_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    window_start: Mapped[dt.datetime | None] = mapped_column(default=None)
    window_end: Mapped[dt.datetime | None] = mapped_column(default=None)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    solver_status: Mapped[str | None] = mapped_column(String(20), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Instruction(Base):
    __tablename__ = "instructions"
    __table_args__ = (
        # A re-run of one run (a worker killed after solving) never doubles an instruction.
        UniqueConstraint("run_id", "contract_id", "request_id"),
        Index("ix_instructions_fsp_period", "fsp_id", "period_start"),
        Index("ix_instructions_mo_period", "mo_id", "period_start"),
        Index("ix_instructions_asset_period", "asset_id", "period_start"),
        Index("ix_instructions_status_deadline", "status", "ack_deadline"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("dispatch_runs.id"))
    request_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("utilisation_requests.id"), index=True)
    contract_id: Mapped[int] = mapped_column(Integer, ForeignKey("contracts.id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    product_code: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[dt.datetime] = mapped_column()
    period_end: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="issued")
    ack_deadline: Mapped[dt.datetime] = mapped_column()
    acked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    reject_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Conflict(Base):
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_period", "period_start"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    detected_by: Mapped[str] = mapped_column(String(6))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    zone_code: Mapped[str | None] = mapped_column(String(60), default=None)
    period_start: Mapped[dt.datetime] = mapped_column()
    period_end: Mapped[dt.datetime] = mapped_column()
    parties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The same situation found again (next scan, next run) is one record, not many.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="detected")
    resolution: Mapped[str | None] = mapped_column(String(60), default=None)
    rationale: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
