"""Flexibility provider pages: assets (form and CSV), prequalification and opportunities,
bids (form and CSV), awards."""

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
from flexplatform.competition.models import LIVE_BID, BidStatus
from flexplatform.competition.schemas import BidIn
from flexplatform.config import get_settings
from flexplatform.errors import DomainError, InvalidInput, NotFound
from flexplatform.exploration import service as exploration
from flexplatform.notifications import list_for
from flexplatform.registration import service as registration
from flexplatform.registration.models import AssetStatus
from flexplatform.registration.schemas import AssetCreate
from flexplatform.web import charts
from flexplatform.web.access import FormDep, FspPage, FspTradingPage, terms_pending
from flexplatform.web.forms import (
    FormErrors,
    attempt,
    choices,
    parse,
    profile,
    raw,
    read_csv,
    upload_refused,
    values,
)
from flexplatform.web.render import redirect, render

router = APIRouter()
ASSET_FIELDS = ("name", "mpan", "zone", "technology", "status", "up_mw", "down_mw",
                "energy_mwh", "min_run_minutes", "max_run_minutes", "ramp_mw_per_min",
                "emission_t_per_mwh", "reliability", "latitude", "longitude")
BID_FIELDS = ("need_id", "asset_id", "mw", "min_mw", "availability_price", "utilisation_price",
              "exclusive_group")
ASSET_STATUSES = [(s.value, s.value.replace("_", " ")) for s in AssetStatus
                  if s != AssetStatus.archived]
# Opportunities are computed per asset (each against every open need); past this many the
# overview points at each asset's own page instead of making one page do it all.
OPPORTUNITY_ASSETS = 100


def own_assets(session: Any, who: Principal, limit: int = 1000) -> list[Any]:
    rows, _ = registration.list_assets(session, who, limit, 0)
    return list(rows)


def opportunity_table(session: Any, assets: list[Any]) -> list[dict[str, Any]]:
    """Open needs with the caller's assets that qualify for each (exploration's rule)."""
    needs: dict[uuid.UUID, dict[str, Any]] = {}
    for a in assets[:OPPORTUNITY_ASSETS]:
        if a.status == AssetStatus.archived:
            continue
        for v in exploration.opportunities(session, a).qualifying:
            row = needs.setdefault(v.need.id, {"need": v.need, "assets": []})
            row["assets"].append(a)
    return sorted(needs.values(), key=lambda r: r["need"].gate_close_at)


@router.get("/fsp")
def home(request: Request, session: SessionDep, who: FspPage) -> Response:
    assets, asset_total = registration.list_assets(session, who, OPPORTUNITY_ASSETS, 0)
    live = [b for s in LIVE_BID for b in competition.list_bids(session, who, None, s, 200, 0)[0]]
    # Bids list oldest first: the latest rejections are the last page.
    _, rejected_total = competition.list_bids(session, who, None, BidStatus.rejected, 1, 0)
    rejected, _ = competition.list_bids(session, who, None, BidStatus.rejected, 5,
                                        max(rejected_total - 5, 0))
    _awards, award_total = results.awards(session, who, None, 1, 0)
    markets = _markets(session, {b.market_id for b in [*live, *rejected]}, who)
    bid_on = {b.need_id for b in live}
    opps = [o for o in opportunity_table(session, list(assets)) if o["need"].id not in bid_on]
    return render(request, "fsp/home.html", {
        "terms_version": terms_pending(session, who), "asset_total": asset_total,
        "live": sorted(live, key=lambda b: markets[b.market_id].gate_close_at),
        "rejected": list(reversed(rejected)), "award_total": award_total, "markets": markets,
        "opportunities": opps[:10], "opportunity_total": len(opps),
        "notifications": list_for(session, who.id, 5, 0)})


def _markets(session: Any, ids: set[uuid.UUID], who: Principal) -> dict[uuid.UUID, Any]:
    return {i: competition.get_market(session, i, who) for i in ids}


# --- assets -----------------------------------------------------------------------------


@router.get("/fsp/assets")
def assets(request: Request, session: SessionDep, who: FspPage, offset: int = 0) -> Response:
    rows, total = registration.list_assets(session, who, 50, max(offset, 0))
    eligible = {a.id: [p.product_code for p in registration.prequalification(session, a.id, who)
                       if p.status.value == "eligible"] for a in rows}
    return render(request, "fsp/assets.html", {
        "assets": rows, "total": total, "offset": max(offset, 0), "limit": 50,
        "eligible": eligible})


def _asset_form(request: Request, session: Any, given: dict[str, str],
                errors: FormErrors | None = None, status: int = 200) -> Response:
    return render(request, "fsp/asset_new.html", {
        "v": given, "errors": errors, "statuses": ASSET_STATUSES, **choices(session)},
        status=status)


@router.get("/fsp/assets/new")
def new_asset(request: Request, session: SessionDep, who: FspTradingPage) -> Response:
    return _asset_form(request, session, {"status": "operational", "reliability": "1",
                                          "emission_t_per_mwh": "0"})


@router.post("/fsp/assets/new")
def create_asset(request: Request, session: SessionDep, who: FspTradingPage,
                 form: FormDep) -> Response:
    try:
        data = parse(AssetCreate, values(form, ASSET_FIELDS))
        asset = attempt(session, lambda: registration.create_asset(session, data, who))
    except InvalidInput as e:
        return _asset_form(request, session, raw(form, ASSET_FIELDS),
                           FormErrors(e.errors, ASSET_FIELDS, e.detail), status=422)
    return redirect(f"/fsp/assets/{asset.id}",
                    notice=f"Asset {asset.name} registered and prequalified for every product")


@router.get("/fsp/assets/upload")
def upload_assets_form(request: Request, who: FspTradingPage) -> Response:
    return render(request, "fsp/asset_upload.html", {"columns": ASSET_FIELDS})


@router.post("/fsp/assets/upload")
def upload_assets(request: Request, session: SessionDep, who: FspTradingPage,
                  form: FormDep) -> Response:
    try:
        rows = read_csv(form.get("file"), ("name", "mpan", "zone", "technology"))
        ids = attempt(session, lambda: registration.bulk_create_assets(
            session, rows, who, get_settings().max_bulk_assets))
    except InvalidInput as e:
        return render(request, "fsp/asset_upload.html", {
            "columns": ASSET_FIELDS, **upload_refused(e, "assets")}, status=422)
    return redirect("/fsp/assets", notice=f"{len(ids)} assets registered from the file and "
                                          "prequalified for every product")


@router.get("/fsp/assets/{asset_id}")
def asset(request: Request, asset_id: uuid.UUID, session: SessionDep, who: FspPage
          ) -> Response:
    a = registration.get_own_asset(session, asset_id, who)
    return render(request, "fsp/asset.html", {
        "a": a, "prequal": registration.prequalification(session, a.id, who),
        "opps": exploration.opportunities(session, a)})


@router.get("/fsp/opportunities")
def opportunities(request: Request, session: SessionDep, who: FspPage) -> Response:
    assets = own_assets(session, who)
    return render(request, "fsp/opportunities.html", {
        "rows": opportunity_table(session, assets), "asset_count": len(assets),
        "capped": len(assets) > OPPORTUNITY_ASSETS, "cap": OPPORTUNITY_ASSETS})


# --- bids -------------------------------------------------------------------------------


def _names(session: Any, who: Principal, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    out = {}
    for i in ids:
        try:
            out[i] = registration.get_own_asset(session, i, who).name
        except NotFound:
            out[i] = str(i)[:8]
    return out


@router.get("/fsp/bids")
def bids(request: Request, session: SessionDep, who: FspPage, status: str = "",
         offset: int = 0) -> Response:
    state = BidStatus(status) if status in BidStatus.__members__ else None
    rows, total = competition.list_bids(session, who, None, state, 50, max(offset, 0))
    markets = _markets(session, {b.market_id for b in rows}, who)
    needs = {n.id: n for m in markets.values() for n in m.needs}
    return render(request, "fsp/bids.html", {
        "bids": rows, "total": total, "offset": max(offset, 0), "limit": 50,
        "status": state.value if state else "", "statuses": [(s.value, s.value) for s in BidStatus],
        "markets": markets, "needs": needs, "names": _names(session, who,
                                                            {b.asset_id for b in rows}),
        "live": {s.value for s in LIVE_BID},
        "base": f"/fsp/bids?status={state.value}" if state else "/fsp/bids"})


def _open_need(session: Any, need_id: str) -> Any:
    try:
        nid = uuid.UUID(need_id)
    except ValueError:
        raise NotFound(f"no open need {need_id}") from None
    need = exploration.catalogue_need(session, nid)
    if need is None:
        raise NotFound(f"no open need {need_id}")
    return need


def _bid_form(request: Request, session: Any, who: Principal, need: Any, given: dict[str, str],
              errors: FormErrors | None = None, check: dict[str, Any] | None = None,
              status: int = 200) -> Response:
    assets = [a for a in own_assets(session, who) if a.status != AssetStatus.archived]
    return render(request, "fsp/bid_new.html", {
        "need": need, "v": given, "errors": errors, "check": check,
        "asset_options": [(str(a.id), f"{a.name} · {a.zone_code} · {a.technology_code}")
                          for a in assets]}, status=status)


@router.get("/fsp/bids/new")
def new_bid(request: Request, session: SessionDep, who: FspTradingPage, need_id: str = "",
            asset_id: str = "") -> Response:
    need = _open_need(session, need_id)
    return _bid_form(request, session, who, need, {
        "need_id": str(need.id), "asset_id": asset_id, "mw": f"{need.peak_mw:g}",
        "min_mw": "0", "availability_price": f"{need.max_availability_price.normalize():f}",
        "utilisation_price": f"{need.utilisation_price_cap.normalize():f}"})


def bid_input(form: Any, periods: int | None) -> dict[str, Any]:
    data: dict[str, Any] = values(form, BID_FIELDS)
    if "mw" in data:
        data["mw"] = profile(data["mw"], periods)
    data["all_or_nothing"] = form.get("all_or_nothing") == "on"
    return data


@router.post("/fsp/bids/new")
def submit_bid(request: Request, session: SessionDep, who: FspTradingPage,
               form: FormDep) -> Response:
    need = _open_need(session, str(form.get("need_id") or ""))
    given = raw(form, BID_FIELDS) | {"all_or_nothing": form.get("all_or_nothing") or ""}
    try:
        data = parse(BidIn, bid_input(form, len(need.mw)))
        if form.get("action") == "check":
            check = competition.validate_bid(session, data, who)
            return _bid_form(request, session, who, need, given, check=check)
        bid = attempt(session, lambda: competition.submit_bid(session, data, who))
    except InvalidInput as e:
        return _bid_form(request, session, who, need, given,
                         FormErrors(e.errors, BID_FIELDS, e.detail), status=422)
    return redirect("/fsp/bids", notice=f"Bid {str(bid.id)[:8]} submitted on "
                                        f"{need.name or need.product}")


BID_COLUMNS = ("need_id", "asset_id", "mw", "availability_price", "utilisation_price",
               "min_mw", "all_or_nothing", "exclusive_group")


def bid_rows(session: Any, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """CSV rows as bulk bid bodies: ``mw`` one number (every period) or a list."""
    lengths: dict[str, int | None] = {}
    out = []
    for r in rows:
        row: dict[str, Any] = dict(r)
        nid = row.get("need_id", "")
        if nid not in lengths:
            try:
                n = exploration.catalogue_need(session, uuid.UUID(nid))
            except ValueError:
                n = None
            lengths[nid] = len(n.mw) if n else None
        if "mw" in row:
            row["mw"] = profile(row["mw"], lengths[nid])
        if "all_or_nothing" in row:
            row["all_or_nothing"] = row["all_or_nothing"].lower() in ("1", "true", "yes", "y")
        out.append(row)
    return out


@router.get("/fsp/bids/upload")
def upload_bids_form(request: Request, who: FspTradingPage) -> Response:
    return render(request, "fsp/bid_upload.html", {"columns": BID_COLUMNS})


@router.post("/fsp/bids/upload")
def upload_bids(request: Request, session: SessionDep, who: FspTradingPage,
                form: FormDep) -> Response:
    try:
        rows = bid_rows(session, read_csv(form.get("file"), BID_COLUMNS[:5]))
        ids = attempt(session, lambda: competition.submit_bulk(
            session, rows, who, get_settings().max_bulk_bids))
    except InvalidInput as e:
        return render(request, "fsp/bid_upload.html", {
            "columns": BID_COLUMNS, **upload_refused(e, "bids")}, status=422)
    return redirect("/fsp/bids", notice=f"{len(ids)} bids submitted from the file")


@router.post("/fsp/bids/{bid_id}/withdraw")
def withdraw_bid(bid_id: uuid.UUID, session: SessionDep, who: FspTradingPage) -> Response:
    try:
        attempt(session, lambda: competition.withdraw_bid(session, bid_id, who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect("/fsp/bids", error=f"Not withdrawn: {e.detail}")
    return redirect("/fsp/bids", notice=f"Bid {str(bid_id)[:8]} withdrawn")


# --- awards -----------------------------------------------------------------------------


@router.get("/fsp/awards")
def awards(request: Request, session: SessionDep, who: FspPage, market_id: str = "") -> Response:
    try:
        mid = uuid.UUID(market_id) if market_id else None
    except ValueError:
        mid = None
    rows, total = results.awards(session, who, mid, 5000, 0)
    markets = _markets(session, {c.market_id for c in rows}, who)
    needs = {n.id: n for m in markets.values() for n in m.needs}
    names = _names(session, who, {c.asset_id for c in rows})
    grouped: dict[uuid.UUID, dict[str, Any]] = {}
    for c in rows:
        g = grouped.setdefault(c.bid_id, {"bid_id": c.bid_id, "market": markets[c.market_id],
                                          "need": needs[c.need_id], "asset": names[c.asset_id],
                                          "periods": [], "mwh": 0.0})
        g["periods"].append(c)
        g["mwh"] += c.mw * markets[c.market_id].period_minutes / 60
    chart = None
    starts = sorted({c.period_start for c in rows})
    if rows and len(starts) <= 96:
        at = {t: i for i, t in enumerate(starts)}
        series: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(starts))
        for c in rows:
            series[names[c.asset_id]][at[c.period_start]] += c.mw
        day = starts[0].astimezone(dt.UTC)
        chart = charts.stacked_periods(f"Awarded MW per period from {day:%d %b %Y}", starts,
                                       dict(series))
    return render(request, "fsp/awards.html", {
        "groups": sorted(grouped.values(), key=lambda g: g["periods"][0].period_start),
        "total": total, "chart": chart, "market": markets.get(mid) if mid else None})
