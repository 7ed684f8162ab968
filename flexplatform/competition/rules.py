"""Versioned market rules with four-eyes approval.

A rule set is proposed by one admin and approved by another; it takes effect no earlier
than its approval, so a change never reaches back into a clearing already under way. The
rules in force for a round are those effective when the round was created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition.models import RuleSet, RuleSetStatus
from flexplatform.competition.schemas import Rules, RuleSetIn
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, Forbidden, NotFound

# In force until the first approved rule set: ENA's primacy (DSO before ESO), DSO post-fault
# and ESO reserve services not stacked in one period, pay-as-bid, carbon at the UK ETS
# order of magnitude.
DEFAULT_RULES = Rules(
    incompatible_products=[("dynamic", "quick_reserve"), ("dynamic", "balancing_reserve"),
                           ("restore", "quick_reserve")],
    primacy="lexicographic", pricing="pay_as_bid", carbon_price=50.0,
)


def propose(session: Session, data: RuleSetIn, who: Principal) -> RuleSet:
    version = (session.scalar(select(func.max(RuleSet.version))) or 0) + 1
    rs = RuleSet(version=version, rules=data.rules.model_dump(mode="json"),
                 rationale=data.rationale, effective_from=data.effective_from or utcnow(),
                 proposed_by=who.id)
    session.add(rs)
    session.flush()
    audit.record(session, who.actor, "rules.propose", "rule_set", version,
                 {"rules": rs.rules, "effective_from": rs.effective_from})
    return rs


def get(session: Session, version: int) -> RuleSet:
    rs = session.scalar(select(RuleSet).where(RuleSet.version == version))
    if rs is None:
        raise NotFound(f"rule set version {version} not found")
    return rs


def decide(session: Session, version: int, approve: bool, who: Principal) -> RuleSet:
    rs = get(session, version)
    if rs.status != RuleSetStatus.proposed:
        raise Conflict(f"rule set {version} is already {rs.status.value}")
    if rs.proposed_by == who.id:
        raise Forbidden("a rule change needs a second admin: the proposer cannot approve it")
    now = utcnow()
    rs.status = RuleSetStatus.approved if approve else RuleSetStatus.rejected
    rs.approved_by = who.id
    rs.decided_at = now
    if approve and rs.effective_from < now:
        rs.effective_from = now  # never retroactive
    audit.record(session, who.actor, "rules.approve" if approve else "rules.reject", "rule_set",
                 version, {"effective_from": rs.effective_from})
    return rs


def in_force(session: Session, at: dt.datetime | None = None) -> tuple[int | None, Rules]:
    rs = session.scalar(
        select(RuleSet)
        .where(RuleSet.status == RuleSetStatus.approved, RuleSet.effective_from <= (at or utcnow()))
        .order_by(RuleSet.effective_from.desc(), RuleSet.version.desc())
        .limit(1)
    )
    if rs is None:
        return None, DEFAULT_RULES
    return rs.version, Rules.model_validate(rs.rules)


def list_all(session: Session) -> Sequence[RuleSet]:
    return session.scalars(select(RuleSet).order_by(RuleSet.version)).all()


def priority_for(rules: Rules, product_code: str, operator_kind: str) -> int:
    if product_code in rules.product_priority:
        return rules.product_priority[product_code]
    return rules.primacy_order.get(operator_kind, 9)


def snapshot_rules(rules: Rules) -> dict[str, Any]:
    out = {"incompatible_products": [list(p) for p in rules.incompatible_products],
           "primacy": rules.primacy, "pricing": rules.pricing,
           "carbon_price": rules.carbon_price}
    if rules.confidence:  # snapshot version 2 (competition/reliability.py)
        out["confidence"] = dict(rules.confidence)
        out["confidence_bound"] = rules.confidence_bound
    return out
