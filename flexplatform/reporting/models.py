"""Meter points, meter data agents' grants, readings (every version kept) and baseline
methodologies as versioned data.

Readings are the platform's largest table (a GB month is ~432 M rows), so their row is
kept narrow: an integer meter point id instead of the UUID or MPAN, and columns ordered
widest first so Postgres packs them without alignment padding (8+8+8+4+4+2 bytes). On
Postgres the table is partitioned by settlement month (``partitions.py``); on SQLite it is
a plain table with the same columns. There is deliberately no foreign key on the readings:
every id written comes from the validated lookup in the same transaction, meter points
and submissions are never deleted, and a per-row RI check doubled the cost of COPY
(1 M rows: 16 s to 35 s on a loaded 2-core machine).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, str_enum, utcnow


class Measures(str, enum.Enum):
    """Which flows a meter point measures; GB sites often have separate import and export
    MPANs, a small site one meter for both."""

    import_ = "import"
    export = "export"
    both = "both"


class MeterPoint(Base):
    """An MPAN metering an asset; owned by the asset's FSP (no owner column to drift)."""

    __tablename__ = "meter_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mpan: Mapped[str] = mapped_column(String(13), unique=True)
    asset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("assets.id"), index=True)
    # Stored by value ("import"), not by member name ("import_": a Python keyword).
    measures: Mapped[Measures] = mapped_column(Enum(
        Measures, native_enum=False, length=8, validate_strings=True,
        values_callable=lambda e: [m.value for m in e]))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeterDataGrant(Base):
    """An FSP authorises an agent (an ``mda`` or another FSP) to submit its readings.

    ``meter_point_id`` NULL covers every meter point of the FSP, present and future. A
    grant is never edited: revoking stamps ``revoked_at``, so who could submit when stays
    on record beside the audit trail.
    """

    __tablename__ = "meter_data_grants"
    __table_args__ = (Index("ix_meter_data_grants_agent_revoked", "agent_id", "revoked_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    fsp_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"), index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    meter_point_id: Mapped[int | None] = mapped_column(ForeignKey("meter_points.id"),
                                                       default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class MeterSubmission(Base):
    """One accepted upload that stored at least one new version.

    Ids are allocated under the ingest lock (``ingest.py``), so they follow commit order:
    "every reading of submissions <= N" is a fixed set once N is visible, which is what a
    verification records to be reproducible.
    """

    __tablename__ = "meter_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # NULL: the platform operator's file import (``flexplatform meter import``).
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("participants.id"), index=True, default=None)
    source: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str | None] = mapped_column(String(300), default=None)
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    rows: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    corrections: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    first_period: Mapped[dt.datetime] = mapped_column()
    last_period: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeterReading(Base):
    """kWh imported and exported in one settlement period; (meter, period, version) key.

    A correction is a new version (latest wins), never an update. Partitioned by range of
    ``period_start`` on Postgres; the partitions are created on demand.
    """

    __tablename__ = "meter_readings"
    # Key order (meter, period, version), unlike the column order: the reads are "one
    # meter over a range" and "these meters over a range", and a correction looks up the
    # latest version of one (meter, period).
    __table_args__ = (
        PrimaryKeyConstraint("meter_point_id", "period_start", "version"),
        {"postgresql_partition_by": "RANGE (period_start)"},
    )

    period_start: Mapped[dt.datetime] = mapped_column()
    import_kwh: Mapped[float] = mapped_column(Float(53))
    export_kwh: Mapped[float] = mapped_column(Float(53))
    meter_point_id: Mapped[int] = mapped_column(Integer)
    submission_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(SmallInteger)


class ChangeStatus(str, enum.Enum):
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"


class BaselineMethodology(Base):
    """A product's baseline methodology, one row per version, four-eyes approved.

    ``kind`` and ``params`` are the normalised form from ``settlement.methodology``
    (defaults filled in), so the stored row is exactly what the engine will run.
    """

    __tablename__ = "baseline_methodologies"
    __table_args__ = (UniqueConstraint("product_code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ChangeStatus] = mapped_column(str_enum(ChangeStatus, 12),
                                                 default=ChangeStatus.proposed)
    effective_from: Mapped[dt.datetime] = mapped_column()
    proposed_by: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("participants.id"))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("participants.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
