"""Performance ratings per asset and per FSP, across markets, and the reliability they feed.

Components, each a share in [0, 1] or None when there is nothing to judge it on:

- availability: declared against contracted MW (operations' ``availability_factor``),
  MW-weighted over the window's contracts;
- delivery: verified against instructed (reporting's verifications, latest version per
  instruction-period), mean performance capped at 1, weighted by instructed kWh;
- response: the share of instructions acknowledged by their deadline (and the median
  acknowledgement time);
- disputes: how many of the FSP's statement lines it disputed (counted, not scored: a
  dispute may be right).

``score`` is the mean of the components present. The rating feeds clearing and dispatch
through ``Asset.reliability`` (the one value both read: competition/clearing.py builds the
snapshot's ``reliability`` from it, and operations' dispatch snapshot does too): once an
asset has ``MIN_EVIDENCE`` verified periods, its reliability becomes the observed
delivery x availability, shrunk toward the reliability it was registered with by
``PRIOR_WEIGHT`` pseudo-periods, so one bad half-hour does not halve an asset's chances.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.auth import Principal
from flexplatform.competition.access import mo_visible_assets
from flexplatform.competition.models import SUPERSEDED, Bid, Contract, Market
from flexplatform.db import utcnow
from flexplatform.errors import NotFound
from flexplatform.identity import Role
from flexplatform.registration.models import Asset
from flexplatform.transparency.monitoring_models import AssetRating
from flexplatform.transparency.monitoring_rules import stage_model

WINDOW_DAYS = 90
MIN_EVIDENCE = 4
PRIOR_WEIGHT = 4
RELIABILITY_FLOOR = 0.05


def _availability(session: Session, contracts: Sequence[Contract]) -> dict[uuid.UUID, float]:
    try:
        from flexplatform.operations.service import availability_factor
    except ImportError:
        try:
            from flexplatform.operations.availability import availability_factor
        except ImportError:
            return {}
    num: dict[uuid.UUID, float] = defaultdict(float)
    den: dict[uuid.UUID, float] = defaultdict(float)
    for c in contracts:
        num[c.asset_id] += c.mw * float(availability_factor(session, c))
        den[c.asset_id] += c.mw
    return {a: num[a] / den[a] for a in den if den[a] > 0}


def _delivery(session: Session, start: dt.datetime, end: dt.datetime,
              asset_of: dict[int, uuid.UUID]) -> dict[uuid.UUID, tuple[float, int]]:
    from flexplatform.reporting.service import verifications_between

    latest = {(v.instruction_id, v.period_start): v
              for v in verifications_between(session, start, end)}
    num: dict[uuid.UUID, float] = defaultdict(float)
    den: dict[uuid.UUID, float] = defaultdict(float)
    n: dict[uuid.UUID, int] = defaultdict(int)
    for v in latest.values():
        a = asset_of.get(v.contract_id)
        if a is None or v.performance is None:
            continue
        w = abs(getattr(v, "ordered_kwh", 0.0) or 0.0) or 1.0
        num[a] += w * max(0.0, min(1.0, v.performance))
        den[a] += w
        n[a] += 1
    return {a: (num[a] / den[a], n[a]) for a in den}


def _response(session: Session, start: dt.datetime, end: dt.datetime
              ) -> dict[uuid.UUID, tuple[float, float | None, int]]:
    Ins = stage_model("operations", "Instruction")
    if Ins is None:
        return {}
    per: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for i in session.scalars(select(Ins).where(Ins.period_start >= start, Ins.period_start < end,
                                               Ins.status != "cancelled")):
        per[i.asset_id].append(i)
    out = {}
    for a, ins in per.items():
        on_time = [i for i in ins if i.acked_at is not None and i.acked_at <= i.ack_deadline]
        secs = [(i.acked_at - i.created_at).total_seconds() for i in ins if i.acked_at]
        out[a] = (len(on_time) / len(ins), statistics.median(secs) if secs else None, len(ins))
    return out


def _disputes(session: Session, start: dt.datetime) -> dict[uuid.UUID, int]:
    D = stage_model("reporting", "Dispute")
    if D is None:
        return {}
    out: dict[uuid.UUID, int] = defaultdict(int)
    for fsp in session.scalars(select(D.fsp_id).where(D.created_at >= start)):
        out[fsp] += 1
    return out


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _upsert(session: Session, kind: str, sid: uuid.UUID, fsp_id: uuid.UUID,
            values: dict[str, Any]) -> AssetRating:
    r = session.scalar(select(AssetRating).where(AssetRating.subject_kind == kind,
                                                 AssetRating.subject_id == sid))
    if r is None:
        r = AssetRating(subject_kind=kind, subject_id=sid, fsp_id=fsp_id, details={})
        session.add(r)
    for k, v in values.items():
        setattr(r, k, v)
    return r


def refresh(session: Session, now: dt.datetime | None = None, days: int = WINDOW_DAYS,
            feed_reliability: bool = True) -> list[AssetRating]:
    """Recompute every rating over the last ``days`` and feed the assets' reliability."""
    end = now or utcnow()
    start = end - dt.timedelta(days=days)
    contracts = session.scalars(select(Contract).where(Contract.period_start >= start,
                                                       Contract.period_start < end)).all()
    asset_of = {c.id: c.asset_id for c in contracts}
    # Availability is owed on live contracts only (a transferred period is the taker's).
    avail = _availability(session, [c for c in contracts if c.status not in SUPERSEDED])
    deliv = _delivery(session, start, end, asset_of)
    resp = _response(session, start, end)
    disputes = _disputes(session, start)
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for c in contracts:
        counts[c.asset_id] += 1
    ids = set(counts) | set(deliv) | set(resp)
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(ids)))} \
        if ids else {}
    out: list[AssetRating] = []
    per_fsp: dict[uuid.UUID, list[AssetRating]] = defaultdict(list)
    for aid, asset in assets.items():
        d, nd = deliv.get(aid, (None, 0))
        rs, med, ni = resp.get(aid, (None, None, 0))
        a = avail.get(aid)
        prev = session.scalar(select(AssetRating).where(AssetRating.subject_kind == "asset",
                                                        AssetRating.subject_id == aid))
        details = dict(prev.details) if prev else {}
        prior = details.setdefault("registered_reliability", asset.reliability)
        rel = None
        if d is not None and nd >= MIN_EVIDENCE:
            observed = d * (a if a is not None else 1.0)
            rel = round(max(RELIABILITY_FLOOR, min(1.0, (PRIOR_WEIGHT * prior + nd * observed)
                                                   / (PRIOR_WEIGHT + nd))), 4)
            if feed_reliability:
                asset.reliability = rel
        r = _upsert(session, "asset", aid, asset.fsp_id, {
            "window_start": start, "window_end": end, "availability": _round(a),
            "delivery": _round(d), "response": _round(rs), "median_ack_s": med,
            "disputes": 0, "contracted_periods": counts.get(aid, 0), "instructed_periods": ni,
            "score": _mean([a, d, rs]), "reliability": rel, "details": details,
            "computed_at": end})
        out.append(r)
        per_fsp[asset.fsp_id].append(r)
    for fsp, rs_ in per_fsp.items():
        w = [max(1, r.contracted_periods) for r in rs_]

        def wmean(attr: str, rs_: list[AssetRating] = rs_, w: list[int] = w) -> float | None:
            pairs = [(getattr(r, attr), k) for r, k in zip(rs_, w, strict=True)
                     if getattr(r, attr) is not None]
            return round(sum(v * k for v, k in pairs) / sum(k for _, k in pairs), 4) \
                if pairs else None
        av, de, re_ = wmean("availability"), wmean("delivery"), wmean("response")
        out.append(_upsert(session, "fsp", fsp, fsp, {
            "window_start": start, "window_end": end, "availability": av, "delivery": de,
            "response": re_, "median_ack_s": None, "disputes": disputes.get(fsp, 0),
            "contracted_periods": sum(r.contracted_periods for r in rs_),
            "instructed_periods": sum(r.instructed_periods for r in rs_),
            "score": _mean([av, de, re_]), "reliability": None,
            "details": {"assets": len(rs_)}, "computed_at": end}))
    session.flush()
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def request_refresh(session: Session, who: Principal) -> None:
    """Queue a recompute after the commit (it reads every contract of the window)."""
    from flexplatform import audit
    from flexplatform.db import after_commit

    audit.record(session, who.actor, "ratings.refresh_requested", "ratings", None, {})

    def later() -> None:
        from flexplatform.queue import enqueue

        enqueue("flex.monitoring.ratings")

    after_commit(session, later)


# --- who sees what ---------------------------------------------------------------------

def _mo_fsps(mo_id: uuid.UUID) -> Any:
    return select(Bid.fsp_id).join(Market, Market.id == Bid.market_id).where(Market.mo_id == mo_id)


def visible(q: Any, who: Principal) -> Any:
    """FSP: its own; MO: the assets (and their FSPs) that bid into its needs; oversight: all."""
    if who.is_(Role.admin, Role.regulator):
        return q
    if who.is_(Role.fsp):
        return q.where(AssetRating.fsp_id == who.id)
    if who.is_(Role.mo):
        return q.where(((AssetRating.subject_kind == "asset")
                        & AssetRating.subject_id.in_(mo_visible_assets(who.id)))
                       | ((AssetRating.subject_kind == "fsp")
                          & AssetRating.subject_id.in_(_mo_fsps(who.id))))
    return q.where(False)


def list_ratings(session: Session, who: Principal, kind: str | None, fsp_id: uuid.UUID | None,
                 limit: int, offset: int) -> tuple[Sequence[AssetRating], int]:
    from sqlalchemy import func

    q = visible(select(AssetRating), who)
    if kind:
        q = q.where(AssetRating.subject_kind == kind)
    if fsp_id:
        q = q.where(AssetRating.fsp_id == fsp_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(AssetRating.subject_kind, AssetRating.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def get_rating(session: Session, kind: str, sid: uuid.UUID, who: Principal) -> AssetRating:
    r = session.scalar(visible(select(AssetRating), who).where(
        AssetRating.subject_kind == kind, AssetRating.subject_id == sid))
    if r is None:
        raise NotFound(f"no rating for {kind} {sid} that you may see")
    return r
