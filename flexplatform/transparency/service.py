"""Transparency rules: which ranges are valid, stored reports and their lifecycle, the zone
to carbon region map. Services never commit: the request or the task owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit, runs
from flexplatform.audit import Actor
from flexplatform.config import get_settings
from flexplatform.db import after_commit, utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Zone
from flexplatform.queue import enqueue
from flexplatform.transparency import reports
from flexplatform.transparency.models import (
    DNO_REGIONS,
    NATIONAL,
    CarbonIntensity,
    TransparencyReport,
    ZoneCarbonRegion,
)

KINDS = ("carbon", "market")
TASK = "flex.transparency.build_report"


def check_range(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime,
                                                                              dt.datetime]:
    """A report or open-data range: both ends given, UTC-aware, on the half-hour, start
    before end, at most ``transparency_max_days`` long (every problem named at once)."""
    errors = []
    for name, t in (("start", start), ("end", end)):
        if t is None:
            errors.append(field_error([name], "required (ISO 8601 with an offset)"))
        elif t.tzinfo is None:
            errors.append(field_error([name], "must carry a UTC offset, e.g. 2026-01-01T00:00Z"))
        elif t.minute % 30 or t.second or t.microsecond:
            errors.append(field_error([name], "must be on a half-hour boundary"))
    if not errors:
        assert start is not None and end is not None
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        days = get_settings().transparency_max_days
        if end <= start:
            errors.append(field_error(["end"], "must be after start"))
        elif end - start > dt.timedelta(days=days):
            errors.append(field_error(["end"], f"the range may cover at most {days} days"))
    if errors:
        raise InvalidInput("invalid time range", errors=errors)
    return start, end  # type: ignore[return-value]


def compute(session: Session, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    start, end = (dt.datetime.fromisoformat(params[k]) for k in ("start", "end"))
    if kind == "carbon":
        return reports.carbon_report(session, start, end)
    return reports.market_report(session, start, end, public=False)


def request_report(session: Session, kind: str, start: dt.datetime, end: dt.datetime,
                   actor: Actor, requested_by: uuid.UUID | None) -> TransparencyReport:
    """Queue a report; the worker builds it after this transaction commits."""
    if kind not in KINDS:
        raise InvalidInput("unknown report kind",
                           errors=[field_error(["kind"], f"one of {', '.join(KINDS)}")])
    start, end = check_range(start, end)
    row = TransparencyReport(kind=kind, params={"start": start.isoformat(),
                                                "end": end.isoformat()},
                             requested_by=requested_by)
    session.add(row)
    session.flush()
    audit.record(session, actor, "transparency.report_requested", "transparency_report",
                 str(row.id), {"kind": kind, **row.params})
    rid = str(row.id)
    after_commit(session, lambda: enqueue(TASK, report_id=rid))
    return row


def start_build(session: Session, report_id: uuid.UUID) -> TransparencyReport | None:
    """Take the report under a lease; None when it is done, failed or held by a live
    worker (so a redelivered task does nothing)."""
    row = session.get(TransparencyReport, report_id, with_for_update=True)
    if row is None or row.status in ("done", "failed") or runs.held(row):
        return None
    if row.status == "running" and runs.exhausted(row):
        finish(session, row, None, "the worker building this report was lost twice")
        return None
    runs.take(row)
    return row


def finish(session: Session, row: TransparencyReport, result: dict[str, Any] | None,
           error: str | None) -> None:
    row.status = "done" if error is None else "failed"
    row.result = result
    row.error = error
    row.finished_at = utcnow()
    runs.release(session, row)


def build_now(session: Session, report_id: uuid.UUID) -> TransparencyReport:
    """Build in the caller's transaction (the task's body, and tests)."""
    row = start_build(session, report_id)
    if row is None:
        return get_report(session, report_id)
    try:
        with session.begin_nested():
            result = compute(session, row.kind, row.params)
        finish(session, row, result, None)
    except Exception as e:  # a report that cannot be built says why, never stays queued
        finish(session, row, None, f"{type(e).__name__}: {e}")
    return row


def get_report(session: Session, report_id: uuid.UUID) -> TransparencyReport:
    row = session.get(TransparencyReport, report_id)
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row


def done_result(session: Session, report_id: uuid.UUID) -> dict[str, Any]:
    row = get_report(session, report_id)
    if row.status != "done" or row.result is None:
        raise Conflict(f"report {report_id} is {row.status}"
                       + (f": {row.error}" if row.error else "; try again shortly"))
    return row.result


def list_reports(session: Session, kind: str | None, limit: int, offset: int
                 ) -> tuple[Sequence[TransparencyReport], int]:
    q = select(TransparencyReport)
    if kind:
        q = q.where(TransparencyReport.kind == kind)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(TransparencyReport.created_at.desc(),
                                      TransparencyReport.id).limit(limit).offset(offset)
                           ).all(), total


def set_zone_region(session: Session, zone_code: str, region_id: int,
                    actor: Actor) -> ZoneCarbonRegion:
    if session.get(Zone, zone_code) is None:
        raise NotFound(f"zone {zone_code} not found")
    if region_id != NATIONAL and region_id not in DNO_REGIONS:
        raise InvalidInput("unknown carbon region", errors=[field_error(
            ["region_id"], "a Carbon Intensity API DNO region 1-14, or 0 for national")])
    row = session.get(ZoneCarbonRegion, zone_code)
    if row is None:
        row = ZoneCarbonRegion(zone_code=zone_code, region_id=region_id)
        session.add(row)
    row.region_id = region_id
    session.flush()
    audit.record(session, actor, "transparency.zone_region", "zone", zone_code,
                 {"region_id": region_id})
    return row


def zone_regions(session: Session) -> list[ZoneCarbonRegion]:
    return list(session.scalars(select(ZoneCarbonRegion).order_by(ZoneCarbonRegion.zone_code)))


def list_intensities(session: Session, region_id: int | None, start: dt.datetime | None,
                     end: dt.datetime | None, limit: int, offset: int
                     ) -> tuple[Sequence[CarbonIntensity], int]:
    q = select(CarbonIntensity)
    if region_id is not None:
        q = q.where(CarbonIntensity.region_id == region_id)
    if start is not None:
        q = q.where(CarbonIntensity.period_start >= start)
    if end is not None:
        q = q.where(CarbonIntensity.period_start < end)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return session.scalars(q.order_by(CarbonIntensity.period_start, CarbonIntensity.region_id)
                           .limit(limit).offset(offset)).all(), total


# A queued report older than this lost its message (or the broker was down at enqueue).
STALE_QUEUED = dt.timedelta(minutes=2)


def stale_reports(session: Session, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Reports to (re)start: queued too long, or running under a lapsed lease."""
    from sqlalchemy import and_, or_

    now = now or utcnow()
    q = select(TransparencyReport.id).where(or_(
        and_(TransparencyReport.status == "queued",
             TransparencyReport.created_at < now - STALE_QUEUED),
        runs.lapsed(TransparencyReport, now)))
    return list(session.scalars(q))
