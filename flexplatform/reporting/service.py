"""Meter points, meter data agents and reading queries; who may write and read what.

An FSP owns the meter points of its assets. It may authorise an agent (a participant of
role ``mda``, or another FSP) to submit readings for one meter point or for all of them;
the agent then also reads those meter points while the grant lasts. An MO reads the meter
points of assets holding its contracts; the regulator and admins read all. Everything
else answers 404, since whether another participant's meter point exists is private.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    any_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from flexplatform import audit
from flexplatform.auth import Principal
from flexplatform.competition.models import Contract
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.registration.models import (
    Asset,
    AssetStatus,
    Participant,
    ParticipantStatus,
    Role,
)
from flexplatform.registration.service import get_own_asset
from flexplatform.reporting.models import (
    Measures,
    MeterDataGrant,
    MeterPoint,
    MeterReading,
    MeterSubmission,
)
from flexplatform.reporting.schemas import GrantCreate, MeterPointCreate
from flexplatform.reporting.validate import EXPORT, IMPORT

AGENT_ROLES = (Role.mda, Role.fsp)
_BITS = {Measures.import_: IMPORT, Measures.export: EXPORT, Measures.both: IMPORT | EXPORT}
MAX_RANGE = dt.timedelta(days=366)


# --- who may do what --------------------------------------------------------------------


def _granted(agent_id: uuid.UUID) -> ColumnElement[bool]:
    """An active grant to ``agent_id`` covers the meter point (query joins Asset)."""
    return exists().where(
        MeterDataGrant.agent_id == agent_id, MeterDataGrant.revoked_at.is_(None),
        MeterDataGrant.fsp_id == Asset.fsp_id,
        or_(MeterDataGrant.meter_point_id.is_(None),
            MeterDataGrant.meter_point_id == MeterPoint.id))


def writable(principal: Principal | None) -> ColumnElement[bool]:
    """Meter points ``principal`` may submit readings for; None is the platform operator."""
    if principal is None:
        return true()
    conds = []
    if principal.is_(Role.fsp):
        conds.append(Asset.fsp_id == principal.id)
    if principal.is_(*AGENT_ROLES):
        conds.append(_granted(principal.id))
    return or_(*conds) if conds else false()


def readable(principal: Principal) -> ColumnElement[bool]:
    """Meter points ``principal`` may read (their readings too)."""
    if principal.is_(Role.admin, Role.regulator):
        return true()
    conds = [writable(principal)]
    if principal.is_(Role.mo):
        conds.append(exists().where(Contract.asset_id == MeterPoint.asset_id,
                                    Contract.mo_id == principal.id))
    return or_(*conds)


def submit_lookup(session: Session, principal: Principal | None
                  ) -> Callable[[list[str]], dict[str, tuple[int, int]]]:
    """For ``validate.MeterAccess``: the writable meter points among some MPANs."""

    pg = session.get_bind().dialect.name == "postgresql"

    def lookup(mpans: list[str]) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        step = 20_000 if pg else 5000
        for i in range(0, len(mpans), step):
            part = mpans[i : i + step]
            # One array parameter on Postgres: a 5,000-value IN list is 3x slower to run.
            match = (MeterPoint.mpan == any_(cast(literal(part), ARRAY(String))) if pg
                     else MeterPoint.mpan.in_(part))
            q = (select(MeterPoint.mpan, MeterPoint.id, MeterPoint.measures)
                 .join(Asset, Asset.id == MeterPoint.asset_id)
                 .where(match, writable(principal)))
            for mpan, mid, measures in session.execute(q):
                found[mpan] = (mid, _BITS[measures])
        return found

    return lookup


def get_meter_point(session: Session, mpan: str, principal: Principal) -> tuple[MeterPoint, Asset]:
    row = session.execute(select(MeterPoint, Asset).join(Asset, Asset.id == MeterPoint.asset_id)
                          .where(MeterPoint.mpan == mpan, readable(principal))).first()
    if row is None:
        raise NotFound(f"meter point {mpan} not found")
    return row[0], row[1]


def _own_meter_point(session: Session, mpan: str, principal: Principal) -> MeterPoint:
    mp = session.execute(select(MeterPoint).join(Asset, Asset.id == MeterPoint.asset_id)
                         .where(MeterPoint.mpan == mpan, Asset.fsp_id == principal.id)).scalar()
    if mp is None:
        raise NotFound(f"meter point {mpan} not found")
    return mp


# --- meter points -----------------------------------------------------------------------


def create_meter_point(session: Session, data: MeterPointCreate, principal: Principal
                       ) -> tuple[MeterPoint, Asset]:
    asset = get_own_asset(session, data.asset_id, principal)
    if asset.status == AssetStatus.archived:
        raise Conflict(f"asset {asset.id} is decommissioned; it takes no new meter points")
    if session.scalar(select(MeterPoint.id).where(MeterPoint.mpan == data.mpan)):
        raise InvalidInput("meter point not registered", errors=[
            field_error(["mpan"], f"MPAN {data.mpan} is already a meter point")])
    other = session.scalar(select(Asset.id).where(Asset.mpan == data.mpan, Asset.id != asset.id))
    if other is not None:
        raise InvalidInput("meter point not registered", errors=[
            field_error(["mpan"], f"MPAN {data.mpan} is another asset's MPAN")])
    mp = MeterPoint(mpan=data.mpan, asset_id=asset.id, measures=data.measures)
    session.add(mp)
    session.flush()
    audit.record(session, principal.actor, "meter.point.create", "meter_point", mp.mpan,
                 {"asset": asset.id, "measures": mp.measures.value})
    return mp, asset


def list_meter_points(session: Session, principal: Principal, limit: int, offset: int,
                      asset_id: uuid.UUID | None = None
                      ) -> tuple[Sequence[Any], int]:
    q = (select(MeterPoint, Asset.fsp_id).join(Asset, Asset.id == MeterPoint.asset_id)
         .where(readable(principal)))
    if asset_id is not None:
        q = q.where(MeterPoint.asset_id == asset_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.order_by(MeterPoint.id).limit(limit).offset(offset)).all()
    return rows, total


# --- meter data agents ------------------------------------------------------------------


def grant(session: Session, data: GrantCreate, principal: Principal) -> MeterDataGrant:
    agent = session.get(Participant, data.agent_id)
    if (agent is None or agent.id == principal.id or agent.role not in AGENT_ROLES
            or agent.status != ParticipantStatus.active):
        raise InvalidInput("grant not made", errors=[field_error(
            ["agent_id"], "no active meter data agent (role mda) or other FSP has this id")])
    mp = _own_meter_point(session, data.mpan, principal) if data.mpan else None
    same = session.scalar(select(MeterDataGrant).where(
        MeterDataGrant.fsp_id == principal.id, MeterDataGrant.agent_id == agent.id,
        MeterDataGrant.revoked_at.is_(None),
        MeterDataGrant.meter_point_id.is_(None) if mp is None
        else MeterDataGrant.meter_point_id == mp.id))
    if same is not None:
        raise Conflict("this grant exists already", grant_id=str(same.id))
    g = MeterDataGrant(fsp_id=principal.id, agent_id=agent.id,
                       meter_point_id=mp.id if mp else None, note=data.note)
    session.add(g)
    session.flush()
    audit.record(session, principal.actor, "meter.grant.create", "meter_data_grant", g.id,
                 {"agent": agent.id, "mpan": data.mpan, "scope": "one" if mp else "all"})
    return g


def revoke_grant(session: Session, grant_id: uuid.UUID, principal: Principal) -> MeterDataGrant:
    g = session.get(MeterDataGrant, grant_id)
    if g is None or g.fsp_id != principal.id:
        raise NotFound(f"grant {grant_id} not found")
    if g.revoked_at is None:
        g.revoked_at = utcnow()
        audit.record(session, principal.actor, "meter.grant.revoke", "meter_data_grant", g.id,
                     {"agent": g.agent_id})
    return g


def list_grants(session: Session, principal: Principal, active: bool | None, limit: int,
                offset: int) -> tuple[Sequence[Any], int]:
    q = select(MeterDataGrant, MeterPoint.mpan).outerjoin(
        MeterPoint, MeterPoint.id == MeterDataGrant.meter_point_id)
    if not principal.is_(Role.admin, Role.regulator):
        q = q.where(or_(MeterDataGrant.fsp_id == principal.id,
                        MeterDataGrant.agent_id == principal.id))
    if active is not None:
        q = q.where(MeterDataGrant.revoked_at.is_(None) if active
                    else MeterDataGrant.revoked_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.order_by(MeterDataGrant.created_at, MeterDataGrant.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def get_grant(session: Session, grant_id: uuid.UUID, principal: Principal) -> tuple[Any, ...]:
    row = session.execute(select(MeterDataGrant, MeterPoint.mpan).outerjoin(
        MeterPoint, MeterPoint.id == MeterDataGrant.meter_point_id)
        .where(MeterDataGrant.id == grant_id)).first()
    if row is None or not (principal.is_(Role.admin, Role.regulator)
                           or principal.id in (row[0].fsp_id, row[0].agent_id)):
        raise NotFound(f"grant {grant_id} not found")
    return tuple(row)


def get_submission(session: Session, sid: int, principal: Principal) -> MeterSubmission:
    sub = session.get(MeterSubmission, sid)
    if sub is None or not (principal.is_(Role.admin, Role.regulator)
                           or sub.submitted_by == principal.id):
        raise NotFound(f"submission {sid} not found")
    return sub


# --- reading readings -------------------------------------------------------------------


def _check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InvalidInput("empty range", errors=[field_error(["query", "end"],
                                                              "must be after start")])
    if end - start > MAX_RANGE:
        raise InvalidInput("range too long", errors=[field_error(
            ["query", "end"], f"at most {MAX_RANGE.days} days after start")])


def _range_query(meter_ids: Any, start: dt.datetime, end: dt.datetime, versions: str,
                 as_of: int | None, dialect: str) -> Any:
    """Readings of some meters in [start, end): every version, or the latest of each
    (meter, period) among submissions <= ``as_of`` (all, if None)."""
    r = MeterReading
    cols = (r.meter_point_id, r.period_start, r.import_kwh, r.export_kwh, r.version,
            r.submission_id)
    ids = meter_ids if isinstance(meter_ids, (list, tuple, np.ndarray)) else [meter_ids]
    where = [r.meter_point_id.in_([int(i) for i in ids]), r.period_start >= start,
             r.period_start < end]
    if as_of is not None:
        where.append(r.submission_id <= as_of)
    q = select(*cols).where(*where)
    if versions == "all":
        return q.order_by(r.meter_point_id, r.period_start, r.version)
    if dialect == "postgresql":
        # One index scan, newest version first within each (meter, period).
        return _distinct_on(q, r.meter_point_id, r.period_start).order_by(
            r.meter_point_id, r.period_start, r.version.desc())
    newer = aliased(MeterReading)
    cond = [newer.meter_point_id == r.meter_point_id, newer.period_start == r.period_start,
            newer.version > r.version]
    if as_of is not None:
        cond.append(newer.submission_id <= as_of)
    return q.where(~exists().where(and_(*cond))).order_by(r.meter_point_id, r.period_start)


def _distinct_on(q: Any, *cols: Any) -> Any:
    try:  # SQLAlchemy 2.1; 2.0 spells it select().distinct(*cols)
        from sqlalchemy.dialects.postgresql import distinct_on
    except ImportError:  # pragma: no cover
        return q.distinct(*cols)
    return q.ext(distinct_on(*cols))


def readings_page(session: Session, mp: MeterPoint, start: dt.datetime, end: dt.datetime,
                  versions: str, as_of: int | None, limit: int, offset: int
                  ) -> tuple[list[Any], int]:
    _check_range(start, end)
    q = _range_query([mp.id], start, end, versions, as_of, session.get_bind().dialect.name)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.limit(limit).offset(offset)).all()
    return rows, total


def verifications_between(session: Session, start: dt.datetime, end: dt.datetime, *,
                          fsp_id: uuid.UUID | None = None) -> list[Any]:
    """The latest verification of each instruction-period in [start, end) (INTERFACES.md;
    ``verification.verifications_between`` has the MO filter and every version)."""
    from flexplatform.reporting.verification import verifications_between as between

    return between(session, start, end, fsp_id=fsp_id)
