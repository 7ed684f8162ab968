"""Request and response shapes of the transparency API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flexplatform.validation import Timestamp


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Timestamp = Field(description="first half-hour, UTC offset required")
    end: Timestamp = Field(description="end of the range (exclusive)")


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    status: str
    params: dict[str, Any]
    error: str | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class ReportWithResult(ReportOut):
    result: dict[str, Any] | None = None


class CarbonApiDocument(BaseModel):
    """A Carbon Intensity API response body, as the API returns it (national or regional)."""

    model_config = ConfigDict(extra="allow")
    data: list[Any] | dict[str, Any]
    source: str | None = Field(default=None, max_length=200,
                               description="provenance stored with each value")


class ImportOut(BaseModel):
    shape: str
    inserted: int
    updated: int
    regions: list[int]
    first_period: str | None
    last_period: str | None
    skipped_regions: list[int]
    negative_values_ignored: int


class CarbonIntensityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    region_id: int
    period_start: dt.datetime
    forecast: float | None
    actual: float | None
    source: str


class ZoneRegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_id: int = Field(ge=0, le=14, description="1-14 DNO region, 0 national")


class ZoneRegionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    zone_code: str
    region_id: int


class RegionOut(BaseModel):
    region_id: int
    name: str
    zones: list[str]


class DatasetOut(BaseModel):
    name: str
    dictionary: str
    monthly_csv: str
    monthly_parquet: str


class CatalogueOut(BaseModel):
    datasets: list[DatasetOut]
    licence: dict[str, str]
    suppression_min_fsps: int
