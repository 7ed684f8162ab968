"""Secondary trading tasks: the offer-deadline scan, the clearing of one transfer, expiry.

Same guarantees as clearing rounds: every step is keyed by the run's id and guarded by its
state (flexplatform.competition.transfer_clearing), ``acks_late`` redelivers a killed
worker's run, and the lease keeps a live worker's run from being solved twice.
"""

from __future__ import annotations

import uuid

from celery import shared_task

from flexplatform import runs
from flexplatform.competition import transfer_clearing
from flexplatform.competition.transfer_models import TransferClearing
from flexplatform.db import after_commit, unit_of_work
from flexplatform.queue import enqueue


@shared_task(name="flex.trading.scan_transfers", acks_late=True)
def scan_transfers() -> list[str]:
    """Beat entry: close transfers past their offer deadline and (re)start their runs."""
    with unit_of_work() as s:
        ids = [str(i) for i in transfer_clearing.scan(s)]
        after_commit(s, lambda: [enqueue("flex.trading.clear_transfer", clearing_id=i)
                                 for i in ids])
    return ids


@shared_task(name="flex.trading.clear_transfer", acks_late=True)
def clear_transfer(clearing_id: str) -> dict:
    """Freeze the transfer's snapshot, solve it with the clearing engine, store the picks."""
    from optimiser import SnapshotError, load_snapshot
    from workers.tasks import _solve

    cid = uuid.UUID(clearing_id)
    with unit_of_work() as s:
        snapshot = transfer_clearing.prepare(s, cid)
    if snapshot is None:
        return {"clearing": clearing_id, "skipped": True}
    try:
        load_snapshot(snapshot)
    except SnapshotError as e:
        with unit_of_work() as s:
            transfer_clearing.fail(s, cid, str(e))
        return {"clearing": clearing_id, "status": "failed"}
    with runs.heartbeat(TransferClearing, cid):
        result = _solve(snapshot)
    with unit_of_work() as s:
        transfer_clearing.store(s, cid, result)
    return {"clearing": clearing_id, "status": result["status"]}


@shared_task(name="flex.trading.expire_approvals", acks_late=True)
def expire_approvals() -> list[str]:
    """Beat entry: transfers the MO did not approve by their deadline expire."""
    with unit_of_work() as s:
        return [str(i) for i in transfer_clearing.expire(s)]
