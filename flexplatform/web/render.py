"""Rendering: the Jinja2 environment, page and redirect responses, one-shot notices.

Every page response goes through :func:`render` or :func:`redirect`, so every page gets the
same security headers (a strict script policy: only this site's own script runs) and no
authenticated page is cached by a browser or proxy.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from flexplatform.competition.results import PENNY
from flexplatform.db import utcnow

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FLASH_COOKIE = "flex_flash"

# Inline SVG charts carry style attributes, hence 'unsafe-inline' for styles only; scripts
# are this site's own file and nothing else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def when(t: dt.datetime | None, fmt: str | None = None) -> str:
    """A UTC time as people read it (the platform's times are all UTC); seconds only when
    the time has them (a gate set to the second)."""
    if t is None:
        return "-"
    t = t.astimezone(dt.UTC)
    if fmt is None:
        fmt = "%a %d %b %Y %H:%M:%S UTC" if t.second else "%a %d %b %Y %H:%M UTC"
    return t.strftime(fmt)


def time_left(t: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """Whole time left until ``t``, coarse enough to read at a glance; the JS refines it."""
    if t is None:
        return "-"
    secs = int((t - (now or utcnow())).total_seconds())
    if secs <= 0:
        return "gate closed"
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d} d {h} h {m} min left"
    if h:
        return f"{h} h {m} min left"
    return f"{m} min {s} s left"


def num(x: Any, places: int = 3) -> str:
    """A number without trailing zeros (2, 2.5, 0.125), thousands separated."""
    if x is None:
        return "-"
    s = f"{float(x):,.{places}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def money(x: Any) -> str:
    """Pounds to the penny, rounded half-up as the platform's statements are."""
    if x is None:
        return "-"
    d = Decimal(str(x)).quantize(PENNY, rounding=ROUND_HALF_UP)
    return f"£{d:,}"


def label(value: Any) -> str:
    """An enum or code as words: ``in_development`` -> ``in development``."""
    v = getattr(value, "value", value)
    return str(v).replace("_", " ")


# The header's links per role. A new stage's pages add theirs with :func:`add_nav`.
NAV: dict[str, list[tuple[str, str]]] = {
    "public": [("Catalogue", "/catalogue"), ("Open data", "/open-data"), ("Terms", "/terms")],
    "mo": [("Home", "/mo"), ("Markets", "/mo/markets"), ("Clearings", "/clearings"),
           ("Catalogue", "/catalogue")],
    "fsp": [("Home", "/fsp"), ("Assets", "/fsp/assets"), ("Opportunities", "/fsp/opportunities"),
            ("Bids", "/fsp/bids"), ("Awards", "/fsp/awards"), ("Catalogue", "/catalogue")],
    "regulator": [("Home", "/regulator"), ("Audit", "/regulator/audit"),
                  ("Clearings", "/clearings"), ("Catalogue", "/catalogue")],
    "admin": [("Home", "/admin"), ("Participants", "/admin/participants"),
              ("Terms", "/admin/terms"), ("Rules", "/admin/rules"), ("Clearings", "/clearings")],
}
ROLE_NAMES = {"mo": "Market operator", "fsp": "Flexibility provider",
              "regulator": "Regulator", "admin": "Platform admin"}


def add_nav(role: str, text: str, url: str, before: str | None = None) -> None:
    """Add a header link for ``role`` (before the link titled ``before``, else at the end)."""
    links = NAV[role]
    if (text, url) in links:
        return
    at = next((i for i, (t, _) in enumerate(links) if t == before), len(links))
    links.insert(at, (text, url))


def home_url(user: Any) -> str:
    """The home page of a signed-in user (a WebUser), or the public home."""
    from flexplatform.web.access import HOME

    return HOME[user.role] if user is not None else "/"


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(when=when, time_left=time_left, num=num, money=money, label=label,
                             iso=lambda t: t.astimezone(dt.UTC).isoformat() if t else "")
templates.env.globals.update(now=utcnow, nav=NAV, role_names=ROLE_NAMES, home_url=home_url)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(urllib.parse.unquote(raw))
        return {"kind": str(data["kind"]), "text": str(data["text"])[:500]}
    except (ValueError, KeyError, TypeError):
        return None


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HTMLResponse:
    """A page: ``context`` plus ``user`` (the signed-in WebUser: name, role; None when
    signed out), its CSRF token and any one-shot notice."""
    from flexplatform.web.access import current_user

    user = current_user(request)
    flash = read_flash(request)
    ctx = {"user": user, "csrf_token": user.csrf_token if user else "", "flash": flash,
           "path": request.url.path, **(context or {})}
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return _headers(response)  # type: ignore[return-value]


def redirect(url: str, notice: str | None = None, error: str | None = None) -> Response:
    """303 See Other (a POST answered by a GET), optionally carrying a one-shot notice."""
    response = RedirectResponse(url, status_code=303)
    if notice or error:
        body = json.dumps({"kind": "error" if error else "notice", "text": error or notice})
        response.set_cookie(FLASH_COOKIE, urllib.parse.quote(body), max_age=120, path="/",
                            httponly=True, samesite="lax")
    return _headers(response)
