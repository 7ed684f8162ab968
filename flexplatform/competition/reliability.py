"""Asset reliability posteriors from verified delivery, for version-2 clearing snapshots.

Why here: the clearing snapshot is built in competition (`clearing.build_snapshot`); the
evidence lives in operations (instructions: which asset was told to deliver) and reporting
(verifications: what the meters say it delivered). When the rules in force set a confidence
level for any product, the round's snapshot becomes version 2 and each asset carries the
Beta posterior of `optimiser.reliability.posterior` over its verified instruction-periods of
the last HISTORY_DAYS (docs/probabilistic.md, Platform wiring). A round without levels keeps
the version-1 snapshot, the registered reliability, and clears exactly as before.

Evidence: the latest version of each verification whose status says the figure is sound
(EVIDENCE: the meter and baseline were there; a missing reading is the data's failure, not
the asset's). Ordered and delivered kWh are the instruction-period's; the service only
reads, never writes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from optimiser.reliability import Reliability, posterior

EVIDENCE = ("ok", "partial_window")
HISTORY_DAYS = 365
CHUNK = 2000


def delivery_history(session: Session, asset_ids: list[uuid.UUID], until: dt.datetime,
                     days: int = HISTORY_DAYS) -> dict[uuid.UUID, list[tuple[float, float]]]:
    """(ordered_kwh, delivered_kwh) per verified instruction-period of each asset, periods
    in [until - days, until)."""
    from flexplatform.operations.models import Instruction
    from flexplatform.reporting.settlement_models import Verification

    since = until - dt.timedelta(days=days)
    asset_of: dict[str, uuid.UUID] = {}
    for k in range(0, len(asset_ids), CHUNK):
        for iid, aid in session.execute(select(Instruction.id, Instruction.asset_id).where(
                Instruction.asset_id.in_(asset_ids[k:k + CHUNK]),
                Instruction.period_end > since, Instruction.period_start < until)):
            asset_of[str(iid)] = aid
    ids = sorted(asset_of)
    latest: dict[tuple[str, dt.datetime], Verification] = {}
    for k in range(0, len(ids), CHUNK):
        rows = session.scalars(select(Verification).where(
            Verification.instruction_id.in_(ids[k:k + CHUNK]),
            Verification.period_start >= since, Verification.period_start < until,
        ).order_by(Verification.instruction_id, Verification.period_start,
                   Verification.version)).all()
        for v in rows:
            latest[(v.instruction_id, v.period_start)] = v
    out: dict[uuid.UUID, list[tuple[float, float]]] = defaultdict(list)
    for (iid, _), v in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if v.status in EVIDENCE and v.delivered_kwh is not None and v.ordered_kwh > 0:
            out[asset_of[iid]].append((float(v.ordered_kwh), float(v.delivered_kwh)))
    return dict(out)


def posteriors(session: Session, technology: dict[uuid.UUID, str | None],
               until: dt.datetime) -> dict[uuid.UUID, Reliability]:
    """The posterior of every asset in `technology` (asset id -> technology code): its
    technology's prior updated by its history; the prior alone where it has none."""
    history = delivery_history(session, sorted(technology), until)
    return {aid: posterior(history.get(aid, []), technology=tech)
            for aid, tech in technology.items()}
