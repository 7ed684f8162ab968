"""Operations endpoints: availability, utilisation requests, dispatch runs, instructions,
conflicts. Who may call each is declared here; what each party sees is decided in the
services (an FSP its own, an MO its own, the regulator and admins everything)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from flexplatform.auth import Authenticated, FspTrading, MoTrading, SessionDep
from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.operations import availability, conflicts, instructions, requests
from flexplatform.operations import runs as dispatch_runs
from flexplatform.operations.runs import own_part
from flexplatform.operations.schemas import (
    AckIn,
    ConflictOut,
    DeclarationBulkIn,
    DeclarationBulkOut,
    DeclarationOut,
    InstructionOut,
    MonitoringRow,
    RequestDetail,
    RequestIn,
    RequestOut,
    RunDetail,
    RunOut,
)
from flexplatform.pagination import Limit, Offset, Page, page
from flexplatform.validation import Timestamp

router = APIRouter()
TAG = ["operations"]
Start = Annotated[Timestamp, Query(description="period start from (inclusive)")]
End = Annotated[Timestamp, Query(description="period start before (exclusive)")]


def _window(start: dt.datetime, end: dt.datetime) -> None:
    if not start < end or end - start > dt.timedelta(days=31):
        raise InvalidInput("start must be before end, at most 31 days apart",
                           errors=[field_error("end", "window of 0 to 31 days")])


# --- availability -------------------------------------------------------------------------

@router.post("/availability", status_code=201, response_model=DeclarationBulkOut, tags=TAG,
             summary="Declare availability in bulk: per asset one MW or one per half-hour "
                     "(fsp, terms accepted)")
def declare(body: DeclarationBulkIn, session: SessionDep, who: FspTrading):
    return DeclarationBulkOut(**availability.declare(session, body, who))


@router.get("/availability", response_model=Page[DeclarationOut], tags=TAG,
            summary="Declarations (latest, or every version): an FSP its own, an MO its "
                    "contracted assets', oversight all")
def list_declarations(session: SessionDep, who: Authenticated, start: Start, end: End,
                      asset_id: uuid.UUID | None = None, all_versions: bool = False,
                      limit: Limit = 100, offset: Offset = 0):
    _window(start, end)
    rows, total = availability.declarations(session, who, asset_id=asset_id, start=start,
                                            end=end, all_versions=all_versions, limit=limit,
                                            offset=offset)
    return page(DeclarationOut, rows, total, limit, offset)


@router.get("/availability/monitoring", response_model=Page[MonitoringRow], tags=TAG,
            summary="Declared against contracted per contract-period, with the availability "
                    "factor (own contracts; oversight all)")
def monitoring(session: SessionDep, who: Authenticated, start: Start, end: End,
               limit: Limit = 100, offset: Offset = 0):
    _window(start, end)
    rows, total = availability.monitoring(session, who, start, end, limit, offset)
    return Page[MonitoringRow](items=[MonitoringRow(**r) for r in rows], total=total,
                               limit=limit, offset=offset)


# --- utilisation requests -----------------------------------------------------------------

@router.post("/utilisation-requests", status_code=201, response_model=RequestOut, tags=TAG,
             summary="Call MW against an own contracted need (mo, terms accepted); short "
                     "notice dispatches at once")
def create_request(body: RequestIn, session: SessionDep, who: MoTrading):
    return RequestOut.model_validate(requests.create(session, body, who))


@router.get("/utilisation-requests", response_model=Page[RequestOut], tags=TAG,
            summary="Requests: an MO its own, an FSP those it was instructed for, oversight all")
def list_requests(session: SessionDep, who: Authenticated,
                  status: Literal["requested", "dispatched", "accepted", "partly_covered",
                                  "shortfall", "cancelled"] | None = None,
                  limit: Limit = 100, offset: Offset = 0):
    rows, total = requests.list_for(session, who, status, limit, offset)
    return page(RequestOut, rows, total, limit, offset)


@router.get("/utilisation-requests/{request_id}", response_model=RequestDetail, tags=TAG,
            summary="One request: state, instructions and, per contracted asset not called, "
                    "the reason (its mo, oversight; an instructed fsp its own instructions)")
def get_request(request_id: uuid.UUID, session: SessionDep, who: Authenticated):
    req = requests.get(session, request_id, who)
    extra = requests.detail(session, req, who)
    out = RequestOut.model_validate(req).model_dump()
    return RequestDetail(**out, instructions=[InstructionOut.model_validate(i)
                                              for i in extra["instructions"]],
                         rationale=extra["rationale"])


@router.post("/utilisation-requests/{request_id}/cancel", response_model=RequestOut, tags=TAG,
             summary="Cancel a request before any instruction is issued (its mo)")
def cancel_request(request_id: uuid.UUID, session: SessionDep, who: MoTrading):
    return RequestOut.model_validate(requests.cancel(session, request_id, who))


# --- dispatch runs ------------------------------------------------------------------------

@router.get("/dispatch-runs", response_model=Page[RunOut], tags=TAG,
            summary="Dispatch runs (headers and hashes; any authenticated participant)")
def list_runs(session: SessionDep, who: Authenticated, limit: Limit = 100, offset: Offset = 0):
    rows, total = dispatch_runs.list_runs(session, limit, offset)
    items = [_header(session, r, who) for r in rows]
    return Page[RunOut](items=items, total=total, limit=limit, offset=offset)


def _header(session, run, who) -> RunOut:
    """A run's header as the caller may see it (exclusions: see visible_exclusions)."""
    head = RunOut.model_validate(run)
    return head.model_copy(update={"excluded_asset_ids": dispatch_runs.visible_exclusions(
        session, who, head.excluded_asset_ids)})


@router.get("/dispatch-runs/{run_id}", response_model=RunDetail, tags=TAG,
            summary="One run's frozen snapshot and result: full for regulator and admin, "
                    "each MO or FSP its own part")
def get_run(run_id: uuid.UUID, session: SessionDep, who: Authenticated):
    run = dispatch_runs.get_run(session, run_id)
    head = _header(session, run, who).model_dump()
    if who.is_("regulator", "admin"):
        return RunDetail(**head, scope="full", snapshot=run.snapshot, result=run.result)
    part = own_part(run, who)
    if part is None:
        raise NotFound(f"dispatch run {run_id} not found")
    return RunDetail(**head, scope="own", snapshot=part["snapshot"], result=part["result"])


# --- instructions -------------------------------------------------------------------------

@router.get("/instructions", response_model=Page[InstructionOut], tags=TAG,
            summary="Instructions: an FSP its own, an MO those for its requests, oversight all")
def list_instructions(session: SessionDep, who: Authenticated,
                      status: Literal["issued", "accepted", "rejected", "expired",
                                      "cancelled"] | None = None,
                      request_id: uuid.UUID | None = None,
                      limit: Limit = 100, offset: Offset = 0):
    rows, total = instructions.visible(session, who, status=status, request_id=request_id,
                                       limit=limit, offset=offset)
    return page(InstructionOut, rows, total, limit, offset)


@router.get("/instructions/{instruction_id}", response_model=InstructionOut, tags=TAG,
            summary="One instruction (its fsp, its mo, oversight)")
def get_instruction(instruction_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return InstructionOut.model_validate(instructions.get(session, instruction_id, who))


@router.post("/instructions/{instruction_id}/ack", response_model=InstructionOut, tags=TAG,
             summary="Accept or reject an instruction before its deadline (its fsp, terms "
                     "accepted); a rejection re-dispatches its periods")
def ack_instruction(instruction_id: uuid.UUID, body: AckIn, session: SessionDep,
                    who: FspTrading):
    return InstructionOut.model_validate(instructions.acknowledge(
        session, instruction_id, body.decision == "accept", body.reason, who))


# --- conflicts ----------------------------------------------------------------------------

@router.get("/conflicts", response_model=Page[ConflictOut], tags=TAG,
            summary="Dispatch conflicts: the MOs and FSPs they affect, oversight all")
def list_conflicts(session: SessionDep, who: Authenticated, limit: Limit = 100,
                   offset: Offset = 0):
    rows, total = conflicts.visible(session, who, limit, offset)
    return page(ConflictOut, rows, total, limit, offset)


@router.get("/conflicts/{conflict_id}", response_model=ConflictOut, tags=TAG,
            summary="One conflict (parties it affects, oversight)")
def get_conflict(conflict_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return ConflictOut.model_validate(conflicts.get(session, conflict_id, who))
