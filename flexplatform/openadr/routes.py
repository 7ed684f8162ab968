"""VEN registration endpoints: an FSP records its VENs (name, certificate fingerprint,
the assets each controls) before they connect to the VTN. Who may call each is declared
here; whose VENs a caller sees is decided in ``service.py`` (an FSP its own, the
regulator and admins every one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from flexplatform.auth import FspOnly, FspTrading, Principal, SessionDep, require
from flexplatform.openadr import service
from flexplatform.openadr.models import VenRegistration
from flexplatform.openadr.schemas import EventOut, ResourceOut, VenCreate, VenOut
from flexplatform.pagination import Limit, Offset
from flexplatform.registration.models import Role

router = APIRouter()
TAG = ["openadr"]
VenReader = Annotated[Principal, require(Role.fsp, Role.regulator, Role.admin)]
VenId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def _out(ven: VenRegistration, resources: list) -> VenOut:  # type: ignore[type-arg]
    return VenOut(ven_id=ven.ven_id, ven_name=ven.ven_name, fsp_id=ven.fsp_id,
                  fingerprint=ven.fingerprint, registered=ven.registration_id is not None,
                  active=ven.active, created_at=ven.created_at,
                  registered_at=ven.registered_at, last_seen_at=ven.last_seen_at,
                  resources=[ResourceOut.model_validate(r) for r in resources])


@router.post("/openadr/vens", status_code=201, response_model=VenOut, tags=TAG,
             summary="Register a VEN: its venName, client certificate fingerprint and the "
                     "assets it controls (fsp, own assets)")
def register_ven(body: VenCreate, session: SessionDep, who: FspTrading):
    ven = service.register_ven(session, body, who)
    return _out(ven, service.resources_of(session, [ven.ven_id]).get(ven.ven_id, []))


@router.get("/openadr/vens", response_model=list[VenOut], tags=TAG,
            summary="VENs (an FSP its own; regulator, admin all)")
def list_vens(session: SessionDep, who: VenReader, limit: Limit = 100, offset: Offset = 0):
    vens = service.list_vens(session, who, limit, offset)
    res = service.resources_of(session, [v.ven_id for v in vens])
    return [_out(v, res.get(v.ven_id, [])) for v in vens]


@router.get("/openadr/vens/{ven_id}", response_model=VenOut, tags=TAG,
            summary="One VEN (its FSP; regulator, admin)")
def get_ven(ven_id: VenId, session: SessionDep, who: VenReader):
    ven = service.get_ven(session, ven_id, who)
    return _out(ven, service.resources_of(session, [ven.ven_id]).get(ven.ven_id, []))


@router.post("/openadr/vens/{ven_id}/deactivate", response_model=VenOut, tags=TAG,
             summary="Stop a VEN: it can no longer connect or receive events (its FSP)")
def deactivate_ven(ven_id: VenId, session: SessionDep, who: FspOnly):
    ven = service.deactivate_ven(session, ven_id, who)
    return _out(ven, service.resources_of(session, [ven.ven_id]).get(ven.ven_id, []))


@router.get("/openadr/vens/{ven_id}/events", response_model=list[EventOut], tags=TAG,
            summary="Instructions sent to a VEN as OpenADR events and its answers")
def ven_events(ven_id: VenId, session: SessionDep, who: VenReader):
    return [EventOut.model_validate(e) for e in service.events_of(session, ven_id, who)]
