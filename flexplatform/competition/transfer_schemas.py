"""Secondary trading bodies: transfers, offers, payments, a market's consent rule."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from flexplatform.competition.schemas import MWProfile, MWValue, Price
from flexplatform.registration.schemas import Input, Output
from flexplatform.validation import INT32_MAX, Timestamp

ContractId = Annotated[int, Field(ge=1, le=INT32_MAX)]


class TransferItemIn(Input):
    contract_id: ContractId
    mw: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)] | None = Field(
        default=None, description="MW of this contract-period offered; default all of it.")


class TransferIn(Input):
    contracts: Annotated[list[TransferItemIn], Field(min_length=1, max_length=48 * 31)]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]
    offer_deadline: Timestamp
    max_price: Price | None = Field(
        default=None, description="Most the holder accepts a taker asks (GBP/MW/h); "
                                  "default: the need's max availability price.")
    allow_partial: bool = Field(
        default=True, description="Whether a partly covered obligation is still transferred "
                                  "(the holder keeps the rest).")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [c.contract_id for c in self.contracts]
        if len(set(ids)) != len(ids):
            raise ValueError("a contract appears twice")
        self.offer_deadline = self.offer_deadline.astimezone(dt.UTC)
        return self


class TransferItemOut(Output):
    contract_id: int
    period_start: dt.datetime
    mw: float
    contract_mw: float


class TransferOut(Output):
    id: uuid.UUID
    holder_id: uuid.UUID
    mo_id: uuid.UUID
    market_id: uuid.UUID
    need_id: uuid.UUID
    asset_id: uuid.UUID
    product_code: str
    zone_code: str
    direction: str
    reason: str
    items: list[TransferItemOut]
    max_price: Decimal
    allow_partial: bool
    offer_deadline: dt.datetime
    status: str
    consent: str
    approval_deadline: dt.datetime | None
    note: str | None
    covered: list[float]
    clearing_id: uuid.UUID | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    completed_at: dt.datetime | None


class BoardEntry(Output):
    """An open transfer as advertised to FSPs: what is on offer, not who offers it."""

    id: uuid.UUID
    product_code: str
    zone_code: str
    direction: str
    items: list[dict[str, Any]]
    max_price: Decimal
    allow_partial: bool
    offer_deadline: dt.datetime


class OfferIn(Input):
    asset_id: uuid.UUID
    mw: MWProfile = Field(description="MW per transfer item, in the transfer's item order.")
    min_mw: MWValue = 0.0
    price: Price = Field(description="GBP/MW/h the taker asks to take the obligation over.")

    @model_validator(mode="after")
    def _min(self) -> Self:
        if max(self.mw) <= 0:
            raise ValueError("mw offers nothing in any period")
        if self.min_mw > max(self.mw):
            raise ValueError("min_mw is above every offered MW")
        return self


class OfferOut(Output):
    id: uuid.UUID
    transfer_id: uuid.UUID
    fsp_id: uuid.UUID
    asset_id: uuid.UUID
    mw: list[float]
    min_mw: float
    price: Decimal
    status: str
    reasons: list[dict[str, Any]]
    awarded: list[float]
    created_at: dt.datetime


class DecisionIn(Input):
    note: Annotated[str, Field(max_length=2000)] | None = None


class TransferSettingsIn(Input):
    consent: Literal["automatic", "approval"]
    approval_minutes: Annotated[int, Field(ge=5, le=14 * 1440)] = 1440


class TransferSettingsOut(Output):
    market_id: uuid.UUID
    consent: str
    approval_minutes: int


class TransferClearingOut(Output):
    id: uuid.UUID
    transfer_id: uuid.UUID
    status: str
    rule_set_version: int | None
    snapshot: dict[str, Any] | None
    snapshot_sha256: str | None
    result: dict[str, Any] | None
    result_sha256: str | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    finished_at: dt.datetime | None


class PaymentOut(Output):
    id: int
    transfer_id: uuid.UUID
    offer_id: uuid.UUID
    contract_id: int
    old_contract_id: int
    period_start: dt.datetime
    mw: float
    original_price: Decimal
    transfer_price: Decimal
    payer_id: uuid.UUID
    payee_id: uuid.UUID
    amount: Decimal
    status: str
    settlement_ref: str | None
