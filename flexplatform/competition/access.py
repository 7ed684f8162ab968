"""Which assets an MO may see: those that have bid on its needs (chain.md)."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Bid, Market


def mo_visible_assets(mo_id: uuid.UUID) -> Select:
    return select(Bid.asset_id).join(Market, Market.id == Bid.market_id).where(
        Market.mo_id == mo_id)


def mo_can_see_asset(session: Session, asset_id: uuid.UUID, mo_id: uuid.UUID) -> bool:
    return bool(session.scalar(select(exists().where(
        Bid.asset_id == asset_id, Bid.market_id == Market.id, Market.mo_id == mo_id))))
