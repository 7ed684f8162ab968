"""Metering and methodology endpoints. Each states who may call it through its auth
dependency; object rules (whose meter point) are in ``service.py``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Annotated, Literal

import anyio.from_thread
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from flexplatform.auth import AdminOnly, FspOnly, FspTrading, Principal, Public, SessionDep, require
from flexplatform.config import get_settings
from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.pagination import Limit, Offset, Page
from flexplatform.registration.models import Role
from flexplatform.reporting import methodologies, service
from flexplatform.reporting.formats import CsvStream, json_batches
from flexplatform.reporting.ingest import Ingest, Outcome, json_pointer
from flexplatform.reporting.schemas import (
    GrantCreate,
    GrantOut,
    IngestOut,
    MeterPointCreate,
    MeterPointOut,
    MethodologyIn,
    MethodologyOut,
    ReadingOut,
    ReadingsIn,
    ReadingsPage,
    SubmissionOut,
)
from flexplatform.reporting.validate import MeterAccess
from flexplatform.validation import RowId, Version
from settlement.periods import to_settlement_periods

router = APIRouter()

MeterWriter = Annotated[Principal, require(Role.fsp, Role.mda)]
MeterReader = Annotated[Principal, require(Role.fsp, Role.mda, Role.mo, Role.regulator,
                                           Role.admin)]
GrantReader = Annotated[Principal, require(Role.fsp, Role.mda, Role.regulator, Role.admin)]
ReadingsLimit = Annotated[int, Query(ge=1, le=10_000)]
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {
    "type": "string", "example": "mpan,start,import_kwh,export_kwh\n"
                                 "1400000000019,2026-01-01T00:00:00Z,1.25,0\n"}}}}}


def _point_out(mp, fsp_id) -> MeterPointOut:  # type: ignore[no-untyped-def]
    return MeterPointOut(mpan=mp.mpan, asset_id=mp.asset_id, fsp_id=fsp_id,
                         measures=mp.measures, created_at=mp.created_at)


def _grant_out(g, mpan) -> GrantOut:  # type: ignore[no-untyped-def]
    return GrantOut(id=g.id, fsp_id=g.fsp_id, agent_id=g.agent_id, mpan=mpan, note=g.note,
                    created_at=g.created_at, revoked_at=g.revoked_at)


def _outcome(response: Response, out: Outcome) -> IngestOut:
    """201 when new versions were stored, 200 for a re-send that changed nothing."""
    response.status_code = 201 if out.stored else 200
    return IngestOut(**out.__dict__)


# --- meter points -----------------------------------------------------------------------

@router.post("/meter-points", status_code=201, response_model=MeterPointOut,
             tags=["metering"], summary="Register a meter point of an own asset "
                                        "(fsp, terms accepted)")
def create_meter_point(body: MeterPointCreate, session: SessionDep, who: FspTrading):
    mp, asset = service.create_meter_point(session, body, who)
    return _point_out(mp, asset.fsp_id)


@router.get("/meter-points", response_model=Page[MeterPointOut], tags=["metering"],
            summary="Meter points the caller may read: an FSP its own and those granted "
                    "to it, an mda those granted, an MO those of assets holding its "
                    "contracts, regulator and admin all")
def list_meter_points(session: SessionDep, who: MeterReader, asset_id: uuid.UUID | None = None,
                      limit: Limit = 100, offset: Offset = 0):
    rows, total = service.list_meter_points(session, who, limit, offset, asset_id)
    return Page[MeterPointOut](items=[_point_out(mp, fsp) for mp, fsp in rows], total=total,
                               limit=limit, offset=offset)


@router.get("/meter-points/{mpan}", response_model=MeterPointOut, tags=["metering"],
            summary="One meter point (fsp, mda, mo, regulator, admin: as for the list)")
def get_meter_point(mpan: str, session: SessionDep, who: MeterReader):
    mp, asset = service.get_meter_point(session, mpan, who)
    return _point_out(mp, asset.fsp_id)


@router.get("/meter-points/{mpan}/readings", response_model=ReadingsPage, tags=["metering"],
            summary="Readings of one meter point in [start, end): the latest version of "
                    "each period, or every version; as_of a submission for a fixed set "
                    "(fsp, mda, mo, regulator, admin: as for the meter point)")
def meter_readings(mpan: str, session: SessionDep, who: MeterReader,
                   start: Annotated[AwareDatetime, Query()],
                   end: Annotated[AwareDatetime, Query()],
                   versions: Literal["latest", "all"] = "latest",
                   as_of: Annotated[int | None, Query(ge=1)] = None,
                   limit: ReadingsLimit = 1000, offset: Offset = 0):
    mp, _ = service.get_meter_point(session, mpan, who)
    rows, total = service.readings_page(session, mp, start.astimezone(dt.UTC),
                                        end.astimezone(dt.UTC), versions, as_of, limit, offset)
    days, periods = to_settlement_periods([r.period_start for r in rows]) if rows else ([], [])
    items = [ReadingOut(start=r.period_start, settlement_date=d.item(), settlement_period=int(p),
                        import_kwh=r.import_kwh, export_kwh=r.export_kwh, version=r.version,
                        submission_id=r.submission_id)
             for r, d, p in zip(rows, days, periods, strict=True)]
    return ReadingsPage(mpan=mpan, start=start, end=end, versions=versions, as_of=as_of,
                        items=items, total=total, limit=limit, offset=offset)


# --- meter data agents ------------------------------------------------------------------

@router.post("/meter-data-grants", status_code=201, response_model=GrantOut,
             tags=["metering"], summary="Authorise a meter data agent (role mda) or another "
                                        "FSP to submit readings for one or all own meter "
                                        "points (fsp, terms accepted)")
def create_grant(body: GrantCreate, session: SessionDep, who: FspTrading):
    return _grant_out(service.grant(session, body, who), body.mpan)


@router.get("/meter-data-grants", response_model=Page[GrantOut], tags=["metering"],
            summary="Grants the caller gave or holds (fsp, mda); all (regulator, admin)")
def list_grants(session: SessionDep, who: GrantReader, active: bool | None = None,
                limit: Limit = 100, offset: Offset = 0):
    rows, total = service.list_grants(session, who, active, limit, offset)
    return Page[GrantOut](items=[_grant_out(g, m) for g, m in rows], total=total, limit=limit,
                          offset=offset)


@router.get("/meter-data-grants/{grant_id}", response_model=GrantOut, tags=["metering"],
            summary="One grant (its FSP or agent; regulator, admin)")
def get_grant(grant_id: uuid.UUID, session: SessionDep, who: GrantReader):
    return _grant_out(*service.get_grant(session, grant_id, who))


@router.post("/meter-data-grants/{grant_id}/revoke", response_model=GrantOut,
             tags=["metering"], summary="Revoke a grant (the FSP that gave it)")
def revoke_grant(grant_id: uuid.UUID, session: SessionDep, who: FspOnly):
    g = service.revoke_grant(session, grant_id, who)
    return _grant_out(*service.get_grant(session, g.id, who))


# --- readings in ------------------------------------------------------------------------

@router.post("/meter-readings", status_code=201, response_model=IngestOut, tags=["metering"],
             summary="Submit readings as JSON, all or nothing; 200 if nothing changed "
                     "(fsp for its meter points, mda or fsp for those granted)")
def submit_readings(body: ReadingsIn, response: Response, session: SessionDep,
                    who: MeterWriter):
    cap = get_settings().max_bulk_readings
    if len(body.readings) > cap:
        raise InvalidInput(f"at most {cap} readings per JSON request (use the CSV upload)",
                           errors=[field_error(["readings"], f"more than {cap} rows")])
    ing = Ingest(session, MeterAccess(service.submit_lookup(session, who)), source="json",
                 submitted_by=who.id, actor=who.actor, pointer=json_pointer)
    return _outcome(response, ing.feed(json_batches(body.readings)).finish())


def _body(request: Request) -> Iterator[bytes]:
    """The request body as it arrives, pulled from the event loop by this worker thread."""
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = anyio.from_thread.run(stream.__anext__)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.post("/meter-readings/csv", status_code=201, response_model=IngestOut,
             tags=["metering"], openapi_extra=CSV_BODY,
             summary="Upload readings as CSV, streamed (a million rows in bounded memory), "
                     "all or nothing; 200 if nothing changed (fsp, mda as for JSON)")
def upload_readings_csv(request: Request, response: Response, session: SessionDep,
                        who: MeterWriter):
    ing = Ingest(session, MeterAccess(service.submit_lookup(session, who)), source="csv",
                 submitted_by=who.id, actor=who.actor)
    stream = CsvStream(_body(request), ing.problems)
    return _outcome(response, ing.feed(stream).finish(stream.sha256.hexdigest()))


@router.get("/meter-submissions/{submission_id}", response_model=SubmissionOut,
            tags=["metering"], summary="One submission (its submitter; regulator, admin)")
def get_submission(submission_id: RowId, session: SessionDep, who: GrantReader):
    return SubmissionOut.model_validate(service.get_submission(session, submission_id, who))


# --- baseline methodologies -------------------------------------------------------------

@router.get("/methodologies", response_model=list[MethodologyOut], tags=["methodologies"],
            summary="Every baseline methodology version with its status (public)")
def list_methodologies(session: SessionDep, who: Public, product: str | None = None):
    return [MethodologyOut.model_validate(m) for m in methodologies.list_all(session, product)]


@router.get("/methodologies/{product}/current", response_model=MethodologyOut,
            tags=["methodologies"], summary="A product's methodology in force now or at "
                                            "a given instant (public)")
def current_methodology(product: str, session: SessionDep, who: Public,
                        at: AwareDatetime | None = None):
    m = methodologies.in_force(session, product, at)
    if m is None:
        raise NotFound(f"no approved methodology in force for product '{product}'")
    return MethodologyOut.model_validate(m)


@router.post("/methodologies", status_code=201, response_model=MethodologyOut,
             tags=["methodologies"], summary="Propose a product's new methodology version "
                                             "(admin)")
def propose_methodology(body: MethodologyIn, session: SessionDep, who: AdminOnly):
    return MethodologyOut.model_validate(methodologies.propose(session, body, who))


@router.post("/methodologies/{product}/{version}/approve", response_model=MethodologyOut,
             tags=["methodologies"], summary="Approve a proposed methodology (an admin other "
                                             "than the proposer)")
def approve_methodology(product: str, version: Version, session: SessionDep, who: AdminOnly):
    return MethodologyOut.model_validate(
        methodologies.decide(session, product, version, True, who))


@router.post("/methodologies/{product}/{version}/reject", response_model=MethodologyOut,
             tags=["methodologies"], summary="Reject a proposed methodology (an admin other "
                                             "than the proposer)")
def reject_methodology(product: str, version: Version, session: SessionDep, who: AdminOnly):
    return MethodologyOut.model_validate(
        methodologies.decide(session, product, version, False, who))
