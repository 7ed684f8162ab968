"""Request and response shapes of monitoring, ratings and advice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flexplatform.registration.schemas import MW, Code, Input
from flexplatform.validation import Timestamp

RuleName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
Money = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RunIn(Input):
    window_start: Timestamp | None = None
    window_end: Timestamp | None = None
    rules: Annotated[list[RuleName], Field(default_factory=list, max_length=20)]

    @model_validator(mode="after")
    def _both(self) -> RunIn:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("give both window_start and window_end, or neither")
        return self


class RunOut(Output):
    id: uuid.UUID
    trigger: str
    status: str
    window_start: dt.datetime
    window_end: dt.datetime
    rules: list[str]
    flags_raised: int
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class FlagOut(Output):
    id: uuid.UUID
    rule: str
    severity: str
    subject_kind: str
    subject_id: str
    fsp_id: uuid.UUID | None
    summary: str
    evidence: dict[str, Any]
    window_start: dt.datetime
    window_end: dt.datetime
    run_id: uuid.UUID | None
    detected_at: dt.datetime


class RuleOut(BaseModel):
    rule: str
    description: str
    thresholds: dict[str, Any]


class RatingOut(Output):
    subject_kind: str
    subject_id: uuid.UUID
    fsp_id: uuid.UUID
    window_start: dt.datetime
    window_end: dt.datetime
    availability: float | None
    delivery: float | None
    response: float | None
    median_ack_s: float | None
    disputes: int
    contracted_periods: int
    instructed_periods: int
    score: float | None
    reliability: float | None
    computed_at: dt.datetime


class ProspectIn(Input):
    """A prospective asset by its technical data (before registration)."""

    zone: Code
    technology: Code
    up_mw: MW = 0.0
    down_mw: MW = 0.0
    energy_mwh: Annotated[float, Field(gt=0, le=20000, allow_inf_nan=False)] | None = None
    initial_energy_mwh: Annotated[float, Field(ge=0, le=20000, allow_inf_nan=False)] | None = None
    recharge_mw: MW | None = None
    min_run_minutes: Annotated[int, Field(ge=0, le=10080)] | None = None
    max_run_minutes: Annotated[int, Field(gt=0, le=10080)] | None = None
    ramp_mw_per_min: Annotated[float, Field(gt=0, le=10000, allow_inf_nan=False)] | None = None
    emission_t_per_mwh: Annotated[float, Field(ge=0, le=2.0, allow_inf_nan=False)] = 0.0
    reliability: Annotated[float, Field(gt=0, le=1.0)] = 1.0
    availability_cost: Money = 0.0
    utilisation_cost: Money = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> ProspectIn:
        if self.up_mw == 0 and self.down_mw == 0:
            raise ValueError("up_mw or down_mw must be positive: an asset must be able to move")
        if self.initial_energy_mwh is not None and (
                self.energy_mwh is None or self.initial_energy_mwh > self.energy_mwh):
            raise ValueError("initial_energy_mwh needs energy_mwh and may not exceed it")
        if self.min_run_minutes is not None and self.max_run_minutes is not None \
                and self.min_run_minutes > self.max_run_minutes:
            raise ValueError("min_run_minutes is above max_run_minutes")
        return self


class HistoryRead(BaseModel):
    model_config = ConfigDict(extra="allow")
    bids: int
    needs: int
    contracts: int


class AdviceOut(BaseModel):
    """The engine's advice-result-v1 (``advice``; docs/advice.md) and what it was built on."""

    asset_id: str | None
    generated_at: dt.datetime
    open_needs: int
    history: HistoryRead
    advice: dict[str, Any]


SubjectKind = Literal["asset", "fsp"]
