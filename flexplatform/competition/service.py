"""Markets, needs and bids: who may do what, when, and which bids are admissible.

Bid checks live in one function used by submission, bulk submission, amendment and the
validation endpoint, so "would this be accepted?" and "was it accepted?" never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import (
    LIVE_BID,
    Bid,
    BidStatus,
    Contract,
    Market,
    MarketStatus,
    Need,
)
from flexplatform.competition.schemas import BidAmend, BidIn, MarketIn, NeedIn
from flexplatform.db import after_commit, bulk_insert, utcnow
from flexplatform.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Direction, Product, Zone, ZoneKind
from flexplatform.registration.models import Asset, Prequalification, PrequalStatus, Role
from optimiser.eligibility import can_move, capability, zone_serves

MAX_REPORTED = 1000


# --- markets ----------------------------------------------------------------------------


def _check_need(session: Session, n: NeedIn, i: int, products: dict[str, Product]
                ) -> list[dict[str, Any]]:
    errs = []
    p = products.get(n.product)
    if p is None or not p.active:
        errs.append(field_error(["needs", i, "product"], f"unknown or inactive product '{n.product}'"))
    elif p.direction != Direction.both and p.direction.value != n.direction.value:
        errs.append(field_error(["needs", i, "direction"],
                                f"{n.product} is a {p.direction.value} product"))
    z = session.get(Zone, n.zone)
    if z is None:
        errs.append(field_error(["needs", i, "zone"], f"unknown zone '{n.zone}'"))
    elif z.kind == ZoneKind.gsp_group:
        errs.append(field_error(["needs", i, "zone"],
                                "needs target a constraint managed zone or GB, not a GSP group"))
    if max(n.mw) <= 0:
        errs.append(field_error(["needs", i, "mw"], "the need asks for nothing in any period"))
    return errs


def create_market(session: Session, data: MarketIn, who: Principal) -> Market:
    products = {p.code: p for p in session.scalars(select(Product))}
    errors = [e for i, n in enumerate(data.needs) for e in _check_need(session, n, i, products)]
    now = utcnow()
    if data.gate_close_at <= now:
        errors.append(field_error(["gate_close_at"], "gate closure is in the past"))
    if errors:
        raise InvalidInput("market not created", errors=errors)
    _, rules = rules_svc.in_force(session)
    m = Market(mo_id=who.id, name=data.name, description=data.description,
               gate_open_at=data.gate_open_at, gate_close_at=data.gate_close_at,
               delivery_start=data.delivery_start, delivery_end=data.delivery_end,
               status=MarketStatus.open if data.open else MarketStatus.draft)
    for n in data.needs:
        p = products[n.product]
        m.needs.append(Need(
            name=n.name, product_code=n.product, zone_code=n.zone, direction=n.direction,
            priority=rules_svc.priority_for(rules, p.code, p.operator_kind),
            mw=list(n.mw), max_availability_price=n.max_availability_price,
            utilisation_price_cap=n.utilisation_price_cap,
            expected_utilisation=n.expected_utilisation, unmet_penalty=n.unmet_penalty))
    session.add(m)
    session.flush()
    audit.record(session, who.actor, "market.create", "market", m.id,
                 {"name": m.name, "needs": [str(n.id) for n in m.needs],
                  "status": m.status.value, "gate_close_at": m.gate_close_at})
    if m.status == MarketStatus.open:
        _alert_opportunities(session, m)
    return m


def get_market(session: Session, market_id: uuid.UUID, who: Principal | None) -> Market:
    m = session.get(Market, market_id)
    visible = m is not None and (
        (who is not None and (who.is_(Role.regulator, Role.admin) or m.mo_id == who.id))
        or m.status != MarketStatus.draft
    )
    if not visible:
        raise NotFound(f"market {market_id} not found")
    return m  # type: ignore[return-value]


def own_market(session: Session, market_id: uuid.UUID, who: Principal) -> Market:
    m = session.get(Market, market_id)
    if m is None or m.mo_id != who.id:
        raise NotFound(f"market {market_id} not found")
    return m


def list_markets(session: Session, who: Principal, status: MarketStatus | None,
                 limit: int, offset: int) -> tuple[Sequence[Market], int]:
    q = select(Market)
    if who.is_(Role.mo):
        q = q.where(Market.mo_id == who.id)
    elif who.is_(Role.fsp):
        q = q.where(Market.status != MarketStatus.draft)
    if status:
        q = q.where(Market.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(Market.gate_close_at, Market.id).limit(limit)
                           .offset(offset)).all(), total


TRANSITIONS = {
    "open": ({MarketStatus.draft}, MarketStatus.open),
    "cancel": ({MarketStatus.draft, MarketStatus.open}, MarketStatus.cancelled),
}


def transition(session: Session, market_id: uuid.UUID, action: str, who: Principal) -> Market:
    m = own_market(session, market_id, who)
    sources, target = TRANSITIONS[action]
    if m.status not in sources:
        raise Conflict(f"a {m.status.value} market cannot {action}",
                       allowed_from=sorted(s.value for s in sources))
    if action == "open" and m.gate_close_at <= utcnow():
        raise Conflict("gate closure has passed; the market can no longer open")
    m.status = target
    if target == MarketStatus.cancelled:
        for b in session.scalars(select(Bid).where(Bid.market_id == m.id,
                                                   Bid.status.in_(LIVE_BID))):
            b.status = BidStatus.rejected
            b.reasons = [{"code": "market_cancelled", "message": "the MO cancelled the market"}]
    audit.record(session, who.actor, f"market.{action}", "market", m.id, {"status": target.value})
    if target == MarketStatus.open:
        _alert_opportunities(session, m)
    return m


def _alert_opportunities(session: Session, m: Market) -> None:
    """Once the market is open (committed), every FSP with a qualifying asset is told, with
    the advice for it (transparency/advice.py, on a worker)."""
    from flexplatform.queue import enqueue

    mid = str(m.id)
    after_commit(session, lambda: enqueue("flex.advice.opportunity_alerts", market_id=mid))


# --- bids -------------------------------------------------------------------------------


@dataclass
class BidContext:
    """Everything bid checks need, loaded once per request (not once per bid)."""

    needs: dict[uuid.UUID, tuple[Need, Market, Product]]
    assets: dict[uuid.UUID, Asset]
    prequal: dict[tuple[uuid.UUID, str], Prequalification]


def load_context(session: Session, bids: Sequence[BidIn], fsp_id: uuid.UUID) -> BidContext:
    need_ids = {b.need_id for b in bids}
    asset_ids = list({b.asset_id for b in bids})
    # A draft market's needs are private to its MO: to an FSP they do not exist, so a bid
    # on one is answered exactly as a bid on an unknown need (no status, no gate times).
    needs = {n.id: (n, m, p) for n, m, p in session.execute(
        select(Need, Market, Product).join(Market, Market.id == Need.market_id)
        .join(Product, Product.code == Need.product_code)
        .where(Need.id.in_(need_ids), Market.status != MarketStatus.draft))}
    assets: dict[uuid.UUID, Asset] = {}
    prequal: dict[tuple[uuid.UUID, str], Prequalification] = {}
    for i in range(0, len(asset_ids), 5000):
        chunk = asset_ids[i : i + 5000]
        for a in session.scalars(select(Asset).where(Asset.id.in_(chunk), Asset.fsp_id == fsp_id)):
            assets[a.id] = a
        for p in session.scalars(select(Prequalification).where(
                Prequalification.asset_id.in_(chunk))):
            prequal[(p.asset_id, p.product_code)] = p
    return BidContext(needs, assets, prequal)


def bid_problems(b: BidIn, ctx: BidContext, now: Any, base: list[Any]) -> list[dict[str, Any]]:
    """Why this bid may not be stored (empty: it may). ``base`` prefixes error pointers."""
    errs = []
    found = ctx.needs.get(b.need_id)
    if found is None:
        return [field_error([*base, "need_id"], f"no open need {b.need_id}", code="need_not_found")]
    need, market, product = found
    if market.status != MarketStatus.open or not (market.gate_open_at <= now < market.gate_close_at):
        errs.append(field_error([*base, "need_id"], "the market is not open for bids "
                                f"({market.status.value}; gate {market.gate_open_at:%Y-%m-%d %H:%M}"
                                f"-{market.gate_close_at:%Y-%m-%d %H:%M} UTC)", code="gate_closed"))
    asset = ctx.assets.get(b.asset_id)
    if asset is None:
        errs.append(field_error([*base, "asset_id"], "not one of your assets",
                                code="asset_not_found"))
        return errs
    pq = ctx.prequal.get((asset.id, product.code))
    if pq is None or pq.status != PrequalStatus.eligible:
        why = "; ".join(r["message"] for r in (pq.reasons if pq else [])) or "not prequalified"
        errs.append(field_error([*base, "asset_id"], f"asset not prequalified for "
                                f"{product.code}: {why}", code="not_prequalified"))
    if not zone_serves(need.zone_code, asset.zone_code):
        errs.append(field_error([*base, "asset_id"], f"asset is in {asset.zone_code}; the need "
                                f"is for {need.zone_code}", code="zone_mismatch"))
    cap = capability(asset.up_mw, asset.down_mw, need.direction.value)
    if len(b.mw) != len(need.mw):
        errs.append(field_error([*base, "mw"], f"{len(b.mw)} values; the need has "
                                f"{len(need.mw)} periods", code="profile_length"))
    elif not can_move(cap):
        errs.append(field_error([*base, "asset_id"], f"asset cannot move {need.direction.value}",
                                code="direction_not_supported"))
    else:
        over = [i for i, v in enumerate(b.mw) if v > cap + 1e-9]
        if over:
            errs.append(field_error([*base, "mw", over[0]], f"{b.mw[over[0]]:g} MW exceeds the "
                                    f"asset's {cap:g} MW {need.direction.value} capability "
                                    f"({len(over)} period(s))", code="over_capability"))
    if b.availability_price > need.max_availability_price:
        errs.append(field_error([*base, "availability_price"], f"above the need's cap "
                                f"{need.max_availability_price}", code="above_price_cap"))
    if b.utilisation_price > need.utilisation_price_cap:
        errs.append(field_error([*base, "utilisation_price"], f"above the need's cap "
                                f"{need.utilisation_price_cap}", code="above_price_cap"))
    return errs


def _values(b: BidIn, fsp_id: uuid.UUID, market_id: uuid.UUID, now: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "fsp_id": fsp_id, "asset_id": b.asset_id, "need_id": b.need_id,
            "market_id": market_id, "mw": list(b.mw), "min_mw": b.min_mw,
            "availability_price": b.availability_price, "utilisation_price": b.utilisation_price,
            "all_or_nothing": b.all_or_nothing, "exclusive_group": b.exclusive_group,
            "status": BidStatus.submitted, "version": 1, "reasons": [], "created_at": now,
            "updated_at": now}


def submit_bid(session: Session, data: BidIn, who: Principal) -> Bid:
    ctx = load_context(session, [data], who.id)
    now = utcnow()
    errs = bid_problems(data, ctx, now, [])
    if errs:
        raise InvalidInput("bid not accepted", errors=errs)
    bid = Bid(**_values(data, who.id, ctx.needs[data.need_id][1].id, now))
    session.add(bid)
    session.flush()
    audit.record(session, who.actor, "bid.submit", "bid", bid.id,
                 {"need": str(bid.need_id), "asset": str(bid.asset_id)})
    return bid


def submit_bulk(session: Session, rows: list[Any], who: Principal, max_rows: int) -> list[uuid.UUID]:
    """All or nothing, with every bad row reported; inserted in batches of plain rows."""
    if len(rows) > max_rows:
        raise InvalidInput(f"at most {max_rows} bids per request, got {len(rows)}",
                           errors=[field_error(["bids"], f"more than {max_rows} rows")])
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, BidIn]] = []
    for i, row in enumerate(rows):
        try:
            parsed.append((i, BidIn.model_validate(row)))
        except ValidationError as e:
            errors += [field_error(["bids", i, *err["loc"]], err["msg"])
                       for err in e.errors(include_url=False)]
    ctx = load_context(session, [b for _, b in parsed], who.id)
    now = utcnow()
    for i, b in parsed:
        errors += bid_problems(b, ctx, now, ["bids", i])
    if errors:
        raise InvalidInput(f"{len(errors)} problem(s) in the batch; no bid was stored",
                           errors=errors[:MAX_REPORTED], error_count=len(errors))
    values = [_values(b, who.id, ctx.needs[b.need_id][1].id, now) for _, b in parsed]
    bulk_insert(session, Bid, values)
    audit.record(session, who.actor, "bid.bulk_submit", "bid", None,
                 {"count": len(values), "markets": sorted({str(v["market_id"]) for v in values})})
    return [v["id"] for v in values]


def own_bid(session: Session, bid_id: uuid.UUID, who: Principal) -> Bid:
    bid = session.get(Bid, bid_id)
    if bid is None or bid.fsp_id != who.id:
        raise NotFound(f"bid {bid_id} not found")
    return bid


def read_bid(session: Session, bid_id: uuid.UUID, who: Principal) -> Bid:
    bid = session.get(Bid, bid_id)
    if bid is not None:
        if who.is_(Role.regulator, Role.admin) or bid.fsp_id == who.id:
            return bid
        if who.is_(Role.mo):
            m = session.get(Market, bid.market_id)
            if m and m.mo_id == who.id and m.status in (MarketStatus.closed, MarketStatus.cleared):
                return bid
    raise NotFound(f"bid {bid_id} not found")


def amend_bid(session: Session, bid_id: uuid.UUID, data: BidAmend, who: Principal) -> Bid:
    bid = own_bid(session, bid_id, who)
    if bid.status not in LIVE_BID:
        raise Conflict(f"a {bid.status.value} bid cannot be amended")
    try:
        # The amendment is checked as the whole bid it makes (e.g. an all-zero mw, or a
        # min_mw above the new profile), with the same rules as a new bid.
        merged = BidIn.model_validate({
            "need_id": bid.need_id, "asset_id": bid.asset_id, "mw": bid.mw,
            "min_mw": bid.min_mw, "availability_price": bid.availability_price,
            "utilisation_price": bid.utilisation_price, "all_or_nothing": bid.all_or_nothing,
            "exclusive_group": bid.exclusive_group, **data.model_dump(exclude_unset=True)})
    except ValidationError as e:
        raise InvalidInput("amendment not accepted", errors=[
            field_error(list(err["loc"]) or ["body"], err["msg"])
            for err in e.errors(include_url=False)]) from None
    errs = bid_problems(merged, load_context(session, [merged], who.id), utcnow(), [])
    if errs:
        raise InvalidInput("amendment not accepted", errors=errs)
    for k, v in data.model_dump(exclude_unset=True).items():
        setattr(bid, k, v)
    bid.status, bid.version, bid.updated_at = BidStatus.amended, bid.version + 1, utcnow()
    audit.record(session, who.actor, "bid.amend", "bid", bid.id,
                 {"version": bid.version, **data.model_dump(exclude_unset=True, mode="json")})
    return bid


def withdraw_bid(session: Session, bid_id: uuid.UUID, who: Principal) -> Bid:
    bid = own_bid(session, bid_id, who)
    if bid.status not in LIVE_BID:
        raise Conflict(f"a {bid.status.value} bid cannot be withdrawn")
    m = session.get(Market, bid.market_id)
    if m is None or m.status != MarketStatus.open or m.gate_close_at <= utcnow():
        raise Conflict("gate closure has passed; the bid stands")
    bid.status, bid.updated_at = BidStatus.withdrawn, utcnow()
    audit.record(session, who.actor, "bid.withdraw", "bid", bid.id, {})
    return bid


def list_bids(session: Session, who: Principal, market_id: uuid.UUID | None,
              status: BidStatus | None, limit: int, offset: int) -> tuple[Sequence[Bid], int]:
    q = select(Bid)
    if who.is_(Role.fsp):
        q = q.where(Bid.fsp_id == who.id)
    elif who.is_(Role.mo):
        if market_id is None:
            raise InvalidInput("MOs list bids per market",
                               errors=[field_error(["query", "market_id"], "required for an MO")])
        m = own_market(session, market_id, who)
        if m.status not in (MarketStatus.closed, MarketStatus.cleared):
            raise Forbidden("bids on a market are visible to its MO only after gate closure")
    if market_id:
        q = q.where(Bid.market_id == market_id)
    if status:
        q = q.where(Bid.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(Bid.created_at, Bid.id).limit(limit).offset(offset)
                           ).all(), total


def validate_bid(session: Session, data: BidIn, who: Principal) -> dict[str, Any]:
    """Event-by-event check: eligibility now, and conflicts with awards already held."""
    ctx = load_context(session, [data], who.id)
    problems = bid_problems(data, ctx, utcnow(), [])
    conflicts: list[dict[str, Any]] = []
    found = ctx.needs.get(data.need_id)
    asset = ctx.assets.get(data.asset_id)
    if found and asset and len(data.mw) == len(found[0].mw):
        need, market, _product = found
        _, rules = rules_svc.in_force(session)
        conflicts = award_conflicts(session, data, need, market, asset, rules)
    return {
        "eligible": not problems,
        "problems": [{"code": p.get("code", "invalid"), "message": p["message"],
                      "field": p["field"]} for p in problems],
        "conflicts": conflicts,
    }


def award_conflicts(session: Session, data: BidIn, need: Need, market: Market, asset: Asset,
                    rules: Any) -> list[dict[str, Any]]:
    import datetime as dt

    starts = [market.delivery_start + dt.timedelta(minutes=30 * i) for i in range(len(need.mw))]
    wanted = {s: v for s, v in zip(starts, data.mw, strict=True) if v > 0}
    if not wanted:
        return []
    held = session.execute(select(Contract.period_start, Contract.mw, Contract.direction,
                                  Contract.product_code)
                           .where(Contract.asset_id == asset.id, Contract.status == "active",
                                  Contract.period_start.in_(list(wanted)))).all()
    incompatible = {frozenset(p) for p in rules.incompatible_products}
    out: list[dict[str, Any]] = []
    by_period: dict[Any, float] = {}
    for start, mw, direction, product in held:
        if direction != need.direction.value:
            out.append({"code": "direction_conflict", "field": None, "message":
                        f"{start:%Y-%m-%d %H:%M} already awarded {mw:g} MW {direction}"})
        elif frozenset((product, need.product_code)) in incompatible:
            out.append({"code": "stacking_conflict", "field": None, "message":
                        f"{start:%Y-%m-%d %H:%M}: {product} award cannot stack with "
                        f"{need.product_code}"})
        else:
            by_period[start] = by_period.get(start, 0.0) + mw
    cap = capability(asset.up_mw, asset.down_mw, need.direction.value)
    for start, used in sorted(by_period.items()):
        if used + wanted[start] > cap + 1e-9:
            out.append({"code": "capacity_already_awarded", "field": None, "message":
                        f"{start:%Y-%m-%d %H:%M}: {used:g} MW already awarded; "
                        f"{wanted[start]:g} more exceeds {cap:g} MW"})
    return out
