"""Request and response bodies for registration.

Inputs forbid unknown fields: a misspelt field silently ignored is a wrong registration.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from flexplatform.registration.models import AssetStatus, ParticipantStatus, PrequalStatus, Role
from flexplatform.registration.mpan import mpan_problem
from flexplatform.validation import CODE_PATTERN, TERMS_VERSION_PATTERN, Timestamp


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _mpan(v: str) -> str:
    problem = mpan_problem(v)
    if problem:
        raise ValueError(problem)
    return v


Mpan = Annotated[str, AfterValidator(_mpan)]
Code = Annotated[str, Field(min_length=1, max_length=60, pattern=CODE_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class BillingContact(Input):
    name: Name
    email: Email
    address: str | None = Field(default=None, max_length=500)
    vat_number: str | None = Field(default=None, max_length=20)


class ParticipantCreate(Input):
    role: Role
    legal_name: Name
    company_number: str | None = Field(default=None, pattern=r"^(?:[0-9]{8}|[A-Z]{2}[0-9]{6})$")
    billing_contact: BillingContact
    status: ParticipantStatus = ParticipantStatus.active


class ParticipantUpdate(Input):
    legal_name: Name | None = None
    billing_contact: BillingContact | None = None
    status: ParticipantStatus | None = None


class WebhookSettings(Input):
    url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")


class ParticipantOut(Output):
    id: uuid.UUID
    role: Role
    legal_name: str
    company_number: str | None
    billing_contact: dict[str, Any]
    status: ParticipantStatus
    terms_version: str | None = None
    terms_accepted_at: dt.datetime | None
    webhook_url: str | None = None
    created_at: dt.datetime

    @model_validator(mode="before")
    @classmethod
    def _terms(cls, data: Any) -> Any:
        if hasattr(data, "terms_version") and not isinstance(data, dict):
            tv = data.terms_version
            return {
                **{k: getattr(data, k) for k in (
                    "id", "role", "legal_name", "company_number", "billing_contact", "status",
                    "terms_accepted_at", "webhook_url", "created_at")},
                "terms_version": tv.version if tv else None,
            }
        return data


class ParticipantCreated(BaseModel):
    participant: ParticipantOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


class ApiKeyCreate(Input):
    label: str = Field(default="", max_length=100)


class ApiKeyOut(Output):
    id: uuid.UUID
    prefix: str
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(BaseModel):
    key: ApiKeyOut
    api_key: str = Field(description="Shown once; only its hash is stored.")


class TermsCreate(Input):
    version: Annotated[str, Field(min_length=1, max_length=40, pattern=TERMS_VERSION_PATTERN)]
    title: Name
    body: Annotated[str, Field(min_length=1, max_length=200_000)]
    effective_from: Timestamp | None = None


class TermsOut(Output):
    version: str
    title: str
    body: str
    body_sha256: str
    effective_from: dt.datetime
    created_at: dt.datetime


class TermsAcceptanceOut(BaseModel):
    participant_id: uuid.UUID
    version: str
    accepted_at: dt.datetime


MW = Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)]


class AssetCreate(Input):
    name: Name
    mpan: Mpan
    zone: Code
    technology: Code
    status: AssetStatus = AssetStatus.operational
    latitude: Annotated[float, Field(ge=49.0, le=61.5)] | None = None
    longitude: Annotated[float, Field(ge=-8.7, le=2.0)] | None = None
    up_mw: MW = 0.0
    down_mw: MW = 0.0
    energy_mwh: Annotated[float, Field(gt=0, le=20000, allow_inf_nan=False)] | None = None
    min_run_minutes: Annotated[int, Field(ge=0, le=10080)] | None = None
    max_run_minutes: Annotated[int, Field(gt=0, le=10080)] | None = None
    ramp_mw_per_min: Annotated[float, Field(gt=0, le=10000, allow_inf_nan=False)] | None = None
    emission_t_per_mwh: Annotated[float, Field(ge=0, le=2.0, allow_inf_nan=False)] = 0.0
    reliability: Annotated[float, Field(gt=0, le=1.0)] = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.up_mw == 0 and self.down_mw == 0:
            raise ValueError("up_mw or down_mw must be positive: an asset must be able to move")
        if (
            self.min_run_minutes is not None
            and self.max_run_minutes is not None
            and self.min_run_minutes > self.max_run_minutes
        ):
            raise ValueError("min_run_minutes is above max_run_minutes")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        if self.status == AssetStatus.archived:
            raise ValueError("an asset cannot be registered as archived")
        return self


class AssetUpdate(Input):
    name: Name | None = None
    zone: Code | None = None
    technology: Code | None = None
    status: AssetStatus | None = None
    latitude: Annotated[float, Field(ge=49.0, le=61.5)] | None = None
    longitude: Annotated[float, Field(ge=-8.7, le=2.0)] | None = None
    up_mw: MW | None = None
    down_mw: MW | None = None
    energy_mwh: Annotated[float, Field(gt=0, le=20000, allow_inf_nan=False)] | None = None
    min_run_minutes: Annotated[int, Field(ge=0, le=10080)] | None = None
    max_run_minutes: Annotated[int, Field(gt=0, le=10080)] | None = None
    ramp_mw_per_min: Annotated[float, Field(gt=0, le=10000, allow_inf_nan=False)] | None = None
    emission_t_per_mwh: Annotated[float, Field(ge=0, le=2.0, allow_inf_nan=False)] | None = None
    reliability: Annotated[float, Field(gt=0, le=1.0)] | None = None


class AssetBulkCreate(BaseModel):
    # Rows are validated one by one in the service so every bad row is reported.
    model_config = ConfigDict(extra="forbid")
    assets: list[dict[str, Any]] = Field(min_length=1)


class AssetOut(Output):
    id: uuid.UUID
    fsp_id: uuid.UUID
    name: str
    mpan: str
    zone: str = Field(validation_alias="zone_code")
    technology: str = Field(validation_alias="technology_code")
    status: AssetStatus
    latitude: float | None
    longitude: float | None
    up_mw: float
    down_mw: float
    energy_mwh: float | None
    min_run_minutes: int | None
    max_run_minutes: int | None
    ramp_mw_per_min: float | None
    emission_t_per_mwh: float
    reliability: float
    created_at: dt.datetime
    updated_at: dt.datetime


class AssetBulkCreated(BaseModel):
    created: int
    ids: list[uuid.UUID]


class PrequalOut(Output):
    product: str = Field(validation_alias="product_code")
    status: PrequalStatus
    reasons: list[dict[str, str]]
    computed_at: dt.datetime
