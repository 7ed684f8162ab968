"""Monitoring (regulator), ratings (by visibility) and advice (FSP; public for prospects)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flexplatform.auth import AdminOrRegulator, Authenticated, FspOnly, Public, SessionDep
from flexplatform.pagination import Limit, Offset, Page, page
from flexplatform.transparency import advice, monitoring, ratings
from flexplatform.transparency.schemas_monitoring import (
    AdviceOut,
    FlagOut,
    ProspectIn,
    RatingOut,
    RuleOut,
    RunIn,
    RunOut,
    SubjectKind,
)

router = APIRouter()
Cost = Annotated[float, Query(ge=0, le=100_000, allow_inf_nan=False)]
Short = Annotated[str | None, Query(max_length=80)]


@router.get("/monitoring/rules", response_model=list[RuleOut], tags=["monitoring"],
            summary="The monitoring rules and their thresholds (regulator, admin)")
def list_rules(who: AdminOrRegulator):
    return monitoring.rule_catalogue()


@router.post("/monitoring/runs", status_code=202, response_model=RunOut, tags=["monitoring"],
             summary="Run the monitoring rules now over a window (regulator, admin)")
def request_run(body: RunIn, session: SessionDep, who: AdminOrRegulator):
    window = (monitoring.Window(body.window_start, body.window_end)
              if body.window_start and body.window_end else monitoring.default_window())
    run = monitoring.request_run(session, trigger="on_demand", window=window,
                                 names=body.rules or None, who=who)
    return RunOut.model_validate(run)


@router.get("/monitoring/runs/{run_id}", response_model=RunOut, tags=["monitoring"],
            summary="One monitoring run (regulator, admin)")
def get_run(run_id: uuid.UUID, session: SessionDep, who: AdminOrRegulator):
    return RunOut.model_validate(monitoring.get_run(session, run_id))


@router.get("/monitoring/flags", response_model=Page[FlagOut], tags=["monitoring"],
            summary="Monitoring flags with their evidence, newest first (regulator, admin)")
def list_flags(session: SessionDep, who: AdminOrRegulator, rule: Short = None,
               severity: Short = None, subject_kind: Short = None, subject_id: Short = None,
               limit: Limit = 100, offset: Offset = 0):
    rows, total = monitoring.list_flags(session, rule=rule, severity=severity,
                                        subject_kind=subject_kind, subject_id=subject_id,
                                        limit=limit, offset=offset)
    return page(FlagOut, rows, total, limit, offset)


@router.get("/monitoring/flags/{flag_id}", response_model=FlagOut, tags=["monitoring"],
            summary="One monitoring flag (regulator, admin)")
def get_flag(flag_id: uuid.UUID, session: SessionDep, who: AdminOrRegulator):
    return FlagOut.model_validate(monitoring.get_flag(session, flag_id))


@router.get("/ratings", response_model=Page[RatingOut], tags=["ratings"],
            summary="Performance ratings: an FSP its own, an MO those bidding into its needs, "
                    "regulator and admin all")
def list_ratings(session: SessionDep, who: Authenticated, subject_kind: SubjectKind | None = None,
                 fsp_id: uuid.UUID | None = None, limit: Limit = 100, offset: Offset = 0):
    rows, total = ratings.list_ratings(session, who, subject_kind, fsp_id, limit, offset)
    return page(RatingOut, rows, total, limit, offset)


@router.get("/assets/{asset_id}/rating", response_model=RatingOut, tags=["ratings"],
            summary="An asset's rating (its FSP, MOs it bid to, regulator, admin)")
def asset_rating(asset_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return RatingOut.model_validate(ratings.get_rating(session, "asset", asset_id, who))


@router.get("/participants/{participant_id}/rating", response_model=RatingOut, tags=["ratings"],
            summary="An FSP's rating over its assets (itself, MOs it bid to, regulator, admin)")
def fsp_rating(participant_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return RatingOut.model_validate(ratings.get_rating(session, "fsp", participant_id, who))


@router.post("/ratings/refresh", status_code=202, tags=["ratings"],
             summary="Recompute the ratings (and the reliability they feed) now, on a worker "
                     "(regulator, admin)")
def refresh_ratings(session: SessionDep, who: AdminOrRegulator) -> dict[str, bool]:
    ratings.request_refresh(session, who)
    return {"queued": True}


@router.get("/assets/{asset_id}/advice", response_model=AdviceOut, tags=["advice"],
            summary="Best-product advice for one of your assets (its fsp)")
def asset_advice(asset_id: uuid.UUID, session: SessionDep, who: FspOnly,
                 availability_cost: Cost = 0.0, utilisation_cost: Cost = 0.0):
    return advice.for_asset(session, asset_id, who, (availability_cost, utilisation_cost))


@router.post("/advice", response_model=AdviceOut, tags=["advice"],
             summary="Best-product advice for a prospective asset (public)")
def prospect_advice(body: ProspectIn, session: SessionDep, who: Public):
    return advice.for_prospect(session, body)

