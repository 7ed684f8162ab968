"""Taxonomy maintenance. A product change re-qualifies every asset against it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.errors import Conflict, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product, TechnologyType, Zone, ZoneKind
from flexplatform.governance.schemas import ProductIn, TechnologyIn, ZoneIn
from flexplatform.registration.service import recompute_for_product


def verify_audit(session: Session) -> audit.VerifyReport:
    """The chain held against its signed checkpoints and every head published in a
    clearing result (the CLI and the API give the same answer)."""
    from flexplatform.competition.clearing import published_heads

    return audit.verify(session, anchors=published_heads(session))


def list_technologies(session: Session) -> Sequence[TechnologyType]:
    return session.scalars(select(TechnologyType).order_by(TechnologyType.code)).all()


def list_products(session: Session) -> Sequence[Product]:
    return session.scalars(select(Product).order_by(Product.code)).all()


def list_zones(session: Session, kind: ZoneKind | None = None) -> Sequence[Zone]:
    q = select(Zone).order_by(Zone.code)
    if kind is not None:
        q = q.where(Zone.kind == kind)
    return session.scalars(q).all()


def upsert_technology(session: Session, data: TechnologyIn, actor: audit.Actor) -> TechnologyType:
    row = session.get(TechnologyType, data.code)
    if row is None:
        row = TechnologyType(code=data.code)
        session.add(row)
    for k, v in data.model_dump(exclude={"code"}).items():
        setattr(row, k, v)
    session.flush()
    audit.record(session, actor, "taxonomy.technology", "technology", data.code,
                 data.model_dump(mode="json"))
    return row


def upsert_product(session: Session, data: ProductIn, actor: audit.Actor) -> tuple[Product, int]:
    unknown = [t for t in data.allowed_technologies if session.get(TechnologyType, t) is None]
    if unknown:
        raise InvalidInput("unknown technologies", errors=[
            field_error(["allowed_technologies"], f"unknown technology '{t}'") for t in unknown])
    row = session.get(Product, data.code)
    if row is None:
        row = Product(code=data.code)
        session.add(row)
    for k, v in data.model_dump(exclude={"code", "operations_rules"}).items():
        setattr(row, k, v)
    row.operations_rules = data.operations_rules.model_dump(exclude_none=True)
    session.flush()
    n = recompute_for_product(session, data.code)
    audit.record(session, actor, "taxonomy.product", "product", data.code,
                 {**data.model_dump(mode="json"), "assets_requalified": n})
    return row, n


def upsert_zone(session: Session, data: ZoneIn, actor: audit.Actor) -> Zone:
    if data.parent_code is not None:
        if data.parent_code == data.code:
            raise InvalidInput("a zone cannot be its own parent",
                               errors=[field_error(["parent_code"], "equals code")])
        if session.get(Zone, data.parent_code) is None:
            raise InvalidInput("unknown parent zone", errors=[
                field_error(["parent_code"], f"unknown zone '{data.parent_code}'")])
    if data.kind == ZoneKind.gb and data.code != "GB":
        raise InvalidInput("the GB zone has code 'GB'", errors=[field_error(["code"], "must be GB")])
    row = session.get(Zone, data.code)
    if row is None:
        row = Zone(code=data.code)
        session.add(row)
    elif row.kind != data.kind:
        raise Conflict(f"zone {data.code} is a {row.kind.value}; its kind cannot change")
    for k, v in data.model_dump(exclude={"code"}).items():
        setattr(row, k, v)
    session.flush()
    audit.record(session, actor, "taxonomy.zone", "zone", data.code, data.model_dump(mode="json"))
    return row


def latest_audit_events(session: Session, limit: int = 50) -> Sequence[audit.AuditEvent]:
    """The newest events of the chain, newest first (what an auditor looks at first)."""
    return session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq.desc())
                           .limit(limit)).all()


T = TypeVar("T", TechnologyType, Product, Zone)
_LABEL = {TechnologyType: "technology", Product: "product", Zone: "zone"}


def get_entry(session: Session, model: type[T], code: str) -> T:
    """One taxonomy entry by code (a product, technology or zone), or 404."""
    row = session.get(model, code)
    if row is None:
        raise NotFound(f"{_LABEL[model]} {code} not found")
    return row


# The GB taxonomy a fresh platform starts with: ENA's four DSO products and the main ESO
# balancing and reserve services. Admins change it as data afterwards.
DEFAULT_TECHNOLOGIES: list[dict[str, Any]] = [
    {"code": "battery", "name": "Battery storage", "stores_energy": True,
     "default_emission_t_per_mwh": 0.0},
    {"code": "ev_charging", "name": "EV charging", "stores_energy": True,
     "default_emission_t_per_mwh": 0.0},
    {"code": "heat_pump", "name": "Heat pump", "stores_energy": False,
     "default_emission_t_per_mwh": 0.0},
    {"code": "industrial_dsr", "name": "Industrial and commercial demand response",
     "stores_energy": False, "default_emission_t_per_mwh": 0.0},
    {"code": "domestic_demand", "name": "Domestic demand", "stores_energy": False,
     "default_emission_t_per_mwh": 0.0},
    {"code": "generator", "name": "Gas or diesel generator", "stores_energy": False,
     "default_emission_t_per_mwh": 0.45},
    {"code": "solar", "name": "Solar PV", "stores_energy": False,
     "default_emission_t_per_mwh": 0.0},
    {"code": "other", "name": "Other", "stores_energy": False, "default_emission_t_per_mwh": 0.0},
]

DEFAULT_PRODUCTS: list[dict[str, Any]] = [
    # ENA Open Networks standard DSO products.
    {"code": "sustain", "name": "ENA Sustain (scheduled peak reduction)", "operator_kind": "dso",
     "direction": "up", "notice_minutes": 10080, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 480, "stacking_class": "dso_scheduled", "min_mw": 0.0,
     "accepts_pre_energisation": True},
    {"code": "secure", "name": "ENA Secure (pre-fault scheduled)", "operator_kind": "dso",
     "direction": "up", "notice_minutes": 1440, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 480, "stacking_class": "dso_prefault", "min_mw": 0.0},
    {"code": "dynamic", "name": "ENA Dynamic (post-fault)", "operator_kind": "dso",
     "direction": "up", "notice_minutes": 15, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 240, "stacking_class": "dso_postfault", "min_mw": 0.0},
    {"code": "restore", "name": "ENA Restore (post-fault restoration)", "operator_kind": "dso",
     "direction": "up", "notice_minutes": 0, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 1440, "stacking_class": "dso_postfault", "min_mw": 0.0},
    # NESO balancing and reserve services.
    {"code": "dfs", "name": "NESO Demand Flexibility Service", "operator_kind": "eso",
     "direction": "up", "notice_minutes": 240, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 240, "stacking_class": "eso_energy", "min_mw": 1.0},
    {"code": "quick_reserve", "name": "NESO Quick Reserve", "operator_kind": "eso",
     "direction": "both", "notice_minutes": 1, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 240, "stacking_class": "eso_reserve", "min_mw": 1.0},
    {"code": "balancing_reserve", "name": "NESO Balancing Reserve", "operator_kind": "eso",
     "direction": "both", "notice_minutes": 15, "min_utilisation_minutes": 30,
     "max_utilisation_minutes": 240, "stacking_class": "eso_reserve", "min_mw": 1.0},
    {"code": "local_turn_up", "name": "Local constraint turn-up (absorb excess generation)",
     "operator_kind": "dso", "direction": "down", "notice_minutes": 1440,
     "min_utilisation_minutes": 30, "max_utilisation_minutes": 480,
     "stacking_class": "dso_scheduled", "min_mw": 0.0},
]


def seed_taxonomy(session: Session) -> None:
    """Insert the default technologies, products and the GB zone where missing."""
    for t in DEFAULT_TECHNOLOGIES:
        if session.get(TechnologyType, t["code"]) is None:
            session.add(TechnologyType(**t))
    session.flush()
    for p in DEFAULT_PRODUCTS:
        if session.get(Product, p["code"]) is None:
            session.add(Product(**p))
    if session.get(Zone, "GB") is None:
        session.add(Zone(code="GB", name="Great Britain", kind=ZoneKind.gb))
    session.flush()
