"""Public catalogue bodies: what anyone may see of an open need."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel


class CatalogueNeed(BaseModel):
    id: uuid.UUID
    market_id: uuid.UUID
    market_name: str
    mo: str
    name: str
    product: str
    zone: str
    direction: str
    priority: int
    gate_open_at: dt.datetime
    gate_close_at: dt.datetime
    delivery_start: dt.datetime
    delivery_end: dt.datetime
    period_minutes: int
    mw: list[float]
    peak_mw: float
    total_mwh: float
    max_availability_price: Decimal
    utilisation_price_cap: Decimal
    expected_utilisation: float


class NeedVerdict(BaseModel):
    need: CatalogueNeed
    qualifies: bool
    reasons: list[dict[str, str]]


class Opportunities(BaseModel):
    asset_id: uuid.UUID
    qualifying: list[NeedVerdict]
    not_qualifying: list[NeedVerdict]
