"""FSP pages for dispatch instructions: the list with accept and reject, and one
instruction with its OpenADR delivery. Answers go through ``operations.acknowledge``,
exactly as ``POST /api/v1/instructions/{id}/ack`` (and a VEN's opt-in or opt-out)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import SessionDep
from flexplatform.db import utcnow
from flexplatform.errors import DomainError, InvalidInput, NotFound, field_error
from flexplatform.openadr import service as openadr
from flexplatform.operations import instructions as ops_instructions
from flexplatform.operations import service as operations
from flexplatform.operations.schemas import AckIn
from flexplatform.registration import service as registration
from flexplatform.web.access import FormDep, FspPage, FspTradingPage
from flexplatform.web.forms import FormErrors, attempt, parse, raw, values
from flexplatform.web.render import add_nav, redirect, render

router = APIRouter()
FIELDS = ("reason",)
add_nav("fsp", "Instructions", "/fsp/instructions", before="Awards")


def _names(session, who) -> dict[uuid.UUID, str]:  # type: ignore[no-untyped-def]
    rows, _ = registration.list_assets(session, who, 1000, 0)
    return {a.id: a.name for a in rows}


@router.get("/fsp/instructions")
def list_instructions(request: Request, session: SessionDep, who: FspPage,
                      status: str = "") -> Response:
    rows, total = ops_instructions.visible(session, who, status=status or None,
                                           request_id=None, limit=500, offset=0)
    rows.sort(key=lambda i: (i.status != "issued", i.ack_deadline))
    return render(request, "fsp/instructions.html", {
        "rows": rows, "total": total, "status": status, "names": _names(session, who),
        "events": openadr.events_for(session, [i.id for i in rows]), "now": utcnow()})


def _detail(request: Request, session: SessionDep, who, instruction_id: uuid.UUID,  # type: ignore[no-untyped-def]
            errors: FormErrors | None = None, form: dict[str, str] | None = None,
            status: int = 200) -> Response:
    ins = ops_instructions.get(session, instruction_id, who)
    return render(request, "fsp/instruction.html", {
        "i": ins, "asset": _names(session, who).get(ins.asset_id, str(ins.asset_id)),
        "event": openadr.events_for(session, [ins.id]).get(ins.id), "now": utcnow(),
        "errors": errors, "form": form or {}}, status=status)


@router.get("/fsp/instructions/{instruction_id}")
def instruction(request: Request, instruction_id: uuid.UUID, session: SessionDep,
                who: FspPage) -> Response:
    return _detail(request, session, who, instruction_id)


@router.post("/fsp/instructions/{instruction_id}/accept")
def accept(instruction_id: uuid.UUID, session: SessionDep, who: FspTradingPage) -> Response:
    back = f"/fsp/instructions/{instruction_id}"
    try:
        attempt(session, lambda: operations.acknowledge(session, instruction_id, True, None,
                                                        who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect(back, error=f"Not accepted: {e.detail}")
    return redirect("/fsp/instructions", notice=f"Instruction {str(instruction_id)[:8]} accepted")


@router.post("/fsp/instructions/{instruction_id}/reject")
def reject(request: Request, instruction_id: uuid.UUID, session: SessionDep,
           who: FspTradingPage, form: FormDep) -> Response:
    back = f"/fsp/instructions/{instruction_id}"
    try:
        data = values(form, FIELDS)
        if "reason" not in data:  # the model's own check has no field to point at
            raise InvalidInput("the form has errors", errors=[
                field_error(["reason"], "give the reason the asset cannot deliver it")])
        body = parse(AckIn, {"decision": "reject", **data})
        attempt(session, lambda: operations.acknowledge(session, instruction_id, False,
                                                        body.reason, who))
    except InvalidInput as e:
        ops_instructions.get(session, instruction_id, who)  # another's: the 404 page
        return _detail(request, session, who, instruction_id,
                       FormErrors(e.errors, FIELDS, e.detail), raw(form, FIELDS), 422)
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect(back, error=f"Not rejected: {e.detail}")
    return redirect("/fsp/instructions", notice=f"Instruction {str(instruction_id)[:8]} rejected")
