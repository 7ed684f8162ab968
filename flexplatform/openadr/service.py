"""VEN registrations (the FSP's side) and what the VTN does with the database.

Every function takes the caller's session and never commits: the API request or the VTN's
unit of work (``vtn.py``) owns the transaction. The VTN-facing functions are plain
synchronous code so they are tested without a network; ``vtn.py`` only adapts them to
openleadr's handlers.

Instruction to event (docs/openadr.md): one instruction is one event whose ``event_id``
is the instruction id, targeted at the VEN and the asset's resource, with one
``LOAD_DISPATCH`` signal of type ``delta`` in MW (``powerReal``, scale ``M``): one interval
per settlement half hour, the change of the asset's net import, so an 'up' instruction
(more export or less demand) is negative and a 'down' one positive. ``optIn`` accepts the
instruction, ``optOut`` rejects it, both as the FSP through ``operations.acknowledge``
(only while 'issued' and before the acknowledgement deadline).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.audit import Actor
from flexplatform.auth import Principal
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, DomainError, InvalidInput, NotFound, field_error
from flexplatform.identity import Participant
from flexplatform.openadr.models import OpenadrEvent, VenRegistration, VenResource, VenTelemetry
from flexplatform.openadr.schemas import VenCreate
from flexplatform.operations import service as operations
from flexplatform.operations.models import Instruction
from flexplatform.registration.models import Asset, Role

HALF_HOUR = dt.timedelta(minutes=30)
SIGNAL_NAME = "LOAD_DISPATCH"
SIGNAL_TYPE = "delta"
# SI scale codes an OpenADR report may carry, as powers of ten.
SCALES = {"none": 0, "p": -12, "n": -9, "micro": -6, "m": -3, "c": -2, "d": -1, "k": 3,
          "M": 6, "G": 9, "T": 12}


# --- the FSP's registrations ------------------------------------------------------------

def _visible(principal: Principal) -> Any:
    if principal.is_(Role.fsp):
        return VenRegistration.fsp_id == principal.id
    return VenRegistration.ven_id.is_not(None)  # admin, regulator: every VEN


def register_ven(session: Session, data: VenCreate, principal: Principal) -> VenRegistration:
    """Record a VEN before it connects: its name, certificate fingerprint and the FSP's
    assets it controls. Another FSP's asset is refused as if it did not exist."""
    errors = []
    seen: set[str] = set()
    assets = {r.asset_id for r in data.resources}
    owned = set(session.scalars(select(Asset.id).where(
        Asset.id.in_(assets), Asset.fsp_id == principal.id)))
    for i, r in enumerate(data.resources):
        if r.resource_id in seen:
            errors.append(field_error(["resources", i, "resource_id"], "repeated resource_id"))
        seen.add(r.resource_id)
        if r.asset_id not in owned:
            errors.append(field_error(["resources", i, "asset_id"], "no such asset of yours"))
    if len(assets) != len(data.resources):
        errors.append(field_error(["resources"], "an asset appears more than once"))
    if errors:
        raise InvalidInput("the VEN's resources are not valid", errors=errors)
    if session.scalar(select(VenRegistration).where(VenRegistration.ven_name == data.ven_name)):
        raise Conflict("a VEN with this ven_name is already registered",
                       errors=[field_error(["ven_name"], "already registered")])
    taken = session.scalars(select(VenResource.asset_id).join(
        VenRegistration, VenRegistration.ven_id == VenResource.ven_id).where(
        VenResource.asset_id.in_(assets), VenRegistration.active)).all()
    if taken:
        raise Conflict("an asset is already controlled through another VEN", errors=[
            field_error(["resources", i, "asset_id"], "already a resource of another VEN")
            for i, r in enumerate(data.resources) if r.asset_id in set(taken)])
    ven = VenRegistration(ven_id=f"ven-{uuid.uuid4().hex[:20]}", ven_name=data.ven_name,
                          fsp_id=principal.id, fingerprint=data.fingerprint.upper())
    session.add(ven)
    session.flush()
    for r in data.resources:
        session.add(VenResource(ven_id=ven.ven_id, resource_id=r.resource_id,
                                asset_id=r.asset_id))
    session.flush()
    audit.record(session, principal.actor, "openadr.ven.register", "ven_registration",
                 ven.ven_id, {"ven_name": ven.ven_name, "fingerprint": ven.fingerprint,
                              "resources": {r.resource_id: str(r.asset_id)
                                            for r in data.resources}})
    return ven


def get_ven(session: Session, ven_id: str, principal: Principal) -> VenRegistration:
    ven = session.scalar(select(VenRegistration).where(VenRegistration.ven_id == ven_id,
                                                       _visible(principal)))
    if ven is None:
        raise NotFound("no such VEN")
    return ven


def list_vens(session: Session, principal: Principal, limit: int, offset: int
              ) -> Sequence[VenRegistration]:
    return session.scalars(select(VenRegistration).where(_visible(principal))
                           .order_by(VenRegistration.created_at, VenRegistration.ven_id)
                           .limit(limit).offset(offset)).all()


def resources_of(session: Session, ven_ids: Iterable[str]) -> dict[str, list[VenResource]]:
    out: dict[str, list[VenResource]] = {}
    for r in session.scalars(select(VenResource).where(VenResource.ven_id.in_(list(ven_ids)))
                             .order_by(VenResource.id)):
        out.setdefault(r.ven_id, []).append(r)
    return out


def deactivate_ven(session: Session, ven_id: str, principal: Principal) -> VenRegistration:
    """The VEN can no longer connect and receives nothing more; its history stays."""
    ven = get_ven(session, ven_id, principal)
    if ven.active:
        ven.active = False
        ven.registration_id = None
        audit.record(session, principal.actor, "openadr.ven.deactivate", "ven_registration",
                     ven.ven_id, {})
    return ven


def events_of(session: Session, ven_id: str, principal: Principal) -> Sequence[OpenadrEvent]:
    get_ven(session, ven_id, principal)
    return session.scalars(select(OpenadrEvent).where(OpenadrEvent.ven_id == ven_id)
                           .order_by(OpenadrEvent.created_at)).all()


# --- what the VTN asks ------------------------------------------------------------------

def ven_lookup(session: Session, ven_id: str) -> dict[str, Any] | None:
    """openleadr's ``ven_lookup``: the registration of an active VEN (its fingerprint is
    what the TLS client certificate and the message signature must match)."""
    ven = session.get(VenRegistration, ven_id)
    if ven is None or not ven.active:
        return None
    return {"ven_id": ven.ven_id, "ven_name": ven.ven_name, "fingerprint": ven.fingerprint,
            "registration_id": ven.registration_id}


def create_party_registration(session: Session, ven_name: str, fingerprint: str | None,
                              *, require_tls: bool = True) -> tuple[str, str] | None:
    """oadrCreatePartyRegistration: (ven_id, registration_id) for a known, active VEN whose
    client certificate has the registered fingerprint; None refuses it."""
    ven = session.scalar(select(VenRegistration).where(VenRegistration.ven_name == ven_name))
    if ven is None or not ven.active:
        return None
    if fingerprint is None and require_tls:
        return None
    if fingerprint is not None and fingerprint.upper() != ven.fingerprint:
        return None
    now = utcnow()
    if ven.registration_id is None:
        ven.registration_id = f"reg-{uuid.uuid4().hex[:20]}"
        ven.registered_at = now
        audit.record(session, Actor(id=str(ven.fsp_id), role="fsp"), "openadr.ven.registered",
                     "ven_registration", ven.ven_id, {"registration_id": ven.registration_id})
    ven.last_seen_at = now
    return ven.ven_id, ven.registration_id


def cancel_party_registration(session: Session, ven_id: str) -> None:
    ven = session.get(VenRegistration, ven_id)
    if ven is not None and ven.registration_id is not None:
        ven.registration_id = None
        audit.record(session, Actor(id=str(ven.fsp_id), role="fsp"), "openadr.ven.cancelled",
                     "ven_registration", ven.ven_id, {})


def seen(session: Session, ven_id: str) -> None:
    ven = session.get(VenRegistration, ven_id)
    if ven is not None:
        ven.last_seen_at = utcnow()


def new_instructions(session: Session, now: dt.datetime | None = None, limit: int = 500
                     ) -> list[tuple[Instruction, VenResource]]:
    """Issued instructions, still open for an answer, for an asset that is a resource of
    an active registered VEN, and not yet sent."""
    now = now or utcnow()
    q = (select(Instruction, VenResource)
         .join(VenResource, VenResource.asset_id == Instruction.asset_id)
         .join(VenRegistration, VenRegistration.ven_id == VenResource.ven_id)
         .outerjoin(OpenadrEvent, OpenadrEvent.instruction_id == Instruction.id)
         .where(Instruction.status == "issued", Instruction.ack_deadline > now,
                VenRegistration.active, VenRegistration.registration_id.is_not(None),
                VenRegistration.fsp_id == Instruction.fsp_id, OpenadrEvent.event_id.is_(None))
         .order_by(Instruction.created_at, Instruction.id).limit(limit))
    return [(i, r) for i, r in session.execute(q)]


def queue_event(session: Session, instruction: Instruction, resource: VenResource
                ) -> OpenadrEvent:
    ev = OpenadrEvent(event_id=str(instruction.id), instruction_id=instruction.id,
                      ven_id=resource.ven_id, resource_id=resource.resource_id)
    session.add(ev)
    session.flush()
    return ev


def open_events(session: Session) -> list[tuple[OpenadrEvent, Instruction]]:
    """Events sent but not answered, with their instructions: re-queued when the VTN
    starts, and withdrawn (cancelled) once the instruction is no longer 'issued'."""
    q = (select(OpenadrEvent, Instruction)
         .join(Instruction, Instruction.id == OpenadrEvent.instruction_id)
         .where(OpenadrEvent.status.in_(("queued", "delivered")))
         .order_by(OpenadrEvent.created_at))
    return [(e, i) for e, i in session.execute(q)]


def mark_delivered(session: Session, event_id: str) -> None:
    ev = session.get(OpenadrEvent, event_id)
    if ev is not None and ev.status == "queued":
        ev.status, ev.delivered_at = "delivered", utcnow()


def mark_cancelled(session: Session, event_id: str) -> None:
    ev = session.get(OpenadrEvent, event_id)
    if ev is not None:
        ev.status = "cancelled"
        ev.modification_number += 1


def event_payload(instruction: Instruction, ven_id: str, resource_id: str,
                  market_context: str = "oadr://flexplatform") -> dict[str, Any]:
    """The oadrEvent for an instruction (see the module docstring for the convention)."""
    sign = -1.0 if instruction.direction == "up" else 1.0
    intervals = []
    t, uid = instruction.period_start, 0
    while t < instruction.period_end:
        intervals.append({"dtstart": t, "duration": HALF_HOUR, "uid": uid,
                          "signal_payload": sign * float(instruction.mw)})
        t, uid = t + HALF_HOUR, uid + 1
    return {
        "event_descriptor": {
            "event_id": str(instruction.id), "modification_number": 0,
            "market_context": f"{market_context}/{instruction.product_code}",
            "event_status": "far", "created_date_time": instruction.created_at,
            "priority": 0, "test_event": False,
            "vtn_comment": f"instruction {instruction.id}: {instruction.direction} "
                           f"{instruction.mw} MW, answer by "
                           f"{instruction.ack_deadline.isoformat()}"},
        "active_period": {"dtstart": instruction.period_start,
                          "duration": instruction.period_end - instruction.period_start},
        "event_signals": [{
            "intervals": intervals, "signal_name": SIGNAL_NAME, "signal_type": SIGNAL_TYPE,
            "signal_id": f"{instruction.id}-mw",
            "measurement": {"name": "powerReal", "description": "RealPower", "unit": "W",
                            "scale": "M", "power_attributes": {"hertz": 50, "voltage": 230,
                                                               "ac": True}}}],
        "targets": [{"ven_id": ven_id, "resource_id": resource_id}],
        "response_required": "always",
    }


def _fsp_principal(session: Session, fsp_id: uuid.UUID) -> Principal:
    return Principal(participant=session.get(Participant, fsp_id), key_prefix="openadr")


def apply_opt(session: Session, ven_id: str, event_id: str, opt_type: str,
              now: dt.datetime | None = None) -> str:
    """The VEN's oadrCreatedEvent answer: optIn accepts, optOut rejects, through the
    operations service exactly as the FSP's API call would (its deadline and once-only
    rules, the MO's notification, a re-dispatch after a rejection). Returns what was made
    of it (also stored as the event's ``outcome``)."""
    now = now or utcnow()
    ev = session.get(OpenadrEvent, event_id)
    if ev is None or ev.ven_id != ven_id:
        return "ignored: not an event of this VEN"
    if ev.status in ("opted_in", "opted_out") and ev.opt_type == opt_type:
        return ev.outcome or ""  # the same answer again (a VEN re-sends on every poll)
    instruction = session.get(Instruction, ev.instruction_id)
    ven = session.get(VenRegistration, ven_id)
    assert instruction is not None and ven is not None
    applied = False
    if instruction.fsp_id != ven.fsp_id:
        outcome = "ignored: the instruction is not this VEN's FSP's"
    else:
        principal = _fsp_principal(session, ven.fsp_id)
        try:
            with session.begin_nested():  # a refused answer leaves nothing half-done
                acked = operations.acknowledge(
                    session, instruction.id, opt_type == "optIn",
                    None if opt_type == "optIn" else f"VEN {ven_id} opted out (OpenADR)",
                    principal, now)
            outcome, applied = acked.status, True
        except DomainError as e:  # already answered, or after the deadline
            outcome = f"not applied: {e}"
    # The event's state follows the instruction: a refused answer (a late opt, an opt-out
    # after an accepted opt-in) is recorded as the outcome and changes nothing else.
    if applied:
        ev.status = "opted_in" if opt_type == "optIn" else "opted_out"
        ev.opt_type = opt_type
    ev.outcome, ev.responded_at = outcome[:200], now
    return outcome


# --- reports ----------------------------------------------------------------------------

def resource_asset(session: Session, ven_id: str, resource_id: str | None) -> uuid.UUID | None:
    if resource_id is None:
        return None
    return session.scalar(select(VenResource.asset_id).where(
        VenResource.ven_id == ven_id, VenResource.resource_id == resource_id))


def report_kind(measurement: str | None, unit: str | None) -> str | None:
    """'telemetry' for real power (W), 'energy' for real energy (Wh); other measurements
    are not asked for."""
    m = (measurement or "").lower()
    if unit == "W" and "power" in m:
        return "telemetry"
    if unit == "Wh" and "energy" in m:
        return "energy"
    return None


def store_telemetry(session: Session, ven_id: str, resource_id: str,
                    values: Iterable[tuple[dt.datetime, float]], scale: str | None) -> int:
    """Power samples (W at ``scale``) as MW telemetry of the resource's asset."""
    asset_id = resource_asset(session, ven_id, resource_id)
    if asset_id is None:
        return 0
    factor = 10.0 ** (SCALES.get(scale or "none", 0) - 6)
    n = 0
    for at, v in values:
        session.add(VenTelemetry(ven_id=ven_id, asset_id=asset_id, measured_at=at,
                                 mw=float(v) * factor))
        n += 1
    session.flush()
    return n


def store_energy(session: Session, ven_id: str, resource_id: str,
                 values: Iterable[tuple[dt.datetime, float]], scale: str | None) -> Any:
    """Energy per settlement half hour (Wh at ``scale``; import positive, export negative)
    as meter readings of the asset's meter point, through the metering ingest as the FSP:
    the same checks, versions and audit as an upload (a bad reading stores nothing)."""
    from flexplatform.reporting import service as metering
    from flexplatform.reporting.ingest import Ingest
    from flexplatform.reporting.models import MeterPoint
    from flexplatform.reporting.validate import MeterAccess

    asset_id = resource_asset(session, ven_id, resource_id)
    ven = session.get(VenRegistration, ven_id)
    mpan = session.scalar(select(MeterPoint.mpan).where(MeterPoint.asset_id == asset_id)
                          .order_by(MeterPoint.id)) if asset_id else None
    if mpan is None or ven is None:
        return None
    kwh_per_unit = 10.0 ** (SCALES.get(scale or "none", 0) - 3)
    rows = [(at, float(v) * kwh_per_unit) for at, v in values]
    if not rows:
        return None
    principal = _fsp_principal(session, ven.fsp_id)
    cols = {"mpan": pa.array([mpan] * len(rows), pa.string()),
            "start": pa.array([at.astimezone(dt.UTC).isoformat() for at, _ in rows],
                              pa.string()),
            "import_kwh": pa.array([max(k, 0.0) for _, k in rows], pa.float64()),
            "export_kwh": pa.array([max(-k, 0.0) for _, k in rows], pa.float64())}
    ing = Ingest(session, MeterAccess(metering.submit_lookup(session, principal)),
                 source="openadr", submitted_by=principal.id, actor=principal.actor,
                 filename=f"{ven_id}/{resource_id}")
    ing.add(cols, np.arange(1, len(rows) + 1))
    return ing.finish()


def events_for(session: Session, instruction_ids: Iterable[uuid.UUID]
               ) -> dict[uuid.UUID, tuple[OpenadrEvent, str]]:
    """The OpenADR event (and its VEN's name) of each instruction that was sent as one,
    for the pages that show instructions."""
    ids = list(instruction_ids)
    if not ids:
        return {}
    q = (select(OpenadrEvent, VenRegistration.ven_name)
         .join(VenRegistration, VenRegistration.ven_id == OpenadrEvent.ven_id)
         .where(OpenadrEvent.instruction_id.in_(ids)))
    return {e.instruction_id: (e, name) for e, name in session.execute(q)}
