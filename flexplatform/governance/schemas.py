"""Taxonomy and audit bodies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flexplatform.governance.models import Direction, ZoneKind
from flexplatform.registration.schemas import Code, Input, Name, Output


class TechnologyIn(Input):
    code: Code
    name: Name
    stores_energy: bool = False
    default_emission_t_per_mwh: Annotated[float, Field(ge=0, le=2)] = 0.0
    active: bool = True


class TechnologyOut(Output):
    code: str
    name: str
    stores_energy: bool
    default_emission_t_per_mwh: float
    active: bool


Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


class OperationsRules(BaseModel):
    """A product's operations rules (flexplatform.operations.rules); unset = the default."""

    model_config = ConfigDict(extra="forbid")
    declaration_deadline: Literal["week_ahead", "day_ahead", "notice"] | None = None
    ack_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None
    undeclared_available: bool | None = None
    batch_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None


class ProductIn(Input):
    code: Code
    name: Name
    operator_kind: Annotated[str, Field(pattern=r"^(dso|eso|supplier)$")]
    direction: Direction
    notice_minutes: Minutes
    min_utilisation_minutes: Minutes
    max_utilisation_minutes: Minutes
    stacking_class: Code
    min_mw: Annotated[float, Field(ge=0, le=1000)] = 0.0
    allowed_technologies: list[Code] = Field(default_factory=list, max_length=100)
    accepts_pre_energisation: bool = False
    active: bool = True
    operations_rules: OperationsRules = Field(default_factory=OperationsRules)

    @model_validator(mode="after")
    def _durations(self) -> Self:
        if self.min_utilisation_minutes > self.max_utilisation_minutes:
            raise ValueError("min_utilisation_minutes is above max_utilisation_minutes")
        return self


class ProductOut(Output):
    code: str
    name: str
    operator_kind: str
    direction: Direction
    notice_minutes: int
    min_utilisation_minutes: int
    max_utilisation_minutes: int
    stacking_class: str
    min_mw: float
    allowed_technologies: list[str]
    accepts_pre_energisation: bool
    active: bool
    operations_rules: dict[str, Any] = Field(default_factory=dict)


class ZoneIn(Input):
    code: Code
    name: Name
    kind: ZoneKind
    parent_code: Code | None = None
    dso: str | None = Field(default=None, max_length=60)
    operator_id: uuid.UUID | None = None


class ZoneOut(Output):
    code: str
    name: str
    kind: ZoneKind
    parent_code: str | None
    dso: str | None


class AuditEventOut(Output):
    seq: int
    at: dt.datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str | None
    data: dict[str, Any]
    prev_hash: str
    row_hash: str


class AuditVerifyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ok: bool
    events: int
    head_seq: int | None
    head_hash: str | None
    problems: list[dict[str, Any]]
