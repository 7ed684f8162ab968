"""Monitoring, ratings and opportunity-alert tasks (the heavy reads run here, not in requests).

Each is idempotent: a monitoring run is one transaction under its row lock and guarded
by its status, flags by their fingerprint, ratings are recomputed in place, and alerts are notifications with a dedupe
key, so a redelivered message repeats nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid

from celery import shared_task

from flexplatform.config import get_settings
from flexplatform.db import unit_of_work

log = logging.getLogger(__name__)
EAGER_DELAY_S = 3.0


@shared_task(name="flex.monitoring.scan", acks_late=True)
def scan() -> dict:
    """Beat entry: queue a scheduled run of every rule over the recent window, drop old
    failed-authentication rows, and refresh the ratings (which feed the assets'
    reliability)."""
    from flexplatform.transparency import monitoring, ratings

    with unit_of_work() as s:
        run = monitoring.request_run(s, trigger="scheduled",
                                     window=monitoring.default_window(
                                         days=get_settings().monitoring_window_days))
        rid = str(run.id)
        pruned = monitoring.prune_auth_failures(s)
        lost = [str(r) for r in monitoring.lost_runs(s)]
    from flexplatform.queue import enqueue

    for r in lost:
        enqueue(monitoring.RUN_TASK, run_id=r)
    with unit_of_work() as s:
        n = len(ratings.refresh(s))
    return {"run": rid, "ratings": n, "auth_failures_pruned": pruned, "requeued": lost}


@shared_task(name="flex.monitoring.run", acks_late=True)
def run(run_id: str) -> dict:
    """Evaluate one monitoring run in one transaction; a failure is stored on the run.

    The run's row is locked while it is evaluated, so a second delivery waits and then
    finds it done; a worker killed mid-run rolls back whole and the redelivery starts over.
    """
    from flexplatform.db import utcnow
    from flexplatform.transparency import monitoring
    from flexplatform.transparency.monitoring_models import MonitoringRun

    rid = uuid.UUID(run_id)
    try:
        with unit_of_work() as s:
            r = monitoring.execute(s, rid)
            if r is None:
                return {"run": run_id, "skipped": True}
            return {"run": run_id, "status": r.status, "flags": r.flags_raised}
    except Exception as e:
        with unit_of_work() as s:
            r = s.get(MonitoringRun, rid)
            if r is not None and r.status != "done":
                r.status, r.error, r.finished_at = "failed", repr(e)[:2000], utcnow()
        raise


@shared_task(name="flex.monitoring.ratings", acks_late=True)
def refresh_ratings() -> int:
    from flexplatform.transparency import ratings

    with unit_of_work() as s:
        return len(ratings.refresh(s))


def _alerts(market_id: str) -> int:
    from flexplatform.transparency import advice

    with unit_of_work(readonly=True) as s:  # the solves hold no write lock
        payloads = advice.alert_payloads(s, uuid.UUID(market_id))
    with unit_of_work() as s:
        return advice.send_alerts(s, payloads)


@shared_task(name="flex.advice.opportunity_alerts", acks_late=True)
def opportunity_alerts(market_id: str) -> int | None:
    """Tell every FSP with a qualifying asset about a newly opened market, with advice.

    Embedded (tasks in-process), the advices would otherwise be solved inside the MO's
    request that opened the market, one MILP per qualifying asset: there they run on a
    thread of their own instead, started a few seconds later, and the request answers at
    once.
    """
    if get_settings().eager:
        # A little later, too: the requests that follow an opening (FSPs bidding, the MO's
        # next market) come first, and the solves do not slow them down.
        t = threading.Timer(EAGER_DELAY_S, _logged, args=(market_id,))
        t.name, t.daemon = f"alerts-{market_id}", True
        t.start()
        return None
    return _alerts(market_id)


def _logged(market_id: str) -> None:
    try:
        _alerts(market_id)
    except Exception:
        log.exception("opportunity alerts for market %s failed", market_id)
