"""Competition endpoints: markets, needs, bids, rule sets, clearing results, notifications."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from flexplatform.auth import (
    AdminMoOrFsp,
    AdminOnly,
    Authenticated,
    FspOnly,
    FspTrading,
    MoOrOversight,
    MoTrading,
    Public,
    SessionDep,
)
from flexplatform.competition import finality, results, rules, service
from flexplatform.competition.models import BidStatus, MarketStatus
from flexplatform.competition.schemas import (
    AwardOut,
    BidAmend,
    BidBulkIn,
    BidBulkOut,
    BidIn,
    BidOut,
    BidValidation,
    ClearingOut,
    HoldRelease,
    HoldRerun,
    MarketIn,
    MarketOut,
    NotificationOut,
    RuleSetIn,
    RuleSetOut,
)
from flexplatform.config import get_settings
from flexplatform.idempotency import run_once
from flexplatform.notifications import list_for
from flexplatform.pagination import Limit, Offset, Page, page
from flexplatform.validation import Version

router = APIRouter()
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


# --- markets ----------------------------------------------------------------------------

@router.post("/markets", status_code=201, response_model=MarketOut, tags=["markets"],
             summary="Create a market with its needs (mo, terms accepted)")
def create_market(body: MarketIn, session: SessionDep, who: MoTrading):
    return MarketOut.model_validate(service.create_market(session, body, who))


@router.get("/markets", response_model=Page[MarketOut], tags=["markets"],
            summary="Markets: an MO its own; FSPs all but drafts; regulator and admin all")
def list_markets(session: SessionDep, who: Authenticated, status: MarketStatus | None = None,
                 limit: Limit = 100, offset: Offset = 0):
    rows, total = service.list_markets(session, who, status, limit, offset)
    return page(MarketOut, rows, total, limit, offset)


@router.get("/markets/{market_id}", response_model=MarketOut, tags=["markets"],
            summary="One market (public once opened; drafts to its MO and oversight)")
def get_market(market_id: uuid.UUID, session: SessionDep, who: Public):
    return MarketOut.model_validate(service.get_market(session, market_id, who))


@router.post("/markets/{market_id}/open", response_model=MarketOut, tags=["markets"],
             summary="Open a draft market for bids (its mo)")
def open_market(market_id: uuid.UUID, session: SessionDep, who: MoTrading):
    return MarketOut.model_validate(service.transition(session, market_id, "open", who))


@router.post("/markets/{market_id}/cancel", response_model=MarketOut, tags=["markets"],
             summary="Cancel a draft or open market (its mo)")
def cancel_market(market_id: uuid.UUID, session: SessionDep, who: MoTrading):
    return MarketOut.model_validate(service.transition(session, market_id, "cancel", who))


@router.get("/markets/{market_id}/schedule", tags=["results"],
            summary="Cleared schedule per need: awards per period per asset, cost, unmet, "
                    "prices (its mo, regulator, admin)")
def schedule(market_id: uuid.UUID, session: SessionDep,
             who: MoOrOversight):
    return results.schedule(session, market_id, who)


# --- bids -------------------------------------------------------------------------------

@router.post("/bids", status_code=201, response_model=BidOut, tags=["bids"],
             summary="Submit a bid (fsp, terms accepted); honours Idempotency-Key")
def submit_bid(body: BidIn, session: SessionDep, who: FspTrading,
               idempotency_key: IdemKey = None):
    def run() -> dict[str, Any]:
        return BidOut.model_validate(service.submit_bid(session, body, who)).model_dump(
            mode="json")

    return _replayable(*run_once(session, who.id, idempotency_key,
                                 body.model_dump(mode="json"), run))


@router.post("/bids/bulk", status_code=201, response_model=BidBulkOut, tags=["bids"],
             summary="Submit up to 50,000 bids, all or nothing (fsp, terms accepted); "
                     "honours Idempotency-Key")
def submit_bulk(body: BidBulkIn, session: SessionDep, who: FspTrading,
                idempotency_key: IdemKey = None):
    def run() -> dict[str, Any]:
        ids = service.submit_bulk(session, body.bids, who, get_settings().max_bulk_bids)
        return BidBulkOut(created=len(ids), ids=ids).model_dump(mode="json")

    return _replayable(*run_once(session, who.id, idempotency_key,
                                 body.model_dump(mode="json"), run))


def _replayable(out: dict[str, Any], status: int, replayed: bool) -> JSONResponse:
    return JSONResponse(out, status_code=status,
                        headers={"Idempotent-Replayed": "true"} if replayed else None)


@router.post("/bids/validate", response_model=BidValidation, tags=["bids"],
             summary="Would this bid be eligible, and what would it conflict with? (fsp)")
def validate_bid(body: BidIn, session: SessionDep, who: FspOnly):
    return service.validate_bid(session, body, who)


@router.get("/bids", response_model=Page[BidOut], tags=["bids"],
            summary="Bids: an FSP its own; an MO those on its market after gate closure; "
                    "regulator and admin all")
def list_bids(session: SessionDep, who: Authenticated, market_id: uuid.UUID | None = None,
              status: BidStatus | None = None, limit: Limit = 100, offset: Offset = 0):
    rows, total = service.list_bids(session, who, market_id, status, limit, offset)
    return page(BidOut, rows, total, limit, offset)


@router.get("/bids/{bid_id}", response_model=BidOut, tags=["bids"],
            summary="One bid with its status and rejection reasons (its fsp; the need's mo "
                    "after gate closure; regulator; admin)")
def get_bid(bid_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return BidOut.model_validate(service.read_bid(session, bid_id, who))


@router.patch("/bids/{bid_id}", response_model=BidOut, tags=["bids"],
              summary="Amend a bid before gate closure (its fsp)")
def amend_bid(bid_id: uuid.UUID, body: BidAmend, session: SessionDep, who: FspTrading):
    return BidOut.model_validate(service.amend_bid(session, bid_id, body, who))


@router.post("/bids/{bid_id}/withdraw", response_model=BidOut, tags=["bids"],
             summary="Withdraw a bid before gate closure (its fsp)")
def withdraw_bid(bid_id: uuid.UUID, session: SessionDep, who: FspTrading):
    return BidOut.model_validate(service.withdraw_bid(session, bid_id, who))


@router.get("/awards", response_model=Page[AwardOut], tags=["results"],
            summary="Contracts (awards per bid-period): an FSP its own, an MO its own, "
                    "regulator and admin all")
def awards(session: SessionDep, who: Authenticated, market_id: uuid.UUID | None = None,
           limit: Annotated[int, Query(ge=1, le=10000)] = 1000, offset: Offset = 0):
    rows, total = results.awards(session, who, market_id, limit, offset)
    return page(AwardOut, rows, total, limit, offset)


# --- rules ------------------------------------------------------------------------------

@router.get("/rules", response_model=list[RuleSetOut], tags=["rules"],
            summary="Every rule set version with its status (public)")
def list_rules(session: SessionDep, who: Public):
    return [RuleSetOut.model_validate(r) for r in rules.list_all(session)]


@router.get("/rules/current", tags=["rules"], summary="The rules in force now (public)")
def current_rules(session: SessionDep, who: Public):
    version, r = rules.in_force(session)
    return {"version": version, "rules": r.model_dump(mode="json")}


@router.post("/rules", status_code=201, response_model=RuleSetOut, tags=["rules"],
             summary="Propose a rule change (admin)")
def propose_rules(body: RuleSetIn, session: SessionDep, who: AdminOnly):
    return RuleSetOut.model_validate(rules.propose(session, body, who))


@router.post("/rules/{version}/approve", response_model=RuleSetOut, tags=["rules"],
             summary="Approve a proposed rule change (an admin other than the proposer)")
def approve_rules(version: Version, session: SessionDep, who: AdminOnly):
    return RuleSetOut.model_validate(rules.decide(session, version, True, who))


@router.post("/rules/{version}/reject", response_model=RuleSetOut, tags=["rules"],
             summary="Reject a proposed rule change (an admin other than the proposer)")
def reject_rules(version: Version, session: SessionDep, who: AdminOnly):
    return RuleSetOut.model_validate(rules.decide(session, version, False, who))


# --- clearings and notifications --------------------------------------------------------

@router.get("/clearings", response_model=list[ClearingOut], tags=["results"],
            summary="Clearing rounds the caller took part in (all for regulator, admin); "
                    "an MO or FSP sees only its own markets of each")
def clearings(session: SessionDep, who: Authenticated, limit: Limit = 100, offset: Offset = 0):
    return [results.summary(session, r, who)
            for r in results.rounds(session, who, limit, offset)]


@router.get("/clearings/{round_id}", response_model=ClearingOut, tags=["results"],
            summary="One clearing round (participants in it: their own markets; regulator, "
                    "admin: whole)")
def clearing(round_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return results.summary(session, results.round_for(session, round_id, who), who)


@router.post("/clearings/{round_id}/release", response_model=ClearingOut, tags=["results"],
             summary="Release a held round's result as the market result, with the reason "
                     "(admin)")
def release_held(round_id: uuid.UUID, body: HoldRelease, session: SessionDep, who: AdminOnly):
    return ClearingOut.model_validate(finality.release(session, round_id, body.reason, who))


@router.post("/clearings/{round_id}/rerun", response_model=ClearingOut, tags=["results"],
             summary="Solve a held round again with a longer time limit, with the reason "
                     "(admin)")
def rerun_held(round_id: uuid.UUID, body: HoldRerun, session: SessionDep, who: AdminOnly):
    return ClearingOut.model_validate(
        finality.rerun(session, round_id, body.time_limit_s, body.reason, who))


@router.get("/clearings/{round_id}/snapshot", tags=["results"],
            summary="The exact snapshot solved (regulator, admin: whole; MO, FSP: their part)")
def clearing_snapshot(round_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return results.document(session, round_id, who, "snapshot")


@router.get("/clearings/{round_id}/result", tags=["results"],
            summary="The exact result (regulator, admin: whole; MO, FSP: their part)")
def clearing_result(round_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return results.document(session, round_id, who, "result")


@router.post("/clearings/run", tags=["results"],
             summary="Close due gates and clear now, instead of waiting for the scheduler (admin)")
def run_clearing(session: SessionDep, who: AdminOnly):
    from flexplatform.db import after_commit
    from flexplatform.queue import enqueue

    after_commit(session, lambda: enqueue("flex.competition.scan_gate_closures"))
    return {"enqueued": "flex.competition.scan_gate_closures"}


@router.get("/notifications", response_model=list[NotificationOut], tags=["notifications"],
            summary="The caller's notifications, newest first (mo, fsp, admin)")
def notifications(session: SessionDep, who: AdminMoOrFsp,
                  limit: Limit = 100, offset: Offset = 0,
                  kind: Annotated[str | None, Query(max_length=40)] = None):
    return [NotificationOut.model_validate(n)
            for n in list_for(session, who.id, limit, offset, kind=kind)]
