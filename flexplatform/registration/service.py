"""Registration rules: participants, keys, terms, assets and their prequalification.

Services never commit; they flush when they need ids and write an audit event beside
every change, so the change and its audit record share one transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.auth import Principal, issue_key
from flexplatform.db import bulk_insert, utcnow
from flexplatform.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from flexplatform.governance.models import Product, TechnologyType, Zone
from flexplatform.identity import current_terms
from flexplatform.registration import prequal
from flexplatform.registration.models import (
    ApiKey,
    Asset,
    AssetStatus,
    Participant,
    Prequalification,
    PrequalStatus,
    Role,
    TermsAcceptance,
    TermsVersion,
)
from flexplatform.registration.schemas import (
    AssetCreate,
    AssetUpdate,
    ParticipantCreate,
    ParticipantUpdate,
    TermsCreate,
)

# Legal lifecycle moves; archived (decommissioned) is final.
ASSET_TRANSITIONS: dict[AssetStatus, set[AssetStatus]] = {
    AssetStatus.in_development: {AssetStatus.operational, AssetStatus.archived},
    AssetStatus.operational: {AssetStatus.mothballed, AssetStatus.archived},
    AssetStatus.mothballed: {AssetStatus.operational, AssetStatus.archived},
    AssetStatus.archived: set(),
}
MAX_REPORTED_ERRORS = 1000


# --- participants and keys -------------------------------------------------------------


def create_participant(
    session: Session, data: ParticipantCreate, actor: audit.Actor
) -> tuple[Participant, str]:
    p = Participant(
        role=data.role,
        legal_name=data.legal_name,
        company_number=data.company_number,
        billing_contact=data.billing_contact.model_dump(),
        status=data.status,
    )
    session.add(p)
    session.flush()
    key, full = issue_key(session, p, label="initial")
    audit.record(session, actor, "participant.create", "participant", p.id,
                 {"role": p.role.value, "legal_name": p.legal_name, "key_prefix": key.prefix})
    return p, full


def get_participant(session: Session, pid: uuid.UUID, principal: Principal) -> Participant:
    p = session.get(Participant, pid)
    # Existence of other participants is private to admins and the regulator.
    if p is None or (not principal.is_(Role.admin, Role.regulator) and p.id != principal.id):
        raise NotFound(f"participant {pid} not found")
    return p


def list_participants(session: Session, role: Role | None, limit: int, offset: int
                      ) -> tuple[Sequence[Participant], int]:
    q = select(Participant)
    if role is not None:
        q = q.where(Participant.role == role)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Participant.created_at, Participant.id)
                           .limit(limit).offset(offset)).all()
    return rows, total


def update_participant(session: Session, pid: uuid.UUID, data: ParticipantUpdate,
                       principal: Principal) -> Participant:
    p = get_participant(session, pid, principal)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "status" in changes and not principal.is_(Role.admin):
        raise Forbidden("only an admin changes a participant's status")
    if p.id == principal.id and changes.get("status") not in (None, "active") \
            and principal.is_(Role.admin):
        raise Conflict("an admin cannot suspend itself")
    for k, v in data.model_dump(exclude_unset=True).items():
        if k == "billing_contact" and v is not None:
            v = dict(v)
        setattr(p, k, v)
    audit.record(session, principal.actor, "participant.update", "participant", p.id, changes)
    return p


def set_webhook(session: Session, principal: Principal, url: str | None) -> tuple[Participant, str | None]:
    """Register (or clear) the participant's webhook; a fresh signing secret is shown once."""
    import secrets

    from flexplatform.notifications import validate_url

    validate_url(url)
    p = principal.participant
    p.webhook_url = url
    p.webhook_secret = secrets.token_urlsafe(32) if url else None
    audit.record(session, principal.actor, "participant.webhook", "participant", p.id,
                 {"url": url})
    return p, p.webhook_secret


def list_keys(session: Session, pid: uuid.UUID, principal: Principal) -> Sequence[ApiKey]:
    get_participant(session, pid, principal)
    return session.scalars(
        select(ApiKey).where(ApiKey.participant_id == pid).order_by(ApiKey.created_at)
    ).all()


def create_key(session: Session, pid: uuid.UUID, label: str, principal: Principal
               ) -> tuple[ApiKey, str]:
    """Issue a key: an admin for anyone, a participant for itself (the regulator, who may
    read every participant, issues keys for no one but itself)."""
    if not principal.is_(Role.admin) and pid != principal.id:
        raise NotFound(f"participant {pid} not found")
    p = get_participant(session, pid, principal)
    key, full = issue_key(session, p, label)
    audit.record(session, principal.actor, "api_key.create", "api_key", key.id,
                 {"participant": str(p.id), "prefix": key.prefix})
    return key, full


def revoke_key(session: Session, key_id: uuid.UUID, principal: Principal) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or (not principal.is_(Role.admin) and key.participant_id != principal.id):
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, principal.actor, "api_key.revoke", "api_key", key.id,
                     {"prefix": key.prefix})
    return key


# --- terms ------------------------------------------------------------------------------


def create_terms(session: Session, data: TermsCreate, actor: audit.Actor) -> TermsVersion:
    if session.scalar(select(TermsVersion).where(TermsVersion.version == data.version)):
        raise Conflict(f"terms version {data.version} exists; versions are immutable")
    tv = TermsVersion(
        version=data.version,
        title=data.title,
        body=data.body,
        body_sha256=hashlib.sha256(data.body.encode()).hexdigest(),
        effective_from=data.effective_from or utcnow(),
    )
    session.add(tv)
    session.flush()
    audit.record(session, actor, "terms.create", "terms", tv.version,
                 {"sha256": tv.body_sha256, "effective_from": tv.effective_from})
    return tv


def list_terms(session: Session) -> Sequence[TermsVersion]:
    """Every terms version, the latest in force first (published versions never change)."""
    return session.scalars(select(TermsVersion).order_by(TermsVersion.effective_from.desc(),
                                                         TermsVersion.id.desc())).all()


def terms_in_force(session: Session) -> TermsVersion:
    tv = current_terms(session)
    if tv is None:
        raise NotFound("no terms version has been published")
    return tv


def get_terms(session: Session, version: str) -> TermsVersion:
    tv = session.scalar(select(TermsVersion).where(TermsVersion.version == version))
    if tv is None:
        raise NotFound(f"terms version {version} not found")
    return tv


def accept_terms(session: Session, version: str, principal: Principal) -> TermsAcceptance:
    tv = get_terms(session, version)
    cur = current_terms(session)
    if cur is None or cur.id != tv.id:
        raise Conflict(f"terms version {version} is not the version in force",
                       current=cur.version if cur else None)
    p = principal.participant
    existing = session.scalar(select(TermsAcceptance).where(
        TermsAcceptance.participant_id == p.id, TermsAcceptance.terms_version_id == tv.id))
    if existing:
        return existing
    acc = TermsAcceptance(participant_id=p.id, terms_version_id=tv.id,
                          accepted_by_key=principal.key_prefix)
    session.add(acc)
    p.terms_version_id = tv.id
    p.terms_accepted_at = acc.accepted_at = utcnow()
    session.flush()
    audit.record(session, principal.actor, "terms.accept", "participant", p.id,
                 {"version": tv.version, "sha256": tv.body_sha256})
    return acc


# --- assets -----------------------------------------------------------------------------


def _check_refs(session: Session, rows: Iterable[tuple[int | None, AssetCreate | AssetUpdate]]
                ) -> list[dict[str, Any]]:
    rows = list(rows)
    zones = {z for _, r in rows if (z := getattr(r, "zone", None))}
    techs = {t for _, r in rows if (t := getattr(r, "technology", None))}
    known_z = set(session.scalars(select(Zone.code).where(Zone.code.in_(zones)))) if zones else set()
    known_t = set(session.scalars(select(TechnologyType.code).where(
        TechnologyType.code.in_(techs), TechnologyType.active))) if techs else set()
    errors = []
    for i, r in rows:
        base: list[Any] = ["assets", i] if i is not None else []
        if getattr(r, "zone", None) and r.zone not in known_z:
            errors.append(field_error([*base, "zone"], f"unknown zone '{r.zone}'"))
        if getattr(r, "technology", None) and r.technology not in known_t:
            errors.append(field_error([*base, "technology"],
                                      f"unknown technology '{r.technology}'"))
    return errors


def _asset_values(fsp_id: uuid.UUID, data: AssetCreate) -> dict[str, Any]:
    d = data.model_dump()
    d["zone_code"] = d.pop("zone")
    d["technology_code"] = d.pop("technology")
    now = utcnow()
    return {"id": uuid.uuid4(), "fsp_id": fsp_id, **d, "created_at": now, "updated_at": now}


def _existing_mpans(session: Session, mpans: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(mpans), 5000):
        chunk = mpans[i : i + 5000]
        found.update(session.scalars(select(Asset.mpan).where(Asset.mpan.in_(chunk))))
    return found


def create_asset(session: Session, data: AssetCreate, principal: Principal) -> Asset:
    errors = _check_refs(session, [(None, data)])
    if _existing_mpans(session, [data.mpan]):
        errors.append(field_error(["mpan"], f"MPAN {data.mpan} is already registered"))
    if errors:
        raise InvalidInput("asset not registered", errors=errors)
    asset = Asset(**_asset_values(principal.id, data))
    session.add(asset)
    session.flush()
    recompute_for_assets(session, [asset.id])
    audit.record(session, principal.actor, "asset.create", "asset", asset.id,
                 {"mpan": asset.mpan, "zone": asset.zone_code})
    return asset


def bulk_create_assets(session: Session, rows: list[Any], principal: Principal,
                       max_rows: int) -> list[uuid.UUID]:
    """All-or-nothing: every row is checked and every bad row reported before any insert."""
    if len(rows) > max_rows:
        raise InvalidInput(f"at most {max_rows} assets per request, got {len(rows)}",
                           errors=[field_error(["assets"], f"more than {max_rows} rows")])
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, AssetCreate]] = []
    for i, row in enumerate(rows):
        try:
            parsed.append((i, AssetCreate.model_validate(row)))
        except ValidationError as e:
            for err in e.errors(include_url=False):
                errors.append(field_error(["assets", i, *err["loc"]], err["msg"]))
    errors += _check_refs(session, parsed)
    seen: dict[str, int] = {}
    for i, r in parsed:
        if r.mpan in seen:
            errors.append(field_error(["assets", i, "mpan"],
                                      f"MPAN {r.mpan} repeats row {seen[r.mpan]}"))
        else:
            seen[r.mpan] = i
    for m in _existing_mpans(session, list(seen)):
        errors.append(field_error(["assets", seen[m], "mpan"], f"MPAN {m} is already registered"))
    if errors:
        errors.sort(key=lambda e: e["pointer"])
        raise InvalidInput(
            f"{len(errors)} problem(s) in the batch; nothing was registered",
            errors=errors[:MAX_REPORTED_ERRORS],
            error_count=len(errors),
        )
    values = [_asset_values(principal.id, r) for _, r in parsed]
    ids = [v["id"] for v in values]
    bulk_insert(session, Asset, values)
    recompute_for_assets(session, ids)
    audit.record(session, principal.actor, "asset.bulk_create", "asset", None,
                 {"count": len(ids), "ids_sha256": hashlib.sha256(
                     ",".join(str(i) for i in ids).encode()).hexdigest()})
    return ids


def get_asset(session: Session, asset_id: uuid.UUID, principal: Principal) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or not can_read_asset(session, asset, principal):
        # 404 rather than 403: whether another FSP's asset exists is private.
        raise NotFound(f"asset {asset_id} not found")
    return asset


def can_read_asset(session: Session, asset: Asset, principal: Principal) -> bool:
    if principal.is_(Role.admin, Role.regulator):
        return True
    if principal.is_(Role.fsp):
        return asset.fsp_id == principal.id
    if principal.is_(Role.mo):
        from flexplatform.competition.access import mo_can_see_asset

        return mo_can_see_asset(session, asset.id, principal.id)
    return False


def get_own_asset(session: Session, asset_id: uuid.UUID, principal: Principal) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.fsp_id != principal.id:
        raise NotFound(f"asset {asset_id} not found")
    return asset


def list_assets(session: Session, principal: Principal, limit: int, offset: int,
                status: AssetStatus | None = None, zone: str | None = None
                ) -> tuple[Sequence[Asset], int]:
    q = select(Asset)
    if principal.is_(Role.fsp):
        q = q.where(Asset.fsp_id == principal.id)
    elif principal.is_(Role.mo):
        from flexplatform.competition.access import mo_visible_assets

        q = q.where(Asset.id.in_(mo_visible_assets(principal.id)))
    if status is not None:
        q = q.where(Asset.status == status)
    if zone is not None:
        q = q.where(Asset.zone_code == zone)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(Asset.created_at, Asset.id).limit(limit).offset(offset)).all()
    return rows, total


def update_asset(session: Session, asset_id: uuid.UUID, data: AssetUpdate,
                 principal: Principal) -> Asset:
    asset = get_own_asset(session, asset_id, principal)
    if asset.status == AssetStatus.archived:
        raise Conflict("asset is decommissioned (archived); it can no longer change")
    changes = data.model_dump(exclude_unset=True)
    errors = _check_refs(session, [(None, data)])
    if errors:
        raise InvalidInput("asset not updated", errors=errors)
    if "status" in changes and changes["status"] != asset.status:
        new = changes["status"]
        if new not in ASSET_TRANSITIONS[asset.status]:
            raise Conflict(f"asset cannot move from {asset.status.value} to {new.value}",
                           errors=[field_error(["status"], "illegal lifecycle transition")])
    if "zone" in changes:
        changes["zone_code"] = changes.pop("zone")
    if "technology" in changes:
        changes["technology_code"] = changes.pop("technology")
    for k, v in changes.items():
        setattr(asset, k, v)
    # Re-check what AssetCreate checks across fields, on the merged record.
    try:
        AssetCreate.model_validate({
            "name": asset.name, "mpan": asset.mpan, "zone": asset.zone_code,
            "technology": asset.technology_code,
            "status": asset.status if asset.status != AssetStatus.archived
            else AssetStatus.operational,
            "latitude": asset.latitude, "longitude": asset.longitude, "up_mw": asset.up_mw,
            "down_mw": asset.down_mw, "energy_mwh": asset.energy_mwh,
            "min_run_minutes": asset.min_run_minutes, "max_run_minutes": asset.max_run_minutes,
            "ramp_mw_per_min": asset.ramp_mw_per_min,
            "emission_t_per_mwh": asset.emission_t_per_mwh, "reliability": asset.reliability,
        })
    except ValidationError as e:
        raise InvalidInput("asset not updated", errors=[
            field_error(list(err["loc"]) or ["body"], err["msg"])
            for err in e.errors(include_url=False)]) from None
    asset.updated_at = utcnow()
    session.flush()
    recompute_for_assets(session, [asset.id])
    audit.record(session, principal.actor, "asset.update", "asset", asset.id,
                 audit.canonical(changes))
    return asset


def decommission_asset(session: Session, asset_id: uuid.UUID, principal: Principal) -> Asset:
    asset = get_own_asset(session, asset_id, principal)
    if asset.status != AssetStatus.archived:
        asset.status = AssetStatus.archived
        asset.updated_at = utcnow()
        session.flush()
        recompute_for_assets(session, [asset.id])
        audit.record(session, principal.actor, "asset.decommission", "asset", asset.id, {})
    return asset


# --- prequalification -------------------------------------------------------------------


def _store_prequal(session: Session, assets: Sequence[Asset], products: Sequence[Product],
                   asset_ids: list[uuid.UUID] | None, product_codes: list[str] | None) -> None:
    if asset_ids is not None:
        for i in range(0, len(asset_ids), 5000):
            session.execute(delete(Prequalification).where(
                Prequalification.asset_id.in_(asset_ids[i : i + 5000])))
    if product_codes is not None:
        session.execute(delete(Prequalification).where(
            Prequalification.product_code.in_(product_codes)))
    now = utcnow()
    rows = []
    for a in assets:
        for p in products:
            reasons = prequal.evaluate(a, p)
            rows.append({
                "asset_id": a.id, "product_code": p.code,
                "status": PrequalStatus.ineligible if reasons else PrequalStatus.eligible,
                "reasons": reasons, "computed_at": now,
            })
    bulk_insert(session, Prequalification, rows)


def recompute_for_assets(session: Session, asset_ids: list[uuid.UUID]) -> None:
    """Register once, qualify everywhere: every product is evaluated for these assets."""
    products = session.scalars(select(Product)).all()
    assets: list[Asset] = []
    for i in range(0, len(asset_ids), 5000):
        assets += session.scalars(select(Asset).where(Asset.id.in_(asset_ids[i : i + 5000])))
    _store_prequal(session, assets, products, asset_ids, None)


def recompute_for_product(session: Session, code: str) -> int:
    product = session.get(Product, code)
    products = [product] if product else []
    assets = session.scalars(select(Asset)).all()
    _store_prequal(session, assets, products, None, [code])
    return len(assets)


def prequalification(session: Session, asset_id: uuid.UUID, principal: Principal
                     ) -> Sequence[Prequalification]:
    asset = session.get(Asset, asset_id)
    allowed = asset is not None and (
        principal.is_(Role.admin, Role.regulator) or asset.fsp_id == principal.id)
    if not allowed:
        raise NotFound(f"asset {asset_id} not found")
    return session.scalars(select(Prequalification).where(Prequalification.asset_id == asset_id)
                           .order_by(Prequalification.product_code)).all()
