"""Settlement endpoints: settings, runs, statements, invoices, disputes, verifications.

Each declares who may call it; object rules (whose statement) live in the services,
which answer 404 for another participant's object so its existence never leaks."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from flexplatform.auth import AdminOnly, Authenticated, MoOrFsp, Principal, SessionDep, require
from flexplatform.db import after_commit
from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.pagination import Limit, Offset, Page
from flexplatform.queue import enqueue
from flexplatform.registration.models import Role
from flexplatform.reporting import disputes, verification
from flexplatform.reporting import settlement_service as svc
from flexplatform.reporting.settlement_models import Invoice, InvoiceLine
from flexplatform.reporting.settlement_schemas import (
    Decision,
    DisputeCreate,
    DisputeOut,
    DisputeResponse,
    Escalation,
    InvoiceOut,
    LineOut,
    RunCreate,
    RunOut,
    SettingsIn,
    SettingsOut,
    StatementDetail,
    StatementOut,
    VerificationOut,
)
from settlement.invoices import CSV_COLUMNS

router = APIRouter(tags=["settlement"])

RunStarter = Annotated[Principal, require(Role.admin, Role.mo)]
MoOrOversight = Annotated[Principal, require(Role.mo, Role.regulator, Role.admin)]
MoOnly = Annotated[Principal, require(Role.mo)]
FspOnly = Annotated[Principal, require(Role.fsp)]
SETTLE_TASK = "flex.reporting.settle_run"


@router.get("/markets/{market_id}/settlement-settings", response_model=SettingsOut,
            summary="A market's settlement settings (its MO, regulator, admin)")
def get_settings(market_id: uuid.UUID, session: SessionDep, who: MoOrOversight):
    return svc.get_settings_row(session, market_id, who)


@router.put("/markets/{market_id}/settlement-settings", response_model=SettingsOut,
            summary="Set a market's statement period, VAT rate, payment rules and dispute "
                    "response days (admin)")
def put_settings(market_id: uuid.UUID, body: SettingsIn, session: SessionDep, who: AdminOnly):
    return svc.put_settings(session, market_id, body, who)


@router.post("/settlement-runs", status_code=202, response_model=RunOut,
             summary="Queue the settlement of the statement period holding a day (the "
                     "market's MO, admin); a re-run is the next version")
def create_run(body: RunCreate, session: SessionDep, who: RunStarter):
    run = svc.create_run(session, body.market_id, body.day, who)
    rid = str(run.id)
    after_commit(session, lambda: enqueue(SETTLE_TASK, run_id=rid))
    return run


@router.get("/settlement-runs", response_model=Page[RunOut],
            summary="Settlement runs (an MO its markets'; regulator, admin all)")
def list_runs(session: SessionDep, who: MoOrOversight, market_id: uuid.UUID | None = None,
              limit: Limit = 100, offset: Offset = 0):
    rows, total = svc.list_runs(session, who, limit, offset, market_id)
    return Page[RunOut](items=rows, total=total, limit=limit, offset=offset)


@router.get("/settlement-runs/{run_id}", response_model=RunOut,
            summary="One settlement run (its MO, regulator, admin)")
def get_run(run_id: uuid.UUID, session: SessionDep, who: MoOrOversight):
    return svc.get_run(session, run_id, who)


@router.get("/settlement-runs/{run_id}/document",
            summary="The run document (inputs with hashes, outputs) that `flexplatform "
                    "settle` re-runs (its MO, regulator, admin)")
def get_run_document(run_id: uuid.UUID, session: SessionDep, who: MoOrOversight):
    run = svc.get_run(session, run_id, who)
    if run.document is None:
        raise NotFound("the run has no document yet", status=run.status)
    return run.document


def _detail(session, s) -> StatementDetail:  # type: ignore[no-untyped-def]
    lines = [LineOut.model_validate(x) for x in svc.statement_lines(session, s.id)]
    return StatementDetail(**StatementOut.model_validate(s).model_dump(), lines=lines)


@router.get("/statements", response_model=Page[StatementOut],
            summary="Statements (an MO its own, an FSP its issued ones; regulator, admin all)")
def list_statements(session: SessionDep, who: Authenticated, status: str | None = None,
                    period: str | None = None, limit: Limit = 100, offset: Offset = 0):
    rows, total = svc.list_statements(session, who, limit, offset, status, period)
    return Page[StatementOut](items=rows, total=total, limit=limit, offset=offset)


@router.get("/statements/{statement_id}", response_model=StatementDetail,
            summary="One statement with its lines (its MO; its FSP once issued; "
                    "regulator, admin)")
def get_statement(statement_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return _detail(session, svc.get_statement(session, statement_id, who))


@router.post("/statements/{statement_id}/issue", response_model=StatementDetail,
             summary="Issue a draft statement and its invoice to the FSP (its MO)")
def issue_statement(statement_id: uuid.UUID, session: SessionDep, who: MoOnly):
    return _detail(session, svc.issue(session, statement_id, who))


@router.post("/statements/{statement_id}/accept", response_model=StatementDetail,
             summary="Accept an issued statement (its FSP)")
def accept_statement(statement_id: uuid.UUID, session: SessionDep, who: FspOnly):
    return _detail(session, svc.accept(session, statement_id, who))


def _invoice(session, invoice_id: uuid.UUID, who: Principal) -> Invoice:  # type: ignore[no-untyped-def]
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound("invoice not found")
    try:
        svc.get_statement(session, inv.statement_id, who)
    except NotFound:
        raise NotFound("invoice not found") from None
    return inv


@router.get("/invoices", response_model=Page[InvoiceOut],
            summary="Self-billed invoices, adjustments and credit notes (an MO its own, an "
                    "FSP those of its issued statements; regulator, admin all)")
def list_invoices(session: SessionDep, who: Authenticated, statement_id: uuid.UUID | None = None,
                  limit: Limit = 100, offset: Offset = 0):
    from sqlalchemy import func, select

    from flexplatform.reporting.settlement_models import Statement

    q = select(Invoice).join(Statement, Statement.id == Invoice.statement_id)
    if who.is_("mo"):
        q = q.where(Invoice.mo_id == who.id)
    elif who.is_("fsp"):
        q = q.where(Invoice.fsp_id == who.id, Statement.status != "draft")
    if statement_id is not None:
        q = q.where(Invoice.statement_id == statement_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Invoice.number).limit(limit).offset(offset)).all()
    return Page[InvoiceOut](items=rows, total=total, limit=limit, offset=offset)


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut,
            summary="One invoice as JSON (as for the list)")
def get_invoice(invoice_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return _invoice(session, invoice_id, who)


@router.get("/invoices/{invoice_id}/csv", summary="One invoice as CSV, one row per line "
            "(as for the list)", responses={200: {"content": {"text/csv": {}}}})
def get_invoice_csv(invoice_id: uuid.UUID, session: SessionDep, who: Authenticated):
    from sqlalchemy import select

    inv = _invoice(session, invoice_id, who)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    head = [inv.number, inv.issue_date.isoformat(), str(inv.fsp_id), str(inv.mo_id),
            inv.period_label, inv.currency]
    for ln in session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)
                              .order_by(InvoiceLine.line_no)):
        w.writerow([*head, ln.line_no, ln.kind, ln.description, ln.contract_id, ln.reference,
                    ln.quantity, ln.unit, ln.unit_price, ln.multiplier, ln.net, ln.vat_rate,
                    ln.vat, ln.gross])
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"content-disposition": f'attachment; filename="{inv.number}.csv"'})


@router.post("/statements/{statement_id}/disputes", status_code=201, response_model=DisputeOut,
             summary="Dispute a line of an issued statement (its FSP)")
def raise_dispute(statement_id: uuid.UUID, body: DisputeCreate, session: SessionDep,
                  who: FspOnly):
    return disputes.raise_dispute(session, statement_id, body, who)


@router.get("/disputes", response_model=Page[DisputeOut],
            summary="Disputes (FSP and MO their own; regulator, admin all)")
def list_disputes(session: SessionDep, who: Authenticated, status: str | None = None,
                  limit: Limit = 100, offset: Offset = 0):
    rows, total = disputes.list_for(session, who, limit, offset, status)
    return Page[DisputeOut](items=rows, total=total, limit=limit, offset=offset)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut,
            summary="One dispute (its FSP and MO, regulator, admin)")
def get_dispute(dispute_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return disputes.get(session, dispute_id, who)


@router.post("/disputes/{dispute_id}/response", response_model=DisputeOut,
             summary="Accept (adjustment or credit note) or reject (with a reason) a raised "
                     "dispute (its MO)")
def respond(dispute_id: uuid.UUID, body: DisputeResponse, session: SessionDep, who: MoOnly):
    return disputes.respond(session, dispute_id, body, who)


@router.post("/disputes/{dispute_id}/escalation", response_model=DisputeOut,
             summary="Escalate a rejected or overdue dispute to the platform (its FSP or MO)")
def escalate(dispute_id: uuid.UUID, body: Escalation, session: SessionDep, who: MoOrFsp):
    return disputes.escalate(session, dispute_id, body.reason, who)


@router.post("/disputes/{dispute_id}/decision", response_model=DisputeOut,
             summary="Decide an escalated dispute (admin, the independent route to recourse)")
def decide(dispute_id: uuid.UUID, body: Decision, session: SessionDep, who: AdminOnly):
    return disputes.decide(session, dispute_id, body, who)


@router.get("/verifications", response_model=Page[VerificationOut],
            summary="Verified instruction-periods in a range, latest versions unless "
                    "all_versions (FSP and MO their own; regulator, admin all)")
def list_verifications(session: SessionDep, who: Authenticated, start: AwareDatetime,
                       end: AwareDatetime, all_versions: bool = False,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                       offset: Offset = 0):
    if end <= start or (end - start).days > 62:
        raise InvalidInput("bad range", errors=[
            field_error(["query", "end"], "must be after start and at most 62 days later")])
    fsp = who.id if who.is_("fsp") else None
    mo = who.id if who.is_("mo") else None
    rows, total = verification.page(session, start, end, fsp_id=fsp, mo_id=mo,
                                    latest=not all_versions, limit=limit, offset=offset)
    return Page[VerificationOut](items=[VerificationOut.model_validate(v) for v in rows],
                                 total=total, limit=limit, offset=offset)
