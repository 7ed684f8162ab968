"""Notifications for every stage: stored per participant, pushed to a signed webhook.

Any stage tells a participant something through :func:`notify` in the caller's
transaction; the webhook push is enqueued after the commit, so a rolled-back change never
notifies. The body is signed with HMAC-SHA256 under the participant's webhook secret and
sent as ``X-Flex-Signature: sha256=<hex>`` so the receiver can prove it came from us.

Webhook targets are participant-chosen URLs the platform then calls, which makes them a
server-side request forgery vector: a URL may not name a loopback, private, link-local or
otherwise non-public address (cloud metadata at 169.254.169.254 included), it must be
https, and the check is repeated at delivery on the addresses DNS gives then, with the
connection pinned to the address that was checked (no DNS rebinding between check and
connect). ``FLEX_WEBHOOK_ALLOW_INSECURE`` lifts both rules for tests and local demos only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import ForeignKey, Integer, String, Text, Uuid, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from flexplatform.config import get_settings
from flexplatform.db import Base, after_commit, utcnow
from flexplatform.errors import InvalidInput, field_error
from flexplatform.identity import Participant

DELIVER_TASK = "flex.notifications.deliver"


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("participants.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column()
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    webhook_status: Mapped[str | None] = mapped_column(String(20), default=None)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_last_error: Mapped[str | None] = mapped_column(Text, default=None)


# A failed push is tried again this many times, after retry_delay(0), retry_delay(1), ...
MAX_RETRIES = 5


def retry_delay(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: base, 2 x base, 4 x base..., capped."""
    s = get_settings()
    return min(s.webhook_retry_max_s, s.webhook_retry_base_s * 2**retries)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notify(session: Session, participant_id: uuid.UUID, kind: str, payload: dict[str, Any],
           dedupe_key: str) -> Notification:
    """Store one notification (once per ``dedupe_key``) and push it after the commit.

    The dedupe key makes a re-run of the step that notifies (a redelivered task) a no-op
    rather than a second message; the existing notification is returned.
    """
    found = session.scalar(select(Notification).where(Notification.dedupe_key == dedupe_key))
    if found is not None:
        return found
    n = Notification(participant_id=participant_id, kind=kind, payload=payload,
                     dedupe_key=dedupe_key[:120])
    session.add(n)
    session.flush()
    nid = str(n.id)

    def deliver_later() -> None:
        from flexplatform.queue import enqueue

        enqueue(DELIVER_TASK, notification_id=nid)

    after_commit(session, deliver_later)
    return n


def list_for(session: Session, participant_id: uuid.UUID, limit: int, offset: int,
             kind: str | None = None) -> Sequence[Notification]:
    q = select(Notification).where(Notification.participant_id == participant_id)
    if kind:
        q = q.where(Notification.kind == kind)
    return session.scalars(q.order_by(Notification.created_at.desc(), Notification.id)
                           .limit(limit).offset(offset)).all()


# --- webhook targets ----------------------------------------------------------------------


class UnsafeWebhook(ValueError):
    """The webhook URL or an address it resolves to is not a public https endpoint."""


def _public(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _parts(url: str) -> tuple[str, str, int]:
    u = urlsplit(url)
    scheme = u.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeWebhook("the webhook must be an http(s) URL")
    if u.username or u.password:
        raise UnsafeWebhook("credentials in the webhook URL are not accepted")
    if not u.hostname:
        raise UnsafeWebhook("the webhook URL has no host")
    try:
        port = u.port or (443 if scheme == "https" else 80)
    except ValueError as e:
        raise UnsafeWebhook(f"bad port: {e}") from None
    return scheme, u.hostname, port


def check_url(url: str) -> None:
    """Refuse a webhook URL that is not https or names a non-public address literally."""
    scheme, host, _ = _parts(url)
    if get_settings().webhook_allow_insecure:
        return
    if scheme != "https":
        raise UnsafeWebhook("the webhook must use https")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
            raise UnsafeWebhook("the webhook may not target this host") from None
        return
    if not _public(str(literal)):
        raise UnsafeWebhook("the webhook may not target a loopback, private or link-local "
                            "address")


def validate_url(url: str | None, field: str = "url") -> None:
    """:func:`check_url` as a 422 naming the field (for the API and the dashboard)."""
    if url is None:
        return
    try:
        check_url(url)
    except UnsafeWebhook as e:
        raise InvalidInput("webhook not accepted", errors=[field_error([field], str(e))]) from None


def resolve_public(url: str) -> tuple[str, str]:
    """Resolve the webhook host now; return (URL pinned to a checked address, host name).

    Every address DNS gives must be public: a name with one private answer among public
    ones is refused whole, since the client could be steered to any of them.
    """
    check_url(url)
    _, host, port = _parts(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise UnsafeWebhook(f"cannot resolve {host}: {e}") from None
    addrs = sorted({i[4][0] for i in infos})
    if not addrs:
        raise UnsafeWebhook(f"{host} resolves to no address")
    if not get_settings().webhook_allow_insecure:
        bad = [a for a in addrs if not _public(a)]
        if bad:
            raise UnsafeWebhook(f"{host} resolves to a non-public address ({bad[0]})")
    u = urlsplit(url)
    ip = addrs[0]
    netloc = (f"[{ip}]" if ":" in ip else ip) + (f":{u.port}" if u.port else "")
    return urlunsplit((u.scheme, netloc, u.path or "/", u.query, "")), host


def post_webhook(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    """POST ``body`` to ``url`` through a freshly checked, pinned address; raises on failure.

    Redirects are not followed: a redirect is a second, unchecked target.
    """
    pinned, host = resolve_public(url)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        r = client.post(pinned, content=body, headers={**headers, "host": host},
                        extensions={"sni_hostname": host})
        r.raise_for_status()


def deliver(session: Session, notification_id: uuid.UUID) -> str:
    """POST the notification to its participant's webhook; returns the delivery status.

    ``failed`` lets the task layer retry with backoff; ``refused`` (an unsafe target) is
    final, and a delivered or webhook-less notification is never sent again.
    """
    n = session.get(Notification, notification_id)
    if n is None:
        return "missing"
    if n.webhook_status in ("delivered", "no_webhook", "refused"):
        return n.webhook_status
    p = session.get(Participant, n.participant_id)
    if p is None or not p.webhook_url or not p.webhook_secret:
        n.webhook_status = "no_webhook"
        return n.webhook_status
    body = json.dumps({"id": str(n.id), "kind": n.kind, "created_at": n.created_at.isoformat(),
                       "payload": n.payload}, sort_keys=True).encode()
    n.webhook_attempts += 1
    try:
        post_webhook(p.webhook_url, body, {
            "content-type": "application/json", "x-flex-event": n.kind,
            "x-flex-delivery": str(n.id), "x-flex-signature": sign(p.webhook_secret, body)},
            get_settings().webhook_timeout_s)
    except UnsafeWebhook as e:
        n.webhook_status, n.webhook_last_error = "refused", str(e)[:1000]
        return n.webhook_status
    except httpx.HTTPError as e:
        n.webhook_status, n.webhook_last_error = "failed", str(e)[:1000]
        return n.webhook_status
    n.webhook_status, n.webhook_last_error = "delivered", None
    return n.webhook_status
