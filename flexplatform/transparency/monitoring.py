"""Market monitoring: run the rules over a window, store their flags, record failed logins.

The rules themselves are in :mod:`flexplatform.transparency.monitoring_rules`; each returns
:class:`Finding` records and never writes. This module owns what is shared: the window,
the thresholds (one dataclass, so docs/monitoring.md and the code cannot drift apart), the
fingerprint that makes re-runs idempotent, and the run rows the worker leases. Services
here never commit; the request or the task owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.db import after_commit, utcnow
from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.transparency.monitoring_models import AuthFailure, MonitoringFlag, MonitoringRun

log = logging.getLogger(__name__)
RUN_TASK = "flex.monitoring.run"
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Thresholds:
    """Every number a rule compares against (docs/monitoring.md explains each)."""

    # baseline inflation
    baseline_periods: int = 6            # half-hours before an event that a baseline reads
    profile_days: int = 14               # days of the asset's usual profile
    min_profile_days: int = 5            # fewer days of readings: no judgement
    inflation_ratio: float = 1.5         # baseline window / usual profile
    inflation_ratio_high: float = 2.0
    inflation_min_kwh: float = 1.0       # per half-hour, so a tiny site's noise is not a case
    # withholding
    withdraw_lead_minutes: int = 120     # a cut declared this close to the period
    withdraw_share: float = 0.5          # cut at least this share of the contracted MW
    high_price_quantile: float = 0.75    # of the zone's clearing prices in the window
    min_withdrawals: int = 2
    # non-delivery
    nondelivery_performance: float = 0.5
    min_nondelivery_periods: int = 3
    nondelivery_share: float = 0.3
    # bid prices
    price_ratio: float = 3.0             # bid / median of the reference
    price_ratio_high: float = 5.0
    min_price_history: int = 3
    price_lookback_days: int = 90
    # price setting
    setter_share: float = 0.75
    setter_min_periods: int = 6
    setter_min_needs: int = 2
    # market faults
    unmet_min_needs: int = 3
    conflicts_min: int = 3
    # security
    auth_burst_window_s: int = 300
    auth_burst_per_key: int = 10
    auth_burst_total: int = 50


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime


@dataclass
class Finding:
    """What a rule found; ``key`` names the evidence (event, bids...) so that the same
    evidence seen by a later, overlapping run is the same flag."""

    rule: str
    severity: str
    subject_kind: str
    subject_id: str
    summary: str
    evidence: dict[str, Any]
    key: str
    fsp_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


RuleFn = Callable[[Session, Window, Thresholds], list[Finding]]


def rules() -> dict[str, RuleFn]:
    from flexplatform.transparency import monitoring_rules as r

    return dict(r.RULES)


def fingerprint(f: Finding) -> str:
    return hashlib.sha256(f"{f.rule}|{f.subject_kind}|{f.subject_id}|{f.key}".encode()).hexdigest()


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str))


def evaluate(session: Session, window: Window, names: Sequence[str] | None = None,
             thresholds: Thresholds | None = None, run_id: uuid.UUID | None = None
             ) -> list[MonitoringFlag]:
    """Run the named rules (all by default) and store each new finding as a flag.

    A finding already flagged (same fingerprint) is not stored again: a rule is a pure
    function of the data, so re-running over the same data finds the same cases.
    """
    th = thresholds or Thresholds()
    table = rules()
    out: list[MonitoringFlag] = []
    for name in names or list(table):
        for f in table[name](session, window, th):
            fp = fingerprint(f)
            if session.scalar(select(MonitoringFlag.id).where(MonitoringFlag.fingerprint == fp)):
                continue
            flag = MonitoringFlag(rule=f.rule, severity=f.severity, subject_kind=f.subject_kind,
                                  subject_id=f.subject_id, fsp_id=f.fsp_id, summary=f.summary[:500],
                                  evidence=_jsonable(f.evidence), window_start=window.start,
                                  window_end=window.end, fingerprint=fp, run_id=run_id)
            session.add(flag)
            session.flush()
            out.append(flag)
    return out


# --- runs ---------------------------------------------------------------------------------

def default_window(now: dt.datetime | None = None, days: int = 7) -> Window:
    now = now or utcnow()
    return Window(now - dt.timedelta(days=days), now)


def request_run(session: Session, *, trigger: str, window: Window,
                names: Sequence[str] | None = None, who: Any = None) -> MonitoringRun:
    """Record a run and enqueue it after the commit (the scheduled and on-demand paths)."""
    table = rules()
    bad = [i for i, n in enumerate(names or []) if n not in table]
    if bad:
        raise InvalidInput("unknown rule", errors=[
            field_error(["rules", i], f"unknown rule; one of {sorted(table)}") for i in bad])
    if window.end <= window.start:
        raise InvalidInput("empty window", errors=[
            field_error(["window_end"], "must be after window_start")])
    if window.end - window.start > dt.timedelta(days=366):
        raise InvalidInput("window too long", errors=[
            field_error(["window_end"], "a run covers at most 366 days")])
    run = MonitoringRun(trigger=trigger, window_start=window.start, window_end=window.end,
                        rules=list(names or []), requested_by=getattr(who, "id", None))
    session.add(run)
    session.flush()
    if who is not None:
        audit.record(session, who.actor, "monitoring.run_requested", "monitoring_run", run.id,
                     {"rules": run.rules, "window_start": window.start.isoformat(),
                      "window_end": window.end.isoformat()})
    rid = str(run.id)

    def later() -> None:
        from flexplatform.queue import enqueue

        enqueue(RUN_TASK, run_id=rid)

    after_commit(session, later)
    return run


def execute(session: Session, run_id: uuid.UUID) -> MonitoringRun | None:
    """Evaluate a queued run in the caller's transaction; a done run is left alone (a
    redelivered task repeats nothing).

    No lease: the run is one transaction under its row lock (a second delivery waits, then
    finds it done; a killed worker rolls back whole and the message is redelivered), so
    there is no in-between state another worker could see."""
    run = session.get(MonitoringRun, run_id, with_for_update=True)
    if run is None or run.status in ("done", "failed"):
        return run
    run.attempts += 1
    flags = evaluate(session, Window(run.window_start, run.window_end), run.rules or None,
                     run_id=run.id)
    run.flags_raised = len(flags)
    run.status = "done"
    run.finished_at = utcnow()
    return run


def lost_runs(session: Session, older_than: dt.timedelta = dt.timedelta(minutes=10)
              ) -> list[uuid.UUID]:
    """Runs still queued long after they were requested: their message was lost (a broker
    restart); the scan queues them again (running one twice repeats nothing)."""
    return list(session.scalars(select(MonitoringRun.id).where(
        MonitoringRun.status == "queued", MonitoringRun.created_at < utcnow() - older_than)))


def get_run(session: Session, run_id: uuid.UUID) -> MonitoringRun:
    run = session.get(MonitoringRun, run_id)
    if run is None:
        raise NotFound(f"monitoring run {run_id} not found")
    return run


def list_flags(session: Session, *, rule: str | None, severity: str | None,
               subject_kind: str | None, subject_id: str | None, limit: int, offset: int
               ) -> tuple[Sequence[MonitoringFlag], int]:
    q = select(MonitoringFlag)
    for col, v in ((MonitoringFlag.rule, rule), (MonitoringFlag.severity, severity),
                   (MonitoringFlag.subject_kind, subject_kind),
                   (MonitoringFlag.subject_id, subject_id)):
        if v is not None:
            q = q.where(col == v)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(MonitoringFlag.detected_at.desc(), MonitoringFlag.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def get_flag(session: Session, flag_id: uuid.UUID) -> MonitoringFlag:
    f = session.get(MonitoringFlag, flag_id)
    if f is None:
        raise NotFound(f"monitoring flag {flag_id} not found")
    return f


def rule_catalogue() -> list[dict[str, Any]]:
    th = dataclasses.asdict(Thresholds())
    return [{"rule": n, "description": (fn.__doc__ or "").strip().split("\n\n")[0],
             "thresholds": {k: v for k, v in th.items() if k in getattr(fn, "uses", ())}}
            for n, fn in rules().items()]


# --- failed authentication --------------------------------------------------------------

def prefix_hash(prefix: str | None) -> str | None:
    return hashlib.sha256(prefix.encode()).hexdigest()[:16] if prefix else None


AUTH_FAILURE_DAYS = 30


def prune_auth_failures(session: Session, now: dt.datetime | None = None,
                        days: int = AUTH_FAILURE_DAYS) -> int:
    """Drop failed-authentication rows older than ``days``: a burst is judged over minutes,
    and a flag keeps its own evidence, so old rows only grow the table."""
    from sqlalchemy import delete

    cut = (now or utcnow()) - dt.timedelta(days=days)
    return session.execute(delete(AuthFailure).where(AuthFailure.at < cut)).rowcount or 0


def record_auth_failure(session: Session, prefix: str | None, reason: str) -> None:
    """Keep a refused key's trace past the refusal.

    The request is about to fail and roll back, so the row is committed here, on its own:
    authentication is the first thing a request does, so nothing else of the request is in
    this transaction yet. Never fails the request it observes: a lost row only weakens the
    burst count.
    """
    try:
        session.add(AuthFailure(prefix_hash=prefix_hash(prefix), reason=reason[:20]))
        session.commit()
    except Exception:  # observing must never turn a 401 into a 500
        log.warning("could not record a failed authentication", exc_info=True)
        session.rollback()
