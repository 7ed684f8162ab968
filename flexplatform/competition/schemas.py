"""Competition bodies: markets and needs, bids, rule sets, results."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

from flexplatform.competition.models import BidStatus, MarketStatus, NeedDirection, RuleSetStatus
from flexplatform.registration.schemas import Code, Input, Name, Output
from flexplatform.validation import Timestamp

Price = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=14, decimal_places=4)]
MWValue = Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]
MWProfile = Annotated[list[MWValue], Field(min_length=1, max_length=48 * 366)]


class NeedIn(Input):
    name: str = Field(default="", max_length=200)
    product: Code
    zone: Code
    direction: NeedDirection
    mw: MWProfile
    max_availability_price: Price
    utilisation_price_cap: Price
    expected_utilisation: Annotated[float, Field(ge=0, le=1)] = 0.0
    unmet_penalty: Price


class MarketIn(Input):
    name: Name
    description: str = Field(default="", max_length=5000)
    gate_open_at: Timestamp
    gate_close_at: Timestamp
    delivery_start: Timestamp
    delivery_end: Timestamp
    needs: Annotated[list[NeedIn], Field(min_length=1, max_length=500)]
    open: bool = Field(default=False, description="Open for bids at once (else draft).")

    @model_validator(mode="after")
    def _times(self) -> Self:
        if not self.gate_open_at < self.gate_close_at:
            raise ValueError("gate_open_at must be before gate_close_at")
        if not self.gate_close_at <= self.delivery_start:
            raise ValueError("gate_close_at must not be after delivery_start")
        if not self.delivery_start < self.delivery_end:
            raise ValueError("delivery_start must be before delivery_end")
        for name in ("gate_open_at", "gate_close_at", "delivery_start", "delivery_end"):
            # Stored and cleared in UTC: checked in UTC, not in the offset it was sent in
            # (T04:30+05:45 is 22:45Z, which is no settlement period boundary).
            setattr(self, name, getattr(self, name).astimezone(dt.UTC))
        for name in ("delivery_start", "delivery_end"):
            t = getattr(self, name)
            if t.second or t.microsecond or t.minute % 30:
                raise ValueError(f"{name} must fall on a UTC settlement period boundary "
                                 f"(:00 or :30 UTC; {t:%H:%M}Z is not)")
        periods = int((self.delivery_end - self.delivery_start).total_seconds() // 1800)
        if periods > 48 * 31:
            raise ValueError("a delivery window spans at most 31 days")
        for i, n in enumerate(self.needs):
            if len(n.mw) != periods:
                raise ValueError(f"needs[{i}].mw has {len(n.mw)} values; the delivery window "
                                 f"has {periods} half-hour periods")
        return self


class NeedOut(Output):
    """``priority`` comes from the primacy rules, not the MO: the rules in force when the
    market was created, re-applied at gate closure with the rules the round clears under."""

    id: uuid.UUID
    name: str
    product: str = Field(validation_alias="product_code")
    zone: str = Field(validation_alias="zone_code")
    direction: NeedDirection
    priority: int
    mw: list[float]
    max_availability_price: Decimal
    utilisation_price_cap: Decimal
    expected_utilisation: float
    unmet_penalty: Decimal


class MarketOut(Output):
    id: uuid.UUID
    mo_id: uuid.UUID
    name: str
    description: str
    status: MarketStatus
    gate_open_at: dt.datetime
    gate_close_at: dt.datetime
    delivery_start: dt.datetime
    delivery_end: dt.datetime
    period_minutes: int
    clearing_round_id: uuid.UUID | None
    needs: list[NeedOut]


class BidIn(Input):
    need_id: uuid.UUID
    asset_id: uuid.UUID
    mw: MWProfile
    min_mw: MWValue = 0.0
    availability_price: Price
    utilisation_price: Price
    all_or_nothing: bool = False
    exclusive_group: Annotated[str, Field(min_length=1, max_length=80)] | None = None

    @model_validator(mode="after")
    def _min(self) -> Self:
        if self.min_mw > max(self.mw):
            raise ValueError("min_mw is above every offered MW")
        if max(self.mw) <= 0:
            raise ValueError("mw offers nothing in any period")
        return self


class BidAmend(Input):
    """Only the fields sent change. A field may be left out but not sent as null (a bid
    always has a price and a profile); ``exclusive_group: null`` takes the bid out of its
    group."""

    mw: MWProfile = Field(default=None)
    min_mw: MWValue = Field(default=None)
    availability_price: Price = Field(default=None)
    utilisation_price: Price = Field(default=None)
    all_or_nothing: bool = Field(default=None)
    exclusive_group: Annotated[str, Field(min_length=1, max_length=80)] | None = None


class BidBulkIn(BaseModel):
    bids: list[dict[str, Any]] = Field(min_length=1)


class BidOut(Output):
    id: uuid.UUID
    fsp_id: uuid.UUID
    asset_id: uuid.UUID
    need_id: uuid.UUID
    market_id: uuid.UUID
    mw: list[float]
    min_mw: float
    availability_price: Decimal
    utilisation_price: Decimal
    all_or_nothing: bool
    exclusive_group: str | None
    status: BidStatus
    version: int
    reasons: list[Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class BidBulkOut(BaseModel):
    created: int
    ids: list[uuid.UUID]


class Problem(BaseModel):
    code: str
    message: str
    field: str | None = None


class BidValidation(BaseModel):
    eligible: bool
    problems: list[Problem]
    conflicts: list[Problem]


class Rules(Input):
    incompatible_products: list[tuple[Code, Code]] = Field(default_factory=list, max_length=200)
    primacy: Literal["lexicographic", "weighted"] = "lexicographic"
    pricing: Literal["pay_as_bid", "pay_as_clear"] = "pay_as_bid"
    carbon_price: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    # Priority per product operator kind (dso, eso, supplier), overridden per product.
    primacy_order: dict[str, Annotated[int, Field(ge=1, le=9)]] = Field(
        default_factory=lambda: {"dso": 1, "eso": 2, "supplier": 3})
    product_priority: dict[str, Annotated[int, Field(ge=1, le=9)]] = Field(default_factory=dict)
    # Confidence level per product (docs/probabilistic.md): set, the round's snapshot is
    # version 2 and carries each asset's reliability posterior from its verified deliveries.
    confidence: dict[Code, Annotated[float, Field(ge=0.5, lt=1.0)]] = Field(
        default_factory=dict, max_length=200)
    confidence_bound: Literal["sub_gaussian", "normal"] = "sub_gaussian"


class RuleSetIn(Input):
    rules: Rules
    rationale: str = Field(default="", max_length=5000)
    effective_from: Timestamp | None = None


class RuleSetOut(Output):
    version: int
    rules: dict[str, Any]
    rationale: str
    status: RuleSetStatus
    effective_from: dt.datetime
    proposed_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class ClearingOut(Output):
    id: uuid.UUID
    status: str
    market_ids: list[Any]
    rule_set_version: int | None
    solver_status: str | None
    objective: float | None
    timing: dict[str, Any]
    error: str | None
    hold_reason: str | None = None
    time_limit_s: float | None = None
    snapshot_sha256: str | None
    result_sha256: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class HoldRelease(Input):
    reason: Reason = Field(description="Why the held result may stand as the market result.")


class HoldRerun(Input):
    time_limit_s: Annotated[float, Field(gt=0, le=24 * 3600, allow_inf_nan=False)] = Field(
        description="The new solver time limit; above the last one.")
    reason: Reason


class AwardOut(Output):
    id: int
    transferred_from_id: int | None = None
    bid_id: uuid.UUID
    need_id: uuid.UUID
    market_id: uuid.UUID
    asset_id: uuid.UUID
    product_code: str
    direction: str
    period_start: dt.datetime
    mw: float
    availability_price: Decimal
    utilisation_price: Decimal
    status: str


class NotificationOut(Output):
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    created_at: dt.datetime
    webhook_status: str | None
