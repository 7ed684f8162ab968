"""Picking a transfer's offers with the clearing engine, and executing the transfer.

The transfer is cleared as a market of its own in the market-snapshot-v1 format: the
obligation on offer is one need (its periods, MW, product, zone, direction), each live
offer a bid of its asset at the asked price. The optimiser's public ``clear`` solves it the
way clearing rounds are solved (``workers/trading.py``), so merit order, minimum MW,
reliability and carbon count exactly as in the primary market. As with rounds, the work is
split so the solver holds no transaction: :func:`close` queues the run, :func:`prepare`
freezes the snapshot under a lease, :func:`store` writes the picks. Each step checks state
first, so a redelivered task does nothing twice.

Executing a transfer (:func:`execute`) marks each old contract ``transferred`` and creates,
per period, one new contract per taker (``transferred_from_id`` = the old one) and one for
what the holder keeps, all at the original prices: the MO goes on paying the holder of record
per period at the original price. What the taker asked above (or below) that price is a
:class:`TransferPayment` between the two FSPs, for settlement to collect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform import audit, runs
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.clearing import REASON_TEXT
from flexplatform.competition.models import Bid, BidStatus, Contract, Need
from flexplatform.competition.transfer_models import (
    LIVE_OFFER,
    Transfer,
    TransferClearing,
    TransferOffer,
    TransferPayment,
)
from flexplatform.competition.transfers import (
    EPS,
    _at,
    consent_rule,
    holding_conflicts,
    lapse_offers,
    market_of,
)
from flexplatform.db import after_commit, utcnow
from flexplatform.notifications import notify
from flexplatform.registration.models import Asset, AssetStatus

SYSTEM = audit.Actor.system()
PERIOD_HOURS = Decimal("0.5")
PENNY = Decimal("0.01")


def _sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def _lock(session: Session, q: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return q.with_for_update(skip_locked=True)
    return q


def _enqueue_after_commit(session: Session, clearing_ids: list[uuid.UUID]) -> None:
    from flexplatform.queue import enqueue

    ids = [str(i) for i in clearing_ids]
    after_commit(session, lambda: [enqueue("flex.trading.clear_transfer", clearing_id=i)
                                   for i in ids])


def close(session: Session, t: Transfer, actor: audit.Actor = SYSTEM,
          now: dt.datetime | None = None, *, enqueue: bool = True) -> TransferClearing:
    """End the offer period: the transfer waits for its clearing run (queued)."""
    now = now or utcnow()
    version, _ = rules_svc.in_force(session, now)
    run = TransferClearing(transfer_id=t.id, status="queued", rule_set_version=version,
                           created_at=now)
    session.add(run)
    session.flush()
    t.status, t.closed_at, t.clearing_id, t.updated_at = "clearing", now, run.id, now
    audit.record(session, actor, "transfer.close", "transfer", t.id,
                 {"clearing": str(run.id), "rule_set_version": version})
    if enqueue:
        _enqueue_after_commit(session, [run.id])
    return run


def scan(session: Session, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Close transfers whose offer deadline passed; return the runs to (re)start: new ones,
    queued ones whose message was lost, running ones whose worker stopped renewing."""
    now = now or utcnow()
    out = []
    for t in session.scalars(_lock(session, select(Transfer).where(
            Transfer.status == "open", Transfer.offer_deadline <= now)
            .order_by(Transfer.offer_deadline, Transfer.id))).all():
        out.append(close(session, t, now=now, enqueue=False).id)
    for run in session.scalars(_lock(session, select(TransferClearing).where(
            (TransferClearing.status == "queued") | runs.lapsed(TransferClearing, now))
            .order_by(TransferClearing.created_at))).all():
        if run.status == "running" and runs.exhausted(run):
            fail(session, run.id, f"the solving worker was lost {run.attempts} times")
        elif run.id not in out:
            out.append(run.id)
    return out


def build_snapshot(session: Session, t: Transfer, rule_set_at: dt.datetime
                   ) -> dict[str, Any]:
    """The transfer as a market-snapshot-v1 document: one need, one bid per live offer."""
    need = session.get(Need, t.need_id)
    assert need is not None
    old = {c.id: c for c in session.scalars(select(Contract).where(
        Contract.id.in_([x["contract_id"] for x in t.items])))}
    util = float(max(c.utilisation_price for c in old.values()))
    _, rules = rules_svc.in_force(session, rule_set_at)
    offers = session.scalars(select(TransferOffer).where(
        TransferOffer.transfer_id == t.id, TransferOffer.status.in_(LIVE_OFFER))
        .order_by(TransferOffer.id)).all()
    assets = {a.id: a for a in session.scalars(select(Asset).where(
        Asset.id.in_([o.asset_id for o in offers])))}
    T = len(t.items)
    asset_docs, bid_docs = [], []
    for aid in sorted(assets):
        a = assets[aid]
        gone = a.status in (AssetStatus.archived, AssetStatus.mothballed)
        asset_docs.append({
            "id": str(a.id), "fsp": str(a.fsp_id), "zone": a.zone_code,
            "technology": a.technology_code, "up_mw": a.up_mw, "down_mw": a.down_mw,
            # MW for MW: the taker takes over contracted MW and its delivery risk, so no
            # derating (a derated award would make the MO pay for more MW than before).
            "emission_t_per_mwh": a.emission_t_per_mwh, "reliability": 1.0,
            "unavailable_periods": list(range(T)) if gone else []})
    for o in offers:
        bid_docs.append({
            "id": str(o.id), "asset": str(o.asset_id), "need": str(t.id), "mw": list(o.mw),
            "min_mw": o.min_mw, "availability_price": float(o.price),
            "utilisation_price": util, "all_or_nothing": False, "exclusive_group": None})
    max_price = float(t.max_price)
    return {
        "version": 1, "period_minutes": 30,
        "periods": [_at(x["period_start"]).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    for x in t.items],
        "assets": asset_docs,
        "needs": [{
            "id": str(t.id), "mo": str(t.mo_id), "product": t.product_code,
            "zone": t.zone_code, "direction": t.direction, "priority": 1,
            "mw": [float(x["mw"]) for x in t.items],
            "max_availability_price": max_price, "utilisation_price_cap": util,
            "expected_utilisation": need.expected_utilisation,
            # Any admissible offer must beat leaving the obligation with the holder.
            "unmet_penalty": max(float(need.unmet_penalty), 10 * max_price + 1000.0)}],
        "bids": bid_docs,
        "rules": rules_svc.snapshot_rules(rules),
    }


def _recheck_offers(session: Session, t: Transfer) -> int:
    """Reject, with the reason, live offers whose asset has since taken on what clashes."""
    dropped = 0
    for o in session.scalars(select(TransferOffer).where(
            TransferOffer.transfer_id == t.id, TransferOffer.status.in_(LIVE_OFFER))).all():
        asset = session.get(Asset, o.asset_id)
        clashes = holding_conflicts(session, t, asset, list(o.mw)) if asset else []
        if clashes:
            o.status, o.updated_at = "rejected", utcnow()
            o.reasons = [{"code": c["rule"], "message": c["message"]} for c in clashes]
            dropped += 1
    return dropped


def prepare(session: Session, clearing_id: uuid.UUID, now: dt.datetime | None = None
            ) -> dict[str, Any] | None:
    """Freeze the run's snapshot (once) and take its lease; None if nothing to do."""
    now = now or utcnow()
    run = session.scalar(_lock(session, select(TransferClearing).where(
        TransferClearing.id == clearing_id)))
    if run is None or run.status in ("done", "failed") or runs.held(run, now):
        return None
    t = session.get(Transfer, run.transfer_id)
    assert t is not None
    if run.snapshot is None:
        dropped = _recheck_offers(session, t)
        run.snapshot = build_snapshot(session, t, run.created_at)
        run.snapshot_sha256 = _sha(run.snapshot)
        audit.record(session, SYSTEM, "transfer.snapshot", "transfer", t.id, {
            "clearing": str(run.id), "snapshot_sha256": run.snapshot_sha256,
            "offers": len(run.snapshot["bids"]), "offers_dropped": dropped})
    runs.take(run, now)
    return run.snapshot


def fail(session: Session, clearing_id: uuid.UUID, message: str) -> None:
    run = session.get(TransferClearing, clearing_id)
    if run is None or run.status == "done":
        return
    run.status, run.error, run.finished_at = "failed", message[:5000], utcnow()
    runs.release(session, run)
    t = session.get(Transfer, run.transfer_id)
    if t is not None and t.status == "clearing":
        t.status, t.note, t.updated_at = "failed", message[:2000], utcnow()
        lapse_offers(session, t, message[:500])
    audit.record(session, SYSTEM, "transfer.clearing_failed", "transfer", run.transfer_id,
                 {"clearing": str(clearing_id), "error": message[:500]})


def store(session: Session, clearing_id: uuid.UUID, result: dict[str, Any],
          now: dt.datetime | None = None) -> bool:
    """Record the picks and move the transfer on; False if already stored (idempotent)."""
    now = now or utcnow()
    run = session.scalar(_lock(session, select(TransferClearing).where(
        TransferClearing.id == clearing_id)))
    if run is None or run.status in ("done", "failed") or run.snapshot is None:
        return False
    if result.get("status") not in ("optimal", "feasible"):
        fail(session, clearing_id, f"solver status {result.get('status')}: "
             f"{result.get('message', '')}")
        return True
    t = session.get(Transfer, run.transfer_id)
    assert t is not None
    run.result, run.result_sha256 = result, _sha(result)
    run.status, run.finished_at = "done", now
    runs.release(session, run)
    T = len(t.items)
    awarded: dict[str, list[float]] = defaultdict(lambda: [0.0] * T)
    for a in result["awards"]:
        awarded[a["bid"]][a["period"]] += float(a["mw"])
    reasons = {r["bid"]: r["reasons"] for r in result.get("rejected", [])}
    covered = [0.0] * T
    for o in session.scalars(select(TransferOffer).where(
            TransferOffer.transfer_id == t.id, TransferOffer.status.in_(LIVE_OFFER))):
        got = awarded.get(str(o.id))
        o.updated_at = now
        if got and sum(got) > EPS:
            o.status, o.awarded, o.reasons = "selected", [round(v, 6) for v in got], []
            covered = [c + v for c, v in zip(covered, got, strict=True)]
        else:
            codes = reasons.get(str(o.id), ["not_awarded"])
            o.status, o.reasons = "rejected", [{"code": c, "message": REASON_TEXT.get(c, c)}
                                              for c in codes]
    t.covered = [round(v, 6) for v in covered]
    short = any(c + 1e-6 < x["mw"] for c, x in zip(covered, t.items, strict=True))
    audit.record(session, SYSTEM, "transfer.cleared", "transfer", t.id, {
        "clearing": str(run.id), "snapshot_sha256": run.snapshot_sha256,
        "result_sha256": run.result_sha256, "status": result["status"],
        "objective": result.get("objective"), "covered": t.covered})
    if sum(covered) <= EPS or (short and not t.allow_partial):
        t.status, t.updated_at = "unfilled", now
        t.note = ("no admissible offer" if sum(covered) <= EPS else
                  "the offers cover only part of the obligation and the holder asked for all")
        lapse_offers(session, t, t.note)
        notify(session, t.holder_id, "transfer.unfilled", {"transfer_id": str(t.id),
               "note": t.note}, dedupe_key=f"transfer.unfilled:{t.id}")
        return True
    consent, minutes = consent_rule(session, t.market_id)
    t.consent = consent
    if consent == "approval":
        first = min(_at(x["period_start"]) for x in t.items)
        t.status, t.updated_at = "awaiting_approval", now
        t.approval_deadline = min(now + dt.timedelta(minutes=minutes), first)
        notify(session, t.mo_id, "transfer.approval_requested", {
            "transfer_id": str(t.id), "approval_deadline": t.approval_deadline.isoformat(),
            "covered": t.covered}, dedupe_key=f"transfer.approval_requested:{t.id}")
        return True
    execute(session, t, SYSTEM, now)
    return True


def _decide(session: Session, transfer_id: uuid.UUID, who: Any) -> Transfer:
    from flexplatform.errors import Conflict, NotFound

    t = session.get(Transfer, transfer_id)
    if t is None or t.mo_id != who.id:
        raise NotFound(f"transfer {transfer_id} not found")
    if t.status != "awaiting_approval":
        raise Conflict(f"a {t.status} transfer awaits no decision",
                       errors=[{"pointer": "/status", "field": "status", "message": t.status,
                                "rule": "not_awaiting_approval"}])
    if t.approval_deadline is not None and t.approval_deadline <= utcnow():
        raise Conflict("the approval deadline has passed", errors=[{
            "pointer": "/status", "field": "status", "rule": "approval_deadline_passed",
            "message": f"approval was due by {t.approval_deadline:%Y-%m-%d %H:%M}Z"}])
    return t


def approve(session: Session, transfer_id: uuid.UUID, who: Any, note: str | None) -> Transfer:
    t = _decide(session, transfer_id, who)
    t.decided_by, t.note = who.id, note
    audit.record(session, who.actor, "transfer.approve", "transfer", t.id, {"note": note})
    execute(session, t, who.actor, utcnow())
    return t


def reject(session: Session, transfer_id: uuid.UUID, who: Any, note: str | None) -> Transfer:
    t = _decide(session, transfer_id, who)
    t.status, t.decided_by, t.note, t.updated_at = "rejected", who.id, note, utcnow()
    lapse_offers(session, t, f"the MO rejected the transfer: {note or 'no reason given'}")
    audit.record(session, who.actor, "transfer.reject", "transfer", t.id, {"note": note})
    notify(session, t.holder_id, "transfer.rejected", {"transfer_id": str(t.id),
           "note": note}, dedupe_key=f"transfer.rejected:{t.id}")
    return t


def expire(session: Session, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Beat: transfers the MO did not approve in time expire; the holder keeps the obligation."""
    now = now or utcnow()
    out = []
    for t in session.scalars(_lock(session, select(Transfer).where(
            Transfer.status == "awaiting_approval", Transfer.approval_deadline <= now))).all():
        t.status, t.updated_at = "expired", now
        t.note = "the MO did not approve the transfer by its deadline"
        lapse_offers(session, t, t.note)
        audit.record(session, SYSTEM, "transfer.expire", "transfer", t.id,
                     {"approval_deadline": t.approval_deadline})
        notify(session, t.holder_id, "transfer.expired", {"transfer_id": str(t.id)},
               dedupe_key=f"transfer.expired:{t.id}")
        out.append(t.id)
    return out


def _bid(t: Transfer, need: Need, delivery_start: dt.datetime, fsp_id: uuid.UUID,
         asset_id: uuid.UUID, per_item: list[float], price: Decimal, util: Decimal,
         code: str, now: dt.datetime) -> Bid:
    """The award record a new contract hangs off (every contract is a bid's award)."""
    mw = [0.0] * len(need.mw)
    for x, v in zip(t.items, per_item, strict=True):
        mw[int((_at(x["period_start"]) - delivery_start) // dt.timedelta(minutes=30))] = v
    return Bid(fsp_id=fsp_id, asset_id=asset_id, need_id=need.id, market_id=t.market_id,
               mw=mw, min_mw=0.0, availability_price=price, utilisation_price=util,
               status=BidStatus.accepted, version=1, created_at=now, updated_at=now,
               reasons=[{"code": code, "message": f"{code.replace('_', ' ')} {t.id}"}])


def execute(session: Session, t: Transfer, actor: audit.Actor, now: dt.datetime) -> bool:
    """Make the transfer real: new contracts, old ones transferred, payments recorded.

    Everything is checked again first (the old contracts still active, each taker's asset
    still free): a clash fails the transfer with the reason instead of double-booking.
    """
    q = select(Contract).where(Contract.id.in_([x["contract_id"] for x in t.items]))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()  # wait for, never skip, a contract another change holds
    olds = {c.id: c for c in session.scalars(q)}
    offers = session.scalars(select(TransferOffer).where(
        TransferOffer.transfer_id == t.id, TransferOffer.status == "selected")
        .order_by(TransferOffer.id)).all()
    problems = [f"contract {cid} is {c.status}" for cid, c in olds.items()
                if c.status != "active"]
    for o in offers:
        asset = session.get(Asset, o.asset_id)
        problems += [f"offer {o.id}: {c['message']}" for c in
                     (holding_conflicts(session, t, asset, o.awarded) if asset else [])]
    if problems:
        t.status, t.updated_at, t.note = "failed", now, "; ".join(problems)[:2000]
        lapse_offers(session, t, t.note)
        audit.record(session, actor, "transfer.failed", "transfer", t.id,
                     {"problems": problems[:50]})
        notify(session, t.holder_id, "transfer.failed", {"transfer_id": str(t.id),
               "note": t.note}, dedupe_key=f"transfer.failed:{t.id}")
        return False
    need = session.get(Need, t.need_id)
    assert need is not None
    start = market_of(session, t).delivery_start
    first = olds[t.items[0]["contract_id"]]
    new_contracts: list[tuple[TransferOffer | None, int, Contract]] = []
    taken = [0.0] * len(t.items)
    for o in offers:
        bid = _bid(t, need, start, o.fsp_id, o.asset_id, o.awarded, first.availability_price,
                   first.utilisation_price, "transfer", now)
        session.add(bid)
        session.flush()
        for i, (x, v) in enumerate(zip(t.items, o.awarded, strict=True)):
            if v > EPS:
                new_contracts.append((o, i, _contract(olds[x["contract_id"]], t, bid,
                                                      o.fsp_id, o.asset_id, v)))
                taken[i] += v
        o.status, o.updated_at = "accepted", now
    keep = [max(0.0, round(olds[x["contract_id"]].mw - v, 6)) for x, v in zip(
        t.items, taken, strict=True)]
    if any(k > EPS for k in keep):
        bid = _bid(t, need, start, t.holder_id, t.asset_id, keep, first.availability_price,
                   first.utilisation_price, "transfer_retained", now)
        session.add(bid)
        session.flush()
        for i, (x, k) in enumerate(zip(t.items, keep, strict=True)):
            if k > EPS:
                new_contracts.append((None, i, _contract(olds[x["contract_id"]], t, bid,
                                                         t.holder_id, t.asset_id, k)))
    for c in olds.values():
        c.status = "transferred"
    for _, _, c in new_contracts:
        session.add(c)
    session.flush()
    payments = []
    for o, i, c in new_contracts:
        if o is None:
            continue
        old = olds[t.items[i]["contract_id"]]
        diff = Decimal(o.price) - Decimal(old.availability_price)
        if diff == 0:
            continue
        amount = (abs(diff) * Decimal(str(c.mw)) * PERIOD_HOURS).quantize(PENNY, ROUND_HALF_UP)
        payer, payee = (t.holder_id, o.fsp_id) if diff > 0 else (o.fsp_id, t.holder_id)
        p = TransferPayment(transfer_id=t.id, offer_id=o.id, contract_id=c.id,
                            old_contract_id=old.id, period_start=c.period_start, mw=c.mw,
                            original_price=old.availability_price, transfer_price=o.price,
                            payer_id=payer, payee_id=payee, amount=amount, status="pending",
                            created_at=now)
        session.add(p)
        payments.append(p)
    session.flush()
    t.status, t.completed_at, t.updated_at = "completed", now, now
    audit.record(session, actor, "transfer.completed", "transfer", t.id, {
        "old_contracts": sorted(olds), "new_contracts": [c.id for _, _, c in new_contracts],
        "payments": [{"id": p.id, "payer": str(p.payer_id), "payee": str(p.payee_id),
                      "amount": str(p.amount)} for p in payments]})
    for pid in {t.holder_id, t.mo_id, *(o.fsp_id for o in offers)}:
        notify(session, pid, "transfer.completed", {"transfer_id": str(t.id)},
               dedupe_key=f"transfer.completed:{t.id}:{pid}")
    return True


def _contract(old: Contract, t: Transfer, bid: Bid, fsp_id: uuid.UUID, asset_id: uuid.UUID,
              mw: float) -> Contract:
    return Contract(round_id=old.round_id, bid_id=bid.id, need_id=old.need_id,
                    market_id=old.market_id, asset_id=asset_id, fsp_id=fsp_id,
                    mo_id=old.mo_id, product_code=old.product_code, direction=old.direction,
                    period_start=old.period_start, mw=round(mw, 6),
                    availability_price=old.availability_price,
                    utilisation_price=old.utilisation_price, status="active",
                    transferred_from_id=old.id, transfer_id=t.id)
