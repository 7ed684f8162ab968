"""The monitoring rules: each a pure read of the platform's records into findings.

Every rule takes (session, window, thresholds) and returns :class:`Finding` records; none
writes. A rule's ``uses`` names the thresholds it reads (shown by ``GET
/monitoring/rules``). Rules on another stage's tables (operations' declarations and
conflicts, reporting's verifications) import them lazily, so the rule reports nothing
rather than failing where that stage is not installed. docs/monitoring.md gives each
rule's evidence, thresholds and the case it was written for.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Bid, BidStatus, Contract, Market, Need, NeedOutcome
from flexplatform.registration.models import Asset
from flexplatform.transparency.monitoring import Finding, Thresholds, Window
from flexplatform.transparency.monitoring_models import AuthFailure

HALF_HOUR = dt.timedelta(minutes=30)


def uses(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.uses = names  # type: ignore[attr-defined]
        return fn
    return mark


def stage_model(stage: str, name: str) -> Any:
    """Another stage's model by name, or None where that stage is not installed (the
    reporting stage keeps its settlement tables in ``settlement_models``)."""
    import importlib

    for mod in (f"flexplatform.{stage}.models", f"flexplatform.{stage}.settlement_models"):
        try:
            found = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    return None


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _events(session: Session, window: Window) -> dict[uuid.UUID, list[tuple[dt.datetime, str, list[int]]]]:
    """Per asset, each run of consecutive contracted half-hours starting in the window:
    (start, direction, contract ids). A contract is an event the asset's baseline is
    measured against; instructions, where dispatch exists, are a subset of these."""
    rows = session.execute(select(Contract.asset_id, Contract.period_start, Contract.direction,
                                  Contract.id).where(Contract.period_start >= window.start,
                                                     Contract.period_start < window.end,
                                                     Contract.status == "active")
                           .order_by(Contract.asset_id, Contract.period_start)).all()
    out: dict[uuid.UUID, list[tuple[dt.datetime, str, list[int]]]] = defaultdict(list)
    last: dict[uuid.UUID, dt.datetime] = {}
    for asset_id, t, d, cid in rows:
        evs = out[asset_id]
        if evs and (t == last[asset_id] or t - last[asset_id] == HALF_HOUR) and evs[-1][1] == d:
            evs[-1][2].append(cid)
        else:
            evs.append((t, d, [cid]))
        last[asset_id] = t
    return out


def _net_kwh(session: Session, asset_id: uuid.UUID, start: dt.datetime, end: dt.datetime
             ) -> dict[int, float]:
    """Net import (import - export) of all the asset's meters per half-hour (epoch s)."""
    from flexplatform.reporting.models import MeterPoint
    from flexplatform.reporting.reads import latest_arrays

    ids = session.scalars(select(MeterPoint.id).where(MeterPoint.asset_id == asset_id)).all()
    if not ids:
        return {}
    cols = latest_arrays(session, ids, start, end)
    net: dict[int, float] = defaultdict(float)
    for t, i, e in zip(cols["start_s"], cols["import_kwh"], cols["export_kwh"], strict=True):
        net[int(t)] += float(i) - float(e)
    return net


@uses("baseline_periods", "profile_days", "min_profile_days", "inflation_ratio",
      "inflation_ratio_high", "inflation_min_kwh")
def baseline_inflation(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Consumption raised in the baseline window before an event against the asset's usual profile.

    The DFS "Power Rinse" case: demand pushed up in the hours a baseline reads makes the
    turn-down during the event look larger than it was. For each event (a run of contracted
    half-hours) the mean net import of the ``baseline_periods`` half-hours before it is
    compared with the median, over the ``profile_days`` before, of the same clock
    half-hours. An up event (turn-down) is suspect when the window is raised; a down event
    (turn-up) when it is lowered.
    """
    out: list[Finding] = []
    for asset_id, evs in _events(session, w).items():
        asset = session.get(Asset, asset_id)
        for start, direction, cids in evs:
            b0 = start - th.baseline_periods * HALF_HOUR
            net = _net_kwh(session, asset_id, b0 - dt.timedelta(days=th.profile_days), start)
            slots = [int((b0 + k * HALF_HOUR).timestamp()) for k in range(th.baseline_periods)]
            if not all(s in net for s in slots):
                continue
            window_mean = float(np.mean([net[s] for s in slots]))
            days = []
            for d in range(1, th.profile_days + 1):
                day = [s - d * 86400 for s in slots]
                if all(s in net for s in day):
                    days.append(round(float(np.mean([net[s] for s in day])), 4))
            if len(days) < th.min_profile_days:
                continue
            usual = float(np.median(days))
            raised = window_mean - usual if direction == "up" else usual - window_mean
            base = max(abs(usual), th.inflation_min_kwh)
            ratio = (base + raised) / base
            if raised < th.inflation_min_kwh or ratio < th.inflation_ratio:
                continue
            sev = "high" if ratio >= th.inflation_ratio_high else "medium"
            out.append(Finding(
                rule="baseline_inflation", severity=sev, subject_kind="asset",
                subject_id=str(asset_id), fsp_id=asset.fsp_id if asset else None,
                key=_iso(start),
                summary=(f"net import in the {th.baseline_periods} half-hours before the "
                         f"{direction} event at {_iso(start)} was {window_mean:.1f} kWh per "
                         f"half-hour against a usual {usual:.1f} ({ratio:.1f}x)"),
                evidence={"event_start": _iso(start), "direction": direction,
                          "contract_ids": cids, "baseline_window": [_iso(b0), _iso(start)],
                          "baseline_window_kwh": [round(net[s], 4) for s in slots],
                          "baseline_window_mean_kwh": round(window_mean, 4),
                          "usual_profile_days": days, "usual_mean_kwh": round(usual, 4),
                          "ratio": round(ratio, 3), "threshold_ratio": th.inflation_ratio}))
    return out


@uses("withdraw_lead_minutes", "withdraw_share", "high_price_quantile", "min_withdrawals")
def withholding(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Availability withdrawn just before high-priced periods.

    A cut is a declaration version that lowers the declared MW by at least
    ``withdraw_share`` of the contracted MW, declared within ``withdraw_lead_minutes`` of
    the period. A period is high-priced when a clearing price of the asset's zone and
    direction in it is at or above the ``high_price_quantile`` of that zone's clearing
    prices in the window. An asset with ``min_withdrawals`` cuts in high-priced periods,
    and more of its cuts there than elsewhere, is flagged.
    """
    AD = stage_model("operations", "AvailabilityDeclaration")
    if AD is None:
        return []
    contracted: dict[tuple[uuid.UUID, str, dt.datetime], float] = defaultdict(float)
    zone_of: dict[uuid.UUID, str] = {}
    for c, zone in session.execute(select(Contract, Asset.zone_code).join(
            Asset, Asset.id == Contract.asset_id).where(
            Contract.period_start >= w.start, Contract.period_start < w.end)).all():
        contracted[(c.asset_id, c.direction, c.period_start)] += c.mw
        zone_of[c.asset_id] = zone
    prices: dict[tuple[str, str, dt.datetime], float] = {}
    per_zone: dict[str, list[float]] = defaultdict(list)
    for o, zone, direction in session.execute(
            select(NeedOutcome, Need.zone_code, Need.direction).join(Need, Need.id == NeedOutcome.need_id)
            .where(NeedOutcome.period_start >= w.start, NeedOutcome.period_start < w.end,
                   NeedOutcome.clearing_price.is_not(None))).all():
        d = getattr(direction, "value", direction)
        k = (zone, d, o.period_start)
        prices[k] = max(prices.get(k, 0.0), float(o.clearing_price))
        per_zone[zone].append(float(o.clearing_price))
    cut_of = {z: float(np.quantile(v, th.high_price_quantile)) for z, v in per_zone.items() if v}
    decls = session.scalars(select(AD).where(AD.period_start >= w.start, AD.period_start < w.end)
                            .order_by(AD.asset_id, AD.direction, AD.period_start, AD.version)).all()
    prev: dict[tuple[Any, str, dt.datetime], float] = {}
    cuts: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    fsp: dict[uuid.UUID, uuid.UUID] = {}
    for d in decls:
        key = (d.asset_id, d.direction, d.period_start)
        before = prev.get(key)
        prev[key] = d.mw
        mw_c = contracted.get(key, 0.0)
        if before is None or mw_c <= 0 or before - d.mw < th.withdraw_share * mw_c:
            continue
        lead = (d.period_start - d.declared_at).total_seconds() / 60
        if lead > th.withdraw_lead_minutes:
            continue
        zone = zone_of.get(d.asset_id)
        price = prices.get((zone, d.direction, d.period_start)) if zone else None
        high = price is not None and zone in cut_of and price >= cut_of[zone]
        fsp[d.asset_id] = d.fsp_id
        cuts[d.asset_id].append({"period_start": _iso(d.period_start), "direction": d.direction,
                                 "from_mw": before, "to_mw": d.mw, "contracted_mw": mw_c,
                                 "declared_at": _iso(d.declared_at), "lead_minutes": round(lead, 1),
                                 "version": d.version, "clearing_price": price,
                                 "high_priced": high})
    out = []
    for asset_id, cs in cuts.items():
        high = [c for c in cs if c["high_priced"]]
        if len(high) < th.min_withdrawals or len(high) <= len(cs) - len(high):
            continue
        zone = zone_of[asset_id]
        out.append(Finding(
            rule="withholding", severity="high" if len(high) >= 2 * th.min_withdrawals else "medium",
            subject_kind="asset", subject_id=str(asset_id), fsp_id=fsp.get(asset_id),
            key=",".join(c["period_start"] for c in high),
            summary=(f"{len(high)} of {len(cs)} late availability cuts fell in high-priced "
                     f"periods of zone {zone} (price at or above {cut_of[zone]:.2f})"),
            evidence={"zone": zone, "high_price_threshold": round(cut_of[zone], 4),
                      "quantile": th.high_price_quantile, "cuts": cs,
                      "cuts_high_priced": len(high), "cuts_total": len(cs)}))
    return out


@uses("nondelivery_performance", "min_nondelivery_periods", "nondelivery_share")
def repeated_non_delivery(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Repeated non-delivery: verified performance below ``nondelivery_performance`` again
    and again.

    Reads reporting's verifications (latest version per instruction-period) and flags an
    asset with at least ``min_nondelivery_periods`` such periods that are also at least
    ``nondelivery_share`` of its verified periods.
    """
    from flexplatform.reporting.service import verifications_between

    latest = {(v.instruction_id, v.period_start): v
              for v in verifications_between(session, w.start, w.end)}
    cids = {v.contract_id for v in latest.values()}
    asset_of = dict(session.execute(select(Contract.id, Contract.asset_id).where(
        Contract.id.in_(cids))).all()) if cids else {}
    by_asset: dict[Any, list[Any]] = defaultdict(list)
    owners: dict[Any, Any] = {}
    for v in latest.values():
        a = asset_of.get(v.contract_id)
        if a is not None:
            by_asset[a].append(v)
            owners[a] = v.fsp_id
    out = []
    for asset_id, vs in by_asset.items():
        bad = sorted((v for v in vs if (v.performance or 0.0) < th.nondelivery_performance),
                     key=lambda v: v.period_start)
        if len(bad) < th.min_nondelivery_periods or len(bad) / len(vs) < th.nondelivery_share:
            continue
        out.append(Finding(
            rule="repeated_non_delivery", severity="high" if len(bad) / len(vs) >= 0.6 else "medium",
            subject_kind="asset", subject_id=str(asset_id), fsp_id=owners[asset_id],
            key=",".join(_iso(v.period_start) for v in bad),
            summary=f"{len(bad)} of {len(vs)} verified periods delivered under "
                    f"{th.nondelivery_performance:.0%} of the instruction",
            evidence={"verified_periods": len(vs), "short_periods": len(bad),
                      "periods": [{"instruction_id": str(v.instruction_id),
                                   "period_start": _iso(v.period_start),
                                   "performance": v.performance,
                                   "delivered_kwh": v.delivered_kwh} for v in bad]}))
    return out


@uses("price_ratio", "price_ratio_high", "min_price_history", "price_lookback_days")
def bid_price_outlier(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Bid prices far above the asset's own history or its zone's peers.

    Each bid submitted in the window is compared, per product and direction, with the
    median availability price of (a) the same asset's earlier bids and (b) other FSPs'
    bids in the same zone, over ``price_lookback_days``. A bid at ``price_ratio`` times a
    median of at least ``min_price_history`` prices is an outlier.
    """
    since = w.start - dt.timedelta(days=th.price_lookback_days)
    rows = session.execute(
        select(Bid.id, Bid.asset_id, Bid.fsp_id, Bid.availability_price, Bid.created_at,
               Need.product_code, Need.zone_code, Need.direction)
        .join(Need, Need.id == Bid.need_id)
        .where(Bid.created_at >= since, Bid.created_at < w.end,
               Bid.status != BidStatus.withdrawn)).all()
    out = []
    flagged: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    owners: dict[uuid.UUID, uuid.UUID] = {}
    by_asset: dict[tuple, list[Any]] = defaultdict(list)
    by_zone: dict[tuple, list[Any]] = defaultdict(list)
    for x in rows:
        d = getattr(x.direction, "value", x.direction)
        by_asset[(x.product_code, d, x.asset_id)].append(x)
        by_zone[(x.product_code, d, x.zone_code)].append(x)
    for r in rows:
        if r.created_at < w.start:
            continue
        d = getattr(r.direction, "value", r.direction)
        own = [float(x.availability_price) for x in by_asset[(r.product_code, d, r.asset_id)]
               if x.created_at < r.created_at and x.id != r.id]
        peers = [float(x.availability_price) for x in by_zone[(r.product_code, d, r.zone_code)]
                 if x.fsp_id != r.fsp_id]
        price = float(r.availability_price)
        why = {}
        for name, ref in (("own_history", own), ("zone_peers", peers)):
            if len(ref) >= th.min_price_history:
                med = statistics.median(ref)
                if med > 0 and price >= th.price_ratio * med:
                    why[name] = {"median": round(med, 4), "n": len(ref),
                                 "ratio": round(price / med, 3)}
        if why:
            owners[r.asset_id] = r.fsp_id
            flagged[r.asset_id].append({"bid_id": str(r.id), "product": r.product_code,
                                        "zone": r.zone_code, "direction": d,
                                        "availability_price": price, "against": why})
    for asset_id, bs in flagged.items():
        top = max(v["ratio"] for b in bs for v in b["against"].values())
        out.append(Finding(
            rule="bid_price_outlier", severity="high" if top >= th.price_ratio_high else "medium",
            subject_kind="asset", subject_id=str(asset_id), fsp_id=owners[asset_id],
            key=",".join(sorted(b["bid_id"] for b in bs)),
            summary=f"{len(bs)} bid(s) priced up to {top:.1f}x the reference median",
            evidence={"bids": bs, "threshold_ratio": th.price_ratio}))
    return out


@uses("setter_share", "setter_min_periods", "setter_min_needs")
def price_setter(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """One FSP setting the price in a zone again and again.

    The price setter of a need-period is the FSP of its highest-priced accepted contract
    (the marginal award, pay-as-bid or pay-as-clear alike). A zone where one FSP set the
    price in at least ``setter_share`` of at least ``setter_min_periods`` need-periods,
    across at least ``setter_min_needs`` needs, is flagged.
    """
    top: dict[tuple[uuid.UUID, dt.datetime], tuple[float, uuid.UUID]] = {}
    zone_of: dict[uuid.UUID, str] = {}
    for c, zone in session.execute(select(Contract, Need.zone_code).join(
            Need, Need.id == Contract.need_id).where(
            Contract.period_start >= w.start, Contract.period_start < w.end)).all():
        k = (c.need_id, c.period_start)
        p = float(c.availability_price)
        if k not in top or p > top[k][0]:
            top[k] = (p, c.fsp_id)
        zone_of[c.need_id] = zone
    per_zone: dict[str, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
    for (need_id, _), (_, fsp) in top.items():
        per_zone[zone_of[need_id]].append((need_id, fsp))
    out = []
    for zone, rows in per_zone.items():
        counts: dict[uuid.UUID, int] = defaultdict(int)
        for _, f in rows:
            counts[f] += 1
        fsp, n = max(counts.items(), key=lambda kv: kv[1])
        needs = {nid for nid, f in rows if f == fsp}
        share = n / len(rows)
        if len(rows) < th.setter_min_periods or share < th.setter_share or \
                len(needs) < th.setter_min_needs:
            continue
        out.append(Finding(
            rule="price_setter", severity="high" if share >= 0.95 else "medium",
            subject_kind="zone", subject_id=zone, fsp_id=fsp,
            key=f"{fsp}:{','.join(sorted(str(x) for x in needs))}:{n}",
            summary=f"one FSP set the price in {n} of {len(rows)} need-periods in {zone}",
            evidence={"zone": zone, "fsp_id": str(fsp), "need_periods": len(rows),
                      "set_by_fsp": n, "share": round(share, 3),
                      "needs": sorted(str(x) for x in needs),
                      "setters": {str(k): v for k, v in counts.items()}}))
    return out


@uses("unmet_min_needs")
def persistent_unmet(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Persistent unmet needs: a zone, product and direction whose needs go unmet round
    after round (a market fault: no liquidity where the network needs it).

    Only each market's current round counts (a re-run replaces the earlier outcome).
    """
    rows = session.execute(
        select(NeedOutcome, Need.zone_code, Need.product_code, Need.direction)
        .join(Need, Need.id == NeedOutcome.need_id).join(Market, Market.id == Need.market_id)
        .where(NeedOutcome.round_id == Market.clearing_round_id,
               NeedOutcome.period_start >= w.start, NeedOutcome.period_start < w.end)).all()
    groups: dict[tuple[str, str, str], dict[uuid.UUID, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for o, zone, product, direction in rows:
        groups[(zone, product, getattr(direction, "value", direction))][o.need_id].append(o)
    out = []
    for (zone, product, d), needs in groups.items():
        unmet = {nid: os for nid, os in needs.items() if any(o.unmet_mw > 1e-6 for o in os)}
        if len(unmet) < th.unmet_min_needs:
            continue
        mw = sum(o.unmet_mw for os in unmet.values() for o in os)
        out.append(Finding(
            rule="persistent_unmet", severity="high" if len(unmet) == len(needs) else "medium",
            subject_kind="zone", subject_id=f"{zone}/{product}/{d}",
            key=",".join(sorted(str(n) for n in unmet)),
            summary=f"{len(unmet)} of {len(needs)} {product} {d} needs in {zone} left unmet",
            evidence={"zone": zone, "product": product, "direction": d, "needs": len(needs),
                      "unmet_needs": sorted(str(n) for n in unmet),
                      "unmet_mw_periods": round(mw, 6)}))
    return out


@uses("conflicts_min")
def repeated_conflicts(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Repeated conflicts: the same asset or zone in at least ``conflicts_min`` dispatch
    conflicts (operations), a sign of overlapping needs the markets do not coordinate."""
    Conflict = stage_model("operations", "Conflict")
    if Conflict is None:
        return []
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for c in session.scalars(select(Conflict).where(Conflict.period_start >= w.start,
                                                    Conflict.period_start < w.end)):
        if c.asset_id is not None:
            groups[("asset", str(c.asset_id))].append(c)
        elif c.zone_code:
            groups[("zone", c.zone_code)].append(c)
    out = []
    for (kind, sid), cs in groups.items():
        if len(cs) < th.conflicts_min:
            continue
        out.append(Finding(
            rule="repeated_conflicts", severity="medium", subject_kind=kind, subject_id=sid,
            key=",".join(sorted(str(c.id) for c in cs)),
            summary=f"{len(cs)} conflicts on {kind} {sid}",
            evidence={"conflicts": [{"id": str(c.id), "kind": c.kind,
                                     "period_start": _iso(c.period_start), "status": c.status,
                                     "resolution": c.resolution} for c in cs]}))
    return out


@uses("auth_burst_window_s", "auth_burst_per_key", "auth_burst_total")
def auth_failure_burst(session: Session, w: Window, th: Thresholds) -> list[Finding]:
    """Bursts of failed authentication (security): a key prefix refused at least
    ``auth_burst_per_key`` times, or the platform at least ``auth_burst_total`` times,
    within any ``auth_burst_window_s`` seconds. Only a hash of the prefix is kept."""
    rows = session.execute(select(AuthFailure.prefix_hash, AuthFailure.at, AuthFailure.reason)
                           .where(AuthFailure.at >= w.start, AuthFailure.at < w.end)
                           .order_by(AuthFailure.at)).all()
    span = dt.timedelta(seconds=th.auth_burst_window_s)

    def burst(times: list[dt.datetime], need: int) -> tuple[int, dt.datetime] | None:
        best, j, at = 0, 0, None
        for i, t in enumerate(times):
            while t - times[j] > span:
                j += 1
            if i - j + 1 > best:
                best, at = i - j + 1, times[j]
        return (best, at) if best >= need and at is not None else None

    out = []
    by_key: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_key[r.prefix_hash or "malformed"].append(r)
    for key, rs in by_key.items():
        b = burst([r.at for r in rs], th.auth_burst_per_key)
        if b:
            reasons: dict[str, int] = defaultdict(int)
            for r in rs:
                reasons[r.reason] += 1
            out.append(Finding(
                rule="auth_failure_burst", severity="high", subject_kind="key", subject_id=key,
                key=_iso(b[1]),
                summary=f"{b[0]} failed authentications within {th.auth_burst_window_s} s "
                        f"for key prefix hash {key}",
                evidence={"prefix_hash": key, "burst": b[0], "burst_start": _iso(b[1]),
                          "failures_in_window": len(rs), "reasons": dict(reasons),
                          "first": _iso(rs[0].at), "last": _iso(rs[-1].at)}))
    b = burst([r.at for r in rows], th.auth_burst_total)
    if b:
        out.append(Finding(
            rule="auth_failure_burst", severity="high", subject_kind="platform",
            subject_id="api", key=_iso(b[1]),
            summary=f"{b[0]} failed authentications across the platform within "
                    f"{th.auth_burst_window_s} s",
            evidence={"burst": b[0], "burst_start": _iso(b[1]), "distinct_prefixes": len(by_key),
                      "failures_in_window": len(rows)}))
    return out


RULES = {
    "baseline_inflation": baseline_inflation,
    "withholding": withholding,
    "repeated_non_delivery": repeated_non_delivery,
    "bid_price_outlier": bid_price_outlier,
    "price_setter": price_setter,
    "persistent_unmet": persistent_unmet,
    "repeated_conflicts": repeated_conflicts,
    "auth_failure_burst": auth_failure_burst,
}
