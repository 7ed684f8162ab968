"""Registration endpoints. Each states who may call it through its auth dependency."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from flexplatform.auth import (
    AdminMoOrFsp,
    AdminOnly,
    AdminOrRegulator,
    Authenticated,
    FspOrOversight,
    FspTrading,
    MoOrFsp,
    Public,
    SessionDep,
)
from flexplatform.config import get_settings
from flexplatform.pagination import Limit, Offset, Page, page
from flexplatform.registration import service
from flexplatform.registration.models import AssetStatus, Role
from flexplatform.registration.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AssetBulkCreate,
    AssetBulkCreated,
    AssetCreate,
    AssetOut,
    AssetUpdate,
    ParticipantCreate,
    ParticipantCreated,
    ParticipantOut,
    ParticipantUpdate,
    PrequalOut,
    TermsAcceptanceOut,
    TermsCreate,
    TermsOut,
    WebhookSettings,
)
from flexplatform.validation import TermsVersionPath

router = APIRouter()


@router.post("/participants", status_code=201, response_model=ParticipantCreated,
             tags=["participants"], summary="Register a participant (admin)")
def create_participant(body: ParticipantCreate, session: SessionDep, who: AdminOnly):
    p, key = service.create_participant(session, body, who.actor)
    return ParticipantCreated(participant=ParticipantOut.model_validate(p), api_key=key)


@router.get("/participants", response_model=Page[ParticipantOut], tags=["participants"],
            summary="List participants (admin, regulator)")
def list_participants(session: SessionDep, who: AdminOrRegulator, role: Role | None = None,
                      limit: Limit = 100, offset: Offset = 0):
    rows, total = service.list_participants(session, role, limit, offset)
    return page(ParticipantOut, rows, total, limit, offset)


@router.get("/me", response_model=ParticipantOut, tags=["participants"],
            summary="The calling participant (any authenticated role)")
def me(who: Authenticated):
    return ParticipantOut.model_validate(who.participant)


@router.put("/me/webhook", tags=["participants"],
            summary="Register or clear the caller's notification webhook (mo, fsp)")
def set_webhook(body: WebhookSettings, session: SessionDep,
                who: MoOrFsp):
    p, secret = service.set_webhook(session, who, body.url)
    return {"url": p.webhook_url, "signing_secret": secret,
            "note": "HMAC-SHA256 of the raw body with this secret is sent as "
                    "X-Flex-Signature: sha256=<hex>; the secret is shown once"}


@router.get("/participants/{pid}", response_model=ParticipantOut, tags=["participants"],
            summary="One participant (admin, regulator, or the participant itself)")
def get_participant(pid: uuid.UUID, session: SessionDep, who: Authenticated):
    return ParticipantOut.model_validate(service.get_participant(session, pid, who))


@router.patch("/participants/{pid}", response_model=ParticipantOut, tags=["participants"],
              summary="Update a participant (admin; a participant may update its own details)")
def update_participant(pid: uuid.UUID, body: ParticipantUpdate, session: SessionDep,
                       who: AdminMoOrFsp):
    return ParticipantOut.model_validate(service.update_participant(session, pid, body, who))


@router.get("/participants/{pid}/api-keys", response_model=list[ApiKeyOut], tags=["api keys"],
            summary="List a participant's keys (admin, or the participant itself)")
def list_keys(pid: uuid.UUID, session: SessionDep,
              who: Authenticated):
    return [ApiKeyOut.model_validate(k) for k in service.list_keys(session, pid, who)]


@router.post("/participants/{pid}/api-keys", status_code=201, response_model=ApiKeyCreated,
             tags=["api keys"], summary="Issue a key (admin, or the participant itself)")
def create_key(pid: uuid.UUID, body: ApiKeyCreate, session: SessionDep,
               who: Authenticated):
    key, full = service.create_key(session, pid, body.label, who)
    return ApiKeyCreated(key=ApiKeyOut.model_validate(key), api_key=full)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, tags=["api keys"],
               summary="Revoke a key (admin, or the key's participant)")
def revoke_key(key_id: uuid.UUID, session: SessionDep,
               who: Authenticated):
    return ApiKeyOut.model_validate(service.revoke_key(session, key_id, who))


@router.post("/terms", status_code=201, response_model=TermsOut, tags=["terms"],
             summary="Publish a terms version (admin)")
def create_terms(body: TermsCreate, session: SessionDep, who: AdminOnly):
    return TermsOut.model_validate(service.create_terms(session, body, who.actor))


@router.get("/terms/current", response_model=TermsOut, tags=["terms"],
            summary="The terms version in force (public)")
def terms_current(session: SessionDep, who: Public):
    return TermsOut.model_validate(service.terms_in_force(session))


@router.get("/terms/{version}", response_model=TermsOut, tags=["terms"],
            summary="One terms version (public)")
def terms_version(version: TermsVersionPath, session: SessionDep, who: Public):
    return TermsOut.model_validate(service.get_terms(session, version))


@router.post("/terms/{version}/accept", response_model=TermsAcceptanceOut, tags=["terms"],
             summary="Accept the terms in force (mo, fsp)")
def accept_terms(version: TermsVersionPath, session: SessionDep,
                 who: MoOrFsp):
    acc = service.accept_terms(session, version, who)
    return TermsAcceptanceOut(participant_id=acc.participant_id, version=version,
                              accepted_at=acc.accepted_at)


@router.post("/assets", status_code=201, response_model=AssetOut, tags=["assets"],
             summary="Register an asset (fsp, terms accepted)")
def create_asset(body: AssetCreate, session: SessionDep, who: FspTrading):
    return AssetOut.model_validate(service.create_asset(session, body, who))


@router.post("/assets/bulk", status_code=201, response_model=AssetBulkCreated, tags=["assets"],
             summary="Register up to 10,000 assets at once, all or nothing (fsp, terms accepted)")
def bulk_create_assets(body: AssetBulkCreate, session: SessionDep, who: FspTrading):
    ids = service.bulk_create_assets(session, body.assets, who, get_settings().max_bulk_assets)
    return AssetBulkCreated(created=len(ids), ids=ids)


@router.get("/assets", response_model=Page[AssetOut], tags=["assets"],
            summary="List assets: an FSP its own, an MO those bidding on its needs, "
                    "regulator and admin all")
def list_assets(session: SessionDep, who: Authenticated, limit: Limit = 100, offset: Offset = 0,
                status: AssetStatus | None = None, zone: str | None = None):
    rows, total = service.list_assets(session, who, limit, offset, status, zone)
    return page(AssetOut, rows, total, limit, offset)


@router.get("/assets/{asset_id}", response_model=AssetOut, tags=["assets"],
            summary="One asset (its FSP; MOs it bid to; regulator; admin)")
def get_asset(asset_id: uuid.UUID, session: SessionDep, who: Authenticated):
    return AssetOut.model_validate(service.get_asset(session, asset_id, who))


@router.patch("/assets/{asset_id}", response_model=AssetOut, tags=["assets"],
              summary="Update an asset's technical data or lifecycle (its fsp)")
def update_asset(asset_id: uuid.UUID, body: AssetUpdate, session: SessionDep, who: FspTrading):
    return AssetOut.model_validate(service.update_asset(session, asset_id, body, who))


@router.post("/assets/{asset_id}/decommission", response_model=AssetOut, tags=["assets"],
             summary="Decommission (archive) an asset (its fsp)")
def decommission_asset(asset_id: uuid.UUID, session: SessionDep, who: FspTrading):
    return AssetOut.model_validate(service.decommission_asset(session, asset_id, who))


@router.get("/assets/{asset_id}/prequalification", response_model=list[PrequalOut],
            tags=["assets"], summary="Prequalification per product (its fsp, regulator, admin)")
def asset_prequalification(asset_id: uuid.UUID, session: SessionDep, who: FspOrOversight):
    return [PrequalOut.model_validate(p) for p in service.prequalification(session, asset_id, who)]


