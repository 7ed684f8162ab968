"""Notifications: stored per participant, optionally pushed to a signed webhook.

The body is signed with HMAC-SHA256 under the participant's webhook secret and sent as
``X-Flex-Signature: sha256=<hex>`` so the receiver can prove it came from the platform.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Notification
from flexplatform.config import get_settings
from flexplatform.registration.models import Participant


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def list_for(session: Session, participant_id: uuid.UUID, limit: int, offset: int
             ) -> Sequence[Notification]:
    return session.scalars(select(Notification).where(Notification.participant_id == participant_id)
                           .order_by(Notification.created_at.desc(), Notification.id)
                           .limit(limit).offset(offset)).all()


def deliver(session: Session, notification_id: uuid.UUID) -> str:
    """POST the notification to its participant's webhook; returns the delivery status.

    Raises on a failed delivery so the task layer can retry with backoff; a delivered or
    webhook-less notification is never sent again.
    """
    n = session.get(Notification, notification_id)
    if n is None:
        return "missing"
    if n.webhook_status in ("delivered", "no_webhook"):
        return n.webhook_status
    p = session.get(Participant, n.participant_id)
    if p is None or not p.webhook_url or not p.webhook_secret:
        n.webhook_status = "no_webhook"
        return n.webhook_status
    body = json.dumps({"id": str(n.id), "kind": n.kind, "created_at": n.created_at.isoformat(),
                       "payload": n.payload}, sort_keys=True).encode()
    n.webhook_attempts += 1
    try:
        r = httpx.post(p.webhook_url, content=body, timeout=get_settings().webhook_timeout_s,
                       headers={"content-type": "application/json",
                                "x-flex-event": n.kind, "x-flex-delivery": str(n.id),
                                "x-flex-signature": sign(p.webhook_secret, body)})
        r.raise_for_status()
    except httpx.HTTPError as e:
        n.webhook_status, n.webhook_last_error = "failed", str(e)[:1000]
        return n.webhook_status
    n.webhook_status, n.webhook_last_error = "delivered", None
    return n.webhook_status
