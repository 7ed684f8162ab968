"""Settlement runs and statements: the rules; tasks and routes own the transactions.

A run settles one market's statement period. ``prepare`` takes it under a lease and
freezes its spec (``settle_inputs``); each shard settles its meters and stores its
result; ``store`` merges the shards (``settlement.merge``: order-independent, so the
grouping never changes a byte), writes the run document, the verifications, one
statement per (MO, FSP) with its lines and one self-billed invoice per statement.
A redelivered shard or merge repeats nothing: shards overwrite identical bytes, and a
run already done is not stored twice.

Statement life: draft (as computed) -> issued (by the MO) -> accepted (by the FSP) or
disputed (the FSP raises a dispute, ``disputes.py``). A re-run of a period is the next
version and only while every statement of the latest run is still a draft; after
issue, corrections go through disputes (adjustment lines and their documents).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flexplatform import audit, runs
from flexplatform.auth import Principal
from flexplatform.competition.models import Market
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.reporting import frames, settle_inputs, verification
from flexplatform.reporting.settlement_models import (
    Invoice,
    InvoiceLine,
    SettlementRun,
    SettlementSettings,
    SettlementShard,
    Statement,
    StatementLine,
)
from settlement import merge, settle_shard
from settlement.document import FORMAT, _inputs_json, _section, outputs_json
from settlement.invoices import invoices_for
from settlement.schema import sha256_hex


def _oversight(who: Principal) -> bool:
    return who.is_("admin", "regulator")


# ------------------------------------------------------------------ settings
def get_settings_row(session: Session, market_id: uuid.UUID, who: Principal) -> SettlementSettings:
    m = session.get(Market, market_id)
    if m is None or not (_oversight(who) or m.mo_id == who.id):
        raise NotFound("market not found")
    return settle_inputs.settings_for(session, market_id)


def put_settings(session: Session, market_id: uuid.UUID, data: Any, who: Principal
                 ) -> SettlementSettings:
    if session.get(Market, market_id) is None:
        raise NotFound("market not found")
    if data.payment_rules is not None:
        from settlement import DataError, PaymentRules

        try:
            PaymentRules.from_dict(data.payment_rules)
        except DataError as e:
            raise InvalidInput("invalid payment rules", errors=[
                field_error(["body", "payment_rules", *k.split(".")], v) for k, v in e.errors
            ]) from None
    row = session.get(SettlementSettings, market_id)
    if row is None:
        row = SettlementSettings(market_id=market_id)
        session.add(row)
    row.period, row.vat_rate = data.period, data.vat_rate
    row.payment_rules, row.response_days = data.payment_rules, data.response_days
    session.flush()
    audit.record(session, who.actor, "settlement.settings", "market", market_id,
                 {"period": data.period, "vat_rate": data.vat_rate,
                  "payment_rules": data.payment_rules, "response_days": data.response_days})
    return row


# ------------------------------------------------------------------ runs
def create_run(session: Session, market_id: uuid.UUID, day: dt.date, who: Principal | None,
               trigger: str = "manual") -> SettlementRun:
    """Queue the settlement of the statement period holding ``day`` (next version)."""
    m = session.get(Market, market_id)
    if m is None or (who is not None and not who.is_("admin") and m.mo_id != who.id):
        raise NotFound("market not found")
    st = settle_inputs.settings_for(session, market_id)
    period = settle_inputs.statement_period(st.period, day)
    prev = session.scalar(select(SettlementRun).where(
        SettlementRun.market_id == market_id, SettlementRun.period_label == period.label)
        .order_by(SettlementRun.version.desc()).limit(1).with_for_update())
    if prev is not None:
        if prev.status in ("queued", "running"):
            raise Conflict(f"settlement of {period.label} is already {prev.status}",
                           run_id=str(prev.id))
        issued = session.scalar(select(func.count()).select_from(Statement).where(
            Statement.run_id == prev.id, Statement.status != "draft"))
        if issued:
            raise Conflict(f"statements of {period.label} are issued: correct them through "
                           "disputes, not a re-run", run_id=str(prev.id))
    run = SettlementRun(market_id=market_id, mo_id=m.mo_id, period_label=period.label,
                        period_first=period.first, period_last=period.last,
                        version=(prev.version + 1) if prev else 1, trigger=trigger)
    session.add(run)
    session.flush()
    audit.record(session, who.actor if who else audit.Actor.system(), "settlement.run.queue",
                 "settlement_run", run.id, {"market_id": market_id, "period": period.label,
                                            "version": run.version})
    return run


def prepare(session: Session, run_id: uuid.UUID) -> tuple[dict[str, Any], list[list[str]]] | None:
    """Take the run under a lease and freeze its spec; None when nothing is to be done
    (done, failed, or held by a live worker)."""
    run = session.get(SettlementRun, run_id, with_for_update=True)
    if run is None or run.status in ("done", "failed") or runs.held(run):
        return None
    if run.status == "running" and runs.exhausted(run):
        fail(session, run_id, "the worker was lost twice; settle again by hand")
        return None
    if run.spec is None:
        run.spec = settle_inputs.build_spec(session, run)
    plan = settle_inputs.shard_plan(run.spec)
    run.shards = len(plan)
    runs.take(run)
    session.flush()
    return run.spec, plan


def fail(session: Session, run_id: uuid.UUID, message: str) -> None:
    run = session.get(SettlementRun, run_id, with_for_update=True)
    if run is None or run.status == "done":
        return
    run.status, run.error, run.finished_at = "failed", message[:4000], utcnow()
    runs.release(session, run)
    audit.record(session, audit.Actor.system(), "settlement.run.fail", "settlement_run",
                 run_id, {"error": message[:500]})


def settle_one_shard(session: Session, run_id: uuid.UUID, shard: int) -> str | None:
    """Settle shard ``shard`` and store its result (same bytes on a redelivery)."""
    run = session.get(SettlementRun, run_id)
    if run is None or run.spec is None or run.status != "running":
        return None
    plan = settle_inputs.shard_plan(run.spec)
    inputs = settle_inputs.shard_inputs(session, run.spec, plan[shard], shard == 0)
    data = frames.dumps(settle_shard(inputs))
    sha = hashlib.sha256(data).hexdigest()
    row = session.get(SettlementShard, (run_id, shard))
    if row is None:
        session.add(SettlementShard(run_id=run_id, shard=shard, meters=len(plan[shard]),
                                    payload=data, sha256=sha))
    elif row.sha256 != sha:  # cannot happen for a frozen spec; never silently replaced
        raise RuntimeError(f"shard {shard} of run {run_id} settled differently on a re-run")
    session.flush()
    return sha


def store(session: Session, run_id: uuid.UUID) -> SettlementRun | None:
    """Merge the stored shards into the run's outputs (see the module docstring)."""
    run = session.get(SettlementRun, run_id, with_for_update=True)
    if run is None or run.status != "running":
        return run
    shards = session.scalars(select(SettlementShard).where(SettlementShard.run_id == run_id)
                             .order_by(SettlementShard.shard)).all()
    if len(shards) != run.shards:
        raise RuntimeError(f"run {run_id}: {len(shards)} of {run.shards} shards stored")
    merged = merge(frames.loads(s.payload) for s in shards)
    spec = run.spec
    assert spec is not None
    invoicing = settle_inputs.invoicing(spec)
    whole = settle_inputs.shard_inputs(session, spec, None, True)
    ins = _inputs_json(whole, invoicing)
    out = _section(outputs_json(merged, invoicing))
    run.document = {"format": FORMAT, "inputs": ins,
                    "inputs_sha256": sha256_hex({k: v["sha256"] for k, v in ins.items()}),
                    "outputs": out}
    run.inputs_sha256, run.outputs_sha256 = run.document["inputs_sha256"], out["sha256"]
    parties = _parties(spec)
    verification.store(session, merged, parties, spec["watermark"], run.id)
    _store_statements(session, run, merged, invoicing)
    run.status, run.finished_at = "done", utcnow()
    runs.release(session, run)
    for s in shards:
        session.delete(s)
    audit.record(session, audit.Actor.system(), "settlement.run.done", "settlement_run", run.id,
                 {"inputs_sha256": run.inputs_sha256, "outputs_sha256": run.outputs_sha256,
                  "statements": len(merged.statements.totals)})
    return run


def _parties(spec: dict[str, Any]) -> dict[str, tuple[Any, Any, int]]:
    from settlement.document import table_from_json

    c = table_from_json(spec["contracts"], "contracts").set_index("contract_id")
    i = table_from_json(spec["instructions"], "instructions")
    return {str(r.instruction_id): (uuid.UUID(c.at[r.contract_id, "fsp"]),
                                    uuid.UUID(c.at[r.contract_id, "mo"]), int(r.contract_id))
            for r in i.itertuples(index=False)}


def _store_statements(session: Session, run: SettlementRun, merged: Any, invoicing: Any) -> None:
    st = merged.statements
    numbers = {(f, m, run.period_label): n for (f, m), n in invoicing.numbers.items()}
    invs = {(i.supplier, i.customer): i for i in invoices_for(
        st, numbers, invoicing.issue_date, invoicing.vat, invoicing.vat_by_fsp)}
    for t in st.totals.itertuples(index=False):
        s = Statement(run_id=run.id, market_id=run.market_id, mo_id=uuid.UUID(t.mo),
                      fsp_id=uuid.UUID(t.fsp), period_label=t.period, availability=t.availability,
                      utilisation=t.utilisation, penalties=t.penalties, net=t.net)
        session.add(s)
        session.flush()
        for ln in st.statement(t.fsp, t.mo, t.period).itertuples(index=False):
            session.add(StatementLine(statement_id=s.id, line_no=int(ln.line_no), kind=ln.kind,
                                      contract_id=str(ln.contract_id), reference=str(ln.reference),
                                      quantity_mwh=ln.quantity_mwh, unit_price=ln.unit_price,
                                      multiplier=ln.multiplier, amount=ln.amount))
        store_invoice(session, s, invs[(t.fsp, t.mo)], "invoice")
    session.flush()


def store_invoice(session: Session, s: Statement, inv: Any, kind: str) -> Invoice:
    row = Invoice(number=inv.number, kind=kind, statement_id=s.id, mo_id=s.mo_id,
                  fsp_id=s.fsp_id, period_label=s.period_label, issue_date=inv.issue_date,
                  net=inv.net, vat=inv.vat, gross=inv.gross,
                  document={**inv.to_dict(), "kind": kind})
    session.add(row)
    session.flush()
    for ln in inv.lines:
        session.add(InvoiceLine(invoice_id=row.id, line_no=ln.line_no, kind=ln.kind,
                                description=ln.description[:300], contract_id=ln.contract_id,
                                reference=ln.reference, quantity=ln.quantity, unit=ln.unit,
                                unit_price=ln.unit_price, multiplier=ln.multiplier, net=ln.net,
                                vat_rate=ln.vat_rate, vat=ln.vat, gross=ln.gross))
    return row


def get_run(session: Session, run_id: uuid.UUID, who: Principal) -> SettlementRun:
    run = session.get(SettlementRun, run_id)
    if run is None or not (_oversight(who) or run.mo_id == who.id):
        raise NotFound("settlement run not found")
    return run


def list_runs(session: Session, who: Principal, limit: int, offset: int,
              market_id: uuid.UUID | None = None) -> tuple[list[SettlementRun], int]:
    q = select(SettlementRun)
    if not _oversight(who):
        q = q.where(SettlementRun.mo_id == who.id)
    if market_id is not None:
        q = q.where(SettlementRun.market_id == market_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(SettlementRun.created_at.desc(), SettlementRun.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def lapsed_runs(session: Session, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Runs to (re)start: queued ones and those whose worker stopped renewing."""
    now = now or utcnow()
    return list(session.scalars(select(SettlementRun.id).where(
        (SettlementRun.status == "queued") | runs.lapsed(SettlementRun, now))))


# ------------------------------------------------------------------ statements
def _visible(s: Statement, who: Principal) -> bool:
    if _oversight(who) or s.mo_id == who.id:
        return True
    return s.fsp_id == who.id and s.status != "draft"  # a draft is the MO's until issued


def get_statement(session: Session, sid: uuid.UUID, who: Principal, lock: bool = False
                  ) -> Statement:
    s = session.get(Statement, sid, with_for_update=lock)
    if s is None or not _visible(s, who):
        raise NotFound("statement not found")
    return s


def statement_lines(session: Session, sid: uuid.UUID) -> list[StatementLine]:
    return list(session.scalars(select(StatementLine).where(StatementLine.statement_id == sid)
                                .order_by(StatementLine.line_no)))


def list_statements(session: Session, who: Principal, limit: int, offset: int,
                    status: str | None = None, period: str | None = None
                    ) -> tuple[list[Statement], int]:
    q = select(Statement)
    if who.is_("mo"):
        q = q.where(Statement.mo_id == who.id)
    elif who.is_("fsp"):
        q = q.where(Statement.fsp_id == who.id, Statement.status != "draft")
    if status:
        q = q.where(Statement.status == status)
    if period:
        q = q.where(Statement.period_label == period)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Statement.period_label.desc(), Statement.created_at,
                                      Statement.id).limit(limit).offset(offset)).all()
    return list(rows), total


def _superseded(session: Session, s: Statement) -> bool:
    latest = session.scalar(select(func.max(SettlementRun.version)).where(
        SettlementRun.market_id == s.market_id, SettlementRun.period_label == s.period_label))
    run = session.get(SettlementRun, s.run_id)
    return run is not None and run.version != latest


def issue(session: Session, sid: uuid.UUID, who: Principal) -> Statement:
    s = get_statement(session, sid, who, lock=True)
    if s.mo_id != who.id:
        raise NotFound("statement not found")
    if s.status != "draft":
        raise Conflict(f"statement is {s.status}, not draft")
    if _superseded(session, s):
        raise Conflict("a later settlement run superseded this statement")
    s.status, s.issued_at = "issued", utcnow()
    audit.record(session, who.actor, "statement.issue", "statement", s.id, {"net": s.net})
    from flexplatform.notifications import notify

    notify(session, s.fsp_id, "statement.issued", {"statement_id": str(s.id),
                                                   "period": s.period_label, "net": str(s.net)},
           f"statement.issued:{s.id}")
    return s


def accept(session: Session, sid: uuid.UUID, who: Principal) -> Statement:
    s = get_statement(session, sid, who, lock=True)
    if s.fsp_id != who.id:
        raise NotFound("statement not found")
    if s.status != "issued":
        raise Conflict(f"statement is {s.status}: only an issued statement without open "
                       "disputes is accepted")
    s.status, s.accepted_at = "accepted", utcnow()
    audit.record(session, who.actor, "statement.accept", "statement", s.id, {"net": s.net})
    return s


def add_adjustment(session: Session, s: Statement, amount: Decimal, dispute_id: uuid.UUID,
                   line_no: int, issue_date: dt.date) -> Invoice:
    """An adjustment line on the statement and its own numbered self-billed document:
    an ``adjustment`` (more owed to the FSP) or a ``credit_note`` (less)."""
    import pandas as pd

    from settlement.invoices import VatTerms, make_invoice

    n = (session.scalar(select(func.max(StatementLine.line_no)).where(
        StatementLine.statement_id == s.id)) or 0) + 1
    line = StatementLine(statement_id=s.id, line_no=n, kind="adjustment",
                         contract_id="-", reference=f"dispute {dispute_id} (line {line_no})",
                         quantity_mwh=Decimal("0.000000"), unit_price=Decimal("0.000000"),
                         multiplier=Decimal("1.000000"), amount=amount, dispute_id=dispute_id)
    session.add(line)
    s.adjustments = Decimal(s.adjustments) + amount
    s.net = Decimal(s.net) + amount
    st = settle_inputs.settings_for(session, s.market_id)
    kind = "adjustment" if amount > 0 else "credit_note"
    count = session.scalar(select(func.count()).select_from(Invoice).where(
        Invoice.statement_id == s.id)) or 0
    base = session.scalar(select(Invoice.number).where(Invoice.statement_id == s.id,
                                                       Invoice.kind == "invoice"))
    number = f"{base}-{'A' if amount > 0 else 'C'}{count:02d}"
    frame = pd.DataFrame([{"fsp": str(s.fsp_id), "mo": str(s.mo_id), "period": s.period_label,
                           "line_no": 1, "kind": "utilisation", "contract_id": "-",
                           "reference": line.reference, "quantity_mwh": Decimal("1.000000"),
                           "unit_price": amount, "multiplier": Decimal("1.000000"),
                           "amount": amount}])
    inv = make_invoice(frame, number=number, issue_date=issue_date,
                       vat=VatTerms(Decimal(st.vat_rate)))
    doc = inv.to_dict()
    for ln in doc["lines"]:
        ln["kind"], ln["description"] = kind, f"{kind.replace('_', ' ')}: {line.reference}"
        ln["unit"] = "item"
    row = store_invoice(session, s, inv, kind)
    row.document = {**doc, "kind": kind}
    for il in session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == row.id)):
        il.kind, il.description, il.unit = kind, doc["lines"][0]["description"][:300], "item"
    session.flush()
    return row
