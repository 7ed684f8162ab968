"""Availability declarations: what an FSP says each asset can do, per direction and half-hour.

Declarations are only taken for periods the asset is contracted in (nothing else needs
them) and never overwrite: each change is the next version. A product's declaration
deadline (:mod:`flexplatform.operations.rules`) locks a period; after it only a lower
figure with a reason is taken, and the MOs holding contracts on that asset-period are told
at once. Declared against contracted is checked on every declaration (shortfalls go to the
MO) and read back per contract-period as the availability factor settlement uses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition.models import Contract
from flexplatform.db import bulk_insert, utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product
from flexplatform.notifications import notify
from flexplatform.operations.models import AvailabilityDeclaration
from flexplatform.operations.rules import OpsRules, rules_for
from flexplatform.operations.schemas import DeclarationBulkIn
from flexplatform.registration.models import Asset

HALF_HOUR = dt.timedelta(minutes=30)
CHUNK = 2000
MAX_ERRORS = 50
EPS = 1e-9


def product_rules(session: Session) -> dict[str, OpsRules]:
    return {p.code: rules_for(p) for p in session.scalars(select(Product))}


def _chunks(ids: list[Any]) -> Any:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def contracted(session: Session, asset_ids: list[uuid.UUID], start: dt.datetime,
               end: dt.datetime) -> dict[tuple[uuid.UUID, str, dt.datetime], list[Any]]:
    """(asset, direction, period) -> the active contract rows there (plain rows)."""
    out: dict[tuple[uuid.UUID, str, dt.datetime], list[Any]] = defaultdict(list)
    for chunk in _chunks(asset_ids):
        for r in session.execute(select(
                Contract.id, Contract.asset_id, Contract.direction, Contract.period_start,
                Contract.mw, Contract.mo_id, Contract.fsp_id, Contract.product_code)
                .where(Contract.asset_id.in_(chunk), Contract.status == "active",
                       Contract.period_start >= start, Contract.period_start < end)):
            out[(r.asset_id, r.direction, r.period_start)].append(r)
    return out


def latest(session: Session, asset_ids: list[uuid.UUID], direction: str | None,
           start: dt.datetime, end: dt.datetime
           ) -> dict[tuple[uuid.UUID, str, dt.datetime], tuple[int, float]]:
    """(asset, direction, period) -> (latest version, its MW)."""
    out: dict[tuple[uuid.UUID, str, dt.datetime], tuple[int, float]] = {}
    D = AvailabilityDeclaration
    for chunk in _chunks(asset_ids):
        q = select(D.asset_id, D.direction, D.period_start, D.version, D.mw).where(
            D.asset_id.in_(chunk), D.period_start >= start, D.period_start < end)
        if direction:
            q = q.where(D.direction == direction)
        for r in session.execute(q):
            key = (r.asset_id, r.direction, r.period_start)
            if key not in out or out[key][0] < r.version:
                out[key] = (r.version, r.mw)
    return out


def declare(session: Session, body: DeclarationBulkIn, who: Principal,
            now: dt.datetime | None = None) -> dict[str, int]:
    """Store a bulk declaration, all or nothing, and tell the MOs what they must know."""
    now = now or utcnow()
    d, start, n = body.direction, body.period_start, body.periods
    end = start + n * HALF_HOUR
    periods = [start + i * HALF_HOUR for i in range(n)]
    ids = [a.asset_id for a in body.assets]
    if len(set(ids)) != len(ids):
        seen: set[uuid.UUID] = set()
        dup = next(i for i, x in enumerate(ids) if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise InvalidInput("an asset appears twice in one declaration", errors=[
            field_error(["assets", dup, "asset_id"], "duplicate asset in this declaration")])
    caps: dict[uuid.UUID, float] = {}
    for chunk in _chunks(ids):
        for r in session.execute(select(Asset.id, Asset.up_mw, Asset.down_mw)
                                 .where(Asset.id.in_(chunk), Asset.fsp_id == who.id)):
            caps[r.id] = r.up_mw if d == "up" else r.down_mw
    for i, a in enumerate(body.assets):
        if a.asset_id not in caps:  # someone else's asset looks exactly like no asset
            raise NotFound(f"asset {a.asset_id} not found", errors=[
                field_error(["assets", i, "asset_id"], "no such asset of yours")])
    rules = product_rules(session)
    held = contracted(session, ids, start, end)
    prev = latest(session, ids, d, start, end)
    errors: list[dict[str, Any]] = []
    upward: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    flagged: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    short: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    unchanged = after = 0
    lock_cache: dict[tuple[str, dt.datetime], dt.datetime] = {}

    def lock_of(cs: list[Any], t: dt.datetime) -> dt.datetime:
        out = None
        for c in cs:
            k = (c.product_code, t)
            if k not in lock_cache:
                lock_cache[k] = rules[c.product_code].lock_at(t)
            out = lock_cache[k] if out is None or lock_cache[k] < out else out
        return out  # type: ignore[return-value]

    for i, a in enumerate(body.assets):
        cap = caps[a.asset_id]
        values = a.mw if isinstance(a.mw, list) else [a.mw] * n
        for j, t in enumerate(periods):
            mw = float(values[j])
            loc = ["assets", i, "mw"] + ([j] if isinstance(a.mw, list) else [])
            if len(errors) >= MAX_ERRORS:
                break
            if mw < 0 or mw != mw:
                errors.append(field_error(loc, "MW must be zero or more", rule="non_negative"))
                continue
            if mw > cap + EPS:
                errors.append(field_error(loc, f"{mw} MW is above the asset's {d} capability "
                                          f"of {cap} MW", rule="capability", capability_mw=cap))
                continue
            cs = held.get((a.asset_id, d, t))
            if not cs:
                errors.append(field_error(loc, f"the asset holds no {d} contract in the period "
                                          f"starting {t:%Y-%m-%dT%H:%MZ}", rule="contracted"))
                continue
            version, before = prev.get((a.asset_id, d, t), (0, None))
            if before is not None and abs(before - mw) <= EPS:
                unchanged += 1
                continue
            locked_at = lock_of(cs, t)
            late = now >= locked_at
            if late:
                ref = before if before is not None else (
                    cap if all(rules[c.product_code].undeclared_available for c in cs) else 0.0)
                if mw > ref + EPS:
                    upward.append(field_error(loc, f"declarations for {t:%Y-%m-%dT%H:%MZ} "
                                              f"locked at {locked_at:%Y-%m-%dT%H:%MZ}; after the "
                                              f"lock only a lower figure is accepted "
                                              f"({ref} MW now)", rule="locked_upward",
                                              locked_at=locked_at.isoformat()))
                    continue
                if not (body.reason or "").strip():
                    errors.append(field_error("reason", f"a redeclaration after the lock "
                                              f"({locked_at:%Y-%m-%dT%H:%MZ}) needs a reason "
                                              "(outage, derating)", rule="reason_after_lock",
                                              locked_at=locked_at.isoformat()))
                    continue
                after += 1
                for c in cs:
                    flagged[c.mo_id].append({"asset_id": str(a.asset_id),
                                             "period_start": t.isoformat(), "mw": mw})
            rows.append({"asset_id": a.asset_id, "fsp_id": who.id, "direction": d,
                         "period_start": t, "mw": mw, "version": version + 1,
                         "reason": body.reason, "after_lock": late, "declared_at": now})
            total = sum(c.mw for c in cs)
            if mw + EPS < total:
                for c in cs:
                    short[c.mo_id].append({"contract_id": c.id, "asset_id": str(a.asset_id),
                                           "period_start": t.isoformat(),
                                           "contracted_mw": c.mw, "declared_mw": mw})
    if upward:
        raise Conflict("an upward change after the declaration lock", errors=upward[:MAX_ERRORS],
                       error_count=len(upward))
    if errors:
        raise InvalidInput(f"{len(errors)} declaration value(s) refused", errors=errors,
                           error_count=len(errors))
    for i in range(0, len(rows), 50_000):
        bulk_insert(session, AvailabilityDeclaration, rows[i : i + 50_000])
    batch = uuid.uuid4()
    for mo, items in flagged.items():
        notify(session, mo, "availability.redeclared", {
            "fsp_id": str(who.id), "direction": d, "reason": body.reason, "count": len(items),
            "items": items[:200]}, dedupe_key=f"availability.redeclared:{batch}:{mo}")
    for mo, items in short.items():
        notify(session, mo, "availability.shortfall", {
            "fsp_id": str(who.id), "direction": d, "count": len(items), "items": items[:200]},
            dedupe_key=f"availability.shortfall:{batch}:{mo}")
    audit.record(session, who.actor, "availability.declare", "participant", who.id, {
        "direction": d, "period_start": start.isoformat(), "periods": n,
        "assets": len(ids), "stored": len(rows), "after_lock": after})
    return {"stored": len(rows), "unchanged": unchanged, "after_lock": after,
            "shortfalls": sum(len(v) for v in short.values())}


def declarations(session: Session, who: Principal, *, asset_id: uuid.UUID | None,
                 start: dt.datetime, end: dt.datetime, all_versions: bool, limit: int,
                 offset: int) -> tuple[list[AvailabilityDeclaration], int]:
    """An FSP its own; an MO those of assets contracted to it; oversight all."""
    D = AvailabilityDeclaration
    q = select(D).where(D.period_start >= start, D.period_start < end)
    if asset_id is not None:
        q = q.where(D.asset_id == asset_id)
    if who.is_("fsp"):
        q = q.where(D.fsp_id == who.id)
    elif who.is_("mo"):
        q = q.where(D.asset_id.in_(select(Contract.asset_id).where(Contract.mo_id == who.id)))
    if not all_versions:
        newest = select(D.asset_id, D.direction, D.period_start,
                        func.max(D.version).label("v")).where(
            D.period_start >= start, D.period_start < end).group_by(
            D.asset_id, D.direction, D.period_start).subquery()
        q = q.join(newest, (newest.c.asset_id == D.asset_id) & (newest.c.direction == D.direction)
                   & (newest.c.period_start == D.period_start) & (newest.c.v == D.version))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(D.asset_id, D.period_start, D.direction, D.version)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def _factor(declared: float | None, contracted_total: float, undeclared_available: bool) -> float:
    if declared is None:
        return 1.0 if undeclared_available else 0.0
    if contracted_total <= EPS:
        return 1.0
    return max(0.0, min(1.0, declared / contracted_total))


def availability_factor(session: Session, contract: Contract) -> float:
    """Declared over contracted for the contract's asset, direction and period, in [0, 1].

    Several contracts on one asset-period share its declaration, so the factor divides by
    what they hold together. Undeclared counts as available when the product says so.
    """
    t = contract.period_start
    held = contracted(session, [contract.asset_id], t, t + HALF_HOUR)
    total = sum(c.mw for c in held.get((contract.asset_id, contract.direction, t), [])) \
        or contract.mw
    got = latest(session, [contract.asset_id], contract.direction, t, t + HALF_HOUR)
    declared = got.get((contract.asset_id, contract.direction, t), (0, None))[1]
    product = session.get(Product, contract.product_code)
    undeclared_ok = rules_for(product).undeclared_available if product else True
    return _factor(declared, total, undeclared_ok)


def monitoring(session: Session, who: Principal, start: dt.datetime, end: dt.datetime,
               limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Declared against contracted per contract-period (MO: its contracts; FSP: its own)."""
    q = select(Contract).where(Contract.status == "active", Contract.period_start >= start,
                               Contract.period_start < end)
    if who.is_("mo"):
        q = q.where(Contract.mo_id == who.id)
    elif who.is_("fsp"):
        q = q.where(Contract.fsp_id == who.id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    page = session.scalars(q.order_by(Contract.period_start, Contract.id).limit(limit)
                           .offset(offset)).all()
    if not page:
        return [], total
    aids = sorted({c.asset_id for c in page})
    lo, hi = min(c.period_start for c in page), max(c.period_start for c in page) + HALF_HOUR
    held = contracted(session, aids, lo, hi)
    got = latest(session, aids, None, lo, hi)
    rules = product_rules(session)
    out = []
    for c in page:
        key = (c.asset_id, c.direction, c.period_start)
        total_mw = sum(x.mw for x in held.get(key, [])) or c.mw
        declared = got.get(key, (0, None))[1]
        f = _factor(declared, total_mw, rules[c.product_code].undeclared_available)
        out.append({"contract_id": c.id, "asset_id": c.asset_id, "mo_id": c.mo_id,
                    "fsp_id": c.fsp_id, "product_code": c.product_code,
                    "direction": c.direction, "period_start": c.period_start,
                    "contracted_mw": c.mw, "declared_mw": declared,
                    "availability_factor": round(f, 6),
                    "shortfall_mw": round(max(0.0, c.mw * (1 - f)), 6)})
    return out, total
