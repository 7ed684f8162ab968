"""The public catalogue of open needs and "which needs can my asset serve?".

Derived entirely from markets, needs and prequalification, so it never disagrees with
what bidding will accept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Market, MarketStatus, Need
from flexplatform.db import utcnow
from flexplatform.exploration.schemas import CatalogueNeed, NeedVerdict, Opportunities
from flexplatform.registration.models import Asset, Participant, Prequalification, PrequalStatus
from optimiser.eligibility import can_move, capability, zone_serves


def open_needs_query(now: dt.datetime | None = None) -> Any:
    now = now or utcnow()
    return (
        select(Need, Market, Participant.legal_name)
        .join(Market, Market.id == Need.market_id)
        .join(Participant, Participant.id == Market.mo_id)
        .where(Market.status == MarketStatus.open, Market.gate_close_at > now)
    )


def to_catalogue(need: Need, market: Market, mo_name: str) -> CatalogueNeed:
    hours = market.period_minutes / 60
    mw = [float(x) for x in need.mw]
    return CatalogueNeed(
        id=need.id, market_id=market.id, market_name=market.name, mo=mo_name, name=need.name,
        product=need.product_code, zone=need.zone_code, direction=need.direction.value,
        priority=need.priority, gate_open_at=market.gate_open_at,
        gate_close_at=market.gate_close_at, delivery_start=market.delivery_start,
        delivery_end=market.delivery_end, period_minutes=market.period_minutes, mw=mw,
        peak_mw=max(mw, default=0.0), total_mwh=round(sum(mw) * hours, 6),
        max_availability_price=need.max_availability_price,
        utilisation_price_cap=need.utilisation_price_cap,
        expected_utilisation=need.expected_utilisation,
    )


def catalogue(
    session: Session,
    *,
    product: str | None,
    zone: str | None,
    direction: str | None,
    window_from: dt.datetime | None,
    window_to: dt.datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[CatalogueNeed], int]:
    q = open_needs_query()
    if product:
        q = q.where(Need.product_code == product)
    if zone:
        q = q.where(Need.zone_code == zone)
    if direction:
        q = q.where(Need.direction == direction)
    # Window filters select needs whose delivery overlaps [window_from, window_to).
    if window_from:
        q = q.where(Market.delivery_end > window_from)
    if window_to:
        q = q.where(Market.delivery_start < window_to)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(
        q.order_by(Market.gate_close_at, Need.created_at, Need.id).limit(limit).offset(offset)
    ).all()
    return [to_catalogue(n, m, name) for n, m, name in rows], total


def catalogue_need(session: Session, need_id: uuid.UUID) -> CatalogueNeed | None:
    row = session.execute(open_needs_query().where(Need.id == need_id)).first()
    return to_catalogue(*row) if row else None


def need_fit(asset: Asset, need: Need, prequal: Prequalification | None) -> list[dict[str, str]]:
    """Why this asset cannot serve this need (empty list: it can)."""
    reasons: list[dict[str, str]] = []
    if prequal is None:
        reasons.append({"code": "not_prequalified",
                        "message": f"no prequalification for {need.product_code}"})
    elif prequal.status == PrequalStatus.ineligible:
        reasons.extend(prequal.reasons)
    if not zone_serves(need.zone_code, asset.zone_code):
        reasons.append({"code": "zone_mismatch",
                        "message": f"asset is in {asset.zone_code}, need is for {need.zone_code}"})
    if not can_move(capability(asset.up_mw, asset.down_mw, need.direction.value)):
        reasons.append({"code": "direction_not_supported",
                        "message": f"asset cannot move {need.direction.value}"})
    return reasons


def opportunities(session: Session, asset: Asset) -> Opportunities:
    rows: Sequence[Any] = session.execute(
        open_needs_query().order_by(Market.gate_close_at, Need.created_at)).all()
    pq = {p.product_code: p for p in session.scalars(
        select(Prequalification).where(Prequalification.asset_id == asset.id))}
    yes, no = [], []
    for need, market, mo_name in rows:
        reasons = need_fit(asset, need, pq.get(need.product_code))
        verdict = NeedVerdict(need=to_catalogue(need, market, mo_name), qualifies=not reasons,
                              reasons=reasons)
        (no if reasons else yes).append(verdict)
    return Opportunities(asset_id=asset.id, qualifying=yes, not_qualifying=no)
