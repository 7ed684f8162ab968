"""Transparency records: grid carbon intensities, where each zone sits on the carbon map,
and stored regulator reports.

Intensities are keyed by (region, half-hour) so a re-import of the same Carbon Intensity
API window replaces values instead of duplicating them (the API revises forecasts and
estimates "actual" later). Region ids are the API's own: 1-14 the DNO regions, 0 national.
Zones map to regions as data (``zone_carbon_regions``) because a CMZ's DNO region is a fact
an admin knows, not something the platform can derive from a zone code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flexplatform.db import Base, utcnow

NATIONAL = 0
DNO_REGIONS = {
    1: "North Scotland", 2: "South Scotland", 3: "North West England",
    4: "North East England", 5: "Yorkshire", 6: "North Wales & Merseyside",
    7: "South Wales", 8: "West Midlands", 9: "East Midlands", 10: "East England",
    11: "South West England", 12: "South England", 13: "London", 14: "South East England",
}


class CarbonIntensity(Base):
    __tablename__ = "carbon_intensities"

    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_start: Mapped[dt.datetime] = mapped_column(primary_key=True)
    forecast: Mapped[float | None] = mapped_column(Float, default=None)  # gCO2/kWh
    actual: Mapped[float | None] = mapped_column(Float, default=None)  # gCO2/kWh
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def value(self) -> float | None:
        """The best figure: the estimated outturn when there is one, else the forecast."""
        return self.actual if self.actual is not None else self.forecast


class ZoneCarbonRegion(Base):
    __tablename__ = "zone_carbon_regions"

    zone_code: Mapped[str] = mapped_column(ForeignKey("zones.code"), primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TransparencyReport(Base):
    """A report computed by a worker and kept: the regulator reads the stored figures, and
    a report for a past range does not change when it is read again."""

    __tablename__ = "transparency_reports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))  # carbon | market
    status: Mapped[str] = mapped_column(String(10), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
