"""Verification, settlement runs, statements, invoices and disputes.

Money is ``Numeric`` with the engine's places (pence for amounts, millionths for
quantities and multipliers), so what is stored is exactly what the engine computed and
a statement's total is the sum of its stored lines. Nothing here is ever edited after
the fact except a lifecycle status: a re-verification is a new ``Verification``
version, a re-settlement a new ``SettlementRun`` version, a dispute's outcome an
adjustment line plus its own numbered document; the old rows stay.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, utcnow

PENCE = Numeric(16, 2)
MICRO = Numeric(20, 6)
RATE = Numeric(6, 4)

STATEMENT_STATUSES = ("draft", "issued", "accepted", "disputed")
DISPUTE_STATUSES = ("raised", "accepted", "rejected", "escalated", "resolved")


class SettlementSettings(Base):
    """A market's settlement terms: statement period, VAT rate, payment rules (the
    product's performance scale and penalties) and the dispute response time. A market
    without a row settles monthly at the defaults in ``settlement_service.DEFAULTS``."""

    __tablename__ = "settlement_settings"

    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), default="monthly")  # monthly|weekly|daily
    vat_rate: Mapped[Decimal] = mapped_column(RATE, default=Decimal("0.2000"))
    payment_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    response_days: Mapped[int] = mapped_column(Integer, default=10)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Verification(Base):
    """One instruction-period as the engine verified it, with the readings it used.

    ``reading_versions``: the meter, the version of its reading in this period, the
    submission watermark the run read ``as_of`` and the SHA-256 of every version the
    meter's baseline read, so the figure can be reproduced exactly."""

    __tablename__ = "verifications"
    __table_args__ = (UniqueConstraint("instruction_id", "period_start", "version"),
                      Index("ix_verifications_period", "period_start"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instruction_id: Mapped[str] = mapped_column(String(40), index=True)
    period_start: Mapped[dt.datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    contract_id: Mapped[int] = mapped_column(Integer)
    mpan: Mapped[str] = mapped_column(String(13))
    baseline_kwh: Mapped[float | None] = mapped_column(Float(53), default=None)
    metered_kwh: Mapped[float | None] = mapped_column(Float(53), default=None)
    ordered_kwh: Mapped[float] = mapped_column(Float(53), default=0.0)
    delivered_kwh: Mapped[float | None] = mapped_column(Float(53), default=None)
    performance: Mapped[float | None] = mapped_column(Float(53), default=None)
    reading_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    methodology: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SettlementRun(Base):
    """One settlement of a market's statement period; a re-run is the next version.

    ``spec`` freezes what the shards read (contracts, instructions, availability,
    product terms, invoice numbers and the readings watermark), so a redelivered shard
    computes the same thing; ``document`` is the full run document once merged."""

    __tablename__ = "settlement_runs"
    __table_args__ = (UniqueConstraint("market_id", "period_label", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    period_label: Mapped[str] = mapped_column(String(20))
    period_first: Mapped[dt.date] = mapped_column(Date)
    period_last: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    trigger: Mapped[str] = mapped_column(String(10), default="manual")  # manual|calendar
    shards: Mapped[int] = mapped_column(Integer, default=0)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    inputs_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    outputs_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SettlementShard(Base):
    """A shard's result (Parquet frames), stored by the shard task for the merge: a
    redelivered shard overwrites identical bytes, and the merge reads no task result."""

    __tablename__ = "settlement_shards"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("settlement_runs.id"),
                                              primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    meters: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Statement(Base):
    """What one MO owes one FSP for one statement period of one run."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("run_id", "fsp_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("settlement_runs.id"), index=True)
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"))
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    period_label: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    availability: Mapped[Decimal] = mapped_column(PENCE)
    utilisation: Mapped[Decimal] = mapped_column(PENCE)
    penalties: Mapped[Decimal] = mapped_column(PENCE)
    adjustments: Mapped[Decimal] = mapped_column(PENCE, default=Decimal("0.00"))
    net: Mapped[Decimal] = mapped_column(PENCE)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class StatementLine(Base):
    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("statement_id", "line_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statements.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # engine kinds, or "adjustment"
    contract_id: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(80))
    quantity_mwh: Mapped[Decimal] = mapped_column(MICRO)
    unit_price: Mapped[Decimal] = mapped_column(MICRO)
    multiplier: Mapped[Decimal] = mapped_column(MICRO)
    amount: Mapped[Decimal] = mapped_column(PENCE)
    dispute_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class Invoice(Base):
    """A self-billed document the MO issues for the FSP: the statement's ``invoice``,
    or an ``adjustment`` (more owed) / ``credit_note`` (less owed) after a dispute."""

    __tablename__ = "invoices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="invoice")
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statements.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    period_label: Mapped[str] = mapped_column(String(20))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    net: Mapped[Decimal] = mapped_column(PENCE)
    vat: Mapped[Decimal] = mapped_column(PENCE)
    gross: Mapped[Decimal] = mapped_column(PENCE)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # settlement.invoices JSON form
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("invoices.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(300))
    contract_id: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(80))
    quantity: Mapped[Decimal] = mapped_column(MICRO)
    unit: Mapped[str] = mapped_column(String(12))
    unit_price: Mapped[Decimal] = mapped_column(MICRO)
    multiplier: Mapped[Decimal] = mapped_column(MICRO)
    net: Mapped[Decimal] = mapped_column(PENCE)
    vat_rate: Mapped[Decimal] = mapped_column(RATE)
    vat: Mapped[Decimal] = mapped_column(PENCE)
    gross: Mapped[Decimal] = mapped_column(PENCE)


class Dispute(Base):
    """An FSP's challenge of one statement line and its route to recourse:
    raised -> accepted (adjusted) | rejected -> escalated -> resolved (admin decides)."""

    __tablename__ = "disputes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("statements.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="raised")
    reason: Mapped[str] = mapped_column(Text)
    amount_claimed: Mapped[Decimal] = mapped_column(PENCE)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    response_deadline: Mapped[dt.datetime] = mapped_column()
    response: Mapped[str | None] = mapped_column(Text, default=None)
    responded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    escalated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    decision: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    amount_awarded: Mapped[Decimal | None] = mapped_column(PENCE, default=None)
    adjustment_invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
