"""Clearing results for everyone who may see them: schedules with charts, rounds.

The schedule page serves the MO (its own markets) and oversight; the rounds pages serve
every role, each seeing what ``competition.results`` lets it see.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import Principal, SessionDep
from flexplatform.competition import results
from flexplatform.competition import service as competition
from flexplatform.competition.clearing import REASON_TEXT
from flexplatform.competition.models import RoundStatus
from flexplatform.errors import Conflict, NotFound
from flexplatform.registration import service as registration
from flexplatform.web import charts
from flexplatform.web.access import AnyPage, MoOrOversightPage
from flexplatform.web.render import render

router = APIRouter()
BIDS_PAGE = 100


def asset_names(session: Any, ids: list[str], who: Principal) -> dict[str, str]:
    """Names of the assets the caller may read (the registration rule); others by short id."""
    out = {}
    for i in ids:
        try:
            out[i] = registration.get_asset(session, uuid.UUID(i), who).name
        except NotFound:
            out[i] = f"asset {i[:8]}"
    seen: dict[str, int] = defaultdict(int)
    for v in out.values():
        seen[v] += 1
    return {i: f"{v} ({i[:8]})" if seen[v] > 1 else v for i, v in out.items()}


def _parse(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def need_view(need: Any, market: Any, sched: dict[str, Any], names: dict[str, str]
              ) -> dict[str, Any]:
    """One need's chart and table: MW per period per asset, the need line, unmet."""
    axis = [market.delivery_start + dt.timedelta(minutes=market.period_minutes * i)
            for i in range(len(need.mw))]
    at = {t: i for i, t in enumerate(axis)}
    series: dict[str, list[float]] = {}
    for a in sched["assets"]:
        row = series.setdefault(names.get(a["asset_id"], a["asset_id"][:8]), [0.0] * len(axis))
        for p in a["periods"]:
            i = at.get(_parse(p["period_start"]))
            if i is not None:
                row[i] += p["mw"]
    outcome = {_parse(p["period_start"]): p for p in sched["periods"]}
    unmet = [outcome[t]["unmet_mw"] if t in outcome else 0.0 for t in axis]
    chart = charts.stacked_periods(f"{need.name or need.product_code}: MW awarded per period",
                                   axis, series, line=[float(x) for x in need.mw],
                                   line_label="Need", unmet=unmet)
    rows = [{"start": t, "required": float(need.mw[i]),
             "awarded": outcome[t]["awarded_mw"] if t in outcome else 0.0,
             "unmet": unmet[i], "price": outcome[t]["clearing_price"] if t in outcome else None,
             "by_asset": {k: v[i] for k, v in series.items()}}
            for i, t in enumerate(axis)]
    return {"s": sched, "chart": chart, "rows": rows, "assets": list(series)}


@router.get("/markets/{market_id}/schedule")
def schedule(request: Request, market_id: uuid.UUID, session: SessionDep,
             who: MoOrOversightPage, offset: int = 0) -> Response:
    sched = results.schedule(session, market_id, who)
    m = competition.get_market(session, market_id, who)
    names = asset_names(session, sorted({a["asset_id"] for n in sched["needs"]
                                         for a in n["assets"]}), who)
    needs = {str(n.id): n for n in m.needs}
    views = [need_view(needs[s["need_id"]], m, s, names) for s in sched["needs"]]
    bids, total = competition.list_bids(session, who, m.id, None, BIDS_PAGE, max(offset, 0))
    bid_assets = asset_names(session, sorted({str(b.asset_id) for b in bids} - set(names)), who)
    return render(request, "shared/schedule.html", {
        "m": m, "sched": sched, "views": views, "bids": bids, "bid_total": total,
        "offset": max(offset, 0), "limit": BIDS_PAGE, "names": names | bid_assets,
        "needs": {n.id: n for n in m.needs}})


@router.get("/clearings")
def clearings(request: Request, session: SessionDep, who: AnyPage, offset: int = 0
              ) -> Response:
    rows = results.rounds(session, who, 51, max(offset, 0))
    return render(request, "shared/clearings.html", {
        "rounds": rows[:50], "more": len(rows) > 50, "offset": max(offset, 0)})


@router.get("/clearings/{round_id}")
def clearing(request: Request, round_id: uuid.UUID, session: SessionDep, who: AnyPage
             ) -> Response:
    rnd = results.round_for(session, round_id, who)
    markets = []
    for mid in rnd.market_ids:
        try:
            markets.append(competition.get_market(session, uuid.UUID(mid), who))
        except NotFound:
            continue
    doc = None
    if rnd.status == RoundStatus.done:
        try:
            doc = results.document(session, round_id, who, "result")
        except Conflict:
            doc = None
    reasons: dict[str, int] = defaultdict(int)
    for r in (doc or {}).get("rejected", []):
        for code in r.get("reasons", []):
            reasons[code] += 1
    return render(request, "shared/clearing.html", {
        "r": rnd, "markets": markets, "doc": doc, "reason_counts": sorted(
            reasons.items(), key=lambda kv: -kv[1]), "reason_text": REASON_TEXT,
        "own_markets": {m.id for m in markets if m.mo_id == who.id}})
