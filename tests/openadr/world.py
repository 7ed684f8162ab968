"""A minimal chain of rows ending in instructions, built with the ORM (no API calls): an
MO, an FSP with two assets and meter points, a cleared market's contracts, a dispatch run
and one issued instruction per asset. What operations would have produced; here only so
the VTN has something real to send."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from flexplatform.audit import Actor
from flexplatform.competition.models import Bid, ClearingRound, Contract, Market, Need
from flexplatform.operations.models import DispatchRun, Instruction, UtilisationRequest
from flexplatform.registration.models import Asset
from flexplatform.registration.schemas import ParticipantCreate
from flexplatform.registration.service import create_participant
from flexplatform.reporting.models import Measures, MeterPoint
from tests.helpers import new_mpan


@dataclass
class World:
    mo_id: uuid.UUID
    fsp_id: uuid.UUID
    fsp_key: str
    other_fsp_id: uuid.UUID
    other_fsp_key: str
    assets: list[uuid.UUID]
    other_asset: uuid.UUID
    instructions: list[uuid.UUID]
    start: dt.datetime


def _party(s: Session, role: str, name: str) -> tuple[uuid.UUID, str]:
    p, key = create_participant(s, ParticipantCreate(
        role=role, legal_name=name, billing_contact={"name": "B", "email": "b@example.org"}),
        Actor.system())
    return p.id, key


def _asset(s: Session, fsp_id: uuid.UUID, name: str) -> Asset:
    a = Asset(fsp_id=fsp_id, name=name, mpan=new_mpan(), zone_code="GB",
              technology_code="battery", up_mw=2.0, down_mw=2.0, energy_mwh=4.0)
    s.add(a)
    s.flush()
    s.add(MeterPoint(mpan=a.mpan, asset_id=a.id, measures=Measures.both))
    return a


def build(s: Session, now: dt.datetime | None = None, periods: int = 2) -> World:
    now = now or dt.datetime.now(dt.UTC)
    start = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)
    end = start + dt.timedelta(minutes=30 * periods)
    mo, _ = _party(s, "mo", "DSO Ltd")
    fsp, fsp_key = _party(s, "fsp", "Aggregator Ltd")
    other, other_key = _party(s, "fsp", "Other Aggregator Ltd")
    assets = [_asset(s, fsp, f"Battery {i}") for i in (1, 2)]
    other_asset = _asset(s, other, "Other battery")
    m = Market(mo_id=mo, name="Market", status="cleared", gate_open_at=now - dt.timedelta(days=1),
               gate_close_at=now - dt.timedelta(hours=1), delivery_start=start,
               delivery_end=end)
    s.add(m)
    s.flush()
    need = Need(market_id=m.id, product_code="dynamic", zone_code="GB", direction="up",
                mw=[1.5] * periods, max_availability_price=Decimal("10"),
                utilisation_price_cap=Decimal("300"), unmet_penalty=Decimal("1000"))
    rnd = ClearingRound(status="done", market_ids=[str(m.id)])
    run = DispatchRun(trigger="event", status="done")
    s.add_all([need, rnd, run])
    s.flush()
    req = UtilisationRequest(mo_id=mo, market_id=m.id, need_id=need.id, product_code="dynamic",
                             zone_code="GB", direction="up", period_start=start,
                             period_end=end, mw=1.5, status="dispatched")
    s.add(req)
    s.flush()
    ids = []
    for a, mw in zip([*assets, other_asset], [1.5, 0.75, 1.0], strict=True):
        bid = Bid(fsp_id=a.fsp_id, asset_id=a.id, need_id=need.id, market_id=m.id,
                  mw=[mw] * periods, availability_price=Decimal("5"),
                  utilisation_price=Decimal("150"), status="accepted")
        s.add(bid)
        s.flush()
        c = Contract(round_id=rnd.id, bid_id=bid.id, need_id=need.id, market_id=m.id,
                     asset_id=a.id, fsp_id=a.fsp_id, mo_id=mo, product_code="dynamic",
                     direction="up", period_start=start, mw=mw,
                     availability_price=Decimal("5"), utilisation_price=Decimal("150"))
        s.add(c)
        s.flush()
        ins = Instruction(run_id=run.id, request_id=req.id, contract_id=c.id, asset_id=a.id,
                          fsp_id=a.fsp_id, mo_id=mo, product_code="dynamic", direction="up",
                          period_start=start, period_end=end, mw=mw,
                          ack_deadline=now + dt.timedelta(minutes=15))
        s.add(ins)
        s.flush()
        ids.append(ins.id)
    return World(mo_id=mo, fsp_id=fsp, fsp_key=fsp_key, other_fsp_id=other,
                 other_fsp_key=other_key, assets=[a.id for a in assets],
                 other_asset=other_asset.id, instructions=ids, start=start)
