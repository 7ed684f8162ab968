"""Markets (competitions) and their needs.

A need's per-period MW requirement is a JSON list aligned with the market's delivery
periods (settlement periods of ``period_minutes``), which is exactly the shape the clearing
snapshot wants, so building a snapshot is a read, not a reshaping.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flexplatform.db import Base, str_enum, utcnow

MONEY = Numeric(14, 4)


class MarketStatus(str, enum.Enum):
    draft = "draft"
    open = "open"
    closed = "closed"
    cleared = "cleared"
    cancelled = "cancelled"


class NeedDirection(str, enum.Enum):
    up = "up"
    down = "down"


class Market(Base):
    __tablename__ = "markets"
    __table_args__ = (Index("ix_markets_status_gate", "status", "gate_close_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MarketStatus] = mapped_column(
        str_enum(MarketStatus, 12), default=MarketStatus.draft
    )
    gate_open_at: Mapped[dt.datetime] = mapped_column()
    gate_close_at: Mapped[dt.datetime] = mapped_column()
    delivery_start: Mapped[dt.datetime] = mapped_column()
    delivery_end: Mapped[dt.datetime] = mapped_column()
    period_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # Plain column, not a foreign key: markets predate rounds, and a plain ADD COLUMN is
    # the one ALTER SQLite does without rebuilding (and cascading from) the markets table.
    clearing_round_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    needs: Mapped[list[Need]] = relationship(
        back_populates="market", cascade="all, delete-orphan", order_by="Need.created_at"
    )


class Need(Base):
    __tablename__ = "needs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    market_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("markets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"), index=True)
    zone_code: Mapped[str] = mapped_column(ForeignKey("zones.code"), index=True)
    direction: Mapped[NeedDirection] = mapped_column(
        str_enum(NeedDirection, 6)
    )
    priority: Mapped[int] = mapped_column(Integer, default=1)
    mw: Mapped[list[Any]] = mapped_column(JSON)
    max_availability_price: Mapped[Decimal] = mapped_column(MONEY)
    utilisation_price_cap: Mapped[Decimal] = mapped_column(MONEY)
    expected_utilisation: Mapped[float] = mapped_column(Float, default=0.0)
    unmet_penalty: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    market: Mapped[Market] = relationship(back_populates="needs")


class BidStatus(str, enum.Enum):
    submitted = "submitted"
    amended = "amended"
    withdrawn = "withdrawn"
    accepted = "accepted"
    rejected = "rejected"


LIVE_BID = (BidStatus.submitted, BidStatus.amended)


class Bid(Base):
    __tablename__ = "bids"
    __table_args__ = (
        Index("ix_bids_need_status", "need_id", "status"),
        Index("ix_bids_fsp_market", "fsp_id", "market_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"), index=True)
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("needs.id"))
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"), index=True)
    mw: Mapped[list[Any]] = mapped_column(JSON)
    min_mw: Mapped[float] = mapped_column(Float, default=0.0)
    availability_price: Mapped[Decimal] = mapped_column(MONEY)
    utilisation_price: Mapped[Decimal] = mapped_column(MONEY)
    all_or_nothing: Mapped[bool] = mapped_column(default=False)
    exclusive_group: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[BidStatus] = mapped_column(
        str_enum(BidStatus, 12), default=BidStatus.submitted
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RuleSetStatus(str, enum.Enum):
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"


class RuleSet(Base):
    """Market rules as data: stacking, primacy, pricing, carbon price; four-eyes approval."""

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RuleSetStatus] = mapped_column(
        str_enum(RuleSetStatus, 12), default=RuleSetStatus.proposed
    )
    effective_from: Mapped[dt.datetime] = mapped_column()
    proposed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("participants.id"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class RoundStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    # Solved, but not provably good enough to be the market result: waits for an admin to
    # release it as it is or re-run it with more time (competition.clearing.hold).
    held = "held"


class ClearingRound(Base):
    __tablename__ = "clearing_rounds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[RoundStatus] = mapped_column(
        str_enum(RoundStatus, 12), default=RoundStatus.queued, index=True
    )
    market_ids: Mapped[list[Any]] = mapped_column(JSON)
    rule_set_version: Mapped[int | None] = mapped_column(Integer, default=None)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    solver_status: Mapped[str | None] = mapped_column(String(20), default=None)
    objective: Mapped[float | None] = mapped_column(Float, default=None)
    timing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Renewed by the solving worker's heartbeat (flexplatform.runs); a lapsed lease means
    # the worker died and the next gate scan starts the round again.
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The solver time limit of the next solve when it is not the configured default (a
    # re-run with more time after a result that was not final, or an admin's re-run).
    time_limit_s: Mapped[float | None] = mapped_column(Float, default=None)
    hold_reason: Mapped[str | None] = mapped_column(Text, default=None)


# A contract in one of these states is paid and reported by no one: cancelled, or handed
# on by a secondary trade (the linked new contract carries those periods).
SUPERSEDED = ("cancelled", "transferred")


class Contract(Base):
    """One award: a bid's MW in one period, with the price it is paid."""

    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("bid_id", "period_start"),
        Index("ix_contracts_asset_period", "asset_id", "period_start"),
        # Operations read every contract of a window (dispatch snapshots, conflict scans).
        Index("ix_contracts_period", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("clearing_rounds.id"), index=True)
    bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id"))
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("needs.id"), index=True)
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float)
    availability_price: Mapped[Decimal] = mapped_column(MONEY)
    utilisation_price: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12), default="active")
    # Secondary trading: the contract this one was split from, and the transfer that did it
    # (plain columns: a plain ADD COLUMN is the one ALTER SQLite does without a rebuild).
    transferred_from_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class NeedOutcome(Base):
    """Per need-period: unmet MW, clearing price and marginal cost of a round."""

    __tablename__ = "need_outcomes"

    round_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("clearing_rounds.id"), primary_key=True
    )
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("needs.id"), primary_key=True)
    period_start: Mapped[dt.datetime] = mapped_column(primary_key=True)
    required_mw: Mapped[float] = mapped_column(Float)
    awarded_mw: Mapped[float] = mapped_column(Float, default=0.0)
    unmet_mw: Mapped[float] = mapped_column(Float, default=0.0)
    clearing_price: Mapped[float | None] = mapped_column(Float, default=None)
    marginal_cost: Mapped[float | None] = mapped_column(Float, default=None)
