"""Regulator pages: home and audit-chain verification (clearing rounds are in results.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform import audit
from flexplatform.auth import Principal, SessionDep
from flexplatform.competition import results
from flexplatform.competition import service as competition
from flexplatform.competition.models import MarketStatus, RoundStatus
from flexplatform.governance import service as governance
from flexplatform.registration import service as registration
from flexplatform.registration.models import Role
from flexplatform.web.access import OversightPage, RegulatorPage
from flexplatform.web.render import render

router = APIRouter()


def market_counts(session: Any, who: Principal) -> dict[str, int]:
    return {s.value: competition.list_markets(session, who, s, 1, 0)[1] for s in MarketStatus}


@router.get("/regulator")
def home(request: Request, session: SessionDep, who: RegulatorPage) -> Response:
    rounds = results.rounds(session, who, 10, 0)
    return render(request, "regulator/home.html", {
        "rounds": rounds, "failed": [r for r in rounds if r.status == RoundStatus.failed],
        "markets": market_counts(session, who),
        "participants": {r.value: registration.list_participants(session, r, 1, 0)[1]
                         for r in Role}})


@router.get("/regulator/audit")
def audit_page(request: Request, session: SessionDep, who: OversightPage) -> Response:
    report = audit.verify(session)
    return render(request, "regulator/audit.html", {
        "report": report, "events": governance.latest_audit_events(session, 50)})
