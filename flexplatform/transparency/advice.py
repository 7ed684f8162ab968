"""Best-product advice from the platform's records, and the opportunity alerts.

The engine (optimiser/advice, docs/advice.md) is pure: this module builds its
advice-request-v1 from the database (the open needs, the products, the rules in force and
a year of like needs' history), calls it, and adds the needs the platform itself rules
out on prequalification grounds the engine does not check (minimum size, energy, run
times, notice), each with the platform's own reason. Nothing here writes except the
alerts, which are notifications (stored once per FSP, asset and market; pushed after the
commit).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform.auth import Principal
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import Bid, BidStatus, Contract, Market, MarketStatus, Need
from flexplatform.db import utcnow
from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.exploration.service import open_needs_query
from flexplatform.governance.models import Product, TechnologyType, Zone
from flexplatform.notifications import notify
from flexplatform.registration import prequal
from flexplatform.registration.models import Asset, AssetStatus

HISTORY_DAYS = 365
# Rejections that say something about the price that wins (docs/advice.md, "Filling the
# history"); the others concern the bidder's own asset.
COMPETITIVE = {"outcompeted", "primacy", "indivisible_not_economic",
               "availability_price_above_cap"}
# Checked by the engine itself (with the same rule), so not duplicated here.
ENGINE_CHECKS = {"technology_not_allowed", "direction_not_supported"}
ALERT_KIND = "market.opportunity"
ADVICE_TIME_LIMIT_S = 5.0
# An alert's advice covers one market's needs: a small model, so a short limit.
ALERT_TIME_LIMIT_S = 1.0


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(session: Session, products: set[str], now: dt.datetime) -> tuple[list[dict], dict]:
    """History groups of like needs (same products) over the last year, and what was read."""
    if not products:
        return [], {"bids": 0, "needs": 0, "contracts": 0}
    from optimiser.advice import history_groups

    since = now - dt.timedelta(days=HISTORY_DAYS)
    past = select(Need.id).join(Market, Market.id == Need.market_id).where(
        Need.product_code.in_(products), Market.status.in_([MarketStatus.cleared,
                                                            MarketStatus.closed]),
        Market.gate_close_at >= since, Market.gate_close_at < now)
    bids = []
    bidders: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for b, n in session.execute(select(Bid, Need).join(Need, Need.id == Bid.need_id)
                                .where(Bid.need_id.in_(past))):
        bidders[n.id].add(b.fsp_id)
        codes = {r.get("code") for r in (b.reasons or [])}
        rec = {"product": n.product_code, "zone": n.zone_code, "direction": n.direction.value,
               "availability_price": float(b.availability_price)}
        if b.status == BidStatus.accepted:
            bids.append(rec | {"accepted": True, "utilisation_price": float(b.utilisation_price)})
        elif b.status == BidStatus.rejected and codes & COMPETITIVE:
            bids.append(rec | {"accepted": False})
    needs = [{"product": n.product_code, "zone": n.zone_code, "direction": n.direction.value,
              "bidders": len(bidders.get(n.id, ()))}
             for n in session.scalars(select(Need).where(Need.id.in_(past)))]
    contracts = _utilisation(session, past)
    return history_groups(bids, needs, contracts), {
        "from": _iso(since), "to": _iso(now), "bids": len(bids), "needs": len(needs),
        "contracts": len(contracts)}


def _utilisation(session: Session, past: Any) -> list[dict[str, Any]]:
    """MWh instructed over MWh contracted per past contract (operations' instructions);
    none where dispatch is not installed, and the engine's prior applies."""
    from flexplatform.transparency.monitoring_rules import stage_model

    Ins = stage_model("operations", "Instruction")
    if Ins is None:
        return []
    called: dict[int, float] = defaultdict(float)
    rows = session.execute(select(Contract, Need.zone_code).join(Need, Need.id == Contract.need_id)
                           .where(Contract.need_id.in_(past))).all()
    ids = [c.id for c, _ in rows]
    for k in range(0, len(ids), 5000):
        for i in session.scalars(select(Ins).where(Ins.contract_id.in_(ids[k:k + 5000]),
                                                   Ins.status != "cancelled")):
            called[i.contract_id] += i.mw * (i.period_end - i.period_start).total_seconds() / 3600
    return [{"product": c.product_code, "zone": zone, "direction": c.direction,
             "utilisation": min(1.0, called.get(c.id, 0.0) / (c.mw * 0.5)) if c.mw > 0 else 0.0}
            for c, zone in rows]


def _axis(markets: list[Market]) -> tuple[list[dt.datetime], dict[uuid.UUID, list[int]]]:
    own = {m.id: [m.delivery_start + dt.timedelta(minutes=30 * i) for i in
                  range(int((m.delivery_end - m.delivery_start).total_seconds() // 1800))]
           for m in markets}
    axis = sorted({t for ts in own.values() for t in ts})
    idx = {t: i for i, t in enumerate(axis)}
    return axis, {mid: [idx[t] for t in ts] for mid, ts in own.items()}


def build(session: Session, asset: Any, *, asset_id: str | None, costs: tuple[float, float],
          now: dt.datetime | None = None, market_id: uuid.UUID | None = None,
          hist: tuple[list[dict], dict] | None = None
          ) -> tuple[dict[str, Any] | None, list[dict], dict]:
    """(advice-request-v1 or None if no open need remains, needs the platform rules out,
    what the history read). ``asset`` has the Asset fields (a record or a prospect);
    ``market_id`` keeps one market's needs only; ``hist`` is a history already read."""
    now = now or utcnow()
    q = open_needs_query(now)
    if market_id is not None:
        q = q.where(Market.id == market_id)
    rows = session.execute(q.order_by(Market.gate_close_at, Need.id)).all()
    products = {p.code: p for p in session.scalars(select(Product))}
    excluded, kept = [], []
    for need, market, _ in rows:
        p = products.get(need.product_code)
        why = [r for r in (prequal.evaluate(asset, p) if p else [])
               if r["code"] not in ENGINE_CHECKS]
        if why:
            excluded.append({"need": str(need.id), "codes": [r["code"] for r in why],
                             "reasons": [{"code": r["code"], "text": r["message"]} for r in why]})
        else:
            kept.append((need, market))
    hist_groups, read = hist or history(session, {n.product_code for n, _ in kept}, now)
    if not kept:
        return None, excluded, read
    markets = list({m.id: m for _, m in kept}.values())
    axis, where = _axis(markets)
    T = len(axis)

    def spread(values: list[Any], idx: list[int]) -> list[float]:
        row = [0.0] * T
        for i, v in zip(idx, values, strict=False):
            row[i] = float(v)
        return row

    _, rules = rules_svc.in_force(session, now)
    snap_rules = rules_svc.snapshot_rules(rules)
    status = getattr(asset.status, "value", asset.status)
    doc = {
        "version": 1, "period_minutes": 30, "periods": [_iso(t) for t in axis],
        "asset": {"id": asset_id, "zone": asset.zone_code, "technology": asset.technology_code,
                  "up_mw": asset.up_mw, "down_mw": asset.down_mw,
                  "energy_mwh": asset.energy_mwh,
                  "initial_energy_mwh": getattr(asset, "initial_energy_mwh", None),
                  "recharge_mw": getattr(asset, "recharge_mw", None),
                  "max_run_periods": (math.floor(asset.max_run_minutes / 30)
                                      if asset.max_run_minutes else None) or None,
                  "reliability": asset.reliability,
                  "emission_t_per_mwh": asset.emission_t_per_mwh,
                  "availability_cost": costs[0], "utilisation_cost": costs[1],
                  "unavailable_periods": list(range(T)) if status in ("archived", "mothballed")
                  else []},
        "needs": [{"id": str(n.id), "mo": str(m.mo_id), "product": n.product_code,
                   "zone": n.zone_code, "direction": n.direction.value, "priority": n.priority,
                   "mw": spread(n.mw, where[m.id]),
                   "max_availability_price": float(n.max_availability_price),
                   "utilisation_price_cap": float(n.utilisation_price_cap),
                   "expected_utilisation": n.expected_utilisation} for n, m in kept],
        "products": {c: {"allowed_technologies": list(p.allowed_technologies or [])}
                     for c, p in products.items()},
        "rules": {"incompatible_products": snap_rules["incompatible_products"],
                  "carbon_price": snap_rules["carbon_price"]},
        "history": hist_groups,
    }
    return doc, excluded, read


def run(session: Session, asset: Any, *, asset_id: str | None, costs: tuple[float, float],
        now: dt.datetime | None = None, market_id: uuid.UUID | None = None,
        hist: tuple[list[dict], dict] | None = None,
        time_limit: float = ADVICE_TIME_LIMIT_S) -> dict[str, Any]:
    """Build the request, solve it, and return the explained advice with its basis."""
    from optimiser.advice import AdviceOptions, AdviceRequestError, advise

    now = now or utcnow()
    doc, excluded, read = build(session, asset, asset_id=asset_id, costs=costs, now=now,
                                market_id=market_id, hist=hist)
    out: dict[str, Any] = {"asset_id": asset_id, "generated_at": now, "history": read,
                           "open_needs": len(excluded) + (len(doc["needs"]) if doc else 0)}
    if doc is None:
        out["advice"] = {"version": 1, "status": "optimal", "message": "no open need to bid into",
                         "asset": asset_id, "bids": [], "not_advised": excluded,
                         "expected": {"availability_gbp": "0.00", "utilisation_gbp": "0.00",
                                      "cost_gbp": "0.00", "total_gbp": "0.00"}}
        return out
    try:
        res = advise(doc, AdviceOptions(time_limit=time_limit)).to_dict()
    except AdviceRequestError as e:  # the asset's own data (a prospect's) is what is wrong
        raise InvalidInput("the asset cannot be advised as described", errors=[
            field_error(_loc(p), p["message"]) for p in e.problems]) from None
    res["not_advised"] = list(res.get("not_advised", [])) + excluded
    out["advice"] = res
    return out


def _loc(problem: dict[str, Any]) -> list[str]:
    """An engine problem as a body pointer: the asset's fields are the body's own."""
    path, fld = problem.get("path") or "", problem.get("field")
    if path.startswith("asset") and fld:
        return [fld]
    return [x for x in (path.strip("$.") or None, fld) if x] or ["body"]


def for_asset(session: Session, asset_id: uuid.UUID, who: Principal,
              costs: tuple[float, float]) -> dict[str, Any]:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.fsp_id != who.id:
        raise NotFound(f"asset {asset_id} not found")
    return run(session, asset, asset_id=str(asset.id), costs=costs)


def for_prospect(session: Session, body: Any) -> dict[str, Any]:
    errors = []
    if session.get(Zone, body.zone) is None:
        errors.append(field_error(["zone"], f"unknown zone {body.zone}"))
    if session.get(TechnologyType, body.technology) is None:
        errors.append(field_error(["technology"], f"unknown technology {body.technology}"))
    if errors:
        raise InvalidInput("unknown reference", errors=errors)
    asset = SimpleNamespace(
        status=AssetStatus.operational, zone_code=body.zone, technology_code=body.technology,
        up_mw=body.up_mw, down_mw=body.down_mw, energy_mwh=body.energy_mwh,
        initial_energy_mwh=body.initial_energy_mwh, recharge_mw=body.recharge_mw,
        min_run_minutes=body.min_run_minutes, max_run_minutes=body.max_run_minutes,
        ramp_mw_per_min=body.ramp_mw_per_min, reliability=body.reliability,
        emission_t_per_mwh=body.emission_t_per_mwh)
    return run(session, asset, asset_id=None,
               costs=(body.availability_cost, body.utilisation_cost))


# --- opportunity alerts ------------------------------------------------------------------

def alert_payloads(session: Session, market_id: uuid.UUID) -> list[tuple[uuid.UUID, dict, str]]:
    """(FSP, payload, dedupe key) for each asset that qualifies for a need of an open market.

    Only reads, so a worker can compute every advice in a read-only transaction and write
    the notifications in a short one. The advice is for this market's needs (the
    opportunity the alert is about), on the history of like needs read once per market.
    """
    from flexplatform.exploration.service import need_fit
    from flexplatform.registration.models import Prequalification

    market = session.get(Market, market_id)
    if market is None or market.status != MarketStatus.open:
        return []
    needs = session.scalars(select(Need).where(Need.market_id == market_id)).all()
    if not needs:
        return []
    now = utcnow()
    hist = history(session, {n.product_code for n in needs}, now)
    zones = {n.zone_code for n in needs}
    q = select(Asset).where(Asset.status == AssetStatus.operational)
    if "GB" not in zones:
        q = q.where(Asset.zone_code.in_(zones))
    out = []
    for asset in session.scalars(q.order_by(Asset.id)):
        pq = {p.product_code: p for p in session.scalars(
            select(Prequalification).where(Prequalification.asset_id == asset.id))}
        fits = [n for n in needs if not need_fit(asset, n, pq.get(n.product_code))]
        if not fits:
            continue
        adv = run(session, asset, asset_id=str(asset.id), costs=(0.0, 0.0), now=now,
                  market_id=market.id, hist=hist, time_limit=ALERT_TIME_LIMIT_S)["advice"]
        mine = {str(n.id) for n in fits}
        bids = [b for b in adv.get("bids", []) if b["need"] in mine]
        out.append((asset.fsp_id, {
            "market_id": str(market.id), "market_name": market.name,
            "gate_close_at": _iso(market.gate_close_at), "asset_id": str(asset.id),
            "qualifying_needs": sorted(mine),
            "advice": {"status": adv.get("status"), "bids": [
                {k: b.get(k) for k in ("need", "product", "direction", "availability_price",
                                       "utilisation_price", "win_probability", "expected",
                                       "text")} for b in bids],
                       "expected_total_gbp": str(sum((_dec(b["expected"]["total_gbp"])
                                                      for b in bids), _dec("0")))},
        }, f"{ALERT_KIND}:{market.id}:{asset.id}"))
    return out


def send_alerts(session: Session, payloads: list[tuple[uuid.UUID, dict, str]]) -> int:
    """Store (once per dedupe key) and push the alerts after the commit."""
    for fsp_id, payload, key in payloads:
        notify(session, fsp_id, ALERT_KIND, payload, dedupe_key=key)
    return len(payloads)


def alert_opportunities(session: Session, market_id: uuid.UUID) -> int:
    """Tell each FSP with an asset that qualifies for a need of a newly opened market, with
    the advice for that asset. Once per (market, asset): a redelivered task sends nothing."""
    return send_alerts(session, alert_payloads(session, market_id))


def _dec(s: str) -> Any:
    from decimal import Decimal

    return Decimal(s)


def count_alerts(session: Session, market_id: uuid.UUID) -> int:
    from flexplatform.notifications import Notification

    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.dedupe_key.like(f"{ALERT_KIND}:{market_id}:%"))) or 0
