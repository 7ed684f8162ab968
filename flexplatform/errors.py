"""Business errors as typed exceptions, rendered as RFC 9457 problem details.

Services raise these; the app maps them to status codes in one place, so a route never
builds an error response by hand and bad input never surfaces as a 500.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://flexplatform.example/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(DomainError):
    status = 422
    type_slug = "validation-error"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Unauthenticated(DomainError):
    status = 401
    type_slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class TermsNotAccepted(Forbidden):
    type_slug = "terms-not-accepted"
    title = "Current terms not accepted"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


def field_error(loc: list[Any] | tuple[Any, ...] | str, message: str, **extra: Any) -> dict[str, Any]:
    """One entry of a problem's ``errors``: a JSON pointer to the field and why."""
    if isinstance(loc, str):
        parts: list[Any] = [loc]
    else:
        parts = list(loc)
    pointer = "/" + "/".join(str(p) for p in parts) if parts else ""
    return {"pointer": pointer, "field": ".".join(str(p) for p in parts), "message": message, **extra}


class FieldProblem(BaseModel):
    """One entry of a problem's ``errors`` (see :func:`field_error`)."""

    model_config = ConfigDict(extra="allow")
    pointer: str
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem, as every error of the API is sent (``application/problem+json``).

    Some problems carry more members (``allowed_roles``, ``terms_version``,
    ``idempotency_key``, ``error_count``...), hence extra members are allowed.
    """

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None
