"""Secondary trading: an FSP offers (part of) a contracted obligation, others offer to take it.

Every offer is checked as it arrives by the rules the primary market applies, each from its
one definition: prequalification for the product (registration), zone and direction
(``optimiser.eligibility``), stacking and capacity against what the asset already holds
(the market rules in force) and the asset's declared availability (operations). A problem
with the offer itself is a 422; a clash with what the asset already holds or declared is a
409; both name the field and the rule. Picking the offers and executing the transfer live in
:mod:`flexplatform.competition.transfer_clearing`.

Who sees what: a transfer and its offers are visible to its parties only (the holder, the
MO of the contract, FSPs that offered, oversight); anyone else gets a 404. While a transfer
is open, FSPs see it on the board without the holder's identity or reason, and offers are
sealed: holder and MO see them only after the offer deadline, as with bids at gate closure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition import rules as rules_svc
from flexplatform.competition import service as market_svc
from flexplatform.competition.models import Contract, Market, Need
from flexplatform.competition.transfer_models import (
    LIVE_OFFER,
    LIVE_TRANSFER,
    Transfer,
    TransferClearing,
    TransferOffer,
    TransferPayment,
    TransferSettings,
)
from flexplatform.competition.transfer_schemas import OfferIn, TransferIn, TransferSettingsIn
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product
from flexplatform.notifications import notify
from flexplatform.registration.models import Asset, Prequalification, PrequalStatus, Role
from optimiser.eligibility import can_move, capability, zone_serves

HALF_HOUR = dt.timedelta(minutes=30)
EPS = 1e-9


def _err(loc: list[Any] | str, message: str, rule: str, **extra: Any) -> dict[str, Any]:
    """A field error carrying the rule it broke (``rule``; ``code`` as bids name it)."""
    return field_error(loc, message, rule=rule, code=rule, **extra)


def _at(t: Any) -> dt.datetime:
    return t if isinstance(t, dt.datetime) else dt.datetime.fromisoformat(t)


# --- the market's consent rule ------------------------------------------------------------


def consent_rule(session: Session, market_id: uuid.UUID) -> tuple[str, int]:
    """(consent, approval minutes) for transfers of the market's contracts."""
    s = session.get(TransferSettings, market_id)
    return (s.consent, s.approval_minutes) if s else ("automatic", 1440)


def put_settings(session: Session, market_id: uuid.UUID, data: TransferSettingsIn,
                 who: Principal) -> TransferSettings:
    market_svc.own_market(session, market_id, who)
    s = session.get(TransferSettings, market_id)
    if s is None:
        s = TransferSettings(market_id=market_id)
        session.add(s)
    s.consent, s.approval_minutes = data.consent, data.approval_minutes
    s.updated_by, s.updated_at = who.id, utcnow()
    session.flush()
    audit.record(session, who.actor, "transfer.settings", "market", market_id,
                 {"consent": s.consent, "approval_minutes": s.approval_minutes})
    return s


def get_settings(session: Session, market_id: uuid.UUID, who: Principal) -> dict[str, Any]:
    market_svc.get_market(session, market_id, who)
    consent, minutes = consent_rule(session, market_id)
    return {"market_id": market_id, "consent": consent, "approval_minutes": minutes}


# --- transfers ---------------------------------------------------------------------------


def create(session: Session, data: TransferIn, who: Principal,
           now: dt.datetime | None = None) -> Transfer:
    """Put (part of) the caller's contracted obligation up for transfer."""
    now = now or utcnow()
    ids = [c.contract_id for c in data.contracts]
    q = select(Contract).where(Contract.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        # Two transfers of one contract at once: the second waits here, then sees the first.
        q = q.with_for_update()
    found = {c.id: c for c in session.scalars(q)}
    bad, clash = [], []
    first: Contract | None = None
    for i, item in enumerate(data.contracts):
        c = found.get(item.contract_id)
        loc = ["contracts", i, "contract_id"]
        if c is None or c.fsp_id != who.id:  # another FSP's contract looks like none
            bad.append(_err(loc, "no contract of yours", "contract_not_found"))
            continue
        first = first or c
        if (c.need_id, c.asset_id) != (first.need_id, first.asset_id):
            bad.append(_err(loc, "every contract of one transfer must be for the same need "
                            "and asset (one obligation)", "one_obligation"))
        if item.mw is not None and item.mw > c.mw + EPS:
            bad.append(_err(["contracts", i, "mw"], f"{item.mw:g} MW is more than the "
                            f"{c.mw:g} MW contracted", "over_contract"))
        if any(found[x.contract_id].period_start == c.period_start
               for x in data.contracts[:i] if x.contract_id in found):
            bad.append(_err(loc, f"another contract of this transfer is for the period "
                            f"{c.period_start:%Y-%m-%d %H:%M}Z: one contract per period",
                            "one_per_period"))
        if c.status != "active":
            clash.append(_err(loc, f"the contract is {c.status}", "contract_not_active"))
        if c.period_start <= now:
            clash.append(_err(loc, f"the period {c.period_start:%Y-%m-%d %H:%M}Z has begun",
                              "period_started"))
    if first is not None and not bad:
        starts = min(found[x].period_start for x in ids)
        if data.offer_deadline <= now:
            bad.append(_err(["offer_deadline"], "the offer deadline is in the past",
                            "deadline_past"))
        elif data.offer_deadline > starts:
            bad.append(_err(["offer_deadline"], "the offer deadline must not be after the "
                            f"first period on offer ({starts:%Y-%m-%d %H:%M}Z)",
                            "deadline_after_delivery"))
    if bad:
        raise InvalidInput("transfer not created", errors=bad)
    if clash:
        raise Conflict("transfer not created", errors=clash)
    assert first is not None
    taken = _in_live_transfer(session, ids)
    if taken:
        raise Conflict("transfer not created", errors=[
            _err(["contracts", ids.index(x), "contract_id"], "the contract is already on offer "
                 "in another transfer", "contract_in_transfer") for x in sorted(taken)])
    need = session.get(Need, first.need_id)
    assert need is not None
    consent, _ = consent_rule(session, first.market_id)
    items = sorted(({"contract_id": c.id, "period_start": c.period_start.isoformat(),
                     "mw": float(item.mw if item.mw is not None else c.mw),
                     "contract_mw": c.mw}
                    for item in data.contracts for c in [found[item.contract_id]]),
                   key=lambda x: x["period_start"])
    t = Transfer(holder_id=who.id, mo_id=first.mo_id, market_id=first.market_id,
                 need_id=first.need_id, asset_id=first.asset_id,
                 product_code=first.product_code, zone_code=need.zone_code,
                 direction=first.direction, reason=data.reason, items=items,
                 max_price=data.max_price if data.max_price is not None
                 else need.max_availability_price,
                 allow_partial=data.allow_partial, offer_deadline=data.offer_deadline,
                 status="open", consent=consent, covered=[], created_at=now, updated_at=now)
    session.add(t)
    session.flush()
    audit.record(session, who.actor, "transfer.create", "transfer", t.id, {
        "contracts": ids, "mw": [x["mw"] for x in items], "reason": data.reason,
        "offer_deadline": t.offer_deadline, "max_price": str(t.max_price),
        "consent": consent})
    notify(session, t.mo_id, "transfer.opened", {
        "transfer_id": str(t.id), "holder_id": str(who.id), "reason": data.reason,
        "contracts": ids, "offer_deadline": t.offer_deadline.isoformat()},
        dedupe_key=f"transfer.opened:{t.id}")
    return t


def _in_live_transfer(session: Session, ids: list[int]) -> set[int]:
    out: set[int] = set()
    for items in session.scalars(select(Transfer.items).where(
            Transfer.status.in_(LIVE_TRANSFER))):
        out |= {x["contract_id"] for x in items} & set(ids)
    return out


def is_party(session: Session, t: Transfer, who: Principal) -> bool:
    if who.is_(Role.regulator, Role.admin) or who.id in (t.holder_id, t.mo_id):
        return True
    return who.is_(Role.fsp) and bool(session.scalar(select(exists().where(
        TransferOffer.transfer_id == t.id, TransferOffer.fsp_id == who.id))))


def get(session: Session, transfer_id: uuid.UUID, who: Principal) -> Transfer:
    t = session.get(Transfer, transfer_id)
    if t is None or not is_party(session, t, who):
        raise NotFound(f"transfer {transfer_id} not found")
    return t


def _own(session: Session, transfer_id: uuid.UUID, who: Principal) -> Transfer:
    t = session.get(Transfer, transfer_id)
    if t is None or t.holder_id != who.id:
        raise NotFound(f"transfer {transfer_id} not found")
    return t


def list_for(session: Session, who: Principal, status: str | None, limit: int, offset: int
             ) -> tuple[Sequence[Transfer], int]:
    q = select(Transfer)
    if who.is_(Role.fsp):
        q = q.where(or_(Transfer.holder_id == who.id, Transfer.id.in_(
            select(TransferOffer.transfer_id).where(TransferOffer.fsp_id == who.id))))
    elif who.is_(Role.mo):
        q = q.where(Transfer.mo_id == who.id)
    if status:
        q = q.where(Transfer.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(Transfer.created_at, Transfer.id).limit(limit)
                           .offset(offset)).all(), total


def board(session: Session, who: Principal, limit: int, offset: int
          ) -> tuple[list[dict[str, Any]], int]:
    """Open transfers an FSP may offer on (its own left out): what, where, until when."""
    q = select(Transfer).where(Transfer.status == "open", Transfer.offer_deadline > utcnow())
    if who.is_(Role.fsp):
        q = q.where(Transfer.holder_id != who.id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Transfer.offer_deadline, Transfer.id).limit(limit)
                           .offset(offset)).all()
    return [{"id": t.id, "product_code": t.product_code, "zone_code": t.zone_code,
             "direction": t.direction, "max_price": t.max_price,
             "allow_partial": t.allow_partial, "offer_deadline": t.offer_deadline,
             "items": [{"period_start": x["period_start"], "mw": x["mw"]} for x in t.items]}
            for t in rows], total


def withdraw(session: Session, transfer_id: uuid.UUID, who: Principal) -> Transfer:
    t = _own(session, transfer_id, who)
    if t.status != "open":
        raise Conflict(f"a {t.status} transfer cannot be withdrawn",
                       errors=[_err(["status"], t.status, "not_open")])
    t.status, t.updated_at = "withdrawn", utcnow()
    lapse_offers(session, t, "the holder withdrew the transfer")
    audit.record(session, who.actor, "transfer.withdraw", "transfer", t.id, {})
    return t


def close_now(session: Session, transfer_id: uuid.UUID, who: Principal) -> Transfer:
    """The holder ends the offer period early; the clearing is queued after commit."""
    from flexplatform.competition import transfer_clearing

    t = _own(session, transfer_id, who)
    if t.status != "open":
        raise Conflict(f"a {t.status} transfer takes no more offers",
                       errors=[_err(["status"], t.status, "not_open")])
    transfer_clearing.close(session, t, who.actor)
    return t


def lapse_offers(session: Session, t: Transfer, why: str) -> None:
    for o in session.scalars(select(TransferOffer).where(
            TransferOffer.transfer_id == t.id,
            TransferOffer.status.in_((*LIVE_OFFER, "selected")))):
        o.status, o.updated_at = "lapsed", utcnow()
        o.reasons = [{"code": "transfer_" + t.status, "message": why}]


# --- offers --------------------------------------------------------------------------------


def _open_for_offers(session: Session, transfer_id: uuid.UUID, who: Principal,
                     now: dt.datetime) -> Transfer:
    t = session.get(Transfer, transfer_id)
    open_now = t is not None and t.status == "open" and t.offer_deadline > now
    if t is None or (not open_now and not is_party(session, t, who)):
        raise NotFound(f"transfer {transfer_id} not found")
    if not open_now:
        raise Conflict(f"the transfer takes no more offers ({t.status}; offers closed "
                       f"{t.offer_deadline:%Y-%m-%d %H:%M}Z)",
                       errors=[_err(["transfer_id"], "offers are closed", "offers_closed")])
    return t


def offer_problems(session: Session, t: Transfer, data: OfferIn, asset: Asset | None
                   ) -> list[dict[str, Any]]:
    """What is wrong with the offer itself (422s): eligibility, shape, price."""
    if asset is None:
        return [_err(["asset_id"], "not one of your assets", "asset_not_found")]
    errs = []
    pq = session.get(Prequalification, (asset.id, t.product_code))
    if pq is None or pq.status != PrequalStatus.eligible:
        why = "; ".join(r["message"] for r in (pq.reasons if pq else [])) or "not prequalified"
        errs.append(_err(["asset_id"], f"asset not prequalified for {t.product_code}: {why}",
                         "not_prequalified"))
    if not zone_serves(t.zone_code, asset.zone_code):
        errs.append(_err(["asset_id"], f"asset is in {asset.zone_code}; the obligation is "
                         f"for {t.zone_code}", "zone_mismatch"))
    cap = capability(asset.up_mw, asset.down_mw, t.direction)
    if not can_move(cap):
        errs.append(_err(["asset_id"], f"asset cannot move {t.direction}",
                         "direction_not_supported"))
    if len(data.mw) != len(t.items):
        errs.append(_err(["mw"], f"{len(data.mw)} values; the transfer has {len(t.items)} "
                         "periods", "profile_length"))
    else:
        for i, (v, item) in enumerate(zip(data.mw, t.items, strict=True)):
            if v > item["mw"] + EPS:
                errs.append(_err(["mw", i], f"{v:g} MW is more than the {item['mw']:g} MW on "
                                 "offer", "over_transfer"))
            elif can_move(cap) and v > cap + EPS:
                errs.append(_err(["mw", i], f"{v:g} MW exceeds the asset's {cap:g} MW "
                                 f"{t.direction} capability", "over_capability"))
    if data.price > t.max_price:
        errs.append(_err(["price"], f"above the holder's cap {t.max_price}", "above_price_cap"))
    return errs


def holding_conflicts(session: Session, t: Transfer, asset: Asset, mw: list[float],
                      *, skip_contracts: set[int] | None = None) -> list[dict[str, Any]]:
    """Clashes (409s) of taking ``mw`` per item on ``asset`` with what it holds already:
    direction, stacking (the market rules in force), capacity, declared availability."""
    from flexplatform.operations.models import AvailabilityDeclaration as D
    from flexplatform.operations.rules import rules_for

    wanted = {_at(x["period_start"]): (i, v) for i, (x, v) in enumerate(zip(t.items, mw,
                                                                         strict=True)) if v > 0}
    if not wanted:
        return []
    _, rules = rules_svc.in_force(session)
    incompatible = {frozenset(p) for p in rules.incompatible_products}
    held = session.execute(select(Contract.id, Contract.period_start, Contract.mw,
                                  Contract.direction, Contract.product_code)
                           .where(Contract.asset_id == asset.id, Contract.status == "active",
                                  Contract.period_start.in_(list(wanted)))).all()
    out: list[dict[str, Any]] = []
    used: dict[dt.datetime, float] = {}
    for cid, start, cmw, direction, product in held:
        if skip_contracts and cid in skip_contracts:
            continue
        i = wanted[start][0]
        if direction != t.direction:
            out.append(_err(["mw", i], f"{start:%Y-%m-%d %H:%M}Z: the asset already holds "
                            f"{cmw:g} MW {direction}", "direction_conflict"))
        elif frozenset((product, t.product_code)) in incompatible:
            out.append(_err(["mw", i], f"{start:%Y-%m-%d %H:%M}Z: its {product} contract "
                            f"cannot stack with {t.product_code}", "stacking_conflict"))
        else:
            used[start] = used.get(start, 0.0) + cmw
    cap = capability(asset.up_mw, asset.down_mw, t.direction)
    for start, u in sorted(used.items()):
        i, v = wanted[start]
        if u + v > cap + EPS:
            out.append(_err(["mw", i], f"{start:%Y-%m-%d %H:%M}Z: {u:g} MW already held; "
                            f"{v:g} more exceeds {cap:g} MW", "capacity_already_awarded"))
    # Declared availability: the latest version per period bounds held plus offered MW.
    latest: dict[dt.datetime, tuple[int, float]] = {}
    for start, version, dmw in session.execute(select(
            D.period_start, D.version, D.mw).where(
            D.asset_id == asset.id, D.direction == t.direction,
            D.period_start.in_(list(wanted)))):
        if start not in latest or latest[start][0] < version:
            latest[start] = (version, dmw)
    product = session.get(Product, t.product_code)
    undeclared_ok = rules_for(product).undeclared_available if product else True
    for start, (i, v) in sorted(wanted.items()):
        if start in latest:
            declared = latest[start][1]
            if used.get(start, 0.0) + v > declared + EPS:
                out.append(_err(["mw", i], f"{start:%Y-%m-%d %H:%M}Z: the asset is declared "
                                f"available for {declared:g} MW {t.direction} "
                                f"({used.get(start, 0.0):g} MW already held)",
                                "declared_availability", declared_mw=declared))
        elif not undeclared_ok:
            out.append(_err(["mw", i], f"{start:%Y-%m-%d %H:%M}Z: no availability declared "
                            f"and {t.product_code} does not count undeclared as available",
                            "undeclared_availability"))
    return out


def submit_offer(session: Session, transfer_id: uuid.UUID, data: OfferIn, who: Principal,
                 now: dt.datetime | None = None) -> TransferOffer:
    now = now or utcnow()
    t = _open_for_offers(session, transfer_id, who, now)
    if t.holder_id == who.id:
        raise Conflict("the holder cannot take over its own transfer",
                       errors=[_err(["asset_id"], "this is your own transfer", "own_transfer")])
    asset = session.scalar(select(Asset).where(Asset.id == data.asset_id,
                                               Asset.fsp_id == who.id))
    errs = offer_problems(session, t, data, asset)
    if errs:
        raise InvalidInput("offer not accepted", errors=errs)
    assert asset is not None
    if session.scalar(select(exists().where(TransferOffer.transfer_id == t.id,
                                            TransferOffer.asset_id == asset.id,
                                            TransferOffer.status.in_(LIVE_OFFER)))):
        raise Conflict("offer not accepted", errors=[_err(
            ["asset_id"], "this asset already has a live offer on the transfer "
            "(withdraw it first)", "duplicate_offer")])
    clashes = holding_conflicts(session, t, asset, list(data.mw))
    if clashes:
        raise Conflict("offer not accepted", errors=clashes)
    o = TransferOffer(transfer_id=t.id, fsp_id=who.id, asset_id=asset.id, mw=list(data.mw),
                      min_mw=data.min_mw, price=data.price, status="submitted", reasons=[],
                      awarded=[], created_at=now, updated_at=now)
    session.add(o)
    session.flush()
    audit.record(session, who.actor, "transfer.offer", "transfer_offer", o.id, {
        "transfer": str(t.id), "asset": str(asset.id), "mw": o.mw, "price": str(o.price)})
    return o


def _offer_visible(session: Session, o: TransferOffer, who: Principal) -> Transfer | None:
    t = session.get(Transfer, o.transfer_id)
    if t is None:
        return None
    if who.is_(Role.regulator, Role.admin) or o.fsp_id == who.id:
        return t
    if who.id in (t.holder_id, t.mo_id) and t.status != "open":  # sealed until closed
        return t
    return None


def get_offer(session: Session, offer_id: uuid.UUID, who: Principal) -> TransferOffer:
    o = session.get(TransferOffer, offer_id)
    if o is None or _offer_visible(session, o, who) is None:
        raise NotFound(f"offer {offer_id} not found")
    return o


def list_offers(session: Session, transfer_id: uuid.UUID, who: Principal
                ) -> Sequence[TransferOffer]:
    t = get(session, transfer_id, who)
    q = select(TransferOffer).where(TransferOffer.transfer_id == t.id)
    if who.is_(Role.fsp) and who.id != t.holder_id:
        q = q.where(TransferOffer.fsp_id == who.id)
    elif not who.is_(Role.regulator, Role.admin) and t.status == "open":
        raise Forbidden("offers are sealed until the offer deadline")
    return session.scalars(q.order_by(TransferOffer.created_at, TransferOffer.id)).all()


def withdraw_offer(session: Session, offer_id: uuid.UUID, who: Principal) -> TransferOffer:
    o = session.get(TransferOffer, offer_id)
    if o is None or o.fsp_id != who.id:
        raise NotFound(f"offer {offer_id} not found")
    t = session.get(Transfer, o.transfer_id)
    if o.status not in LIVE_OFFER or t is None or t.status != "open" \
            or t.offer_deadline <= utcnow():
        raise Conflict("offers are closed; the offer stands",
                       errors=[_err(["status"], o.status, "offers_closed")])
    o.status, o.updated_at = "withdrawn", utcnow()
    audit.record(session, who.actor, "transfer.offer_withdraw", "transfer_offer", o.id, {})
    return o


def payments(session: Session, who: Principal, transfer_id: uuid.UUID | None, limit: int,
             offset: int) -> tuple[Sequence[TransferPayment], int]:
    """Payment rows a caller may read: an FSP its own as payer or payee, an MO those of its
    transfers, oversight all."""
    P = TransferPayment
    q = select(P)
    if who.is_(Role.fsp):
        q = q.where(or_(P.payer_id == who.id, P.payee_id == who.id))
    elif who.is_(Role.mo):
        q = q.where(P.transfer_id.in_(select(Transfer.id).where(Transfer.mo_id == who.id)))
    if transfer_id is not None:
        q = q.where(P.transfer_id == transfer_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(P.period_start, P.id).limit(limit).offset(offset)
                           ).all(), total


def clearing_of(session: Session, transfer_id: uuid.UUID, who: Principal) -> TransferClearing:
    """The run over the transfer, for its holder, its MO and oversight (not the offerers:
    the snapshot holds every offer)."""
    t = get(session, transfer_id, who)
    run = session.get(TransferClearing, t.clearing_id) if t.clearing_id else None
    if run is None or not (who.is_(Role.regulator, Role.admin)
                           or who.id in (t.holder_id, t.mo_id)):
        raise NotFound(f"no clearing of transfer {transfer_id} to show")
    return run


def market_of(session: Session, t: Transfer) -> Market:
    m = session.get(Market, t.market_id)
    assert m is not None
    return m
