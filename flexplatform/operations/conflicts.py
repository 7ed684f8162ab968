"""Dispatch-stage conflicts: found event by event (each request, each run) and by a scan of
the next 48 hours; each is a record, resolved by primacy with its rationale.

The dispatch engine already refuses what would break a rule inside one run (zone
conflicts, stacking, availability). What it cannot see is across MOs and runs: another
MO pulling the other way in the same zone, two products stacked on one asset by two runs,
or a declaration that fell below what two MOs together hold. Those are recorded here so
the MOs and FSPs affected, and the regulator, can see them and how primacy settled them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.auth import Principal
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import Contract
from flexplatform.db import utcnow
from flexplatform.errors import NotFound
from flexplatform.governance.models import Product
from flexplatform.notifications import notify
from flexplatform.operations.models import (
    LIVE_INSTRUCTION,
    Conflict,
    Instruction,
    UtilisationRequest,
)

HALF_HOUR = dt.timedelta(minutes=30)
EPS = 1e-6


def record(session: Session, kind: str, detected_by: str, *, period_start: dt.datetime,
           period_end: dt.datetime, parties: list[uuid.UUID], asset_id: uuid.UUID | None = None,
           zone_code: str | None = None, detail: dict[str, Any] | None = None,
           resolution: str | None = None, rationale: str | None = None) -> Conflict | None:
    """Store a conflict once (the same situation found again is the same record)."""
    who = sorted({str(p) for p in parties})
    key = f"{kind}:{asset_id or zone_code}:{period_start:%Y%m%d%H%M}:{','.join(w[:8] for w in who)}"
    key = key[:200]
    if session.scalar(select(Conflict.id).where(Conflict.dedupe_key == key)) is not None:
        return None
    now = utcnow()
    c = Conflict(kind=kind, detected_by=detected_by, asset_id=asset_id, zone_code=zone_code,
                 period_start=period_start, period_end=period_end, parties=who, dedupe_key=key,
                 detail=detail or {}, status="resolved" if resolution else "detected",
                 resolution=resolution, rationale=rationale, created_at=now,
                 resolved_at=now if resolution else None)
    session.add(c)
    session.flush()
    for p in who:
        notify(session, uuid.UUID(p), "conflict.detected", {
            "conflict_id": str(c.id), "kind": kind, "status": c.status,
            "resolution": resolution, "rationale": rationale},
            dedupe_key=f"conflict:{c.id}:{p}")
    return c


def check_request(session: Session, req: UtilisationRequest) -> list[Conflict]:
    """Another MO's open request pulling the other way in the same (local) zone."""
    if req.zone_code == "GB":
        return []
    other = session.scalars(select(UtilisationRequest).where(
        UtilisationRequest.id != req.id, UtilisationRequest.mo_id != req.mo_id,
        UtilisationRequest.zone_code == req.zone_code,
        UtilisationRequest.direction != req.direction,
        UtilisationRequest.status != "cancelled",
        UtilisationRequest.period_start < req.period_end,
        UtilisationRequest.period_end > req.period_start)).all()
    out = []
    for o in other:
        win, lose = (req, o) if (req.priority, req.created_at) <= (o.priority, o.created_at) \
            else (o, req)
        c = record(session, "opposite_directions", "event",
                   period_start=max(req.period_start, o.period_start),
                   period_end=min(req.period_end, o.period_end), parties=[req.mo_id, o.mo_id],
                   zone_code=req.zone_code,
                   detail={"requests": [str(req.id), str(o.id)]},
                   resolution=f"primacy:{win.id}",
                   rationale=f"{win.product_code} (priority {win.priority}) takes primacy over "
                             f"{lose.product_code} (priority {lose.priority}); the dispatch "
                             f"calls no asset in {req.zone_code} against the local request "
                             f"(zone_conflicts rule)")
        if c:
            out.append(c)
    return out


def _incompatible(session: Session) -> set[frozenset[str]]:
    _, rs = rules_svc.in_force(session)
    return {frozenset(p) for p in rs.incompatible_products}


def check_run(session: Session, run: Any, rows: list[dict[str, Any]],
              snap: dict[str, Any] | None = None) -> list[Conflict]:
    """A run's new instructions against what its snapshot could not see: live
    instructions of other runs on the same asset-periods (products stacked that may not
    be, MW beyond the declaration) and declarations lowered after the snapshot froze.

    Only those rows are read (a run over 10,000 assets is checked in one small query
    each), since inside its own snapshot the engine already kept every rule.
    """
    if not rows:
        return []
    from flexplatform.operations.models import AvailabilityDeclaration as D

    lo = min(r["period_start"] for r in rows)
    hi = max(r["period_end"] for r in rows)
    mine = select(Instruction.asset_id).where(Instruction.run_id == run.id)
    others = session.execute(select(
        Instruction.asset_id, Instruction.period_start, Instruction.product_code,
        Instruction.mo_id, Instruction.fsp_id, Instruction.direction, Instruction.mw).where(
        Instruction.run_id != run.id, Instruction.asset_id.in_(mine),
        Instruction.status.in_(LIVE_INSTRUCTION), Instruction.period_start >= lo,
        Instruction.period_start < hi)).all()
    since = run.started_at or run.created_at
    late = session.execute(select(D.asset_id, D.direction, D.period_start, D.version, D.mw)
                           .where(D.asset_id.in_(mine), D.declared_at >= since,
                                  D.period_start >= lo, D.period_start < hi)).all()
    if not others and not late:
        return []
    touched = {(o.asset_id, o.period_start) for o in others} | \
        {(x.asset_id, x.period_start) for x in late}
    by: dict[tuple[uuid.UUID, dt.datetime], list[Any]] = defaultdict(list)
    for o in others:
        by[(o.asset_id, o.period_start)].append(o)
    for r in rows:
        if (r["asset_id"], r["period_start"]) in touched:
            by[(r["asset_id"], r["period_start"])].append(_Row(**{k: r[k] for k in _Row._fields}))
    newest: dict[tuple[uuid.UUID, str, dt.datetime], tuple[int, float]] = {}
    for x in late:
        k = (x.asset_id, x.direction, x.period_start)
        if k not in newest or newest[k][0] < x.version:
            newest[k] = (x.version, x.mw)
    return _judge(session, by, newest, "event")


class _Row(NamedTuple):
    asset_id: uuid.UUID
    period_start: dt.datetime
    product_code: str
    mo_id: uuid.UUID
    fsp_id: uuid.UUID
    direction: str
    mw: float


def _on_assets(session: Session, assets: list[uuid.UUID], lo: dt.datetime, hi: dt.datetime,
               how: str, latest: Any) -> list[Conflict]:
    live = session.execute(select(Instruction.asset_id, Instruction.period_start,
                                  Instruction.product_code, Instruction.mo_id,
                                  Instruction.fsp_id, Instruction.direction, Instruction.mw)
                           .where(Instruction.asset_id.in_(assets),
                                  Instruction.status.in_(LIVE_INSTRUCTION),
                                  Instruction.period_start >= lo,
                                  Instruction.period_start < hi)).all()
    by: dict[tuple[uuid.UUID, dt.datetime], list[Any]] = defaultdict(list)
    for i in live:
        by[(i.asset_id, i.period_start)].append(i)
    return _judge(session, by, latest(session, assets, None, lo, hi), how)


def _judge(session: Session, by: dict[tuple[uuid.UUID, dt.datetime], list[Any]],
           declared: dict[tuple[uuid.UUID, str, dt.datetime], tuple[int, float]], how: str
           ) -> list[Conflict]:
    bad = _incompatible(session)
    out = []
    for (aid, t), items in by.items():
        products = {i.product_code for i in items}
        parties = [i.mo_id for i in items] + [items[0].fsp_id]
        for pair in bad:
            if pair <= products:
                c = record(session, "incompatible_stacking", how, period_start=t,
                           period_end=t + HALF_HOUR, parties=parties, asset_id=aid,
                           detail={"products": sorted(pair)},
                           resolution="primacy:fixed_first",
                           rationale="the instruction issued first stands; later runs treat "
                                     "it as fixed and call no incompatible product on the "
                                     "asset in this period")
                if c:
                    out.append(c)
        for d in ("up", "down"):
            called = sum(i.mw for i in items if i.direction == d)
            got = declared.get((aid, d, t))
            if got is not None and called > got[1] + EPS:
                c = record(session, "called_beyond_declared", how, period_start=t,
                           period_end=t + HALF_HOUR, parties=parties, asset_id=aid,
                           detail={"direction": d, "called_mw": called, "declared_mw": got[1]},
                           rationale="the declaration fell after the call; until the FSP "
                                     "rejects what it cannot deliver (which re-dispatches "
                                     "the periods) the call stands as instructed")
                if c:
                    out.append(c)
    return out


def scan(session: Session, now: dt.datetime | None = None, hours: int = 48) -> int:
    """Beat: the next ``hours`` of contracts, declarations and instructions."""
    from flexplatform.operations.availability import latest

    now = now or utcnow()
    lo = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    hi = lo + dt.timedelta(hours=hours)
    found = 0
    rows = session.execute(select(Contract.asset_id, Contract.period_start, Contract.direction,
                                  Contract.mo_id, Contract.fsp_id, Contract.product_code,
                                  Contract.mw).where(Contract.status == "active",
                                                     Contract.period_start >= lo,
                                                     Contract.period_start < hi)).all()
    held: dict[tuple[uuid.UUID, str, dt.datetime], list[Any]] = defaultdict(list)
    for r in rows:
        held[(r.asset_id, r.direction, r.period_start)].append(r)
    multi = {k: v for k, v in held.items() if len({x.mo_id for x in v}) > 1}
    if multi:
        assets = sorted({k[0] for k in multi})
        declared = latest(session, assets, None, lo, hi)
        _, rs = rules_svc.in_force(session, now)
        # Primacy by each product's operator (DSO, ESO, supplier), as requests rank it.
        kind = dict(session.execute(select(Product.code, Product.operator_kind)).all())
        for (aid, d, t), cs in multi.items():
            got = declared.get((aid, d, t))
            total = sum(c.mw for c in cs)
            if got is None or got[1] + EPS >= total:
                continue
            first = min(cs, key=lambda c: (rules_svc.priority_for(
                rs, c.product_code, kind.get(c.product_code, "dso")), c.product_code))
            if record(session, "declared_below_contracted", "scan", period_start=t,
                      period_end=t + HALF_HOUR, parties=[c.mo_id for c in cs] + [cs[0].fsp_id],
                      asset_id=aid, detail={"direction": d, "declared_mw": got[1],
                                            "contracted_mw": total},
                      resolution=f"primacy:{first.product_code}",
                      rationale=f"declared {got[1]} MW is below the {total} MW contracted to "
                                f"{len({c.mo_id for c in cs})} MOs; calls under "
                                f"{first.product_code} are served first"):
                found += 1
    called = session.execute(select(Instruction.asset_id).where(
        Instruction.status.in_(LIVE_INSTRUCTION), Instruction.period_start >= lo,
        Instruction.period_start < hi).distinct()).scalars().all()
    if called:
        found += len(_on_assets(session, sorted(called), lo, hi, "scan", latest))
    reqs = session.scalars(select(UtilisationRequest).where(
        UtilisationRequest.status != "cancelled", UtilisationRequest.period_start < hi,
        UtilisationRequest.period_end > lo, UtilisationRequest.zone_code != "GB")).all()
    for r in reqs:
        found += len(check_request(session, r))
    return found


def visible(session: Session, who: Principal, limit: int, offset: int
            ) -> tuple[list[Conflict], int]:
    rows = session.scalars(select(Conflict).order_by(Conflict.created_at.desc())).all()
    if not who.is_("regulator", "admin"):
        rows = [c for c in rows if str(who.id) in c.parties]
    return rows[offset : offset + limit], len(rows)


def get(session: Session, conflict_id: uuid.UUID, who: Principal) -> Conflict:
    c = session.get(Conflict, conflict_id)
    if c is None or not (who.is_("regulator", "admin") or str(who.id) in c.parties):
        raise NotFound(f"conflict {conflict_id} not found")
    return c

