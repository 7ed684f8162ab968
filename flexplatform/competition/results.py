"""Who sees which part of a clearing, and the MO's cleared schedule.

Regulators and admins get the exact documents; an MO or FSP gets the same documents cut
down to its own needs or bids (``"redacted": true``), because FSPs never see each other's
prices. The SHA-256 of the full documents is always shown, so a party can check its part
against the regulator's copy.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform.auth import Principal
from flexplatform.competition.models import (
    Bid,
    ClearingRound,
    Contract,
    Market,
    MarketStatus,
    NeedOutcome,
    RoundStatus,
)
from flexplatform.competition.schemas import ClearingOut
from flexplatform.competition.service import own_market
from flexplatform.errors import Conflict, NotFound
from flexplatform.registration.models import Role

PENNY = Decimal("0.01")


def _participates(session: Session, rnd: ClearingRound, who: Principal) -> bool:
    if who.is_(Role.regulator, Role.admin):
        return True
    ids = [uuid.UUID(x) for x in rnd.market_ids]
    if who.is_(Role.mo):
        return bool(session.scalar(select(func.count()).select_from(Market).where(
            Market.id.in_(ids), Market.mo_id == who.id)))
    if who.is_(Role.fsp):
        return bool(session.scalar(select(func.count()).select_from(Bid).where(
            Bid.market_id.in_(ids), Bid.fsp_id == who.id)))
    return False


def round_for(session: Session, round_id: uuid.UUID, who: Principal) -> ClearingRound:
    rnd = session.get(ClearingRound, round_id)
    if rnd is None or not _participates(session, rnd, who):
        raise NotFound(f"clearing round {round_id} not found")
    return rnd


def summary(session: Session, rnd: ClearingRound, who: Principal) -> ClearingOut:
    """A round as the caller may see it: oversight sees it whole; an MO or FSP only the
    markets it took part in and no total objective, as ``/result`` hides them."""
    out = ClearingOut.model_validate(rnd)
    if who.is_(Role.regulator, Role.admin):
        return out
    ids = [uuid.UUID(x) for x in rnd.market_ids]
    if who.is_(Role.mo):
        mine = session.scalars(select(Market.id).where(Market.id.in_(ids),
                                                       Market.mo_id == who.id))
    else:
        mine = session.scalars(select(Bid.market_id).where(Bid.market_id.in_(ids),
                                                           Bid.fsp_id == who.id).distinct())
    own = {str(m) for m in mine}
    return out.model_copy(update={"market_ids": [m for m in rnd.market_ids if m in own],
                                  "objective": None})


def rounds(session: Session, who: Principal, limit: int, offset: int) -> Sequence[ClearingRound]:
    q = select(ClearingRound)
    if who.is_(Role.mo):
        q = q.where(ClearingRound.id.in_(select(Market.clearing_round_id).where(
            Market.mo_id == who.id)))
    elif who.is_(Role.fsp):
        q = q.where(ClearingRound.id.in_(select(Market.clearing_round_id).where(
            Market.id.in_(select(Bid.market_id).where(Bid.fsp_id == who.id)))))
    return session.scalars(q.order_by(ClearingRound.created_at.desc()).limit(limit)
                           .offset(offset)).all()


def document(session: Session, round_id: uuid.UUID, who: Principal, which: str) -> dict[str, Any]:
    rnd = round_for(session, round_id, who)
    doc = rnd.snapshot if which == "snapshot" else rnd.result
    if which == "result" and rnd.status == RoundStatus.held \
            and not who.is_(Role.regulator, Role.admin):
        raise Conflict("the round's result is held for an admin; it is not the market result")
    if doc is None:
        raise Conflict(f"the round's {which} is not available yet (status {rnd.status.value})")
    digest = rnd.snapshot_sha256 if which == "snapshot" else rnd.result_sha256
    if who.is_(Role.regulator, Role.admin):
        return {**doc, "redacted": False, "sha256": digest}
    snap = rnd.snapshot or {}
    if who.is_(Role.mo):
        needs = {n["id"] for n in snap.get("needs", []) if n["mo"] == str(who.id)}
        bids = {b["id"] for b in snap.get("bids", []) if b["need"] in needs}
    else:
        bids = {str(i) for i in session.scalars(select(Bid.id).where(
            Bid.fsp_id == who.id, Bid.market_id.in_([uuid.UUID(x) for x in rnd.market_ids])))}
        needs = {b["need"] for b in snap.get("bids", []) if b["id"] in bids}
    assets = {b["asset"] for b in snap.get("bids", []) if b["id"] in bids}
    if which == "snapshot":
        part = {**doc,
                "assets": [a for a in doc["assets"] if a["id"] in assets],
                "needs": [n for n in doc["needs"] if n["id"] in needs],
                "bids": [b for b in doc["bids"] if b["id"] in bids]}
    else:
        part = {**doc,
                "awards": [a for a in doc["awards"] if a["bid"] in bids],
                "rejected": [r for r in doc["rejected"] if r["bid"] in bids],
                "unmet": [u for u in doc["unmet"] if u["need"] in needs],
                "prices": [p for p in doc["prices"] if p["need"] in needs]}
        # Totals would reveal others' costs; the party's own are in its awards.
        part.pop("cost", None)
        part.pop("objective", None)
    return {**part, "redacted": True, "sha256_of_full_document": digest}


def awards(session: Session, who: Principal, market_id: uuid.UUID | None, limit: int,
           offset: int) -> tuple[Sequence[Contract], int]:
    q = select(Contract)
    if who.is_(Role.fsp):
        q = q.where(Contract.fsp_id == who.id)
    elif who.is_(Role.mo):
        q = q.where(Contract.mo_id == who.id)
    if market_id:
        q = q.where(Contract.market_id == market_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(Contract.period_start, Contract.id).limit(limit)
                           .offset(offset)).all(), total


def _money(x: Decimal) -> str:
    return str(x.quantize(PENNY, rounding=ROUND_HALF_UP))


def schedule(session: Session, market_id: uuid.UUID, who: Principal) -> dict[str, Any]:
    """Per need: awarded MW per period per asset, costs (GBP, to the penny), unmet, prices."""
    if who.is_(Role.mo):
        m = own_market(session, market_id, who)
    else:
        m = session.get(Market, market_id)
        if m is None:
            raise NotFound(f"market {market_id} not found")
    if m.status != MarketStatus.cleared:
        raise Conflict(f"market is {m.status.value}; the schedule exists once it has cleared")
    dh = Decimal(m.period_minutes) / Decimal(60)
    # A transferred contract lives on in the contracts split from it (secondary trading).
    contracts = session.scalars(select(Contract).where(Contract.market_id == m.id,
                                                       Contract.status != "transferred")
                                .order_by(Contract.period_start)).all()
    outcomes = session.scalars(select(NeedOutcome).where(
        NeedOutcome.round_id == m.clearing_round_id,
        NeedOutcome.need_id.in_([n.id for n in m.needs])).order_by(NeedOutcome.period_start)).all()
    by_need: dict[uuid.UUID, list[Contract]] = defaultdict(list)
    for c in contracts:
        by_need[c.need_id].append(c)
    out_by_need: dict[uuid.UUID, list[NeedOutcome]] = defaultdict(list)
    for o in outcomes:
        out_by_need[o.need_id].append(o)
    needs = []
    total = Decimal(0)
    for n in m.needs:
        assets: dict[str, dict[str, Any]] = {}
        avail = Decimal(0)
        expected_util = Decimal(0)
        eu = Decimal(str(n.expected_utilisation))
        for c in by_need[n.id]:
            a = assets.setdefault(str(c.asset_id), {"asset_id": str(c.asset_id),
                                                    "bid_id": str(c.bid_id), "periods": []})
            a["periods"].append({"period_start": c.period_start.isoformat(), "mw": c.mw,
                                 "price": str(c.availability_price)})
            mwh = Decimal(str(c.mw)) * dh
            avail += mwh * c.availability_price
            expected_util += mwh * eu * c.utilisation_price
        unmet_mwh = sum((Decimal(str(o.unmet_mw)) * dh for o in out_by_need[n.id]), Decimal(0))
        total += avail
        needs.append({
            "need_id": str(n.id), "name": n.name, "product": n.product_code, "zone": n.zone_code,
            "direction": n.direction.value, "priority": n.priority,
            "availability_cost_gbp": _money(avail),
            "expected_utilisation_cost_gbp": _money(expected_util),
            "unmet_mwh": float(unmet_mwh),
            "periods": [{"period_start": o.period_start.isoformat(), "required_mw": o.required_mw,
                         "awarded_mw": o.awarded_mw, "unmet_mw": o.unmet_mw,
                         "clearing_price": o.clearing_price, "marginal_cost": o.marginal_cost}
                        for o in out_by_need[n.id]],
            "assets": list(assets.values()),
        })
    return {"market_id": str(m.id), "status": m.status.value,
            "clearing_round_id": str(m.clearing_round_id),
            "availability_cost_gbp": _money(total),
            "rounding": "each need's cost is rounded half-up to the penny", "needs": needs}


