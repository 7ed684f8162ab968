"""Baseline methodologies per product, as versioned data under change management.

The same four-eyes rule as market rules (``competition/rules.py``): one admin proposes,
another approves or rejects; a version takes effect from its ``effective_from`` but never
before its approval, so a change cannot reach back into periods already settled; every
version stays. The content is checked by the settlement engine's own schema
(``settlement.methodology.Methodology.from_dict``) and stored in its normalised form, so
what is stored is exactly what the engine will run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product
from flexplatform.reporting.models import BaselineMethodology, ChangeStatus
from flexplatform.reporting.schemas import MethodologyIn
from settlement.methodology import Methodology
from settlement.schema import DataError


def _pointer(path: str) -> list[str]:
    """The engine's path (``params.fallback.params.y``, ``profile_kwh[3]``) as a pointer."""
    return [p for p in path.replace("[", ".").replace("]", "").split(".") if p]


def propose(session: Session, data: MethodologyIn, who: Principal) -> BaselineMethodology:
    if session.get(Product, data.product) is None:
        raise InvalidInput("methodology not proposed", errors=[
            field_error(["product"], f"unknown product '{data.product}'")])
    version = (session.scalar(select(func.max(BaselineMethodology.version)).where(
        BaselineMethodology.product_code == data.product)) or 0) + 1
    try:
        m = Methodology.from_dict({"kind": data.kind, "version": version,
                                   "params": data.params})
    except DataError as e:
        raise InvalidInput(str(e), errors=[field_error(_pointer(p), msg)
                                           for p, msg in e.errors]) from None
    row = BaselineMethodology(product_code=data.product, version=version, kind=m.kind,
                              params=dict(m.params), rationale=data.rationale,
                              effective_from=data.effective_from or utcnow(),
                              proposed_by=who.id)
    session.add(row)
    session.flush()
    audit.record(session, who.actor, "methodology.propose", "baseline_methodology",
                 f"{row.product_code}/{version}", {"kind": row.kind, "params": row.params,
                                                    "effective_from": row.effective_from})
    return row


def get(session: Session, product: str, version: int) -> BaselineMethodology:
    row = session.scalar(select(BaselineMethodology).where(
        BaselineMethodology.product_code == product, BaselineMethodology.version == version))
    if row is None:
        raise NotFound(f"methodology {product} version {version} not found")
    return row


def decide(session: Session, product: str, version: int, approve: bool, who: Principal
           ) -> BaselineMethodology:
    row = get(session, product, version)
    if row.status != ChangeStatus.proposed:
        raise Conflict(f"methodology {product} version {version} is already {row.status.value}")
    if row.proposed_by == who.id:
        raise Forbidden("a methodology change needs a second admin: the proposer cannot "
                        "decide it")
    now = utcnow()
    row.status = ChangeStatus.approved if approve else ChangeStatus.rejected
    row.decided_by, row.decided_at = who.id, now
    if approve and row.effective_from < now:
        row.effective_from = now  # never retroactive
    audit.record(session, who.actor, "methodology.approve" if approve else "methodology.reject",
                 "baseline_methodology", f"{product}/{version}",
                 {"effective_from": row.effective_from})
    return row


def in_force(session: Session, product: str, at: dt.datetime | None = None
             ) -> BaselineMethodology | None:
    """The approved version effective at ``at`` (now): the latest to take effect."""
    return session.scalar(
        select(BaselineMethodology)
        .where(BaselineMethodology.product_code == product,
               BaselineMethodology.status == ChangeStatus.approved,
               BaselineMethodology.effective_from <= (at or utcnow()))
        .order_by(BaselineMethodology.effective_from.desc(), BaselineMethodology.version.desc())
        .limit(1))


def engine_methodology(row: BaselineMethodology) -> Methodology:
    """The stored row as the engine's object (re-checked: a row is never trusted blind)."""
    return Methodology.from_dict({"kind": row.kind, "version": row.version,
                                  "params": row.params})


def list_all(session: Session, product: str | None = None) -> Sequence[BaselineMethodology]:
    q = select(BaselineMethodology)
    if product is not None:
        q = q.where(BaselineMethodology.product_code == product)
    return session.scalars(q.order_by(BaselineMethodology.product_code,
                                      BaselineMethodology.version)).all()
