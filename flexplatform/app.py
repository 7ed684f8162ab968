"""The FastAPI application: routers per stage under /api/v1, errors as problem details."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flexplatform.auth import Public, SessionDep
from flexplatform.config import ConfigError, get_settings
from flexplatform.errors import PROBLEM_JSON, DomainError, PayloadTooLarge, field_error
from flexplatform.validation import refuse_nul

log = logging.getLogger("flexplatform")
API = "/api/v1"


def problem_response(err: DomainError, request: Request) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return JSONResponse(err.problem(str(request.url.path)), status_code=err.status,
                        media_type=PROBLEM_JSON, headers=headers)


class BodyLimit:
    """Refuse bodies over the limit before they are buffered, chunked uploads included."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None):
        self.app, self.max_bytes, self.per_path = app, max_bytes, per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        too_big = PayloadTooLarge(f"request body exceeds {limit} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(scope, send, too_big)
                return
        seen = 0
        exceeded = False

        async def limited() -> Message:
            nonlocal seen, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge()
            return msg

        async def guarded_send(msg: Message) -> None:
            # Once the limit is hit, whatever the app answers (often a generic 400 from a
            # failed body read) is replaced by one 413.
            if not exceeded:
                await send(msg)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited, guarded_send)
        if exceeded:
            await self._reject(scope, send, too_big)

    @staticmethod
    async def _reject(scope: Scope, send: Send, err: DomainError) -> None:
        body = json.dumps(err.problem(scope.get("path"))).encode()
        await send({"type": "http.response.start", "status": err.status,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class InflightLimit:
    """At most ``limit`` requests in the app at once; the rest wait their turn, unthreaded.

    Sync routes and their dependencies each take a worker thread per call, and a request
    holding a database lock (SQLite's write lock, a Postgres advisory lock) between two
    such calls needs a free thread to finish. With more requests in flight than threads,
    every thread can end up blocked behind a lock whose holder waits for a thread: the whole
    API freezes. Keeping the requests in flight below the thread pool's size means a holder
    always gets its thread. Waiting requests cost no thread; one that waits longer than
    ``wait_s`` gets 503 with Retry-After. ``exempt`` paths (health) skip the line, using
    the pool's spare threads.
    """

    def __init__(self, app: ASGIApp, limit: int, wait_s: float = 30.0,
                 exempt: tuple[str, ...] = ()):
        self.app, self.limit, self.wait_s, self.exempt = app, limit, wait_s, exempt
        self._sem: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exempt:
            await self.app(scope, receive, send)
            return
        if self._sem is None:
            import anyio.to_thread

            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(limiter.total_tokens, self.limit + 8)
            self._sem = asyncio.Semaphore(self.limit)
        try:
            await asyncio.wait_for(self._sem.acquire(), self.wait_s)
        except TimeoutError:
            body = json.dumps({"type": "https://flexplatform.example/problems/busy",
                               "title": "Busy", "status": 503,
                               "detail": "too many requests in progress; retry shortly",
                               "instance": scope.get("path")}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                                    (b"retry-after", b"1"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._sem.release()


def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    malformed = False
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            malformed = True
        loc = [p for p in e.get("loc", ()) if p != "body"] or ["body"]
        errors.append(field_error(loc, e.get("msg", "invalid"), type=e.get("type")))
    if malformed:
        body = {"type": "https://flexplatform.example/problems/malformed-json",
                "title": "Malformed JSON", "status": 400,
                "detail": "the request body is not valid JSON", "errors": errors,
                "instance": request.url.path}
        return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)
    body = {"type": "https://flexplatform.example/problems/validation-error",
            "title": "Invalid input", "status": 422,
            "detail": f"{len(errors)} invalid field(s)", "errors": errors[:1000],
            "instance": request.url.path}
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


# Postgres SQLSTATEs that mean "try again": serialization failure, deadlock detected, lock
# not available, statement timeout. SQLite says "database is locked" once its busy timeout
# has run out behind another writer.
_TRANSIENT_PG = {"40001", "40P01", "55P03", "57014"}


def is_transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _TRANSIENT_PG:
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


def _busy(request: Request, why: str) -> JSONResponse:
    """503 with Retry-After: the request was rolled back whole and may simply be repeated."""
    log.warning("%s on %s", why, request.url.path)
    body = {"type": "https://flexplatform.example/problems/busy", "title": "Busy",
            "status": 503, "detail": f"{why}; nothing was written, retry shortly",
            "instance": request.url.path}
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON,
                        headers={"Retry-After": "1"})


# What each problem status means, for the OpenAPI document.
PROBLEM_STATUSES = {
    400: "Malformed JSON", 401: "No valid API key (or a malformed Authorization header)",
    403: "The caller's role, status or accepted terms do not allow this",
    404: "Not found, or not the caller's", 409: "Conflicts with the current state",
    413: "Request body too large", 422: "Invalid input: each field and why",
    503: "Busy: nothing was written; retry after Retry-After seconds",
}
_CONFLICT_READS = ("/schedule", "/snapshot", "/result")


def problem_statuses(method: str, path: str, public: bool, has_body: bool) -> list[int]:
    """The problem statuses an operation may answer, from what the shared layers do.

    Every operation may meet a malformed key (401), invalid or NUL input (422), a missing
    object or one that is not the caller's (404; list filters name objects too) and a busy
    database (503); role and terms checks add 403, bodies 400 and 413, and state changes
    409 (and the reads that exist only in some states).
    """
    codes = {401, 404, 422, 503}
    if not public:
        codes.add(403)
    if has_body:
        codes |= {400, 413}
    if method != "GET" or path.endswith(_CONFLICT_READS):
        codes.add(409)
    return sorted(codes)


def _document_problems(app: FastAPI) -> None:
    """Declare every problem response in the OpenAPI document, as application/problem+json
    (FastAPI's default 422 body is not what the API sends), so clients and fuzzers see the
    whole contract."""
    from flexplatform.auth import declared_roles, walk_routes
    from flexplatform.errors import Problem

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        for path, route in walk_routes(app.routes):
            if not route.include_in_schema or path not in schema["paths"]:
                continue  # the dashboard's pages are HTML, not API operations
            public = "public" in (declared_roles(route) or (frozenset(),))[0]
            for method in route.methods - {"HEAD"}:
                op = schema["paths"][path][method.lower()]
                for code in problem_statuses(method, path, public, route.body_field is not None):
                    op["responses"][str(code)] = {
                        "description": PROBLEM_STATUSES[code],
                        "content": {PROBLEM_JSON: {
                            "schema": {"$ref": "#/components/schemas/Problem"}}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app() -> FastAPI:
    from flexplatform.competition.routes import router as competition_router
    from flexplatform.competition.transfer_routes import router as transfer_router
    from flexplatform.exploration.routes import router as exploration_router
    from flexplatform.governance.routes import router as governance_router
    from flexplatform.openadr.routes import router as openadr_router
    from flexplatform.operations.routes import router as operations_router
    from flexplatform.registration.routes import router as registration_router
    from flexplatform.reporting.routes import router as reporting_router
    from flexplatform.reporting.settlement_routes import router as settlement_router
    from flexplatform.transparency.routes import router as transparency_router

    app = FastAPI(
        title="Flexplatform",
        version="1",
        description=(
            "One central platform for GB local flexibility markets: registration, "
            "exploration, competition with system-wide clearing, governance. "
            "Authenticate with `Authorization: Bearer <api key>`; each endpoint's summary "
            "says which roles may call it. Errors are RFC 9457 problem details."
        ),
        docs_url="/docs",
        openapi_url=f"{API}/openapi.json",
        dependencies=[Depends(refuse_nul)],
    )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {"type": "about:blank", "title": str(exc.detail), "status": exc.status_code,
                "detail": str(exc.detail), "instance": request.url.path}
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A unique or foreign-key race lost to a concurrent request: the request was rolled
        # back whole, so the client may retry.
        log.warning("integrity error on %s: %s", request.url.path, exc.orig)
        body = {"type": "https://flexplatform.example/problems/conflict", "title": "Conflict",
                "status": 409, "detail": "the change conflicts with existing data; nothing "
                "was written", "instance": request.url.path}
        return JSONResponse(body, status_code=409, media_type=PROBLEM_JSON)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not is_transient(exc):
            return await unexpected(request, exc)
        return _busy(request, f"database busy: {type(exc.orig).__name__}")

    @app.exception_handler(PoolTimeout)
    async def pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        return _busy(request, "database busy: no free connection")

    @app.exception_handler(ConfigError)
    async def misconfigured(request: Request, exc: ConfigError) -> JSONResponse:
        log.error("misconfigured: %s", exc)
        body = {"type": "https://flexplatform.example/problems/misconfigured",
                "title": "Not configured", "status": 503,
                "detail": "the server is missing a setting this needs; an operator must "
                          "fix it", "instance": request.url.path}
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        body = {"type": "about:blank", "title": "Internal error", "status": 500,
                "detail": "unexpected error; nothing was written", "instance": request.url.path}
        return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)

    @app.get(f"{API}/health", tags=["meta"], summary="Liveness and database check (public)")
    def health(session: SessionDep, who: Public) -> dict[str, Any]:
        from sqlalchemy import text

        session.execute(text("SELECT 1"))
        return {"status": "ok", "database": session.get_bind().dialect.name,
                "tasks": "eager" if get_settings().eager else "celery"}

    for r in (registration_router, exploration_router, competition_router, governance_router,
              reporting_router, operations_router, transfer_router,
              settlement_router, openadr_router):
        app.include_router(r, prefix=API)
    app.include_router(transparency_router, prefix=API)
    from flexplatform import auth
    from flexplatform.transparency.monitoring import record_auth_failure
    from flexplatform.transparency.routes_monitoring import router as monitoring_router

    app.include_router(monitoring_router, prefix=API)
    if record_auth_failure not in auth.ON_REFUSED:
        auth.ON_REFUSED.append(record_auth_failure)
    _document_problems(app)
    # The dashboard at / (pages, static files, HTML error pages off the API paths).
    from flexplatform.web.routes import install as install_web

    install_web(app)
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_body_bytes,
                       per_path={f"{API}/meter-readings/csv": get_settings().max_meter_csv_bytes})
    app.add_middleware(InflightLimit, limit=get_settings().max_inflight_requests,
                       exempt=(f"{API}/health",))
    return app
