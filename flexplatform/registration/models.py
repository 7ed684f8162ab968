"""Participants, their keys and terms, and the assets they register once for every market."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flexplatform.db import Base, str_enum, utcnow


class Role(str, enum.Enum):
    mo = "mo"
    fsp = "fsp"
    regulator = "regulator"
    admin = "admin"
    # Meter data agent: submits readings for the meter points FSPs authorise it for, and
    # calls nothing else (reporting/routes.py).
    mda = "mda"


class ParticipantStatus(str, enum.Enum):
    pending = "pending"
    active = "active"
    suspended = "suspended"


class AssetStatus(str, enum.Enum):
    in_development = "in_development"
    operational = "operational"
    mothballed = "mothballed"
    archived = "archived"


class PrequalStatus(str, enum.Enum):
    eligible = "eligible"
    ineligible = "ineligible"


class TermsVersion(Base):
    __tablename__ = "terms_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    role: Mapped[Role] = mapped_column(str_enum(Role, 12), index=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    company_number: Mapped[str | None] = mapped_column(String(20), default=None)
    billing_contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ParticipantStatus] = mapped_column(
        str_enum(ParticipantStatus, 12), default=ParticipantStatus.active
    )
    terms_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("terms_versions.id"), default=None
    )
    terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    terms_version: Mapped[TermsVersion | None] = relationship(lazy="joined")


class TermsAcceptance(Base):
    """Every acceptance kept (the participant row holds only the latest)."""

    __tablename__ = "terms_acceptances"
    __table_args__ = (UniqueConstraint("participant_id", "terms_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    terms_version_id: Mapped[int] = mapped_column(ForeignKey("terms_versions.id"))
    accepted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_by_key: Mapped[str | None] = mapped_column(String(20), default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("participants.id"), index=True
    )
    # Public lookup part of the key; the secret part is stored only as a hash.
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    participant: Mapped[Participant] = relationship(lazy="joined")


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (Index("ix_assets_fsp_status", "fsp_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    name: Mapped[str] = mapped_column(String(200))
    mpan: Mapped[str] = mapped_column(String(13), unique=True)
    zone_code: Mapped[str] = mapped_column(ForeignKey("zones.code"), index=True)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    technology_code: Mapped[str] = mapped_column(ForeignKey("technology_types.code"))
    status: Mapped[AssetStatus] = mapped_column(str_enum(AssetStatus), default=AssetStatus.operational)
    up_mw: Mapped[float] = mapped_column(Float, default=0.0)
    down_mw: Mapped[float] = mapped_column(Float, default=0.0)
    energy_mwh: Mapped[float | None] = mapped_column(Float, default=None)
    min_run_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    max_run_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    ramp_mw_per_min: Mapped[float | None] = mapped_column(Float, default=None)
    emission_t_per_mwh: Mapped[float] = mapped_column(Float, default=0.0)
    reliability: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Prequalification(Base):
    """Derived: asset x product, recomputed whenever either side changes."""

    __tablename__ = "prequalifications"

    asset_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    product_code: Mapped[str] = mapped_column(
        ForeignKey("products.code", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[PrequalStatus] = mapped_column(str_enum(PrequalStatus, 12))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
