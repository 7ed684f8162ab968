"""What settlement reads from the other stages, in one place.

Contracts come from competition; instructions and availability declarations from
operations (``flexplatform.operations``, its own branch). Until operations is present
the platform has no instructions (nothing to verify: no utilisation is paid) and a
contract counts as fully available (factor 1: it was awarded against a bid that offered
the MW). Both rules are stated here once so they change in one place when operations
lands.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Contract
from flexplatform.reporting.models import Measures, MeterPoint

try:  # operations' models and service (INTERFACES.md)
    from flexplatform.operations import service as _ops
except ImportError:  # pragma: no cover - depends on which branches are merged
    _ops = None

# Instructions that bind the FSP: accepted ones (an unacknowledged one expires at its
# ack deadline and a rejected one was never dispatched).
SETTLED_INSTRUCTION_STATUSES = ("accepted",)


def operations_available() -> bool:
    return _ops is not None and hasattr(_ops, "instructions_between")


def availability_factor(session: Session, contract: Contract) -> float:
    """Declared / contracted for the contract's period, from operations; 1.0 without it."""
    if _ops is None or not hasattr(_ops, "availability_factor"):
        return 1.0
    return float(_ops.availability_factor(session, contract))


@dataclass(frozen=True)
class InstructionRow:
    id: str
    contract_id: int
    asset_id: uuid.UUID
    fsp_id: uuid.UUID
    mo_id: uuid.UUID
    direction: str  # up | down
    start: dt.datetime
    end: dt.datetime
    mw: float


def instructions(session: Session, start: dt.datetime, end: dt.datetime, *,
                 contract_ids: set[int] | None = None, fsp_id: uuid.UUID | None = None,
                 mo_id: uuid.UUID | None = None) -> list[InstructionRow]:
    """Binding instructions starting in [start, end) (optionally of these contracts)."""
    if not operations_available():
        return []
    assert _ops is not None
    found: list[Any] = _ops.instructions_between(session, start, end, fsp_id=fsp_id,
                                                 mo_id=mo_id,
                                                 status=list(SETTLED_INSTRUCTION_STATUSES))
    out = []
    for i in found:
        if not (start <= i.period_start < end):
            continue
        if contract_ids is not None and i.contract_id not in contract_ids:
            continue
        out.append(InstructionRow(str(i.id), int(i.contract_id), i.asset_id, i.fsp_id, i.mo_id,
                                  getattr(i.direction, "value", i.direction), i.period_start,
                                  i.period_end, float(i.mw)))
    return sorted(out, key=lambda r: r.id)


def meter_of(points: list[MeterPoint]) -> MeterPoint | None:
    """The meter that verifies an asset: one measuring both flows, else the first
    registered (an asset with separate import and export MPANs is verified on the
    first; docs/reporting.md)."""
    if not points:
        return None
    both = [p for p in points if p.measures == Measures.both]
    return (both or sorted(points, key=lambda p: p.id))[0]


def engine_direction(direction: str, measures: Measures) -> tuple[str, str]:
    """(engine direction, measure) of an 'up' or 'down' instruction on a meter.

    'up' is more power to the grid: less import, more export, less net import."""
    up = direction == "up"
    if measures == Measures.export:
        return ("turn_up" if up else "turn_down"), "export"
    if measures == Measures.both:
        return ("turn_down" if up else "turn_up"), "net"
    return ("turn_down" if up else "turn_up"), "import"


def asset_meters(session: Session, asset_ids: set[uuid.UUID]) -> dict[uuid.UUID, MeterPoint]:
    """The verifying meter of each asset that has one."""
    rows: dict[uuid.UUID, list[MeterPoint]] = {}
    ids = list(asset_ids)
    for k in range(0, len(ids), 5000):
        for mp in session.scalars(select(MeterPoint).where(MeterPoint.asset_id.in_(ids[k:k + 5000]))):
            rows.setdefault(mp.asset_id, []).append(mp)
    out = {}
    for a, pts in rows.items():
        m = meter_of(pts)
        if m is not None:
            out[a] = m
    return out
