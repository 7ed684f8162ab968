"""The dashboard's router, mounted at ``/`` beside the API, and its error pages.

Pages live in ``flexplatform/web/pages/``, one module per stage or role; each module has a
``router`` and is listed in :data:`PAGE_MODULES`. Errors on pages are rendered by the
app's exception handlers (wrapped here so API paths keep their RFC 9457 problems), after
the request's transaction has rolled back: an error page always means nothing was written.
"""

from __future__ import annotations

import importlib
import logging
import urllib.parse
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from flexplatform.errors import DomainError, NotFound, TermsNotAccepted
from flexplatform.web.access import CsrfRefused, SignInRequired
from flexplatform.web.render import STATIC, redirect, render

log = logging.getLogger("flexplatform.web")

# Each module's ``router`` is included in this order; a new stage adds its module here.
PAGE_MODULES = ("public", "mo", "fsp", "results", "regulator", "admin", "trading",
                "transparency", "instructions")
NOT_PAGES = ("/api/", "/docs", "/redoc", "/static/")

router = APIRouter(include_in_schema=False)
for _name in PAGE_MODULES:
    router.include_router(importlib.import_module(f"flexplatform.web.pages.{_name}").router)


def is_page(request: Request) -> bool:
    path = request.url.path
    return not any(path.startswith(p) or path == p.rstrip("/") for p in NOT_PAGES)


TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Not allowed", 404: "Page not found",
          405: "Not allowed here", 409: "Not possible now", 413: "Too large",
          422: "Check your input", 500: "Something went wrong"}


def error_page(request: Request, status: int, detail: str, title: str | None = None,
               **extra: Any) -> Response:
    return render(request, "error.html", {"status": status, "title": title or TITLES.get(
        status, "Error"), "detail": detail, **extra}, status=status)


def _on_domain_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotFound):
        return error_page(request, 404, "There is nothing here, or it is not yours to see.")
    if isinstance(exc, TermsNotAccepted):
        return error_page(request, 403, exc.detail, title="Accept the terms first",
                          terms_link=True)
    if isinstance(exc, CsrfRefused):
        return error_page(request, 403, exc.detail, title="This form was refused")
    return error_page(request, exc.status, exc.detail)


def _sign_in_first(request: Request, exc: Exception) -> Response:
    if request.method != "GET":
        return redirect("/signin")
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect("/signin?" + urllib.parse.urlencode({"next": nxt}))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
    return error_page(request, exc.status_code, detail)


def _malformed(request: Request, exc: Exception) -> Response:
    return error_page(request, 400, "The address or the form is malformed; nothing was changed.")


def _conflict(request: Request, exc: Exception) -> Response:
    log.warning("integrity error on page %s: %s", request.url.path, getattr(exc, "orig", exc))
    return error_page(request, 409, "The change conflicts with existing data; nothing was "
                                    "written. Reload the page and try again.")


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on page %s", request.url.path, exc_info=exc)
    return error_page(request, 500, "An unexpected error stopped this request. Nothing was "
                                    "written; you can safely try again.")


PAGE_HANDLERS: dict[type, Any] = {
    DomainError: _on_domain_error, StarletteHTTPException: _http_error,
    RequestValidationError: _malformed, IntegrityError: _conflict, Exception: _unexpected,
}


def _either(page_handler: Any, api_handler: Any) -> Any:
    async def handler(request: Request, exc: Exception) -> Any:
        if is_page(request):
            return page_handler(request, exc)
        return await api_handler(request, exc)

    return handler


def install(app: FastAPI) -> None:
    """Mount the pages and static files; errors on page paths become pages.

    Call after the API's exception handlers are registered: each is wrapped, so a path
    under ``/api/`` still gets its problem details.
    """
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for kind, page_handler in PAGE_HANDLERS.items():
        app.add_exception_handler(kind, _either(page_handler, app.exception_handlers[kind]))
    app.add_exception_handler(SignInRequired, _sign_in_first)
