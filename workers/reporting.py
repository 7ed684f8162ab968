"""Reporting tasks: verification sharded by meter, settlement runs as a chord, reminders.

Every task is idempotent and ``acks_late``: a shard redelivered after its worker died
stores identical bytes (its spec was frozen when the run was taken), the merge of a run
already done stores nothing, a verification that computes what is stored adds no
version. No task waits on another: a run fans out as a chord (shards, then one merge)
through the result backend, and verification as a plain group (each shard stores its
own instruction-periods, nothing to merge).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from celery import chord, group, shared_task

from flexplatform import runs
from flexplatform.db import after_commit, unit_of_work, utcnow
from flexplatform.queue import enqueue
from flexplatform.reporting.settlement_models import SettlementRun

log = logging.getLogger(__name__)
VERIFY_SHARD_METERS = 500
CALENDAR_DAYS = 5  # D+5: a day's readings are verified and its period settled after this


@shared_task(name="flex.reporting.readings_arrived", acks_late=True)
def readings_arrived(submission_id: int) -> dict:
    """A submission stored new versions: re-verify the instructions on its meters."""
    from flexplatform.reporting import verification

    with unit_of_work(readonly=True) as s:
        scope = verification.submission_scope(s, submission_id)
    if scope is None:
        return {"submission": submission_id, "shards": 0}
    start, end, mpans = scope
    return _fan_out(start, end, mpans)


def _fan_out(start: dt.datetime, end: dt.datetime, mpans: list[str] | None) -> dict:
    from flexplatform.reporting import sources

    if not sources.operations_available():
        return {"shards": 0, "reason": "no instructions (operations not installed)"}
    # Instructions overlapping the range started up to a day before it.
    lo = start - dt.timedelta(days=1)
    if mpans is None:
        shards = [None]
    else:
        shards = [mpans[k:k + VERIFY_SHARD_METERS]
                  for k in range(0, len(mpans), VERIFY_SHARD_METERS)]
    group(verify_shard.s(lo.isoformat(), end.isoformat(), m) for m in shards).apply_async()
    return {"shards": len(shards)}


@shared_task(name="flex.reporting.verify_shard", acks_late=True)
def verify_shard(start: str, end: str, mpans: list[str] | None = None) -> int:
    from flexplatform.reporting import verification

    with unit_of_work() as s:
        return verification.verify_meters(s, dt.datetime.fromisoformat(start),
                                          dt.datetime.fromisoformat(end), mpans)


@shared_task(name="flex.reporting.settle_run", acks_late=True)
def settle_run(run_id: str) -> dict:
    """Take the run, then settle it as one shard inline or as a chord of shards."""
    from flexplatform.reporting import settlement_service as svc

    rid = uuid.UUID(run_id)
    try:
        with unit_of_work() as s:
            prepared = svc.prepare(s, rid)
    except Exception as e:
        log.exception("settlement run %s could not be prepared", run_id)
        with unit_of_work() as s:
            svc.fail(s, rid, f"could not read the run's inputs: {e!r}")
        return {"run": run_id, "status": "failed"}
    if prepared is None:
        return {"run": run_id, "skipped": True}
    _, plan = prepared
    if len(plan) > 1:
        chord(group(settle_shard.s(run_id, k) for k in range(len(plan))))(
            merge_run.s(run_id=run_id))
        return {"run": run_id, "shards": len(plan)}
    settle_shard(run_id, 0)
    return merge_run([0], run_id)


@shared_task(name="flex.reporting.settle_shard", acks_late=True)
def settle_shard(run_id: str, shard: int) -> int:
    from flexplatform.reporting import settlement_service as svc

    rid = uuid.UUID(run_id)
    try:
        with runs.heartbeat(SettlementRun, rid), unit_of_work() as s:
            svc.settle_one_shard(s, rid, shard)
    except Exception as e:  # bad inputs fail the run now, not after two lost leases
        log.exception("shard %s of settlement run %s failed", shard, run_id)
        with unit_of_work() as s:
            svc.fail(s, rid, f"shard {shard} failed: {e!r}")
    return shard


@shared_task(name="flex.reporting.merge_run", acks_late=True)
def merge_run(shards: list[int], run_id: str) -> dict:
    from flexplatform.reporting import settlement_service as svc

    rid = uuid.UUID(run_id)
    try:
        with runs.heartbeat(SettlementRun, rid), unit_of_work() as s:
            run = svc.store(s, rid)
            status = run.status if run else "missing"
    except Exception as e:
        log.exception("settlement run %s failed", run_id)
        with unit_of_work() as s:
            svc.fail(s, rid, f"settlement failed: {e!r}")
        return {"run": run_id, "status": "failed"}
    return {"run": run_id, "status": status, "shards": len(shards)}


@shared_task(name="flex.reporting.settlement_calendar", acks_late=True)
def settlement_calendar() -> dict:
    """Beat: verify day D-5, queue settlement of every market period that ended at
    least five days ago and has no run yet, and restart runs whose worker was lost."""
    from sqlalchemy import select

    from flexplatform.competition.models import Contract, Market
    from flexplatform.reporting import settle_inputs
    from flexplatform.reporting import settlement_service as svc

    now = utcnow()
    day = (now - dt.timedelta(days=CALENDAR_DAYS)).date()
    lo, hi = settle_inputs.utc_bounds(day, day)
    _fan_out(lo, hi, None)
    queued: list[str] = []
    with unit_of_work() as s:
        cutoff = settle_inputs.utc_bounds(day, day)[1]
        markets = s.execute(select(Market.id, Contract.period_start).join(
            Contract, Contract.market_id == Market.id).where(
            Contract.period_start < cutoff,
            Contract.period_start >= cutoff - dt.timedelta(days=62)).distinct()).all()
        seen = set()
        for mid, start in markets:
            period = settle_inputs.statement_period(
                settle_inputs.settings_for(s, mid).period, settle_inputs._local_day(start))
            if (mid, period.label) in seen or period.last > day:
                continue
            seen.add((mid, period.label))
            exists = s.scalar(select(SettlementRun.id).where(
                SettlementRun.market_id == mid, SettlementRun.period_label == period.label)
                .limit(1))
            if exists is None:
                queued.append(str(svc.create_run(s, mid, period.first, None, "calendar").id))
        queued += [str(r) for r in svc.lapsed_runs(s, now) if str(r) not in queued]
        ids = list(queued)
        after_commit(s, lambda: [enqueue("flex.reporting.settle_run", run_id=i) for i in ids])
    return {"verified_day": day.isoformat(), "runs": queued}


@shared_task(name="flex.reporting.dispute_reminders", acks_late=True)
def dispute_reminders() -> int:
    from flexplatform.reporting import disputes

    with unit_of_work() as s:
        return disputes.remind(s)
