"""Sign-in with an API key into a server-side session.

The browser holds a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure over
https); the table holds only its SHA-256, the participant, the API key it was opened with,
the CSRF token of its forms and its expiry. A session ends at sign-out, at expiry, or as
soon as its API key is revoked or its participant suspended (checked on every request),
so the dashboard never outlives the credential that opened it. Neither the key nor the
token is ever logged or written anywhere but the cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal, authenticate
from flexplatform.config import get_settings
from flexplatform.db import utcnow
from flexplatform.errors import Forbidden, Unauthenticated
from flexplatform.registration.models import ApiKey, ParticipantStatus
from flexplatform.web.models import WebSession

COOKIE = "flex_session"
# Double-submit token of the sign-in form, the one form posted before a session exists.
SIGNIN_COOKIE = "flex_signin"


@dataclass
class WebUser:
    """The signed-in participant as pages see it.

    ``name`` and ``role`` are plain copies: an error page is rendered after the request's
    transaction rolled back, when the ORM objects can no longer be read.
    """

    principal: Principal
    session_id: uuid.UUID
    csrf_token: str
    name: str
    role: str

    @classmethod
    def of(cls, principal: Principal, session_id: uuid.UUID, csrf_token: str) -> WebUser:
        return cls(principal, session_id, csrf_token, principal.participant.legal_name,
                   principal.role.value)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def sign_in(session: Session, api_key: str) -> tuple[WebUser, str]:
    """Open a session for the holder of ``api_key``; returns it and the cookie token.

    Raises Unauthenticated for a wrong, malformed or revoked key and Forbidden for a
    participant that is not active, with the same checks as an API call.
    """
    principal = authenticate(session, f"Bearer {api_key.strip()}")
    if principal is None:  # pragma: no cover - an empty header is refused by the caller
        raise Unauthenticated("enter an API key")
    if principal.participant.status != ParticipantStatus.active:
        raise Forbidden(f"participant is {principal.participant.status.value}")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == principal.key_prefix))
    assert key is not None
    now = utcnow()
    # Sessions that can no longer be used are dropped rather than kept forever.
    session.execute(delete(WebSession).where(
        WebSession.participant_id == principal.id,
        or_(WebSession.expires_at <= now, WebSession.revoked_at.is_not(None))))
    token = secrets.token_urlsafe(32)
    ws = WebSession(token_sha256=_digest(token), participant_id=principal.id, api_key_id=key.id,
                    csrf_token=secrets.token_urlsafe(32), created_at=now,
                    expires_at=now + dt.timedelta(minutes=get_settings().web_session_minutes))
    session.add(ws)
    session.flush()
    audit.record(session, principal.actor, "web.sign_in", "web_session", ws.id,
                 {"key_prefix": key.prefix, "expires_at": ws.expires_at})
    return WebUser.of(principal, ws.id, ws.csrf_token), token


def lookup(session: Session, token: str | None) -> WebUser | None:
    """The live session behind a cookie token, or None (unknown, expired, revoked)."""
    if not token or len(token) > 100:
        return None
    row = session.execute(select(WebSession, ApiKey).join(ApiKey, ApiKey.id == WebSession.api_key_id)
                          .where(WebSession.token_sha256 == _digest(token))).first()
    if row is None:
        return None
    ws, key = row
    if ws.revoked_at is not None or ws.expires_at <= utcnow() or key.revoked_at is not None:
        return None
    return WebUser.of(Principal(participant=key.participant, key_prefix=key.prefix), ws.id,
                      ws.csrf_token)


def sign_out(session: Session, user: WebUser) -> None:
    ws = session.get(WebSession, user.session_id)
    if ws is not None and ws.revoked_at is None:
        ws.revoked_at = utcnow()
        audit.record(session, user.principal.actor, "web.sign_out", "web_session", ws.id, {})


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int, path: str = "/") -> None:
    """HttpOnly, SameSite=Lax, and Secure whenever the page was served over https."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, COOKIE, token, get_settings().web_session_minutes * 60)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
