"""Verification per instruction-period, stored with the reading versions it used.

A verification is the engine's figure for one instruction in one half hour: baseline,
metered, ordered and delivered kWh and the performance (paid / ordered). It is stored
with the meter, the version of the reading read, the submission watermark and the
SHA-256 of every reading version the baseline read, so it can be reproduced. A re-run
that computes the same figures stores nothing (idempotent); one that differs (a
correction arrived) stores the next version and keeps the old.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform.competition.models import Contract
from flexplatform.reporting import reads, sources
from flexplatform.reporting.models import MeterPoint, MeterReading, MeterSubmission
from flexplatform.reporting.settle_inputs import (
    _frame,
    _local_day,
    product_terms,
    settings_for,
    utc_bounds,
)
from flexplatform.reporting.settlement_models import Verification
from settlement import SettlementInputs, ShardResult, StatementPeriod, settle_shard
from settlement.periods import day_start

FIELDS = ("baseline_kwh", "metered_kwh", "ordered_kwh", "delivered_kwh", "performance",
          "status")


def _num(v: Any) -> float | None:
    v = float(v)
    return None if math.isnan(v) else round(v, 6)


def store(session: Session, res: ShardResult, parties: dict[str, tuple[Any, Any, int]],
          watermark: int | None, run_id: uuid.UUID | None = None) -> int:
    """Store the result's instruction-periods; returns how many new versions.

    ``parties``: instruction id -> (fsp id, mo id, contract id)."""
    p = res.periods
    if not len(p):
        return 0
    digests = dict(zip(res.meters["mpan"].astype(str), res.meters["versions_sha256"],
                       strict=True))
    ids = sorted({str(i) for i in p["instruction_id"]})
    latest: dict[tuple[str, dt.datetime], Verification] = {}
    for k in range(0, len(ids), 2000):
        sub = (select(Verification.instruction_id, Verification.period_start,
                      func.max(Verification.version).label("v"))
               .where(Verification.instruction_id.in_(ids[k:k + 2000]))
               .group_by(Verification.instruction_id, Verification.period_start).subquery())
        q = select(Verification).join(sub, (Verification.instruction_id == sub.c.instruction_id)
                                      & (Verification.period_start == sub.c.period_start)
                                      & (Verification.version == sub.c.v))
        for v in session.scalars(q):
            latest[(v.instruction_id, v.period_start)] = v
    new = 0
    cols = {c: p[c].tolist() for c in ("instruction_id", "mpan", "start", "baseline_mw",
                                       "actual_mw", "ordered_mw", "delivered_mw",
                                       "performance", "status", "reading_version",
                                       "product", "methodology_version")}
    for r in range(len(p)):
        iid = str(cols["instruction_id"][r])
        start = pd.Timestamp(cols["start"][r]).to_pydatetime()
        mpan = str(cols["mpan"][r])
        values = {"baseline_kwh": _num(cols["baseline_mw"][r] * 500.0),
                  "metered_kwh": _num(cols["actual_mw"][r] * 500.0),
                  "ordered_kwh": _num(cols["ordered_mw"][r] * 500.0) or 0.0,
                  "delivered_kwh": _num(cols["delivered_mw"][r] * 500.0),
                  "performance": _num(cols["performance"][r]),
                  "status": str(cols["status"][r])}
        versions = {"mpan": mpan, "reading_version": int(cols["reading_version"][r]),
                    "as_of_submission": watermark, "versions_sha256": digests.get(mpan)}
        methodology = f"{cols['product'][r]}:v{int(cols['methodology_version'][r])}"
        old = latest.get((iid, start))

        # A new version when a figure, the reading read or the methodology changed; the
        # digest alone differs with the window a run reads (a day, or a month), not the data.
        if old is not None and all(getattr(old, f) == values[f] for f in FIELDS) \
                and old.reading_versions.get("reading_version") == versions["reading_version"] \
                and old.methodology == methodology:
            continue
        fsp, mo, contract = parties[iid]
        session.add(Verification(instruction_id=iid, period_start=start,
                                 version=(old.version + 1) if old else 1, fsp_id=fsp, mo_id=mo,
                                 contract_id=contract, mpan=mpan, reading_versions=versions,
                                 methodology=methodology, run_id=run_id, **values))
        new += 1
    session.flush()
    return new


def verify_meters(session: Session, start: dt.datetime, end: dt.datetime,
                  mpans: Sequence[str] | None = None) -> int:
    """Verify every binding instruction starting in [start, end) on these meters (all
    when None), each settlement day on its own, and store new versions."""
    ins = sources.instructions(session, start, end)
    if not ins:
        return 0
    contracts = {c.id: c for c in session.scalars(select(Contract).where(
        Contract.id.in_({i.contract_id for i in ins})))}
    meters = sources.asset_meters(session, {i.asset_id for i in ins})
    if mpans is not None:
        keep = set(mpans)
        meters = {a: m for a, m in meters.items() if m.mpan in keep}
    by_day: dict[dt.date, list[Any]] = {}
    for i in ins:
        if i.asset_id in meters and i.contract_id in contracts:
            by_day.setdefault(_local_day(i.start), []).append(i)
    new = 0
    watermark = reads.watermark(session)
    for day, group in sorted(by_day.items()):
        new += _verify_day(session, day, group, contracts, meters, watermark)
    return new


def _verify_day(session: Session, day: dt.date, group: list[Any], contracts: dict[int, Any],
                meters: dict[Any, MeterPoint], watermark: int | None) -> int:
    period = StatementPeriod(day.isoformat(), day, day)
    used = {contracts[i.contract_id] for i in group}
    products = {}
    crow = []
    for c in sorted(used, key=lambda c: c.id):
        if c.product_code not in products:
            products[c.product_code] = product_terms(
                session, c.product_code, settings_for(session, c.market_id),
                utc_bounds(day, day)[1])
        crow.append({"contract_id": str(c.id), "fsp": str(c.fsp_id), "mo": str(c.mo_id),
                     "product": c.product_code, "contracted_mw": c.mw,
                     "availability_price": c.availability_price,
                     "utilisation_price": c.utilisation_price})
    irow, parties = [], {}
    for i in group:
        mp = meters[i.asset_id]
        direction, measure = sources.engine_direction(i.direction, mp.measures)
        irow.append({"instruction_id": i.id, "contract_id": str(i.contract_id), "mpan": mp.mpan,
                     "start": i.start, "end": i.end, "mw": i.mw, "direction": direction,
                     "measure": measure})
        parties[i.id] = (i.fsp_id, i.mo_id, i.contract_id)
    ids = sorted({meters[i.asset_id].id for i in group})
    mpans = sorted({meters[i.asset_id].mpan for i in group})
    inputs = SettlementInputs(period=period, products=products, contracts=_frame(crow, "contracts"),
                              instructions=_frame(irow, "instructions"),
                              readings=_frame([], "readings"),
                              meters=pd.DataFrame({"mpan": mpans}))
    lo = day_start(inputs.history_start())
    hi = max(i.end for i in group)
    readings = reads.readings_frame(session, ids, lo, hi, as_of=watermark or 0)
    readings = readings.drop(columns=["submission_id"])
    readings["mpan"] = readings["mpan"].astype(object)
    inputs.readings = readings
    return store(session, settle_shard(inputs), parties, watermark)


def submission_scope(session: Session, submission_id: int) -> tuple[dt.datetime, dt.datetime,
                                                                    list[str]] | None:
    """(first period, end, mpans) a submission touched: what its arrival re-verifies."""
    sub = session.get(MeterSubmission, submission_id)
    if sub is None:
        return None
    end = sub.last_period + dt.timedelta(minutes=30)
    ids = session.scalars(select(MeterReading.meter_point_id).distinct().where(
        MeterReading.submission_id == submission_id,
        MeterReading.period_start >= sub.first_period, MeterReading.period_start < end)).all()
    mpans = session.scalars(select(MeterPoint.mpan).where(MeterPoint.id.in_(list(ids)))).all()
    return sub.first_period, end, sorted(mpans)


def verifications_query(start: dt.datetime, end: dt.datetime, *,
                        fsp_id: uuid.UUID | None = None, mo_id: uuid.UUID | None = None,
                        latest: bool = True) -> Any:
    """Verifications of periods in [start, end) as one query (the latest version of each
    instruction-period unless ``latest`` is False), in a stable order, so callers page and
    count in the database rather than in Python."""
    cond = [Verification.period_start >= start, Verification.period_start < end]
    if fsp_id is not None:
        cond.append(Verification.fsp_id == fsp_id)
    if mo_id is not None:
        cond.append(Verification.mo_id == mo_id)
    q = select(Verification).where(*cond)
    if latest:
        newest = (select(Verification.instruction_id, Verification.period_start,
                         func.max(Verification.version).label("v")).where(*cond)
                  .group_by(Verification.instruction_id, Verification.period_start).subquery())
        q = q.join(newest, (Verification.instruction_id == newest.c.instruction_id)
                   & (Verification.period_start == newest.c.period_start)
                   & (Verification.version == newest.c.v))
    return q.order_by(Verification.instruction_id, Verification.period_start,
                      Verification.version)


def page(session: Session, start: dt.datetime, end: dt.datetime, *, limit: int, offset: int,
         **filters: Any) -> tuple[list[Verification], int]:
    """One page of :func:`verifications_query` and the total it pages through."""
    q = verifications_query(start, end, **filters)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    return list(session.scalars(q.limit(limit).offset(offset))), total


def verifications_between(session: Session, start: dt.datetime, end: dt.datetime, *,
                          fsp_id: uuid.UUID | None = None, mo_id: uuid.UUID | None = None,
                          latest: bool = True) -> list[Verification]:
    """Verifications of periods in [start, end), the latest version of each unless
    ``latest`` is False (then every version)."""
    return list(session.scalars(verifications_query(start, end, fsp_id=fsp_id, mo_id=mo_id,
                                                    latest=latest)))
