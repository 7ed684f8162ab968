"""VEN registrations, their resources (assets), the events sent and the telemetry received.

A VEN belongs to exactly one FSP and may only be told about that FSP's assets; which
asset a VEN speaks for is explicit (``ven_resources``), never inferred from names, so an
FSP with several control systems routes each instruction to the one that controls the
asset. An asset is reachable through at most one VEN (the unique constraint), otherwise
one instruction would be offered twice and could be accepted by one VEN and refused by
the other.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, utcnow


class VenRegistration(Base):
    """An FSP's VEN, known before it first connects.

    ``fingerprint`` is the OpenADR fingerprint of the VEN's client certificate (the last
    ten bytes of its SHA-256, colon separated), delivered by the FSP outside OpenADR: the
    VTN refuses a TLS connection whose certificate does not match it. ``registration_id``
    is set when the VEN completes oadrCreatePartyRegistration and cleared on cancel.
    """

    __tablename__ = "ven_registrations"

    ven_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ven_name: Mapped[str] = mapped_column(String(120), unique=True)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(40))
    registration_id: Mapped[str | None] = mapped_column(String(64), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class VenResource(Base):
    """One OpenADR resource of a VEN and the asset it is; ``resource_id`` is the VEN's own
    name for it (it appears in event targets and report data sources)."""

    __tablename__ = "ven_resources"
    __table_args__ = (UniqueConstraint("ven_id", "resource_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("ven_registrations.ven_id"), index=True)
    resource_id: Mapped[str] = mapped_column(String(120))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"), unique=True)


class OpenadrEvent(Base):
    """One instruction sent as one OpenADR event (``event_id`` is the instruction id).

    status: 'queued' (handed to the VTN) -> 'delivered' (in an oadrDistributeEvent) ->
    'opted_in' | 'opted_out' (the VEN's oadrCreatedEvent), or 'cancelled' when the
    instruction was withdrawn. ``outcome`` says what the platform made of the answer
    ('accepted', 'rejected', or why it could not apply it, e.g. after the deadline).
    """

    __tablename__ = "openadr_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instruction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("instructions.id"),
                                                      unique=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("ven_registrations.ven_id"), index=True)
    resource_id: Mapped[str] = mapped_column(String(120))
    modification_number: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    opt_type: Mapped[str | None] = mapped_column(String(8), default=None)
    outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    responded_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class VenTelemetry(Base):
    """A power sample a VEN reported for one of its assets (MW, import positive).

    Telemetry is what the asset did at an instant; it is kept apart from meter readings,
    which are settlement-grade energy per half hour (the VEN's energy reports go to
    ``meter_readings`` through the metering ingest, with its checks and versions).
    """

    __tablename__ = "ven_telemetry"
    __table_args__ = (Index("ix_ven_telemetry_asset_at", "asset_id", "measured_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ven_id: Mapped[str] = mapped_column(ForeignKey("ven_registrations.ven_id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"))
    measured_at: Mapped[dt.datetime] = mapped_column()
    mw: Mapped[float] = mapped_column(Float(53))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
