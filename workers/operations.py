"""Operations tasks: dispatch runs, the acknowledgement sweep, the conflict scan.

Same guarantees as the clearing round: every step is keyed by the run's id and guarded by
its state (flexplatform.operations.runs), ``acks_late`` redelivers a killed worker's run,
and the lease keeps a live worker's run from being taken twice.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import shared_task

from flexplatform import runs as leases
from flexplatform.config import get_settings
from flexplatform.db import unit_of_work
from flexplatform.operations import conflicts, instructions
from flexplatform.operations import runs as dispatch
from flexplatform.operations.models import DispatchRun

log = logging.getLogger(__name__)


def _solve(snapshot: dict[str, Any]) -> dict[str, Any]:
    from optimiser.dispatch import solve

    s = get_settings()
    return solve(snapshot, mip_rel_gap=s.solver_mip_gap, time_limit=s.solver_time_limit)


@shared_task(name="flex.operations.dispatch_run", acks_late=True)
def dispatch_run(run_id: str) -> dict[str, Any]:
    rid = uuid.UUID(run_id)
    with unit_of_work() as s:
        snapshot = dispatch.prepare(s, rid)
    if snapshot is None:
        return {"run": run_id, "skipped": True}
    try:
        with leases.heartbeat(DispatchRun, rid):
            result = _solve(snapshot)
    except Exception as e:  # an invalid snapshot or a solver crash fails the run, loudly
        log.exception("dispatch run %s failed", run_id)
        with unit_of_work() as s:
            dispatch.fail(s, rid, f"{type(e).__name__}: {e}")
        return {"run": run_id, "status": "failed"}
    with unit_of_work() as s:
        dispatch.store(s, rid, result)
    return {"run": run_id, "status": result.get("status"),
            "instructions": len(result.get("instructions", []))}


@shared_task(name="flex.operations.sweep", acks_late=True)
def sweep() -> dict[str, int]:
    """Beat: missed acknowledgements, due day-ahead batches, lost runs."""
    with unit_of_work() as s:
        return instructions.sweep(s)


@shared_task(name="flex.operations.conflict_scan", acks_late=True)
def conflict_scan() -> int:
    """Beat: conflicts over the next 48 hours."""
    with unit_of_work() as s:
        return conflicts.scan(s)
