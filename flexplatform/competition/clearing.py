"""Clearing rounds: gate closure, snapshot, storing the optimiser's decisions.

The round is split in three so the solver never holds a database transaction open:
``close_gates`` (one transaction: markets closed, round queued), ``prepare`` (one
transaction: snapshot built and frozen on the round) and ``store`` (one transaction:
contracts, outcomes, bid verdicts, notifications). Each step checks the round's state
first, so a re-delivered or duplicated task does nothing twice; the frozen snapshot makes
a re-run after a crash solve exactly the same problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from flexplatform import audit, runs
from flexplatform.competition import finality, reliability
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import (
    LIVE_BID,
    Bid,
    BidStatus,
    ClearingRound,
    Contract,
    Market,
    MarketStatus,
    Need,
    NeedOutcome,
    RoundStatus,
)
from flexplatform.db import bulk_insert, utcnow
from flexplatform.governance.models import Product
from flexplatform.identity import Participant, ParticipantStatus
from flexplatform.notifications import notify
from flexplatform.registration.models import Asset, AssetStatus
from optimiser.reasons import REASON_TEXT as OPTIMISER_REASON_TEXT

SYSTEM = audit.Actor.system()


def _sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def _lock(session: Session, q: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return q.with_for_update(skip_locked=True)
    return q


def close_gates(session: Session, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Close every open market whose gate has passed into one round; return rounds to run.

    Also returns rounds still queued (a lost enqueue) or running far too long (a dead
    worker), so the scan is the single self-healing way work gets (re)started.
    """
    now = now or utcnow()
    due = session.scalars(_lock(session, select(Market).where(
        Market.status == MarketStatus.open, Market.gate_close_at <= now)
        .order_by(Market.gate_close_at, Market.id))).all()
    due = [m for m in due if not _refuse_off_grid(session, m)]
    rounds: list[uuid.UUID] = []
    if due:
        version, rules = rules_svc.in_force(session, now)
        rnd = ClearingRound(market_ids=[str(m.id) for m in due], rule_set_version=version,
                            created_at=now)
        session.add(rnd)
        session.flush()
        kinds = dict(session.execute(select(Product.code, Product.operator_kind)).all())
        for m in due:
            m.status = MarketStatus.closed
            m.clearing_round_id = rnd.id
            # The round clears under the rules in force now; the stored priority says so.
            for n in m.needs:
                n.priority = rules_svc.priority_for(rules, n.product_code, kinds[n.product_code])
        excluded = _exclude_at_gate(session, [m.id for m in due], now)
        audit.record(session, SYSTEM, "clearing.queued", "clearing_round", rnd.id,
                     {"markets": rnd.market_ids, "rule_set_version": version,
                      "bids_excluded": excluded})
        rounds.append(rnd.id)
    # A queued round whose message was lost, or a running one whose worker stopped renewing
    # its lease (killed whole): start it again, once; lost a second time, it fails.
    stale = session.scalars(_lock(session, select(ClearingRound).where(
        (ClearingRound.status == RoundStatus.queued) | runs.lapsed(ClearingRound, now))
        .order_by(ClearingRound.created_at))).all()
    for rnd in stale:
        if rnd.status == RoundStatus.running and runs.exhausted(rnd):
            fail(session, rnd.id, f"the solving worker was lost {rnd.attempts} times "
                 "(no heartbeat within the lease); an admin must look before it runs again")
        elif rnd.id not in rounds:
            rounds.append(rnd.id)
    return rounds


# Gate closure drops what can no longer stand; each rule gives the bid's reason code.
EXCLUDED_AT_GATE = {
    "participant_suspended": "the FSP was not active at gate closure",
    "asset_not_available": "the asset was decommissioned or mothballed at gate closure",
}


def _exclude_at_gate(session: Session, market_ids: list[uuid.UUID], now: dt.datetime
                     ) -> dict[str, int]:
    """Reject, with a reason, live bids whose FSP is not active or whose asset is gone.

    Suspension locks a participant out of the API at once, but bids it placed before stay
    live; they must not clear. Both kinds are left out of the snapshot this way (the
    snapshot still marks an asset unavailable if it goes between gate closure and solve).
    """
    inactive = select(Participant.id).where(Participant.status != ParticipantStatus.active)
    gone = select(Asset.id).where(Asset.status.in_((AssetStatus.archived,
                                                    AssetStatus.mothballed)))
    counts = {}
    for code, cond in (("participant_suspended", Bid.fsp_id.in_(inactive)),
                       ("asset_not_available", Bid.asset_id.in_(gone))):
        res = session.execute(update(Bid).where(
            Bid.market_id.in_(market_ids), Bid.status.in_(LIVE_BID), cond).values(
            status=BidStatus.rejected, updated_at=now,
            reasons=[{"code": code, "message": EXCLUDED_AT_GATE[code]}])
            .execution_options(synchronize_session=False))
        counts[code] = res.rowcount or 0
    return counts


def on_period_grid(t: dt.datetime) -> bool:
    """A UTC settlement-period boundary (:00 or :30 UTC)."""
    u = t.astimezone(dt.UTC)
    return u.minute % 30 == 0 and u.second == 0 and u.microsecond == 0


def _refuse_off_grid(session: Session, m: Market) -> bool:
    """Cancel a market whose window is off the UTC half-hour (accepted before the check
    read UTC): it cannot share a period axis with any other market. True if refused."""
    if on_period_grid(m.delivery_start) and on_period_grid(m.delivery_end):
        return False
    why = (f"the delivery window {m.delivery_start:%Y-%m-%d %H:%M}Z-{m.delivery_end:%H:%M}Z "
           "is off the UTC half-hour settlement periods")
    m.status = MarketStatus.cancelled
    session.execute(update(Bid).where(Bid.market_id == m.id, Bid.status.in_(LIVE_BID))
                    .values(status=BidStatus.rejected, updated_at=utcnow(),
                            reasons=[{"code": "market_off_grid", "message": why}])
                    .execution_options(synchronize_session=False))
    audit.record(session, SYSTEM, "market.cancel", "market", m.id,
                 {"status": m.status.value, "reason": why})
    notify(session, m.mo_id, "market.cancelled", {"market_id": str(m.id), "reason": why},
           dedupe_key=f"market.cancelled:{m.id}")
    return True


class OffGrid(ValueError):
    """A market's periods do not fall on the UTC half-hour axis."""


def _periods(markets: list[Market]) -> tuple[list[dt.datetime], dict[uuid.UUID, list[int]]]:
    """One UTC half-hour axis for all markets of the round; per market, the axis index of
    each of its periods.

    Markets may start at different times, last different lengths and leave gaps between
    them: each period is placed by its own start time, never by the market's offset plus a
    count, so no market's periods can shift onto another's. A period off the half-hour
    grid would be a distinct axis entry overlapping two others (one asset sold twice in
    the same half-hour), so it is refused.
    """
    own: dict[uuid.UUID, list[dt.datetime]] = {}
    for m in markets:
        n = int((m.delivery_end - m.delivery_start).total_seconds() // 1800)
        own[m.id] = [(m.delivery_start + dt.timedelta(minutes=30 * i)).astimezone(dt.UTC)
                     for i in range(n)]
        if not on_period_grid(m.delivery_start):
            raise OffGrid(f"market {m.id}: delivery starts {m.delivery_start:%H:%M}Z, off the "
                          "UTC half-hour settlement periods")
    axis = sorted({t for ts in own.values() for t in ts})
    index = {t: i for i, t in enumerate(axis)}
    return axis, {mid: [index[t] for t in ts] for mid, ts in own.items()}


def build_snapshot(session: Session, rnd: ClearingRound) -> dict[str, Any]:
    """The market snapshot for a round, read straight from the database: version 1, or
    version 2 with reliability posteriors when the rules set confidence levels
    (`reliability.py`)."""
    market_ids = [uuid.UUID(x) for x in rnd.market_ids]
    markets = session.scalars(select(Market).where(Market.id.in_(market_ids))
                              .order_by(Market.id)).all()
    axis, where = _periods(list(markets))
    T = len(axis)
    _, rules = rules_svc.in_force(session, rnd.created_at)
    needs = session.scalars(select(Need).where(Need.market_id.in_(market_ids))
                            .order_by(Need.id)).all()
    need_by_id = {n.id: n for n in needs}
    mo_of = {m.id: m.mo_id for m in markets}

    def spread(values: list[float], idx: list[int]) -> list[float]:
        row = [0.0] * T
        for i, v in zip(idx, values, strict=False):
            row[i] = float(v)
        return row

    need_docs = []
    for n in needs:
        need_docs.append({
            "id": str(n.id), "mo": str(mo_of[n.market_id]), "product": n.product_code,
            "zone": n.zone_code, "direction": n.direction.value,
            "priority": n.priority,
            "mw": spread(n.mw, where[n.market_id]),
            "max_availability_price": float(n.max_availability_price),
            "utilisation_price_cap": float(n.utilisation_price_cap),
            "expected_utilisation": n.expected_utilisation,
            "unmet_penalty": float(n.unmet_penalty),
        })
    # Plain rows, not ORM objects: 30,000 bids load in half the time (no identity map).
    bids = session.execute(select(
        Bid.id, Bid.asset_id, Bid.need_id, Bid.fsp_id, Bid.exclusive_group, Bid.mw, Bid.min_mw,
        Bid.availability_price, Bid.utilisation_price, Bid.all_or_nothing,
    ).where(Bid.market_id.in_(market_ids), Bid.status.in_(LIVE_BID)).order_by(Bid.id)).all()
    asset_ids = sorted({b.asset_id for b in bids})
    assets: dict[uuid.UUID, Any] = {}
    for i in range(0, len(asset_ids), 5000):
        for a in session.execute(select(
                Asset.id, Asset.fsp_id, Asset.zone_code, Asset.technology_code, Asset.up_mw,
                Asset.down_mw, Asset.emission_t_per_mwh, Asset.reliability, Asset.status,
        ).where(Asset.id.in_(asset_ids[i : i + 5000]))):
            assets[a.id] = a
    # a confidence level in the rules: version 2, reliability from verified delivery
    version = 2 if rules.confidence else 1
    post = (reliability.posteriors(session, {aid: assets[aid].technology_code
                                             for aid in asset_ids}, rnd.created_at)
            if version == 2 else {})
    asset_docs = []
    for aid in asset_ids:
        a = assets[aid]
        # A decommissioned or mothballed asset can be awarded nothing.
        gone = a.status in (AssetStatus.archived, AssetStatus.mothballed)
        asset_docs.append({
            "id": str(a.id), "fsp": str(a.fsp_id), "zone": a.zone_code,
            "technology": a.technology_code, "up_mw": a.up_mw, "down_mw": a.down_mw,
            "emission_t_per_mwh": a.emission_t_per_mwh, "reliability": a.reliability,
            "unavailable_periods": list(range(T)) if gone else [],
            **(post[aid].snapshot_fields() if version == 2 else {}),
        })
    bid_docs = []
    for b in bids:
        n = need_by_id[b.need_id]
        group = f"{b.fsp_id}:{b.exclusive_group}" if b.exclusive_group else None
        bid_docs.append({
            "id": str(b.id), "asset": str(b.asset_id), "need": str(b.need_id),
            "mw": spread(b.mw, where[n.market_id]), "min_mw": b.min_mw,
            "availability_price": float(b.availability_price),
            "utilisation_price": float(b.utilisation_price),
            "all_or_nothing": b.all_or_nothing, "exclusive_group": group,
        })
    return {
        "version": version, "period_minutes": 30,
        "periods": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in axis],
        "assets": asset_docs, "needs": need_docs, "bids": bid_docs,
        "rules": rules_svc.snapshot_rules(rules),
    }


def prepare(session: Session, round_id: uuid.UUID) -> dict[str, Any] | None:
    """Freeze the round's snapshot (once) and mark it running; None if nothing to do."""
    rnd = session.scalar(_lock(session, select(ClearingRound).where(ClearingRound.id == round_id)))
    if rnd is None or rnd.status in (RoundStatus.done, RoundStatus.failed, RoundStatus.held) \
            or runs.held(rnd):
        # Done, failed, held for an admin, or a live worker holds it (a duplicate
        # message): nothing to do.
        return None
    if rnd.snapshot is None:
        try:
            rnd.snapshot = build_snapshot(session, rnd)
        except OffGrid as e:  # a round queued before gate closure refused such markets
            fail(session, round_id, str(e))
            return None
        rnd.snapshot_sha256 = _sha(rnd.snapshot)
    runs.take(rnd)
    rnd.status = RoundStatus.running
    return rnd.snapshot


def fail(session: Session, round_id: uuid.UUID, message: str) -> None:
    rnd = session.get(ClearingRound, round_id)
    if rnd is None or rnd.status == RoundStatus.done:
        return
    rnd.status, rnd.error, rnd.finished_at = RoundStatus.failed, message[:5000], utcnow()
    runs.release(session, rnd)
    audit.record(session, SYSTEM, "clearing.failed", "clearing_round", rnd.id, {"error": message[:500]})


def store(session: Session, round_id: uuid.UUID, result: dict[str, Any],
          parts: int = 1, *, final: bool = False) -> bool:
    """Write the round's decisions in one go; False if already stored (idempotent).

    A result that is not final (:mod:`finality`) is re-run or held instead, unless
    ``final`` (an admin released it). The chain's head is published in the stored result.
    """
    rnd = session.scalar(_lock(session, select(ClearingRound).where(ClearingRound.id == round_id)))
    if rnd is None or rnd.status == RoundStatus.done or rnd.snapshot is None \
            or (rnd.status == RoundStatus.held and not final):
        return False
    if result["status"] not in ("optimal", "feasible"):
        fail(session, round_id, f"solver status {result['status']}: {result.get('message', '')}")
        return True
    if not final and not finality.is_final(result):
        finality.not_final(session, rnd, result, parts)
        return True
    snap = rnd.snapshot
    axis = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in snap["periods"]]
    # Plain rows, not ORM objects: a national round has tens of thousands of bids.
    bids = {b.id: b for b in session.execute(select(
        Bid.id, Bid.need_id, Bid.asset_id, Bid.fsp_id, Bid.market_id, Bid.status,
        Bid.utilisation_price).where(Bid.market_id.in_([uuid.UUID(x) for x in rnd.market_ids])))}
    needs = {n.id: n for n in session.scalars(select(Need).where(
        Need.market_id.in_([uuid.UUID(x) for x in rnd.market_ids])))}
    markets = {m.id: m for m in session.scalars(select(Market).where(
        Market.id.in_([uuid.UUID(x) for x in rnd.market_ids])))}
    snap_need = {n["id"]: n for n in snap["needs"]}
    # A crashed earlier attempt committed nothing (one transaction), but be explicit.
    session.execute(delete(Contract).where(Contract.round_id == rnd.id))
    session.execute(delete(NeedOutcome).where(NeedOutcome.round_id == rnd.id))
    rows, awarded = [], defaultdict(float)
    accepted: set[uuid.UUID] = set()
    # ~6 awards per bid and a handful of prices: parse each bid's row part and each price once
    per_bid: dict[str, tuple[Any, dict[str, Any]]] = {}
    price_of: dict[float, Decimal] = {}
    tick = Decimal("0.0001")
    for a in result["awards"]:
        hit = per_bid.get(a["bid"])
        if hit is None:
            b = bids[uuid.UUID(a["bid"])]
            n = needs[b.need_id]
            hit = per_bid[a["bid"]] = (b, {
                "round_id": rnd.id, "bid_id": b.id, "need_id": n.id, "market_id": n.market_id,
                "asset_id": b.asset_id, "fsp_id": b.fsp_id,
                "mo_id": markets[n.market_id].mo_id, "product_code": n.product_code,
                "direction": n.direction.value, "utilisation_price": b.utilisation_price,
                "status": "active"})
            accepted.add(b.id)
        b, base = hit
        price = price_of.get(a["price"])
        if price is None:
            price = price_of[a["price"]] = Decimal(str(a["price"])).quantize(tick)
        awarded[(b.need_id, a["period"])] += a["mw"]
        rows.append({**base, "period_start": axis[a["period"]], "mw": a["mw"],
                     "availability_price": price})
    bulk_insert(session, Contract, rows)
    unmet = {(uuid.UUID(u["need"]), u["period"]): u["mw"] for u in result["unmet"]}
    prices = {(uuid.UUID(p["need"]), p["period"]): p for p in result["prices"]}
    outcomes = []
    for nid in needs:
        req = snap_need[str(nid)]["mw"]
        for t, mw in enumerate(req):
            if mw <= 0:
                continue
            p = prices.get((nid, t), {})
            outcomes.append({
                "round_id": rnd.id, "need_id": nid, "period_start": axis[t], "required_mw": mw,
                "awarded_mw": round(awarded.get((nid, t), 0.0), 6),
                "unmet_mw": unmet.get((nid, t), 0.0),
                "clearing_price": p.get("clearing_price"), "marginal_cost": p.get("marginal_cost"),
            })
    bulk_insert(session, NeedOutcome, outcomes)
    rejected = _store_verdicts(session, bids, accepted, result["rejected"])
    for m in markets.values():
        m.status = MarketStatus.cleared
    # The audit chain's head, published with the result every participant can fetch: a
    # tail rewritten after this moment no longer matches it (audit.verify).
    seq, head_hash = audit.head(session, lock=True) or (0, audit.GENESIS)
    result = {**result, "audit_head": {"seq": seq, "hash": head_hash}}
    rnd.result, rnd.result_sha256 = result, _sha(result)
    rnd.status, rnd.finished_at, rnd.hold_reason = RoundStatus.done, utcnow(), None
    runs.release(session, rnd)
    rnd.solver_status, rnd.objective = result["status"], result.get("objective")
    rnd.timing = {**result.get("timing", {}), "parts": parts}
    audit.record(session, SYSTEM, "clearing.done", "clearing_round", rnd.id, {
        "snapshot_sha256": rnd.snapshot_sha256, "result_sha256": rnd.result_sha256,
        "status": result["status"], "objective": result.get("objective"),
        "mip_gap": result.get("mip_gap"), "contracts": len(rows),
        "audit_head": result["audit_head"]})
    _notify(session, rnd, markets, bids, accepted, rejected)
    return True


def published_heads(session: Session) -> list[audit.Anchor]:
    """The audit heads published in stored clearing results, for ``audit.verify``."""
    rows = session.execute(select(ClearingRound.id, ClearingRound.result["audit_head"])
                           .where(ClearingRound.status == RoundStatus.done)).all()
    return [audit.Anchor(h["seq"], h["hash"], f"the result of clearing round {rid}")
            for rid, h in rows if isinstance(h, dict) and h.get("seq")]


def _store_verdicts(session: Session, bids: dict[uuid.UUID, Any], accepted: set[uuid.UUID],
                    rejections: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Accept or reject every live bid, one UPDATE per distinct verdict (not per bid)."""
    reasons = {uuid.UUID(r["bid"]): tuple(r["reasons"]) for r in rejections}
    groups: dict[tuple[BidStatus, tuple[str, ...]], list[uuid.UUID]] = defaultdict(list)
    rejected: set[uuid.UUID] = set()
    for bid_id, b in bids.items():
        if b.status not in LIVE_BID:
            continue
        if bid_id in accepted:
            groups[(BidStatus.accepted, ())].append(bid_id)
        else:
            rejected.add(bid_id)
            groups[(BidStatus.rejected, reasons.get(bid_id, ("not_awarded",)))].append(bid_id)
    now = utcnow()
    for (status, codes), ids in groups.items():
        text = [{"code": c, "message": REASON_TEXT.get(c, c)} for c in codes]
        for i in range(0, len(ids), 5000):
            session.execute(update(Bid).where(Bid.id.in_(ids[i : i + 5000]))
                            .values(status=status, reasons=text, updated_at=now)
                            .execution_options(synchronize_session=False))
    return rejected


# the optimiser's codes and texts (one table, optimiser/reasons.py), and the platform's own
# verdict for a live bid the result does not mention
REASON_TEXT = {**OPTIMISER_REASON_TEXT, "not_awarded": "not awarded"}


def _notify(session: Session, rnd: ClearingRound, markets: dict[uuid.UUID, Market],
            bids: dict[uuid.UUID, Any], accepted: set[uuid.UUID],
            rejected: set[uuid.UUID]) -> None:
    per: dict[uuid.UUID, dict[str, Any]] = {}
    for m in markets.values():
        per.setdefault(m.mo_id, {"markets": [], "bids_accepted": 0, "bids_rejected": 0})
        per[m.mo_id]["markets"].append(str(m.id))
    for b in bids.values():
        d = per.setdefault(b.fsp_id, {"markets": [], "bids_accepted": 0, "bids_rejected": 0})
        if str(b.market_id) not in d["markets"]:
            d["markets"].append(str(b.market_id))
        if b.id in accepted:
            d["bids_accepted"] += 1
        elif b.id in rejected:
            d["bids_rejected"] += 1
    for pid, payload in per.items():
        notify(session, pid, "market.cleared", {"round_id": str(rnd.id), **payload},
               dedupe_key=f"market.cleared:{rnd.id}:{pid}")
