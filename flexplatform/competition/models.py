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

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, Integer, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flexplatform.db import Base, utcnow

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
        Enum(MarketStatus, native_enum=False, length=12), default=MarketStatus.draft
    )
    gate_open_at: Mapped[dt.datetime] = mapped_column()
    gate_close_at: Mapped[dt.datetime] = mapped_column()
    delivery_start: Mapped[dt.datetime] = mapped_column()
    delivery_end: Mapped[dt.datetime] = mapped_column()
    period_minutes: Mapped[int] = mapped_column(Integer, default=30)
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
        Enum(NeedDirection, native_enum=False, length=6)
    )
    priority: Mapped[int] = mapped_column(Integer, default=1)
    mw: Mapped[list[Any]] = mapped_column(JSON)
    max_availability_price: Mapped[Decimal] = mapped_column(MONEY)
    utilisation_price_cap: Mapped[Decimal] = mapped_column(MONEY)
    expected_utilisation: Mapped[float] = mapped_column(Float, default=0.0)
    unmet_penalty: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    market: Mapped[Market] = relationship(back_populates="needs")
