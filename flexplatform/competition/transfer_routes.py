"""Secondary trading endpoints: transfers, offers, the MO's consent, payments between FSPs."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter

from flexplatform.auth import Authenticated, FspOrOversight, FspTrading, MoTrading, SessionDep
from flexplatform.competition import transfer_clearing, transfers
from flexplatform.competition.transfer_schemas import (
    BoardEntry,
    DecisionIn,
    OfferIn,
    OfferOut,
    PaymentOut,
    TransferClearingOut,
    TransferIn,
    TransferOut,
    TransferSettingsIn,
    TransferSettingsOut,
)
from flexplatform.pagination import Limit, Offset, Page, page

router = APIRouter(tags=["trading"])
Status = Literal["open", "clearing", "awaiting_approval", "completed", "unfilled",
                 "withdrawn", "rejected", "expired", "failed"]


@router.post("/transfers", status_code=201, response_model=TransferOut,
             summary="Offer (part of) your contracted obligation for transfer (fsp, terms "
                     "accepted)")
def create_transfer(body: TransferIn, session: SessionDep, who: FspTrading):
    return TransferOut.model_validate(transfers.create(session, body, who))


@router.get("/transfers", response_model=Page[TransferOut],
            summary="Transfers the caller is party to: holder or offerer (fsp), its "
                    "contracts' (mo), all (regulator, admin)")
def list_transfers(session: SessionDep, who: Authenticated, status: Status | None = None,
                   limit: Limit = 100, offset: Offset = 0):
    rows, total = transfers.list_for(session, who, status, limit, offset)
    return page(TransferOut, rows, total, limit, offset)


@router.get("/transfers/board", response_model=Page[BoardEntry],
            summary="Open transfers taking offers, without the holder's identity (fsp, "
                    "regulator, admin)")
def board(session: SessionDep, who: FspOrOversight, limit: Limit = 100, offset: Offset = 0):
    rows, total = transfers.board(session, who, limit, offset)
    return Page[BoardEntry](items=[BoardEntry.model_validate(r) for r in rows], total=total,
                            limit=limit, offset=offset)


@router.get("/transfers/{transfer_id}", response_model=TransferOut,
            summary="One transfer (its parties: holder, MO, offerers; regulator, admin)")
def get_transfer(transfer_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return TransferOut.model_validate(transfers.get(session, transfer_id, who))


@router.post("/transfers/{transfer_id}/withdraw", response_model=TransferOut,
             summary="Withdraw an open transfer (its holder)")
def withdraw_transfer(transfer_id: uuid.UUID, session: SessionDep, who: FspTrading):
    return TransferOut.model_validate(transfers.withdraw(session, transfer_id, who))


@router.post("/transfers/{transfer_id}/close", response_model=TransferOut,
             summary="End the offer period now and pick the offers (its holder)")
def close_transfer(transfer_id: uuid.UUID, session: SessionDep, who: FspTrading):
    return TransferOut.model_validate(transfers.close_now(session, transfer_id, who))


@router.post("/transfers/{transfer_id}/approve", response_model=TransferOut,
             summary="Consent to a transfer awaiting approval (its mo)")
def approve_transfer(transfer_id: uuid.UUID, session: SessionDep, who: MoTrading,
                     body: DecisionIn | None = None):
    note = body.note if body else None
    return TransferOut.model_validate(transfer_clearing.approve(session, transfer_id, who, note))


@router.post("/transfers/{transfer_id}/reject", response_model=TransferOut,
             summary="Refuse a transfer awaiting approval (its mo)")
def reject_transfer(transfer_id: uuid.UUID, session: SessionDep, who: MoTrading,
                    body: DecisionIn | None = None):
    note = body.note if body else None
    return TransferOut.model_validate(transfer_clearing.reject(session, transfer_id, who, note))


@router.get("/transfers/{transfer_id}/clearing", response_model=TransferClearingOut,
            summary="The clearing run over the transfer: snapshot and result with their "
                    "SHA-256 (holder, mo, regulator, admin)")
def transfer_clearing_run(transfer_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return TransferClearingOut.model_validate(transfers.clearing_of(session, transfer_id, who))


@router.post("/transfers/{transfer_id}/offers", status_code=201, response_model=OfferOut,
             summary="Offer one of your assets to take over the transfer (fsp, terms accepted)")
def submit_offer(transfer_id: uuid.UUID, body: OfferIn, session: SessionDep, who: FspTrading):
    return OfferOut.model_validate(transfers.submit_offer(session, transfer_id, body, who))


@router.get("/transfers/{transfer_id}/offers", response_model=list[OfferOut],
            summary="Offers on a transfer: an offerer its own; holder and MO all after the "
                    "deadline; regulator, admin")
def list_offers(transfer_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return [OfferOut.model_validate(o) for o in transfers.list_offers(session, transfer_id, who)]


@router.get("/transfer-offers/{offer_id}", response_model=OfferOut,
            summary="One offer (its fsp; holder and MO after the deadline; regulator, admin)")
def get_offer(offer_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return OfferOut.model_validate(transfers.get_offer(session, offer_id, who))


@router.post("/transfer-offers/{offer_id}/withdraw", response_model=OfferOut,
             summary="Withdraw an offer before the deadline (its fsp)")
def withdraw_offer(offer_id: uuid.UUID, session: SessionDep, who: FspTrading):
    return OfferOut.model_validate(transfers.withdraw_offer(session, offer_id, who))


@router.get("/transfer-payments", response_model=Page[PaymentOut],
            summary="Payments between FSPs from completed transfers: an FSP its own, an MO "
                    "its transfers', regulator and admin all")
def payments(session: SessionDep, who: Authenticated, transfer_id: uuid.UUID | None = None,
             limit: Limit = 100, offset: Offset = 0):
    rows, total = transfers.payments(session, who, transfer_id, limit, offset)
    return page(PaymentOut, rows, total, limit, offset)


@router.get("/markets/{market_id}/transfer-settings", response_model=TransferSettingsOut,
            summary="The market's consent rule for transfers (anyone who may see the market)")
def get_settings(market_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return TransferSettingsOut.model_validate(transfers.get_settings(session, market_id, who))


@router.put("/markets/{market_id}/transfer-settings", response_model=TransferSettingsOut,
            summary="Set the market's consent rule: automatic, or approval within minutes "
                    "(its mo)")
def put_settings(market_id: uuid.UUID, body: TransferSettingsIn, session: SessionDep,
                 who: MoTrading):
    return TransferSettingsOut.model_validate(
        transfers.put_settings(session, market_id, body, who))
