"""Request and response bodies of the operations endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flexplatform.validation import Timestamp

Direction = Literal["up", "down"]
# A week of half-hours, twice over (a fortnight) at most in one declaration.
MAX_PERIODS = 672
MAX_ASSETS = 20_000


def _on_grid(name: str, t: dt.datetime) -> dt.datetime:
    t = t.astimezone(dt.UTC)
    if t.second or t.microsecond or t.minute % 30:
        raise ValueError(f"{name} must fall on a UTC settlement period boundary "
                         f"(:00 or :30 UTC; {t:%H:%M}Z is not)")
    return t


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AssetDeclaration(BaseModel):
    asset_id: uuid.UUID
    # One value for every period of the body's window, or one per period.
    mw: float | Annotated[list[float], Field(min_length=1, max_length=MAX_PERIODS)]


class DeclarationBulkIn(BaseModel):
    """Compact: one window and direction, then per asset one MW or one MW per period."""

    direction: Direction
    period_start: Timestamp
    periods: int = Field(ge=1, le=MAX_PERIODS, description="half-hour periods from period_start")
    reason: str | None = Field(default=None, max_length=200,
                               description="required for a redeclaration after the lock")
    assets: Annotated[list[AssetDeclaration], Field(min_length=1, max_length=MAX_ASSETS)]

    @model_validator(mode="after")
    def _shape(self) -> Self:
        self.period_start = _on_grid("period_start", self.period_start)
        for i, a in enumerate(self.assets):
            if isinstance(a.mw, list) and len(a.mw) != self.periods:
                raise ValueError(f"assets[{i}].mw has {len(a.mw)} values; periods is "
                                 f"{self.periods}")
        return self


class DeclarationBulkOut(BaseModel):
    stored: int
    unchanged: int
    after_lock: int
    shortfalls: int


class DeclarationOut(Output):
    id: int
    asset_id: uuid.UUID
    fsp_id: uuid.UUID
    direction: str
    period_start: dt.datetime
    mw: float
    version: int
    reason: str | None
    after_lock: bool
    declared_at: dt.datetime


class MonitoringRow(BaseModel):
    contract_id: int
    asset_id: uuid.UUID
    mo_id: uuid.UUID
    fsp_id: uuid.UUID
    product_code: str
    direction: str
    period_start: dt.datetime
    contracted_mw: float
    declared_mw: float | None
    availability_factor: float
    shortfall_mw: float


class RequestIn(BaseModel):
    need_id: uuid.UUID
    period_start: Timestamp
    period_end: Timestamp
    mw: float = Field(gt=0, le=10_000)

    @model_validator(mode="after")
    def _window(self) -> Self:
        self.period_start = _on_grid("period_start", self.period_start)
        self.period_end = _on_grid("period_end", self.period_end)
        if not self.period_start < self.period_end:
            raise ValueError("period_start must be before period_end")
        if self.period_end - self.period_start > dt.timedelta(days=2):
            raise ValueError("a utilisation request spans at most 48 hours")
        return self


class RequestOut(Output):
    id: uuid.UUID
    mo_id: uuid.UUID
    market_id: uuid.UUID
    need_id: uuid.UUID
    product_code: str
    zone_code: str
    direction: str
    period_start: dt.datetime
    period_end: dt.datetime
    mw: float
    priority: int
    status: str
    mode: str
    last_run_id: uuid.UUID | None
    covered_mw: list[Any]
    created_at: dt.datetime
    cancelled_at: dt.datetime | None


class InstructionOut(Output):
    id: uuid.UUID
    run_id: uuid.UUID
    request_id: uuid.UUID
    contract_id: int
    asset_id: uuid.UUID
    fsp_id: uuid.UUID
    mo_id: uuid.UUID
    product_code: str
    direction: str
    period_start: dt.datetime
    period_end: dt.datetime
    mw: float
    status: str
    ack_deadline: dt.datetime
    acked_at: dt.datetime | None
    reject_reason: str | None
    created_at: dt.datetime


class RequestDetail(RequestOut):
    instructions: list[InstructionOut]
    rationale: list[dict[str, Any]]


class AckIn(BaseModel):
    decision: Literal["accept", "reject"]
    reason: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _reason(self) -> Self:
        if self.decision == "reject" and not (self.reason or "").strip():
            raise ValueError("reason is required to reject an instruction")
        return self


class RunOut(Output):
    id: uuid.UUID
    trigger: str
    status: str
    request_ids: list[Any]
    excluded_asset_ids: list[Any]
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    snapshot_sha256: str | None
    result_sha256: str | None
    solver_status: str | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    attempts: int


class RunDetail(RunOut):
    scope: str
    snapshot: dict[str, Any] | None
    result: dict[str, Any] | None


class ConflictOut(Output):
    id: uuid.UUID
    kind: str
    detected_by: str
    asset_id: uuid.UUID | None
    zone_code: str | None
    period_start: dt.datetime
    period_end: dt.datetime
    parties: list[Any]
    detail: dict[str, Any]
    status: str
    resolution: str | None
    rationale: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None
