"""Secondary trading pages: the transfers a participant is party to, the FSPs' board of
open transfers, one transfer with its offers and payments, and the MO's consent.

Reads and the two actions go through the services the API uses
(:mod:`flexplatform.competition.transfers`, :mod:`~flexplatform.competition.transfer_clearing`),
so a page never shows or does what the API would refuse.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from flexplatform.auth import SessionDep
from flexplatform.competition import transfer_clearing, transfers
from flexplatform.errors import DomainError, Forbidden, NotFound
from flexplatform.web.access import AnyPage, FormDep, MoTradingPage
from flexplatform.web.render import add_nav, redirect, render

router = APIRouter()
add_nav("fsp", "Transfers", "/transfers")
add_nav("mo", "Transfers", "/transfers")


@router.get("/transfers")
def transfer_list(request: Request, session: SessionDep, who: AnyPage, offset: int = 0
                  ) -> Response:
    rows, total = transfers.list_for(session, who, None, 50, max(offset, 0))
    board = transfers.board(session, who, 50, 0)[0] if who.is_("fsp", "regulator", "admin") \
        else []
    return render(request, "trading/transfers.html", {
        "transfers": rows, "total": total, "offset": max(offset, 0), "limit": 50,
        "board": board, "base": "/transfers"})


@router.get("/transfers/{transfer_id}")
def transfer_page(request: Request, transfer_id: uuid.UUID, session: SessionDep,
                  who: AnyPage) -> Response:
    t = transfers.get(session, transfer_id, who)
    try:
        offers = list(transfers.list_offers(session, transfer_id, who))
        sealed = False
    except Forbidden:
        offers, sealed = [], True
    pays = transfers.payments(session, who, transfer_id, 500, 0)[0]
    return render(request, "trading/transfer.html", {
        "t": t, "offers": offers, "sealed": sealed, "payments": pays,
        "can_decide": t.status == "awaiting_approval" and t.mo_id == who.id})


def _decide(session: SessionDep, transfer_id: uuid.UUID, who: MoTradingPage, form: FormDep,
            approve: bool) -> Response:
    back = f"/transfers/{transfer_id}"
    note = str(form.get("note") or "").strip()[:2000] or None
    try:
        fn = transfer_clearing.approve if approve else transfer_clearing.reject
        t = fn(session, transfer_id, who, note)
    except NotFound:
        raise
    except DomainError as e:
        return redirect(back, error=e.detail)
    return redirect(back, notice=f"transfer {t.status}")


@router.post("/transfers/{transfer_id}/approve")
def approve(transfer_id: uuid.UUID, session: SessionDep, who: MoTradingPage, form: FormDep
            ) -> Response:
    return _decide(session, transfer_id, who, form, True)


@router.post("/transfers/{transfer_id}/reject")
def reject(transfer_id: uuid.UUID, session: SessionDep, who: MoTradingPage, form: FormDep
           ) -> Response:
    return _decide(session, transfer_id, who, form, False)
