"""Market operator pages: home, markets and their needs (create, open, cancel)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from flexplatform.auth import Principal, SessionDep
from flexplatform.competition import service as competition
from flexplatform.competition.models import MarketStatus
from flexplatform.competition.schemas import MarketIn
from flexplatform.db import utcnow
from flexplatform.errors import DomainError, NotFound
from flexplatform.notifications import list_for
from flexplatform.web.access import FormDep, MoPage, MoTradingPage, terms_pending
from flexplatform.web.forms import (
    FormErrors,
    attempt,
    choices,
    local_input,
    parse,
    periods_between,
    profile,
    raw,
    utc,
    values,
)
from flexplatform.web.render import redirect, render

router = APIRouter()
MARKET_FIELDS = ("name", "description", "gate_open_at", "gate_close_at", "delivery_start",
                 "delivery_end")
TIME_FIELDS = MARKET_FIELDS[2:]
NEED_FIELDS = ("name", "product", "zone", "direction", "mw", "max_availability_price",
               "utilisation_price_cap", "expected_utilisation", "unmet_penalty")
MAX_NEEDS_IN_FORM = 20
HOME_ROWS = 50  # attention items per market status on the home page


@router.get("/mo")
def home(request: Request, session: SessionDep, who: MoPage) -> Response:
    by, totals = {}, {}
    for s in MarketStatus:
        by[s.value], totals[s.value] = competition.list_markets(session, who, s, HOME_ROWS, 0)
    # Markets list in gate order; the most recently cleared are the last ones.
    cleared_total = totals["cleared"]
    cleared, _ = competition.list_markets(session, who, MarketStatus.cleared, 5,
                                          max(cleared_total - 5, 0))
    return render(request, "mo/home.html", {
        "terms_version": terms_pending(session, who), "by": by, "totals": totals,
        "cleared": list(reversed(cleared)), "notifications": list_for(session, who.id, 5, 0)})


@router.get("/mo/markets")
def markets(request: Request, session: SessionDep, who: MoPage, status: str = "",
            offset: int = 0) -> Response:
    state = MarketStatus(status) if status in MarketStatus.__members__ else None
    rows, total = competition.list_markets(session, who, state, 50, max(offset, 0))
    return render(request, "mo/markets.html", {
        "markets": rows, "total": total, "offset": max(offset, 0), "limit": 50,
        "status": state.value if state else "", "statuses": [(s.value, s.value) for s in MarketStatus],
        "base": f"/mo/markets?status={state.value}" if state else "/mo/markets"})


def _defaults(count: int) -> dict[str, str]:
    now = utcnow().replace(second=0, microsecond=0)
    start = (now + dt.timedelta(days=2)).replace(hour=16, minute=0)
    out = {"gate_open_at": local_input(now), "gate_close_at": local_input(start -
                                                                          dt.timedelta(days=1)),
           "delivery_start": local_input(start),
           "delivery_end": local_input(start + dt.timedelta(hours=2))}
    for i in range(count):
        out |= {f"needs.{i}.direction": "up", f"needs.{i}.mw": "1",
                f"needs.{i}.expected_utilisation": "0.1", f"needs.{i}.unmet_penalty": "1000",
                f"needs.{i}.max_availability_price": "100",
                f"needs.{i}.utilisation_price_cap": "500"}
    return out


def _form(request: Request, session: Any, count: int, given: dict[str, str],
          errors: FormErrors | None = None, open_now: bool = False, status: int = 200
          ) -> Response:
    return render(request, "mo/market_new.html", {
        "count": count, "v": given, "errors": errors, "open_now": open_now,
        "max_needs": MAX_NEEDS_IN_FORM, **choices(session)}, status=status)


@router.get("/mo/markets/new")
def new_market(request: Request, session: SessionDep, who: MoTradingPage) -> Response:
    return _form(request, session, 1, _defaults(1))


def market_input(form: FormData, count: int) -> dict[str, Any]:
    """The posted form as MarketIn's JSON shape (times read as UTC, MW profiles expanded)."""
    data: dict[str, Any] = values(form, ("name", "description"))
    for name in TIME_FIELDS:
        if (v := utc(str(form.get(name) or ""))) is not None:
            data[name] = v
    data["open"] = form.get("open") == "on"
    periods = periods_between(str(form.get("delivery_start") or ""),
                              str(form.get("delivery_end") or ""))
    needs = []
    for i in range(count):
        prefix = f"needs.{i}."
        n = {k[len(prefix):]: v for k, v in values(form, [prefix + f for f in NEED_FIELDS]).items()}
        if "mw" in n:
            n["mw"] = profile(n["mw"], periods)
        needs.append(n)
    data["needs"] = needs
    return data


def _field_names(count: int) -> list[str]:
    return [*MARKET_FIELDS, *(f"needs.{i}.{f}" for i in range(count) for f in NEED_FIELDS)]


@router.post("/mo/markets/new")
def create_market(request: Request, session: SessionDep, who: MoTradingPage,
                  form: FormDep) -> Response:
    try:
        count = min(max(int(str(form.get("need_count") or "1")), 1), MAX_NEEDS_IN_FORM)
    except ValueError:
        count = 1
    action = form.get("action")
    if action in ("add_need", "remove_need"):
        count = min(count + 1, MAX_NEEDS_IN_FORM) if action == "add_need" else max(count - 1, 1)
        given = raw(form, _field_names(count)) | {
            k: v for k, v in _defaults(count).items() if k not in form}
        return _form(request, session, count, given, open_now=form.get("open") == "on")
    try:
        data = parse(MarketIn, market_input(form, count))
        market = attempt(session, lambda: competition.create_market(session, data, who))
    except DomainError as e:
        if e.status != 422:
            raise
        return _form(request, session, count, raw(form, _field_names(count)),
                     FormErrors(e.errors, _field_names(count), e.detail),
                     open_now=form.get("open") == "on", status=422)
    state = "open for bids" if market.status == MarketStatus.open else "a draft: open it when ready"
    return redirect(f"/mo/markets/{market.id}", notice=f"Market created; it is {state}")


@router.get("/mo/markets/{market_id}")
def market(request: Request, market_id: uuid.UUID, session: SessionDep, who: MoPage,
           offset: int = 0) -> Response:
    m = competition.own_market(session, market_id, who)
    bids, total = ([], 0)
    if m.status in (MarketStatus.closed, MarketStatus.cleared):
        bids, total = competition.list_bids(session, who, m.id, None, 100, max(offset, 0))
    return render(request, "mo/market.html", {
        "m": m, "bids": bids, "bid_total": total, "offset": max(offset, 0), "limit": 100,
        "now": utcnow(), "needs": {n.id: n for n in m.needs}})


def _transition(session: Any, market_id: uuid.UUID, action: str, who: Principal,
                done: str) -> Response:
    back = f"/mo/markets/{market_id}"
    try:
        attempt(session, lambda: competition.transition(session, market_id, action, who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect(back, error=f"Not done: {e.detail}")
    return redirect(back, notice=done)


@router.post("/mo/markets/{market_id}/open")
def open_market(market_id: uuid.UUID, session: SessionDep, who: MoTradingPage) -> Response:
    return _transition(session, market_id, "open", who, "Market opened for bids")


@router.post("/mo/markets/{market_id}/cancel")
def cancel_market(market_id: uuid.UUID, session: SessionDep, who: MoTradingPage) -> Response:
    return _transition(session, market_id, "cancel", who,
                       "Market cancelled; its live bids were rejected")
