"""Request and response bodies for metering and baseline methodologies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from flexplatform.registration.schemas import Code, Input, Mpan, Output
from flexplatform.reporting.models import ChangeStatus, Measures


class MeterPointCreate(Input):
    mpan: Mpan
    asset_id: uuid.UUID
    measures: Measures = Field(description="import, export or both")


class MeterPointOut(Output):
    mpan: str
    asset_id: uuid.UUID
    fsp_id: uuid.UUID
    measures: Measures
    created_at: dt.datetime


class GrantCreate(Input):
    agent_id: uuid.UUID = Field(description="the meter data agent (role mda) or FSP authorised")
    mpan: Mpan | None = Field(default=None, description="one meter point; omitted: every "
                              "meter point of the FSP, present and future")
    note: str = Field(default="", max_length=500)


class GrantOut(Output):
    id: uuid.UUID
    fsp_id: uuid.UUID
    agent_id: uuid.UUID
    mpan: str | None
    note: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ReadingIn(Input):
    """One half-hour; types are loose here so that every row gets the same checks (and
    messages) as a CSV row, in ``validate.py``."""

    mpan: str = Field(max_length=40)
    start: str = Field(max_length=40, description="UTC instant of the period start, "
                       "ISO 8601 with offset, e.g. 2026-01-01T00:00:00Z")
    import_kwh: float | None = None
    export_kwh: float | None = None


class ReadingsIn(Input):
    readings: list[ReadingIn] = Field(min_length=1)


class IngestOut(BaseModel):
    submission_id: int | None = Field(description="null when nothing changed (an identical "
                                      "re-send)")
    rows: int
    stored: int = Field(description="new versions written (first versions and corrections)")
    corrections: int = Field(description="of which replace an earlier version")
    unchanged: int = Field(description="identical to the latest version stored: no-op")
    duplicates: int = Field(description="identical repeats within the upload, counted once")
    first_period: dt.datetime | None
    last_period: dt.datetime | None
    existing_submissions: list[int] = Field(description="submissions holding the latest "
                                            "versions of the unchanged rows (up to 100)")


class SubmissionOut(Output):
    id: int
    submitted_by: uuid.UUID | None
    source: str
    filename: str | None
    content_sha256: str | None
    rows: int
    stored: int
    corrections: int
    unchanged: int
    duplicates: int
    first_period: dt.datetime
    last_period: dt.datetime
    created_at: dt.datetime


class ReadingOut(BaseModel):
    start: dt.datetime
    settlement_date: dt.date
    settlement_period: int
    import_kwh: float
    export_kwh: float
    version: int
    submission_id: int


class ReadingsPage(BaseModel):
    mpan: str
    start: dt.datetime
    end: dt.datetime
    versions: Literal["latest", "all"]
    as_of: int | None
    items: list[ReadingOut]
    total: int
    limit: int
    offset: int


class MethodologyIn(Input):
    product: Code
    kind: str = Field(max_length=30, description="BL01, XofY, Nominated, ReferenceProfile, "
                      "Zero or AssetCapacity")
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = Field(default="", max_length=5000)
    effective_from: AwareDatetime | None = Field(default=None, description="no earlier than "
                                                 "approval; default: on approval")


class MethodologyOut(Output):
    product: str = Field(validation_alias="product_code")
    version: int
    kind: str
    params: dict[str, Any]
    rationale: str
    status: ChangeStatus
    effective_from: dt.datetime
    proposed_by: uuid.UUID
    decided_by: uuid.UUID | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
