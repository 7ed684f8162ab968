"""Governance: taxonomy as data (admins change it, everyone reads it) and the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from flexplatform import audit
from flexplatform.auth import AdminOnly, AdminOrRegulator, Public, SessionDep
from flexplatform.errors import InvalidInput, field_error
from flexplatform.governance import service
from flexplatform.governance.models import Product, TechnologyType, Zone, ZoneKind
from flexplatform.governance.schemas import (
    AuditEventOut,
    AuditVerifyOut,
    ProductIn,
    ProductOut,
    TechnologyIn,
    TechnologyOut,
    ZoneIn,
    ZoneOut,
)
from flexplatform.validation import CodePath, Seq

router = APIRouter()


def _same_code(path_code: str, body_code: str) -> None:
    if path_code != body_code:
        raise InvalidInput("code in the path and the body differ",
                           errors=[field_error(["code"], f"expected '{path_code}'")])


@router.get("/technologies", response_model=list[TechnologyOut], tags=["taxonomy"],
            summary="Technology types (public)")
def technologies(session: SessionDep, who: Public):
    return [TechnologyOut.model_validate(t) for t in service.list_technologies(session)]


@router.get("/technologies/{code}", response_model=TechnologyOut, tags=["taxonomy"],
            summary="One technology type (public)")
def technology(code: CodePath, session: SessionDep, who: Public):
    return TechnologyOut.model_validate(service.get_entry(session, TechnologyType, code))


@router.put("/technologies/{code}", response_model=TechnologyOut, tags=["taxonomy"],
            summary="Create or change a technology type (admin)")
def put_technology(code: CodePath, body: TechnologyIn, session: SessionDep, who: AdminOnly):
    _same_code(code, body.code)
    return TechnologyOut.model_validate(service.upsert_technology(session, body, who.actor))


@router.get("/products", response_model=list[ProductOut], tags=["taxonomy"],
            summary="Products (public)")
def products(session: SessionDep, who: Public):
    return [ProductOut.model_validate(p) for p in service.list_products(session)]


@router.get("/products/{code}", response_model=ProductOut, tags=["taxonomy"],
            summary="One product (public)")
def product(code: CodePath, session: SessionDep, who: Public):
    return ProductOut.model_validate(service.get_entry(session, Product, code))


@router.put("/products/{code}", response_model=ProductOut, tags=["taxonomy"],
            summary="Create or change a product; re-qualifies every asset (admin)")
def put_product(code: CodePath, body: ProductIn, session: SessionDep, who: AdminOnly):
    _same_code(code, body.code)
    product, _ = service.upsert_product(session, body, who.actor)
    return ProductOut.model_validate(product)


@router.get("/zones", response_model=list[ZoneOut], tags=["taxonomy"], summary="Zones (public)")
def zones(session: SessionDep, who: Public, kind: ZoneKind | None = None):
    return [ZoneOut.model_validate(z) for z in service.list_zones(session, kind)]


@router.get("/zones/{code}", response_model=ZoneOut, tags=["taxonomy"],
            summary="One zone (public)")
def zone(code: CodePath, session: SessionDep, who: Public):
    return ZoneOut.model_validate(service.get_entry(session, Zone, code))


@router.put("/zones/{code}", response_model=ZoneOut, tags=["taxonomy"],
            summary="Create or change a zone (admin)")
def put_zone(code: CodePath, body: ZoneIn, session: SessionDep, who: AdminOnly):
    _same_code(code, body.code)
    return ZoneOut.model_validate(service.upsert_zone(session, body, who.actor))


@router.get("/audit/events", response_model=list[AuditEventOut], tags=["audit"],
            summary="Audit events in sequence (admin, regulator)")
def audit_events(session: SessionDep, who: AdminOrRegulator,
                 after_seq: Seq = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 entity_id: str | None = None):
    return [AuditEventOut.model_validate(r)
            for r in audit.events(session, after_seq, limit, entity_id)]


@router.get("/audit/verify", response_model=AuditVerifyOut, tags=["audit"],
            summary="Verify the whole hash chain (admin, regulator)")
def audit_verify(session: SessionDep, who: AdminOrRegulator):
    return AuditVerifyOut.model_validate(service.verify_audit(session))
