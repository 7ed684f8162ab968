"""Assets, registered once for every market, and their prequalification.

Participants, keys and terms are identity records and live in :mod:`flexplatform.identity`;
they are re-exported here so stage code may keep importing them from registration.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, str_enum, utcnow
from flexplatform.identity import (  # noqa: F401  (re-exported for stage code)
    ApiKey,
    Participant,
    ParticipantStatus,
    Role,
    TermsAcceptance,
    TermsVersion,
)


class AssetStatus(str, enum.Enum):
    in_development = "in_development"
    operational = "operational"
    mothballed = "mothballed"
    archived = "archived"


class PrequalStatus(str, enum.Enum):
    eligible = "eligible"
    ineligible = "ineligible"


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
