"""The platform's own records, flattened for reports and open data.

Contracts come from competition; instructions (dispatch) from ``operations`` and
verifications (delivery) from ``reporting`` when those stages are installed: they are
looked up by name, so a deployment without them still gets the contracted side and the
report says which sources were missing instead of showing zeros as facts.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from flexplatform.competition.models import SUPERSEDED, Bid, Contract, Market, Need, NeedOutcome
from flexplatform.governance.models import TechnologyType, Zone
from flexplatform.identity import Participant
from flexplatform.registration.models import Asset
from flexplatform.transparency.models import NATIONAL, ZoneCarbonRegion

HALF_HOUR = dt.timedelta(minutes=30)


def optional(module: str, name: str) -> Any:
    """A model or function of a stage that may not be installed (None if absent)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def halfhours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += HALF_HOUR
    return out


def zone_regions(session: Session) -> dict[str, int]:
    """Zone code -> carbon region id, a zone without its own entry inheriting its parent's;
    a zone with none up its chain is national (0)."""
    direct = {z.zone_code: z.region_id for z in session.scalars(select(ZoneCarbonRegion))}
    parents = {z.code: z.parent_code for z in session.scalars(select(Zone))}
    out: dict[str, int] = {}
    for code in parents:
        seen, c = set(), code
        while c is not None and c not in direct and c not in seen:
            seen.add(c)
            c = parents.get(c)
        out[code] = direct.get(c, NATIONAL) if c is not None else NATIONAL
    return out


@dataclass
class AssetInfo:
    technology: str
    emission_t_per_mwh: float
    stores_energy: bool
    zone: str


def assets(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, AssetInfo]:
    if not ids:
        return {}
    techs = {t.code: t for t in session.scalars(select(TechnologyType))}
    out = {}
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        for a in session.scalars(select(Asset).where(Asset.id.in_(id_list[i:i + 500]))):
            t = techs.get(a.technology_code)
            out[a.id] = AssetInfo(a.technology_code, a.emission_t_per_mwh or 0.0,
                                  bool(t and t.stores_energy), a.zone_code)
    return out


def names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {p.id: p.legal_name for p in
            session.scalars(select(Participant).where(Participant.id.in_(sorted(ids))))}


@dataclass(slots=True)
class Flow:
    """One asset's MWh in one half-hour, for one stage (contracted/dispatched/delivered)."""

    stage: str
    period_start: dt.datetime
    asset_id: uuid.UUID
    fsp_id: uuid.UUID
    mo_id: uuid.UUID | None
    zone: str
    product: str
    direction: str
    mwh: float
    availability_price: float | None = None
    utilisation_price: float | None = None
    ref: str = ""
    need_id: str = ""


class _Ids:
    """Parse each distinct id once: a range holds many rows but few assets and parties,
    and parsing a UUID per row per column was most of a large report's time."""

    def __init__(self) -> None:
        self.seen: dict[Any, uuid.UUID] = {}

    def __call__(self, v: Any) -> uuid.UUID:
        if isinstance(v, uuid.UUID):
            return v
        if v not in self.seen:
            self.seen[v] = uuid.UUID(v)
        return self.seen[v]

    def text(self, v: Any) -> str:
        key = ("text", v)
        if key not in self.seen:
            self.seen[key] = str(self(v))  # type: ignore[assignment]
        return self.seen[key]  # type: ignore[return-value]


def contracts(session: Session, start: dt.datetime, end: dt.datetime) -> list[Flow]:
    ids = _Ids()
    raw = [type_coerce(c, String()) for c in (Contract.asset_id, Contract.fsp_id,
                                               Contract.mo_id, Contract.need_id)]
    q = (select(Contract.id, Contract.period_start, *raw, Contract.product_code,
                Contract.direction, Contract.mw, Contract.availability_price,
                Contract.utilisation_price, Need.zone_code, Market.period_minutes)
         .join(Need, Need.id == Contract.need_id).join(Market, Market.id == Contract.market_id)
         .where(Contract.period_start >= start, Contract.period_start < end,
                Contract.status.not_in(SUPERSEDED)))
    out = []
    for cid, t, aid, fid, mid, nid, product, direction, mw, ap, up, zone, minutes in \
            session.execute(q):
        out.append(Flow("contracted", t, ids(aid), ids(fid), ids(mid), zone, product,
                        direction, mw * (minutes or 30) / 60.0, float(ap), float(up),
                        str(cid), ids.text(nid)))
    return out


def _contract_zones(session: Session, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        q = (select(Contract.id, Need.zone_code).join(Need, Need.id == Contract.need_id)
             .where(Contract.id.in_(id_list[i:i + 500])))
        out.update({cid: zone for cid, zone in session.execute(q)})  # noqa: C416
    return out


def instructions(session: Session, start: dt.datetime, end: dt.datetime) -> list[Flow] | None:
    """Dispatched MWh per half-hour from instructions not rejected, expired or cancelled;
    None when the operations stage is not installed."""
    Instruction = optional("flexplatform.operations.models", "Instruction")
    if Instruction is None:
        return None
    rows = session.scalars(select(Instruction).where(
        Instruction.period_start < end, Instruction.period_end > start,
        Instruction.status.in_(("issued", "accepted")))).all()
    zones = _contract_zones(session, {r.contract_id for r in rows if r.contract_id})
    out = []
    for r in rows:
        zone = zones.get(r.contract_id) or getattr(r, "zone_code", None) or ""
        for t in halfhours(max(r.period_start, start), min(r.period_end, end)):
            out.append(Flow("dispatched", t, r.asset_id, r.fsp_id, r.mo_id, zone,
                            r.product_code, getattr(r.direction, "value", r.direction),
                            r.mw * 0.5, ref=str(r.id)))
    return out


def verifications(session: Session, start: dt.datetime, end: dt.datetime,
                  dispatched: list[Flow] | None) -> list[Flow] | None:
    """Delivered (verified) MWh of each instruction-period, its latest verification
    (``reporting.service.verifications_between``), placed by its contract's need zone;
    None when the reporting settlement side is not installed. A period without a
    delivered figure (missing meter data) is left out, never counted as zero."""
    between = optional("flexplatform.reporting.service", "verifications_between")
    if between is None:
        return None
    latest = [v for v in between(session, start, end) if v.delivered_kwh is not None]
    ids = sorted({v.contract_id for v in latest})
    contracts: dict[int, tuple[Contract, str]] = {}
    for i in range(0, len(ids), 500):
        q = (select(Contract, Need.zone_code).join(Need, Need.id == Contract.need_id)
             .where(Contract.id.in_(ids[i:i + 500])))
        contracts.update({c.id: (c, z) for c, z in session.execute(q)})
    out = []
    for v in latest:
        if v.contract_id not in contracts:
            continue
        c, zone = contracts[v.contract_id]
        out.append(Flow("delivered", v.period_start, c.asset_id, c.fsp_id, c.mo_id, zone,
                        c.product_code, c.direction, max(0.0, float(v.delivered_kwh)) / 1000.0,
                        ref=str(v.instruction_id), need_id=str(c.need_id)))
    return out


@dataclass
class BidFact:
    need_id: uuid.UUID
    fsp_id: uuid.UUID
    asset_id: uuid.UUID
    month: str
    zone: str
    product: str
    mo_id: uuid.UUID
    mwh: float
    availability_price: float
    utilisation_price: float


def needs_in(session: Session, start: dt.datetime, end: dt.datetime) -> list[tuple[Need, Market]]:
    """Needs whose market delivers in [start, end)."""
    q = (select(Need, Market).join(Market, Market.id == Need.market_id)
         .where(Market.delivery_start < end, Market.delivery_end > start))
    return [(n, m) for n, m in session.execute(q)]


def bids_for(session: Session, need_ids: list[uuid.UUID]) -> list[Bid]:
    out: list[Bid] = []
    for i in range(0, len(need_ids), 500):
        out.extend(session.scalars(select(Bid).where(Bid.need_id.in_(need_ids[i:i + 500]),
                                                     Bid.status != "withdrawn")))
    return out


def outcomes_for(session: Session, pairs: list[tuple[Need, Market]]) -> list[NeedOutcome]:
    """Each need's outcome rows from its market's clearing round (the one in force)."""
    out: list[NeedOutcome] = []
    by_round: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n, m in pairs:
        if m.clearing_round_id is not None:
            by_round.setdefault(m.clearing_round_id, []).append(n.id)
    for rid, ids in by_round.items():
        for i in range(0, len(ids), 500):
            out.extend(session.scalars(select(NeedOutcome).where(
                NeedOutcome.round_id == rid, NeedOutcome.need_id.in_(ids[i:i + 500]))))
    return out
