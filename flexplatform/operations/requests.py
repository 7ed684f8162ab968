"""Utilisation requests: an MO calls MW against its own contracted needs.

A request on a product with short notice starts a system-wide dispatch run at once; a
day-ahead product's requests wait for the product's batch (the sweep starts it). The
product's notice is enforced at the call, and a request can be cancelled until an
instruction has been issued for it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition import rules as rules_svc
from flexplatform.competition.models import Contract, Market, Need
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product
from flexplatform.operations import conflicts
from flexplatform.operations.models import (
    DispatchRun,
    Instruction,
    UtilisationRequest,
)
from flexplatform.operations.rules import rules_for
from flexplatform.operations.runs import queue_run
from flexplatform.operations.schemas import RequestIn


def create(session: Session, body: RequestIn, who: Principal,
           now: dt.datetime | None = None) -> UtilisationRequest:
    now = now or utcnow()
    need = session.get(Need, body.need_id)
    market = session.get(Market, need.market_id) if need else None
    if need is None or market is None or market.mo_id != who.id:
        raise NotFound(f"need {body.need_id} not found", errors=[
            field_error("need_id", "no such need of yours")])
    held = session.scalar(select(func.count()).select_from(Contract).where(
        Contract.need_id == need.id, Contract.status == "active",
        Contract.period_start >= body.period_start, Contract.period_start < body.period_end))
    if not held:
        raise InvalidInput("the need holds no contract in the requested periods", errors=[
            field_error("need_id", f"no active contract for this need between "
                        f"{body.period_start:%Y-%m-%dT%H:%MZ} and "
                        f"{body.period_end:%Y-%m-%dT%H:%MZ}", rule="contracted")])
    product = session.get(Product, need.product_code)
    assert product is not None
    ops = rules_for(product)
    lead = (body.period_start - now).total_seconds() / 60
    if lead < product.notice_minutes:
        raise InvalidInput(f"{product.code} needs {product.notice_minutes} minutes' notice",
                           errors=[field_error("period_start", f"starts in {max(lead, 0):.0f} "
                                               f"min; the product's notice is "
                                               f"{product.notice_minutes} min",
                                               rule="notice_minutes",
                                               notice_minutes=product.notice_minutes)])
    _, rs = rules_svc.in_force(session, now)
    scheduled = ops.scheduled and ops.batch_at(body.period_start) > now
    req = UtilisationRequest(
        mo_id=who.id, market_id=market.id, need_id=need.id, product_code=need.product_code,
        zone_code=need.zone_code, direction=need.direction.value,
        period_start=body.period_start, period_end=body.period_end, mw=body.mw,
        priority=rules_svc.priority_for(rs, need.product_code, product.operator_kind),
        mode="scheduled" if scheduled else "event", created_at=now,
        covered_mw=[0.0] * int((body.period_end - body.period_start) / dt.timedelta(minutes=30)))
    session.add(req)
    session.flush()
    audit.record(session, who.actor, "utilisation.request", "utilisation_request", req.id, {
        "need_id": str(need.id), "mw": body.mw, "mode": req.mode,
        "window": [body.period_start.isoformat(), body.period_end.isoformat()]})
    conflicts.check_request(session, req)
    if not scheduled:
        run = queue_run(session, "event", req.period_start, req.period_end, [req.id])
        req.last_run_id = run.id
    return req


def cancel(session: Session, request_id: uuid.UUID, who: Principal) -> UtilisationRequest:
    req = get(session, request_id, who, own_only=True)
    if req.status == "cancelled":
        return req
    issued = session.scalar(select(exists().where(Instruction.request_id == req.id)))
    if issued:
        raise Conflict("instructions have already been issued for this request; it can no "
                       "longer be cancelled", errors=[field_error(
                           "status", f"request is {req.status}", rule="cancel_before_issue")])
    req.status, req.cancelled_at = "cancelled", utcnow()
    audit.record(session, who.actor, "utilisation.cancel", "utilisation_request", req.id, {})
    return req


def get(session: Session, request_id: uuid.UUID, who: Principal,
        own_only: bool = False) -> UtilisationRequest:
    req = session.get(UtilisationRequest, request_id)
    if req is None:
        raise NotFound(f"utilisation request {request_id} not found")
    if who.is_("mo") and req.mo_id == who.id:
        return req
    if not own_only and who.is_("regulator", "admin"):
        return req
    if not own_only and who.is_("fsp") and session.scalar(select(exists().where(
            Instruction.request_id == req.id, Instruction.fsp_id == who.id))):
        return req
    raise NotFound(f"utilisation request {request_id} not found")


def list_for(session: Session, who: Principal, status: str | None, limit: int, offset: int
             ) -> tuple[list[UtilisationRequest], int]:
    q = select(UtilisationRequest)
    if who.is_("mo"):
        q = q.where(UtilisationRequest.mo_id == who.id)
    elif who.is_("fsp"):
        q = q.where(UtilisationRequest.id.in_(select(Instruction.request_id).where(
            Instruction.fsp_id == who.id)))
    if status:
        q = q.where(UtilisationRequest.status == status)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(UtilisationRequest.created_at.desc())
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def detail(session: Session, req: UtilisationRequest, who: Principal) -> dict[str, Any]:
    """State, instructions and the dispatch rationale: for every contracted asset not
    called, the engine's reason (from the runs that covered this request)."""
    q = select(Instruction).where(Instruction.request_id == req.id)
    if who.is_("fsp"):
        q = q.where(Instruction.fsp_id == who.id)
    instructions = session.scalars(q.order_by(Instruction.period_start, Instruction.id)).all()
    rationale: list[dict[str, Any]] = []
    if not who.is_("fsp"):
        runs = session.scalars(select(DispatchRun).where(
            DispatchRun.status == "done", DispatchRun.window_start < req.period_end,
            DispatchRun.window_end > req.period_start)
                               .order_by(DispatchRun.finished_at)).all()
        rid = str(req.id)
        for run in runs:
            if not run.snapshot or rid not in {r["id"] for r in run.snapshot.get("requests", [])}:
                continue
            assets = {c["id"]: c["asset"] for c in run.snapshot.get("contracts", [])}
            for n in (run.result or {}).get("not_dispatched", []):
                if n["request"] == rid:
                    rationale.append({"run_id": str(run.id), "bid_id": n["contract"],
                                      "asset_id": assets.get(n["contract"]),
                                      "reasons": n["reasons"]})
    return {"instructions": instructions, "rationale": rationale}
