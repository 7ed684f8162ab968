"""API keys and who may call what.

Keys look like ``fpk_<prefix>.<secret>``: the prefix finds the row, the 256-bit secret is
only ever stored as a SHA-256 hash (a slow KDF adds nothing against a random 256-bit
secret) and compared in constant time. Every route declares its roles through
:func:`require`, which also records them on the dependency so the authorisation matrix
test can check that no endpoint is left undeclared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from flexplatform.audit import Actor
from flexplatform.config import get_settings
from flexplatform.db import get_session, utcnow
from flexplatform.errors import Forbidden, TermsNotAccepted, Unauthenticated
from flexplatform.identity import ApiKey, Participant, ParticipantStatus, Role, current_terms

SessionDep = Annotated[Session, Depends(get_session, scope="function")]

KEY_PREFIX = "fpk_"
# Writing last_used_at on every request would turn reads into writes; a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    pepper = get_settings().api_key_pepper
    return hashlib.sha256((pepper + secret).encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """Return (full key shown once, prefix, secret hash)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}.{secret}", prefix, hash_secret(secret)


def issue_key(session: Session, participant: Participant, label: str = "") -> tuple[ApiKey, str]:
    full, prefix, digest = new_key()
    key = ApiKey(participant_id=participant.id, prefix=prefix, secret_hash=digest, label=label)
    session.add(key)
    session.flush()
    return key, full


@dataclass
class Principal:
    participant: Participant
    key_prefix: str

    @property
    def id(self) -> uuid.UUID:
        return self.participant.id

    @property
    def role(self) -> Role:
        return self.participant.role

    @property
    def actor(self) -> Actor:
        return Actor(id=str(self.participant.id), role=self.participant.role.value)

    def is_(self, *roles: Role | str) -> bool:
        return self.participant.role.value in {r.value if isinstance(r, Role) else r for r in roles}


def _parse(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX) or "." not in token:
        raise Unauthenticated("Authorization must be 'Bearer fpk_<prefix>.<secret>'")
    prefix, _, secret = token[len(KEY_PREFIX) :].partition(".")
    return prefix, secret


# Called with (session, key prefix or None, reason) for every refused key, before the 401:
# market monitoring registers its recorder here (app.py), so core code imports no stage.
ON_REFUSED: list[Callable[[Session, str | None, str], None]] = []


def _refused(session: Session, prefix: str | None, reason: str) -> None:
    for hook in ON_REFUSED:
        hook(session, prefix, reason)


def authenticate(session: Session, header: str | None) -> Principal | None:
    try:
        parsed = _parse(header)
    except Unauthenticated:
        _refused(session, None, "malformed")
        raise
    if parsed is None:
        return None
    prefix, secret = parsed
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        _refused(session, prefix, "unknown" if key is None else "revoked")
        raise Unauthenticated("unknown or revoked API key")
    if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        _refused(session, prefix, "bad_secret")
        raise Unauthenticated("unknown or revoked API key")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        _touch(session, key, now)
    return Principal(participant=key.participant, key_prefix=prefix)


def _touch(session: Session, key: ApiKey, now: dt.datetime) -> None:
    """Record the key's last use without ever failing the request for it.

    In a read-only request on SQLite this write upgrades the transaction; when another
    writer got there first the upgrade is refused at once (a stale read snapshot), and the
    last-used time simply waits for the next request rather than the request failing.
    """
    try:
        with session.begin_nested():
            key.last_used_at = now
            session.flush()
    except OperationalError:
        if session.get_bind().dialect.name != "sqlite":
            raise


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    return authenticate(session, request.headers.get("authorization"))


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require(*roles: Role | str, terms: bool = False) -> Any:
    """Dependency factory: the caller must hold one of ``roles``.

    ``terms=True`` marks trading actions: the participant must have accepted the terms
    version currently in force (digital contracting) and be active.
    """
    allowed = frozenset(r.value if isinstance(r, Role) else r for r in roles)

    def dependency(session: SessionDep, principal: OptionalPrincipal) -> Principal:
        if principal is None:
            raise Unauthenticated("this endpoint needs an API key")
        if principal.participant.role.value not in allowed:
            raise Forbidden(
                f"role '{principal.participant.role.value}' may not call this endpoint",
                allowed_roles=sorted(allowed),
            )
        if principal.participant.status != ParticipantStatus.active:
            raise Forbidden(f"participant is {principal.participant.status.value}")
        if terms:
            cur = current_terms(session)
            if cur is not None and principal.participant.terms_version_id != cur.id:
                raise TermsNotAccepted(
                    f"accept terms version {cur.version} before trading",
                    terms_version=cur.version,
                )
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    dependency.requires_terms = terms  # type: ignore[attr-defined]
    return Depends(dependency)


def public() -> Any:
    """Marker dependency for endpoints anyone may call, unauthenticated included."""

    def dependency(principal: OptionalPrincipal) -> Principal | None:
        return principal

    dependency.allowed_roles = frozenset({"public"})  # type: ignore[attr-defined]
    dependency.requires_terms = False  # type: ignore[attr-defined]
    return Depends(dependency)


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, APIRoute) of every API route, through included routers."""
    from fastapi.routing import APIRoute

    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix + r.path, r
        elif hasattr(r, "original_router"):
            p = getattr(r.include_context, "prefix", "") or ""
            yield from walk_routes(r.original_router.routes, prefix + p)


def declared_roles(route: Any) -> tuple[frozenset[str], bool] | None:
    """The roles (and the terms rule) an API route declares through :func:`require` or
    :func:`public`; None if it declares none. For the OpenAPI document and the tests."""
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        roles = getattr(d.call, "allowed_roles", None)
        if roles is not None:
            return roles, getattr(d.call, "requires_terms", False)
        stack.extend(d.dependencies)
    return None


# Not Role.mda: several endpoints below treat "neither fsp nor mo" as oversight and show
# everything, so a meter data agent is named only where it belongs (reporting/routes.py).
ALL_ROLES = (Role.mo, Role.fsp, Role.regulator, Role.admin)
Authenticated = Annotated[Principal, require(*ALL_ROLES)]
AdminOnly = Annotated[Principal, require(Role.admin)]
AdminOrRegulator = Annotated[Principal, require(Role.admin, Role.regulator)]
FspTrading = Annotated[Principal, require(Role.fsp, terms=True)]
FspOrOversight = Annotated[Principal, require(Role.fsp, Role.regulator, Role.admin)]
MoTrading = Annotated[Principal, require(Role.mo, terms=True)]
MoOrFsp = Annotated[Principal, require(Role.mo, Role.fsp)]
MoOrOversight = Annotated[Principal, require(Role.mo, Role.regulator, Role.admin)]
AdminMoOrFsp = Annotated[Principal, require(Role.admin, Role.mo, Role.fsp)]
FspOnly = Annotated[Principal, require(Role.fsp)]
Public = Annotated[Principal | None, public()]
