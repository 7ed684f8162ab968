"""Pages anyone may open: home, sign-in and sign-out, the catalogue, open data, terms."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import SessionDep, current_terms
from flexplatform.errors import DomainError, InvalidInput, NotFound, field_error
from flexplatform.exploration import service as exploration
from flexplatform.registration import service as registration
from flexplatform.web import charts, sessions
from flexplatform.web.access import AnyPage, CsrfRefused, FormDep, MoFspPage, PublicPage, home_of
from flexplatform.web.forms import FormErrors, attempt, choices, utc
from flexplatform.web.render import redirect, render

router = APIRouter()
CATALOGUE_PAGE = 25


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never an absolute URL (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("/")
def home(request: Request, who: PublicPage) -> Response:
    if who is not None:
        return redirect(home_of(who))
    return render(request, "public/home.html")


def _signin_form(request: Request, errors: FormErrors | None = None, nxt: str | None = None,
                 status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "public/signin.html", {"signin_token": token, "errors": errors,
                                                      "next": nxt or ""}, status=status)
    sessions.set_cookie(response, request, sessions.SIGNIN_COOKIE, token, max_age=1800,
                        path="/signin")
    return response


@router.get("/signin")
def signin_form(request: Request, who: PublicPage, next: str | None = None) -> Response:
    if who is not None:
        return redirect(safe_next(next) or home_of(who))
    return _signin_form(request, nxt=safe_next(next))


@router.post("/signin")
def signin(request: Request, session: SessionDep, who: PublicPage, form: FormDep) -> Response:
    # No session yet, so the form carries a double-submit token: a site that cannot read
    # this site's cookies cannot post a key into someone's browser (login CSRF).
    if not sessions.tokens_match(form.get("csrf_token"),
                                 request.cookies.get(sessions.SIGNIN_COOKIE)):
        raise CsrfRefused("the sign-in form expired or did not come from this site; "
                          "open the sign-in page again")
    nxt = safe_next(str(form.get("next") or ""))
    key = str(form.get("api_key") or "").strip()
    try:
        if not key:
            raise InvalidInput("no key", errors=[field_error(["api_key"], "enter your API key")])
        user, token = attempt(session, lambda: sessions.sign_in(session, key))
    except DomainError as e:
        msg = e.errors[0]["message"] if e.errors else (
            "this key is not valid: it is unknown, mistyped or revoked (keys look like "
            "fpk_xxxxxxxxxxxx.xxxx)" if e.status == 401 else e.detail)
        return _signin_form(request, FormErrors([field_error(["api_key"], msg)]), nxt, 422)
    response = redirect(nxt or home_of(user.principal),
                        notice=f"Signed in as {user.principal.participant.legal_name}")
    sessions.set_session_cookie(response, request, token)
    response.delete_cookie(sessions.SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
def signout(request: Request, session: SessionDep, who: AnyPage) -> Response:
    user = request.state.web_user
    sessions.sign_out(session, user)
    response = redirect("/signin", notice="Signed out")
    sessions.clear_session_cookie(response)
    return response


@router.get("/catalogue")
def catalogue(request: Request, session: SessionDep, who: PublicPage, product: str = "",
              zone: str = "", direction: str = "", window_from: str = "", window_to: str = "",
              offset: int = 0) -> Response:
    errs = []
    times: dict[str, dt.datetime | None] = {}
    for name, v in (("window_from", window_from), ("window_to", window_to)):
        try:
            times[name] = dt.datetime.fromisoformat(utc(v)) if v else None  # type: ignore[arg-type]
        except ValueError:
            times[name] = None
            errs.append(field_error([name], "enter a date and time, e.g. 2026-12-01T16:00"))
    if direction not in ("", "up", "down"):
        errs.append(field_error(["direction"], "choose up or down"))
        direction = ""
    items, total = exploration.catalogue(
        session, product=product or None, zone=zone or None, direction=direction or None,
        window_from=times["window_from"], window_to=times["window_to"],
        limit=CATALOGUE_PAGE, offset=max(offset, 0))
    query = request.url.query
    base = "/catalogue?" + "&".join(p for p in query.split("&") if p and
                                    not p.startswith("offset="))
    return render(request, "public/catalogue.html", {
        "items": items, "total": total, "offset": max(offset, 0), "limit": CATALOGUE_PAGE,
        "base": base.rstrip("?"), "errors": FormErrors(errs),
        "filters": {"product": product, "zone": zone, "direction": direction,
                    "window_from": window_from, "window_to": window_to},
        **choices(session)})


@router.get("/catalogue/{need_id}")
def catalogue_need(request: Request, need_id: uuid.UUID, session: SessionDep,
                   who: PublicPage) -> Response:
    need = exploration.catalogue_need(session, need_id)
    if need is None:
        raise NotFound(f"no open need {need_id}")
    starts = [need.delivery_start + dt.timedelta(minutes=need.period_minutes * i)
              for i in range(len(need.mw))]
    chart = charts.profile(f"{need.name or need.product}: MW asked per period", starts, need.mw)
    return render(request, "public/catalogue_need.html", {
        "need": need, "chart": chart, "rows": list(zip(starts, need.mw, strict=True))})


OPEN_DATA = [
    ("Open needs (catalogue)", "/api/v1/catalogue/needs",
     "Every open need: product, zone, direction, MW per period, price caps, gate times. "
     "Filters: product, zone, direction, window_from, window_to; limit and offset."),
    ("Products", "/api/v1/products", "The flexibility products and their technical limits."),
    ("Technologies", "/api/v1/technologies", "Technology types assets are registered as."),
    ("Zones", "/api/v1/zones", "Constraint managed zones, GSP groups and GB."),
    ("Market rules in force", "/api/v1/rules/current",
     "Stacking, primacy, pricing and carbon price the next clearing uses."),
    ("Rule set history", "/api/v1/rules", "Every proposed, approved and rejected rule set."),
    ("Terms in force", "/api/v1/terms/current", "The participation terms and their SHA-256."),
    ("API description (OpenAPI)", "/api/v1/openapi.json", "Every endpoint and its schema."),
]


@router.get("/open-data")
def open_data(request: Request, who: PublicPage) -> Response:
    return render(request, "public/open_data.html", {"datasets": OPEN_DATA})


@router.get("/terms")
def terms(request: Request, session: SessionDep, who: PublicPage) -> Response:
    tv = current_terms(session)
    accepted = bool(who and tv and who.participant.terms_version_id == tv.id)
    return render(request, "public/terms.html", {"terms": tv, "accepted": accepted,
                                                 "may_accept": bool(who and who.is_("mo", "fsp"))})


@router.post("/terms/accept")
def accept_terms(request: Request, session: SessionDep, who: MoFspPage,
                 form: FormDep) -> Response:
    version = str(form.get("version") or "")
    try:
        attempt(session, lambda: registration.accept_terms(session, version, who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect("/terms", error=e.detail)
    return redirect(home_of(who), notice=f"Terms version {version} accepted")
