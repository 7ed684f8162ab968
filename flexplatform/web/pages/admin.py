"""Platform admin pages: participants and keys, terms, rule sets (four eyes), clearing now."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import SessionDep, current_terms
from flexplatform.competition import results
from flexplatform.competition import rules as rules_svc
from flexplatform.competition import service as competition
from flexplatform.competition.models import MarketStatus, RoundStatus, RuleSetStatus
from flexplatform.competition.schemas import RuleSetIn
from flexplatform.db import after_commit, utcnow
from flexplatform.errors import DomainError, InvalidInput, NotFound
from flexplatform.queue import enqueue
from flexplatform.registration import service as registration
from flexplatform.registration.models import ApiKey, ParticipantStatus, Role
from flexplatform.registration.schemas import ParticipantCreate, ParticipantUpdate, TermsCreate
from flexplatform.web.access import AdminPage, FormDep
from flexplatform.web.forms import FormErrors, attempt, parse, raw, utc, values
from flexplatform.web.render import redirect, render

router = APIRouter()
PARTICIPANT_FIELDS = ("role", "legal_name", "company_number", "status", "billing_contact.name",
                      "billing_contact.email", "billing_contact.address",
                      "billing_contact.vat_number")
TERMS_FIELDS = ("version", "title", "body", "effective_from")
RULE_FIELDS = ("rules.incompatible_products", "rules.primacy", "rules.pricing",
               "rules.carbon_price", "rules.primacy_order.dso", "rules.primacy_order.eso",
               "rules.primacy_order.supplier", "rationale", "effective_from")
ROLES = [("mo", "Market operator (DSO, NESO, supplier)"), ("fsp", "Flexibility provider"),
         ("regulator", "Regulator"), ("admin", "Platform admin")]


@router.get("/admin")
def home(request: Request, session: SessionDep, who: AdminPage) -> Response:
    now = utcnow()
    open_markets, open_count = competition.list_markets(session, who, MarketStatus.open, 1000,
                                                        0)
    proposed = [r for r in rules_svc.list_all(session) if r.status == RuleSetStatus.proposed]
    rounds = results.rounds(session, who, 20, 0)
    people = {s.value: 0 for s in ParticipantStatus}
    offset, total = 0, 1
    while offset < total:
        rows, total = registration.list_participants(session, None, 1000, offset)
        for p in rows:
            people[p.status.value] += 1
        offset += 1000
    return render(request, "admin/home.html", {
        "terms": current_terms(session), "due": [m for m in open_markets
                                                 if m.gate_close_at <= now],
        "to_approve": [r for r in proposed if r.proposed_by != who.id],
        "mine": [r for r in proposed if r.proposed_by == who.id],
        "failed": [r for r in rounds if r.status == RoundStatus.failed],
        "people": people, "participant_total": total, "open_count": open_count})


# --- participants and keys --------------------------------------------------------------


@router.get("/admin/participants")
def participants(request: Request, session: SessionDep, who: AdminPage, role: str = "",
                 offset: int = 0) -> Response:
    r = Role(role) if role in Role.__members__ else None
    rows, total = registration.list_participants(session, r, 50, max(offset, 0))
    return render(request, "admin/participants.html", {
        "rows": rows, "total": total, "offset": max(offset, 0), "limit": 50, "role": role,
        "roles": ROLES, "base": f"/admin/participants?role={role}" if r else
        "/admin/participants"})


def _participant_form(request: Request, given: dict[str, str],
                      errors: FormErrors | None = None, status: int = 200) -> Response:
    return render(request, "admin/participant_new.html", {
        "v": given, "errors": errors, "roles": ROLES,
        "statuses": [("active", "active"), ("pending", "pending")]}, status=status)


@router.get("/admin/participants/new")
def new_participant(request: Request, who: AdminPage) -> Response:
    return _participant_form(request, {"status": "active"})


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}``: dotted form names back to the model's shape."""
    out: dict[str, Any] = {}
    for k, v in flat.items():
        node = out
        *path, last = k.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = v
    return out


def _key_shown(request: Request, participant: Any, key: str, created: bool) -> Response:
    return render(request, "admin/key_shown.html", {"p": participant, "key": key,
                                                    "created": created}, status=201)


@router.post("/admin/participants/new")
def create_participant(request: Request, session: SessionDep, who: AdminPage,
                       form: FormDep) -> Response:
    data = nested(values(form, PARTICIPANT_FIELDS))
    data.setdefault("billing_contact", {})
    try:
        body = parse(ParticipantCreate, data)
        p, key = attempt(session, lambda: registration.create_participant(session, body,
                                                                          who.actor))
    except InvalidInput as e:
        return _participant_form(request, raw(form, PARTICIPANT_FIELDS),
                                 FormErrors(e.errors, PARTICIPANT_FIELDS, e.detail), 422)
    return _key_shown(request, p, key, created=True)


@router.get("/admin/participants/{pid}")
def participant(request: Request, pid: uuid.UUID, session: SessionDep, who: AdminPage
                ) -> Response:
    p = registration.get_participant(session, pid, who)
    return render(request, "admin/participant.html", {
        "p": p, "keys": registration.list_keys(session, pid, who)})


@router.post("/admin/participants/{pid}/status")
def set_status(pid: uuid.UUID, session: SessionDep, who: AdminPage, form: FormDep
               ) -> Response:
    back = f"/admin/participants/{pid}"
    try:
        body = parse(ParticipantUpdate, {"status": form.get("status")})
        p = attempt(session, lambda: registration.update_participant(session, pid, body, who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect(back, error=f"Not changed: {e.detail}")
    return redirect(back, notice=f"{p.legal_name} is now {p.status.value}")


@router.post("/admin/participants/{pid}/keys")
def issue_key(request: Request, pid: uuid.UUID, session: SessionDep, who: AdminPage,
              form: FormDep) -> Response:
    label = str(form.get("label") or "")[:100]
    _key, full = attempt(session, lambda: registration.create_key(session, pid, label, who))
    return _key_shown(request, registration.get_participant(session, pid, who), full,
                      created=False)


@router.post("/admin/keys/{key_id}/revoke")
def revoke_key(key_id: uuid.UUID, session: SessionDep, who: AdminPage) -> Response:
    key: ApiKey = attempt(session, lambda: registration.revoke_key(session, key_id, who))
    return redirect(f"/admin/participants/{key.participant_id}",
                    notice=f"Key {key.prefix} revoked; its sessions are ended")


# --- terms ------------------------------------------------------------------------------


def _terms_page(request: Request, session: Any, given: dict[str, str],
                errors: FormErrors | None = None, status: int = 200) -> Response:
    return render(request, "admin/terms.html", {
        "versions": registration.list_terms(session), "current": current_terms(session),
        "v": given, "errors": errors}, status=status)


@router.get("/admin/terms")
def terms(request: Request, session: SessionDep, who: AdminPage) -> Response:
    return _terms_page(request, session, {})


@router.post("/admin/terms")
def publish_terms(request: Request, session: SessionDep, who: AdminPage, form: FormDep
                  ) -> Response:
    data = values(form, TERMS_FIELDS)
    if "effective_from" in data:
        data["effective_from"] = utc(data["effective_from"])
    try:
        body = parse(TermsCreate, data)
        tv = attempt(session, lambda: registration.create_terms(session, body, who.actor))
    except DomainError as e:
        if e.status not in (409, 422):
            raise
        errs = e.errors or [{"field": "version", "message": e.detail}]
        return _terms_page(request, session, raw(form, TERMS_FIELDS),
                           FormErrors(errs, TERMS_FIELDS, e.detail), 422)
    return redirect("/admin/terms", notice=f"Terms version {tv.version} published")


# --- rules ------------------------------------------------------------------------------


def _rules_page(request: Request, session: Any, who: Any, given: dict[str, str] | None = None,
                errors: FormErrors | None = None, status: int = 200) -> Response:
    version, cur = rules_svc.in_force(session)
    if given is None:
        given = {"rules.incompatible_products": "\n".join(", ".join(p) for p in
                                                          cur.incompatible_products),
                 "rules.primacy": cur.primacy, "rules.pricing": cur.pricing,
                 "rules.carbon_price": f"{cur.carbon_price:g}",
                 **{f"rules.primacy_order.{k}": str(v) for k, v in cur.primacy_order.items()}}
    return render(request, "admin/rules.html", {
        "sets": list(reversed(rules_svc.list_all(session))), "version": version, "cur": cur,
        "v": given, "errors": errors, "me": who.id}, status=status)


@router.get("/admin/rules")
def rules(request: Request, session: SessionDep, who: AdminPage) -> Response:
    return _rules_page(request, session, who)


def rules_input(form: Any) -> dict[str, Any]:
    data = nested(values(form, RULE_FIELDS))
    r = data.setdefault("rules", {})
    pairs = r.pop("incompatible_products", "")
    r["incompatible_products"] = [[x for x in re.split(r"[,\s]+", line.strip()) if x]
                                  for line in pairs.splitlines() if line.strip()]
    if "effective_from" in data:
        data["effective_from"] = utc(data["effective_from"])
    return data


@router.post("/admin/rules")
def propose_rules(request: Request, session: SessionDep, who: AdminPage, form: FormDep
                  ) -> Response:
    try:
        body = parse(RuleSetIn, rules_input(form))
        rs = attempt(session, lambda: rules_svc.propose(session, body, who))
    except InvalidInput as e:
        return _rules_page(request, session, who, raw(form, RULE_FIELDS),
                           FormErrors(e.errors, RULE_FIELDS, e.detail), 422)
    return redirect("/admin/rules", notice=f"Rule set {rs.version} proposed; another admin "
                                           "must approve it")


def _decide(session: Any, version: int, approve: bool, who: Any) -> Response:
    try:
        rs = attempt(session, lambda: rules_svc.decide(session, version, approve, who))
    except DomainError as e:
        if isinstance(e, NotFound):
            raise
        return redirect("/admin/rules", error=f"Not done: {e.detail}")
    verb = "approved; in force from " + f"{rs.effective_from:%d %b %Y %H:%M} UTC" if approve \
        else "rejected"
    return redirect("/admin/rules", notice=f"Rule set {version} {verb}")


@router.post("/admin/rules/{version}/approve")
def approve_rules(version: int, session: SessionDep, who: AdminPage) -> Response:
    return _decide(session, version, True, who)


@router.post("/admin/rules/{version}/reject")
def reject_rules(version: int, session: SessionDep, who: AdminPage) -> Response:
    return _decide(session, version, False, who)


# --- clearing ---------------------------------------------------------------------------


@router.post("/admin/clearings/run")
def run_clearing(session: SessionDep, who: AdminPage) -> Response:
    """Close due gates and clear now, exactly as ``POST /api/v1/clearings/run`` does."""
    after_commit(session, lambda: enqueue("flex.competition.scan_gate_closures"))
    return redirect("/clearings", notice="Clearing started: every market past its gate is "
                                         "closed and cleared in one round")
