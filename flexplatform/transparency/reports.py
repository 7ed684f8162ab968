"""The regulator's carbon and market reports, computed from the platform's records.

Both return plain JSON-ready dicts (stored on :class:`TransparencyReport` by the worker)
so what the regulator downloads as JSON, CSV or a chart is the same stored figures.
The carbon method (direct, displaced, storage recharge, demand rebound) is stated in
docs/transparency.md; :data:`METHOD` is the short form stored with every report.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from flexplatform.config import get_settings
from flexplatform.transparency import carbon as ci
from flexplatform.transparency import facts
from flexplatform.transparency.models import DNO_REGIONS, NATIONAL

METHOD = (
    "direct tCO2 = delivered MWh x the asset's emission factor; displaced tCO2 = delivered "
    "MWh x the half-hour's regional intensity (national when the region has none), positive "
    "for up (grid supply avoided), negative for down (grid supply added); storage recharge "
    "= delivered up MWh / efficiency at the region's mean intensity of that UTC day; demand "
    "rebound = rebound fraction x delivered up MWh spread over the following half-hours at "
    "their intensities; net avoided = displaced - direct - recharge - rebound. contracted displacement = contracted "
    "MWh x the same intensity: what the contracts would displace if all were delivered "
    "(an upper bound before recharge and rebound).")
KEY = ("region_id", "technology", "direction", "product")
MEASURES = ("contracted_mwh", "dispatched_mwh", "delivered_mwh", "direct_tco2",
            "displaced_tco2", "recharge_tco2", "rebound_tco2", "net_avoided_tco2",
            "contracted_displacement_tco2")


def region_name(rid: int) -> str:
    return DNO_REGIONS.get(rid, "GB (national)" if rid == NATIONAL else f"region {rid}")


def _lookup(values: dict[tuple[int, dt.datetime], float], rid: int, t: dt.datetime
            ) -> tuple[float | None, str]:
    if (rid, t) in values and rid != NATIONAL:
        return values[(rid, t)], "regional"
    if (NATIONAL, t) in values:
        return values[(NATIONAL, t)], "national"
    return None, "missing"


def carbon_report(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Per region x half-hour x technology x direction x product, then days and months."""
    s = get_settings()
    regions = facts.zone_regions(session)
    stages: dict[str, list[facts.Flow] | None] = {"contracted": facts.contracts(session, start,
                                                                                end)}
    stages["dispatched"] = facts.instructions(session, start, end)
    stages["delivered"] = facts.verifications(session, start, end, stages["dispatched"])
    flows = [f for v in stages.values() for f in (v or [])]
    info = facts.assets(session, {f.asset_id for f in flows})
    rebound_n = s.carbon_rebound_halfhours
    # Intensities for the range plus the rebound tail and the whole UTC days (recharge).
    lo = dt.datetime.combine(start.date(), dt.time(), dt.UTC)
    hi = max(end + facts.HALF_HOUR * rebound_n,
             dt.datetime.combine(end.date(), dt.time(), dt.UTC) + dt.timedelta(days=1))
    values = ci.intensities(session, lo, hi)
    day_sum: dict[tuple[int, dt.date], list[float]] = defaultdict(list)
    for (rid, t), v in values.items():
        day_sum[(rid, t.date())].append(v)
    day_mean = {k: sum(v) / len(v) for k, v in day_sum.items()}

    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    missing = 0

    def row(t: dt.datetime, rid: int, tech: str, direction: str, product: str) -> dict[str, Any]:
        k = (t, rid, tech, direction, product)
        if k not in rows:
            g, basis = _lookup(values, rid, t)
            rows[k] = {"period_start": t.isoformat(), "region_id": rid,
                       "region": region_name(rid), "technology": tech, "direction": direction,
                       "product": product, "intensity_g_per_kwh": g, "intensity_basis": basis,
                       **dict.fromkeys(MEASURES, 0.0)}
        return rows[k]

    for f in flows:
        a = info.get(f.asset_id)
        tech = a.technology if a else "unknown"
        rid = regions.get(f.zone, NATIONAL)
        r = row(f.period_start, rid, tech, f.direction, f.product)
        r[f"{f.stage}_mwh"] += f.mwh
        g = r["intensity_g_per_kwh"]
        sign = 1.0 if f.direction == "up" else -1.0
        if f.stage == "contracted":  # an upper bound: if all of it were delivered
            r["contracted_displacement_tco2"] += sign * f.mwh * (g or 0.0) / 1000.0
        if f.stage != "delivered":
            continue
        if g is None:
            missing += 1
        r["direct_tco2"] += f.mwh * (a.emission_t_per_mwh if a else 0.0)
        r["displaced_tco2"] += sign * f.mwh * (g or 0.0) / 1000.0
        if f.direction != "up" or a is None:
            continue
        if a.stores_energy:
            d = day_mean.get((rid, f.period_start.date())) or day_mean.get(
                (NATIONAL, f.period_start.date())) or (g or 0.0)
            r["recharge_tco2"] += f.mwh / s.carbon_recharge_efficiency * d / 1000.0
        elif a.technology != "generator" and a.emission_t_per_mwh == 0.0 and \
                a.technology != "solar":
            share = f.mwh * s.carbon_rebound_fraction / rebound_n
            for k in range(1, rebound_n + 1):
                gk, _ = _lookup(values, rid, f.period_start + facts.HALF_HOUR * k)
                r["rebound_tco2"] += share * (gk if gk is not None else (g or 0.0)) / 1000.0
    for r in rows.values():
        r["net_avoided_tco2"] = (r["displaced_tco2"] - r["direct_tco2"] - r["recharge_tco2"]
                                 - r["rebound_tco2"])
    half = sorted(rows.values(), key=lambda r: (r["period_start"], r["region_id"],
                                                r["technology"], r["direction"], r["product"]))
    for r in half:
        for m in MEASURES:
            r[m] = round(r[m], 6)
    return {
        "kind": "carbon", "start": start.isoformat(), "end": end.isoformat(),
        "method": METHOD,
        "settings": {"recharge_efficiency": s.carbon_recharge_efficiency,
                     "rebound_fraction": s.carbon_rebound_fraction,
                     "rebound_halfhours": rebound_n},
        "sources": {k: ("unavailable" if v is None else len(v)) for k, v in stages.items()},
        "intensities": {"regional_halfhours": sum(1 for (rid, _) in values if rid != NATIONAL),
                        "national_halfhours": sum(1 for (rid, _) in values if rid == NATIONAL),
                        "delivered_without_intensity": missing},
        "halfhours": half,
        "days": rollup(half, lambda p: p[:10]),
        "months": rollup(half, lambda p: p[:7]),
        "regions": rollup(half, lambda p: "all"),
    }


def rollup(half: list[dict[str, Any]], bucket: Any) -> list[dict[str, Any]]:
    """Sum the half-hour rows into buckets (a day, a month) per region, technology,
    direction and product; the intensity shown is the delivered-weighted mean."""
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in half:
        b = bucket(r["period_start"])
        k = (b, *(r[c] for c in KEY))
        if k not in acc:
            acc[k] = {"period": b, **{c: r[c] for c in KEY}, "region": r["region"],
                      **dict.fromkeys(MEASURES, 0.0), "_w": 0.0, "_gw": 0.0}
        a = acc[k]
        for m in MEASURES:
            a[m] += r[m]
        if r["intensity_g_per_kwh"] is not None and r["delivered_mwh"]:
            a["_w"] += r["delivered_mwh"]
            a["_gw"] += r["delivered_mwh"] * r["intensity_g_per_kwh"]
    out = []
    for a in sorted(acc.values(), key=lambda a: (a["period"], a["region_id"], a["technology"],
                                                 a["direction"], a["product"])):
        w, gw = a.pop("_w"), a.pop("_gw")
        a["delivered_intensity_g_per_kwh"] = round(gw / w, 1) if w else None
        for m in MEASURES:
            a[m] = round(a[m], 6)
        out.append(a)
    return out


# --- market report -----------------------------------------------------------------------

def _stats(prices: list[tuple[float, float]]) -> dict[str, float | None]:
    """min, median, max and the volume-weighted mean of (price, MWh) pairs."""
    if not prices:
        return {"min": None, "median": None, "max": None, "vwap": None}
    ps = [p for p, _ in prices]
    vol = sum(v for _, v in prices)
    return {"min": round(min(ps), 2), "median": round(statistics.median(ps), 2),
            "max": round(max(ps), 2),
            "vwap": round(sum(p * v for p, v in prices) / vol, 2) if vol else None}


def _cells(items: list[dict[str, Any]], min_fsps: int | None) -> list[dict[str, Any]]:
    """Group price/volume facts by month, product, technology, zone and MO; with
    ``min_fsps`` (public view) a cell backed by fewer FSPs keeps only its counts."""
    acc: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        acc[(it["month"], it["product"], it["technology"], it["zone"], it["mo"])].append(it)
    out = []
    for (month, product, tech, zone, mo), its in sorted(acc.items()):
        fsps = {it["fsp_id"] for it in its}
        cell: dict[str, Any] = {"month": month, "product": product, "technology": tech,
                                "zone": zone, "mo": mo, "fsps": len(fsps), "count": len(its)}
        if min_fsps is not None and len(fsps) < min_fsps:
            cell.update(suppressed=True, mwh=None, availability_price=None,
                        utilisation_price=None)
        else:
            cell.update(suppressed=False, mwh=round(sum(it["mwh"] for it in its), 6),
                        availability_price=_stats([(it["ap"], it["mwh"]) for it in its]),
                        utilisation_price=_stats([(it["up"], it["mwh"]) for it in its]))
            if min_fsps is None:
                cell["fsp_ids"] = sorted(str(f) for f in fsps)
        out.append(cell)
    return out


def market_report(session: Session, start: dt.datetime, end: dt.datetime, *,
                  public: bool) -> dict[str, Any]:
    """Prices and volumes (awarded and offered), liquidity, conflicts and shortfalls.
    ``public`` suppresses every price or volume cell backed by too few FSPs and drops
    participant ids; the regulator's view has everything."""
    min_fsps = get_settings().public_min_fsps if public else None
    contracts = facts.contracts(session, start, end)
    pairs = facts.needs_in(session, start, end)
    need_ids = [n.id for n, _ in pairs]
    bids = facts.bids_for(session, need_ids)
    info = facts.assets(session, {c.asset_id for c in contracts} | {b.asset_id for b in bids})
    mo_names = facts.names(session, {m.mo_id for _, m in pairs} | {c.mo_id for c in contracts
                                                                  if c.mo_id})
    need_by_id = {n.id: (n, m) for n, m in pairs}

    def tech(aid: Any) -> str:
        return info[aid].technology if aid in info else "unknown"

    awarded = [{"month": c.period_start.strftime("%Y-%m"), "product": c.product,
                "technology": tech(c.asset_id), "zone": c.zone,
                "mo": mo_names.get(c.mo_id, str(c.mo_id)), "fsp_id": c.fsp_id, "mwh": c.mwh,
                "ap": c.availability_price, "up": c.utilisation_price} for c in contracts]
    offered = []
    for b in bids:
        n, m = need_by_id[b.need_id]
        mwh = sum(float(x or 0) for x in b.mw) * (m.period_minutes or 30) / 60.0
        offered.append({"month": m.delivery_start.strftime("%Y-%m"), "product": n.product_code,
                        "technology": tech(b.asset_id), "zone": n.zone_code,
                        "mo": mo_names.get(m.mo_id, str(m.mo_id)), "fsp_id": b.fsp_id,
                        "mwh": mwh, "ap": float(b.availability_price),
                        "up": float(b.utilisation_price)})
    # Liquidity: what NGED's published results show (no response, one bidder, unmet).
    bidders: dict[Any, set[Any]] = defaultdict(set)
    bid_count: dict[Any, int] = defaultdict(int)
    for b in bids:
        bidders[b.need_id].add(b.fsp_id)
        bid_count[b.need_id] += 1
    outcomes = facts.outcomes_for(session, pairs)
    required = sum(o.required_mw for o in outcomes)
    unmet = sum(o.unmet_mw for o in outcomes)
    zone_fsps: dict[str, set[Any]] = defaultdict(set)
    for c in contracts:
        zone_fsps[c.zone].add(c.fsp_id)
    zone_bidders: dict[str, set[Any]] = defaultdict(set)
    for b in bids:
        zone_bidders[need_by_id[b.need_id][0].zone_code].add(b.fsp_id)
    per_need = [{"need_id": str(n.id), "zone": n.zone_code, "product": n.product_code,
                 "mo": mo_names.get(m.mo_id, str(m.mo_id)), "bids": bid_count[n.id],
                 "bidders": len(bidders[n.id])} for n, m in pairs]
    liquidity: dict[str, Any] = {
        "needs": len(pairs), "bids": len(bids),
        "bids_per_need": round(len(bids) / len(pairs), 3) if pairs else None,
        "needs_with_no_bid": sum(1 for n, _ in pairs if not bidders[n.id]),
        "needs_with_one_bidder": sum(1 for n, _ in pairs if len(bidders[n.id]) == 1),
        "unmet_share": round(unmet / required, 4) if required else None,
        "required_mw_periods": round(required, 3), "unmet_mw_periods": round(unmet, 3),
        "single_provider_zones": sorted(z for z, f in zone_fsps.items() if len(f) == 1),
        "single_bidder_zones": sorted(z for z, f in zone_bidders.items() if len(f) == 1),
    }
    if not public:
        liquidity["per_need"] = per_need
        liquidity["single_provider_zone_fsps"] = {
            z: str(next(iter(f))) for z, f in zone_fsps.items() if len(f) == 1}
    return {"kind": "market", "view": "public" if public else "regulator",
            "start": start.isoformat(), "end": end.isoformat(),
            "suppression": {"min_fsps": min_fsps} if public else None,
            "awarded": _cells(awarded, min_fsps), "offered": _cells(offered, min_fsps),
            "liquidity": liquidity, "operations": _operations(session, start, end, public)}


def _operations(session: Session, start: dt.datetime, end: dt.datetime, public: bool
                ) -> dict[str, Any]:
    """Conflicts and their resolution, dispatch shortfalls (operations stage)."""
    from sqlalchemy import select

    Conflict = facts.optional("flexplatform.operations.models", "Conflict")
    Request = facts.optional("flexplatform.operations.models", "UtilisationRequest")
    if Conflict is None or Request is None:
        return {"available": False}
    conflicts = session.scalars(select(Conflict).where(Conflict.period_start < end,
                                                       Conflict.period_end > start)).all()
    by: dict[tuple[str, str], int] = defaultdict(int)
    for c in conflicts:
        by[(c.kind, getattr(c.status, "value", c.status))] += 1
    reqs = session.scalars(select(Request).where(Request.period_start < end,
                                                 Request.period_end > start)).all()
    short = [r for r in reqs if getattr(r.status, "value", r.status) in ("shortfall",
                                                                         "partly_covered")]
    out: dict[str, Any] = {
        "available": True,
        "conflicts": [{"kind": k, "status": s, "count": n} for (k, s), n in sorted(by.items())],
        "conflicts_resolved_share": round(sum(1 for c in conflicts if getattr(
            c.status, "value", c.status) == "resolved") / len(conflicts), 4) if conflicts else None,
        "utilisation_requests": len(reqs), "shortfalls": len(short),
        "shortfall_requested_mw": round(sum(r.mw for r in short), 3),
    }
    if not public:
        out["conflict_details"] = [
            {"id": str(c.id), "kind": c.kind, "status": getattr(c.status, "value", c.status),
             "zone": c.zone_code, "period_start": c.period_start.isoformat(),
             "resolution": c.resolution, "rationale": c.rationale} for c in conflicts]
        out["shortfall_requests"] = [
            {"id": str(r.id), "zone": r.zone_code, "product": r.product_code,
             "period_start": r.period_start.isoformat(), "mw": r.mw,
             "status": getattr(r.status, "value", r.status)} for r in short]
    return out
