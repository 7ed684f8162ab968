"""Secondary trading records: transfers of contracted obligations, offers to take them
over, the clearing run that picks the offers, and the payments between the FSPs.

Statuses are plain strings (as in operations) because settlement, in another branch, reads
``transfer_payments`` and compares against the literal values documented in
docs/trading.md. Money is Decimal (``MONEY``); MW are floats as on contracts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.competition.models import MONEY
from flexplatform.db import Base, utcnow

CONSENT_MODES = ("automatic", "approval")
TRANSFER_STATUSES = ("open", "clearing", "awaiting_approval", "completed", "unfilled",
                     "withdrawn", "rejected", "expired", "failed")
# A transfer in one of these still claims its contract-periods: no second transfer of them.
LIVE_TRANSFER = ("open", "clearing", "awaiting_approval")
OFFER_STATUSES = ("submitted", "withdrawn", "selected", "accepted", "rejected", "lapsed")
LIVE_OFFER = ("submitted",)
PAYMENT_STATUSES = ("pending", "settled")


class TransferSettings(Base):
    """A market's rule for the MO's consent to transfers of its contracts.

    No row means the default: ``automatic``. ``approval`` gives the MO
    ``approval_minutes`` after the offers are picked; unapproved by then, the transfer expires.
    """

    __tablename__ = "transfer_settings"

    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"),
                                                 primary_key=True)
    consent: Mapped[str] = mapped_column(String(10), default="automatic")
    approval_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"),
                                                         default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """One FSP's offer of (part of) its contracted obligation to other FSPs.

    ``items`` is the obligation on offer, one entry per contract-period:
    ``{"contract_id", "period_start", "mw", "contract_mw"}`` (``mw`` is the part offered).
    All items share one need, asset, MO and price, so the transfer clears as one need.
    """

    __tablename__ = "transfers"
    __table_args__ = (Index("ix_transfers_status_deadline", "status", "offer_deadline"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    holder_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    mo_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    market_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("markets.id"))
    need_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("needs.id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    product_code: Mapped[str] = mapped_column(String(40))
    zone_code: Mapped[str] = mapped_column(String(60))
    direction: Mapped[str] = mapped_column(String(6))
    reason: Mapped[str] = mapped_column(Text)
    items: Mapped[list[Any]] = mapped_column(JSON)
    max_price: Mapped[Decimal] = mapped_column(MONEY)
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=True)
    offer_deadline: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open")
    consent: Mapped[str] = mapped_column(String(10), default="automatic")
    approval_deadline: Mapped[dt.datetime | None] = mapped_column(default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("participants.id"),
                                                         default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # Per item: MW covered by the picked offers (filled when the clearing is stored).
    covered: Mapped[list[Any]] = mapped_column(JSON, default=list)
    clearing_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TransferOffer(Base):
    """Another FSP's asset offered to take over the transfer at ``price`` (GBP/MW/h).

    ``mw`` is aligned with the transfer's items; ``awarded`` likewise once picked.
    """

    __tablename__ = "transfer_offers"
    __table_args__ = (Index("ix_transfer_offers_transfer_status", "transfer_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transfers.id"))
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    mw: Mapped[list[Any]] = mapped_column(JSON)
    min_mw: Mapped[float] = mapped_column(Float, default=0.0)
    price: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    awarded: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TransferClearing(Base):
    """The clearing engine run over one transfer: frozen snapshot, result, both hashed.

    Leased like a clearing round (flexplatform.runs): ``running`` with a lease while a
    worker solves; a lapsed lease is picked up by the next scan.
    """

    __tablename__ = "transfer_clearings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transfers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    rule_set_version: Mapped[int | None] = mapped_column(Integer, default=None)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class TransferPayment(Base):
    """What one FSP owes the other for one period of a completed transfer.

    ``amount`` = |transfer_price - original_price| x mw x period hours, rounded half-up to
    the penny. The taker's offer above the original price is paid by the holder; below it,
    the taker pays the holder. Settlement picks up ``pending`` rows and marks them
    ``settled`` with its run's reference (docs/trading.md).
    """

    __tablename__ = "transfer_payments"
    __table_args__ = (Index("ix_transfer_payments_period_status", "period_start", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transfers.id"), index=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("transfer_offers.id"))
    contract_id: Mapped[int] = mapped_column(Integer, ForeignKey("contracts.id"))
    old_contract_id: Mapped[int] = mapped_column(Integer, ForeignKey("contracts.id"))
    period_start: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float)
    original_price: Mapped[Decimal] = mapped_column(MONEY)
    transfer_price: Mapped[Decimal] = mapped_column(MONEY)
    payer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    payee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    settlement_ref: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
