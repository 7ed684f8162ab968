"""Exploration: the public catalogue, and an FSP's opportunities per asset."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from flexplatform.auth import FspOnly, Public, SessionDep
from flexplatform.competition.models import NeedDirection
from flexplatform.errors import NotFound
from flexplatform.exploration import service
from flexplatform.exploration.schemas import CatalogueNeed, Opportunities
from flexplatform.pagination import Page
from flexplatform.registration.service import get_own_asset
from flexplatform.validation import Offset, Timestamp

router = APIRouter()


@router.get("/catalogue/needs", response_model=Page[CatalogueNeed], tags=["exploration"],
            summary="Open needs, filterable and paginated (public, no key needed)")
def catalogue(
    session: SessionDep,
    who: Public,
    product: str | None = None,
    zone: str | None = None,
    direction: NeedDirection | None = None,
    window_from: Annotated[Timestamp | None, Query(description="delivery overlaps from")] = None,
    window_to: Annotated[Timestamp | None, Query(description="delivery overlaps until")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
):
    items, total = service.catalogue(
        session, product=product, zone=zone, direction=direction.value if direction else None,
        window_from=window_from, window_to=window_to, limit=limit, offset=offset)
    return Page[CatalogueNeed](items=items, total=total, limit=limit, offset=offset)


@router.get("/catalogue/needs/{need_id}", response_model=CatalogueNeed, tags=["exploration"],
            summary="One open need (public)")
def catalogue_need(need_id: uuid.UUID, session: SessionDep, who: Public):
    need = service.catalogue_need(session, need_id)
    if need is None:
        raise NotFound(f"no open need {need_id}")
    return need


@router.get("/assets/{asset_id}/opportunities", response_model=Opportunities,
            tags=["exploration"],
            summary="Every open need the asset qualifies for, and why not for the rest (its fsp)")
def opportunities(asset_id: uuid.UUID, session: SessionDep,
                  who: FspOnly):
    asset = get_own_asset(session, asset_id, who)
    return service.opportunities(session, asset)
