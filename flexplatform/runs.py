"""Leases for long runs (clearing rounds, dispatch runs, settlement runs).

A run row is taken by a worker with a lease (``lease_expires_at``) that a heartbeat thread
renews while the work goes on outside any transaction. A worker killed whole stops renewing,
so its lease lapses within minutes and the next scan starts the run again; a live but slow
worker keeps its lease, so no second worker ever solves the same run at the same time. A
run that has already been taken :data:`MAX_ATTEMPTS` times and lost its worker again is
failed with the reason rather than retried for ever.

Any table with ``status`` (``running`` while leased), ``attempts`` and ``lease_expires_at``
columns can use this; the rules live here once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from flexplatform.config import get_settings
from flexplatform.db import get_engine, utcnow

log = logging.getLogger(__name__)
# A run is started at most this many times; after that a lost worker fails it.
MAX_ATTEMPTS = 2


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=get_settings().run_lease_seconds)


def take(row: Any, now: dt.datetime | None = None) -> None:
    """Mark a locked run row as running under a fresh lease (caller's transaction)."""
    now = now or utcnow()
    row.status = "running"
    row.started_at = now
    row.attempts = (row.attempts or 0) + 1
    row.lease_expires_at = now + lease_length()


def held(row: Any, now: dt.datetime | None = None) -> bool:
    """True while a live worker holds the run (running with an unexpired lease)."""
    now = now or utcnow()
    status = getattr(row.status, "value", row.status)
    return status == "running" and row.lease_expires_at is not None \
        and row.lease_expires_at > now


def lapsed(model: Any, now: dt.datetime) -> Any:
    """SQL condition: runs whose worker stopped renewing (or never took a lease)."""
    return and_(model.status == "running",
                or_(model.lease_expires_at.is_(None), model.lease_expires_at < now))


def exhausted(row: Any) -> bool:
    """A lapsed run that was already started :data:`MAX_ATTEMPTS` times."""
    return (row.attempts or 0) >= MAX_ATTEMPTS


@contextmanager
def heartbeat(model: Any, run_id: Any, every: float | None = None) -> Iterator[None]:
    """Renew ``run_id``'s lease from a thread while the body runs (no transaction held).

    Each renewal is its own short transaction, so it never waits on the work it guards;
    a renewal that fails (database briefly away) is logged and retried on the next beat.
    """
    period = every if every is not None else max(0.5, get_settings().run_lease_seconds / 4)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(period):
            try:
                with get_engine().begin() as conn:
                    conn.execute(update(model).where(model.id == run_id,
                                                     model.status == "running")
                                 .values(lease_expires_at=utcnow() + lease_length()))
            except Exception:
                log.exception("lease renewal for %s %s failed", model.__tablename__, run_id)

    t = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=period + 5)


def release(session: Session, row: Any) -> None:
    """Drop the lease when the run ends (done or failed) in the caller's transaction."""
    row.lease_expires_at = None
