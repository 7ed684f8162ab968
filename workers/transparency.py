"""Transparency tasks: build a stored regulator report (carbon or market).

Idempotent: a report is taken under a lease (flexplatform/runs.py), so a redelivered
message for a report already done, failed or held by a live worker does nothing.
The figures are computed in a read transaction outside the lease's own transactions.
"""

from __future__ import annotations

import uuid

from celery import shared_task

from flexplatform import runs
from flexplatform.db import unit_of_work
from flexplatform.transparency import service
from flexplatform.transparency.models import TransparencyReport


@shared_task(name="flex.transparency.build_report", acks_late=True)
def build_report(report_id: str) -> dict:
    rid = uuid.UUID(report_id)
    with unit_of_work() as s:
        row = service.start_build(s, rid)
        if row is None:
            return {"report": report_id, "skipped": True}
        kind, params = row.kind, dict(row.params)
    result, error = None, None
    with runs.heartbeat(TransparencyReport, rid):
        try:
            with unit_of_work(readonly=True) as s:
                result = service.compute(s, kind, params)
        except Exception as e:  # stored as the report's failure, not lost
            error = f"{type(e).__name__}: {e}"
    with unit_of_work() as s:
        row = s.get(TransparencyReport, rid, with_for_update=True)
        if row is not None and row.status == "running":
            service.finish(s, row, result, error)
    return {"report": report_id, "status": "failed" if error else "done"}


@shared_task(name="flex.transparency.scan_reports", acks_late=True)
def scan_reports() -> list[str]:
    """Beat entry: restart reports whose message was lost or whose worker died."""
    from flexplatform.queue import enqueue

    with unit_of_work(readonly=True) as s:
        ids = [str(i) for i in service.stale_reports(s)]
    for i in ids:
        enqueue("flex.transparency.build_report", report_id=i)
    return ids
