"""A settled market in miniature on committed data: one MO, two FSPs, contracts over four
hours, accepted instructions, readings for five weeks (one asset delivers half)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flexplatform.registration.mpan import make_mpan

API = "/api/v1"
DAY = dt.date(2025, 1, 15)  # a Wednesday
EVENT = dt.datetime(2025, 1, 15, 17, 0, tzinfo=dt.UTC)
HH = dt.timedelta(minutes=30)


@dataclass
class World:
    h: dict[str, dict[str, str]]
    ids: dict[str, str]
    market_id: str
    mpans: dict[str, str]
    instructions: list[str]


def _party(c: Any, admin: dict[str, str], name: str, role: str) -> tuple[dict[str, str], str]:
    r = c.post(f"{API}/participants", headers=admin, json={
        "role": role, "legal_name": f"{name} Ltd",
        "billing_contact": {"name": name, "email": f"{name}@example.org"}})
    r.raise_for_status()
    h = {"Authorization": f"Bearer {r.json()['api_key']}"}
    if role in ("mo", "fsp"):
        c.post(f"{API}/terms/S-1/accept", headers=h).raise_for_status()
    return h, r.json()["participant"]["id"]


def readings_csv(mpan: str, first: dt.date, last: dt.date, event_kwh: float | None,
                 instructed: set[dt.datetime]) -> str:
    """1000 kWh every half hour (2 MW of demand); ``event_kwh`` in instructed periods."""
    rows = ["mpan,start,import_kwh,export_kwh"]
    t = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    while t < end:
        v = event_kwh if (t in instructed and event_kwh is not None) else 1000.0
        rows.append(f"{mpan},{t.isoformat().replace('+00:00', 'Z')},{v},0")
        t += HH
    return "\n".join(rows) + "\n"


def build(c: Any, seq: int = 0) -> World:
    from flexplatform.audit import Actor
    from flexplatform.competition.models import Bid, ClearingRound, Contract, Market, Need
    from flexplatform.db import unit_of_work
    from flexplatform.operations.models import DispatchRun, Instruction, UtilisationRequest
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant

    with unit_of_work() as s:
        _, key = create_participant(s, ParticipantCreate(
            role="admin", legal_name="Platform Ops", billing_contact={
                "name": "Ops", "email": "ops@example.org"}), Actor.system())
    admin = {"Authorization": f"Bearer {key}"}
    c.post(f"{API}/terms", headers=admin, json={"version": "S-1", "title": "Terms",
                                                "body": "Rules."}).raise_for_status()
    c.put(f"{API}/zones/CMZ_S", headers=admin, json={
        "code": "CMZ_S", "name": "S zone", "kind": "cmz", "dso": "NGED"}).raise_for_status()
    h, ids = {"admin": admin}, {}
    for name, role in [("mo", "mo"), ("mo2", "mo"), ("fsp", "fsp"), ("fsp2", "fsp"),
                       ("reg", "regulator")]:
        h[name], ids[name] = _party(c, admin, name, role)
    mpans, assets = {}, {}
    for k, who in enumerate(("fsp", "fsp2")):
        mpan = make_mpan(f"1600{seq:03d}{k:05d}")
        r = c.post(f"{API}/assets", headers=h[who], json={
            "name": f"site {who}", "mpan": mpan, "zone": "CMZ_S", "technology": "industrial_dsr",
            "up_mw": 2.0, "down_mw": 0.0, "ramp_mw_per_min": 10.0})
        assert r.status_code == 201, r.text
        assets[who] = r.json()["id"]
        r = c.post(f"{API}/meter-points", headers=h[who],
                   json={"mpan": mpan, "asset_id": assets[who], "measures": "import"})
        assert r.status_code == 201, r.text
        mpans[who] = mpan
    instructed = {"fsp": [EVENT, EVENT + HH], "fsp2": [EVENT + 2 * HH, EVENT + 3 * HH]}
    with unit_of_work() as s:
        mo = uuid.UUID(ids["mo"])
        market = Market(mo_id=mo, name="S market", gate_open_at=EVENT, gate_close_at=EVENT,
                        delivery_start=EVENT, delivery_end=EVENT + 8 * HH, status="cleared")
        s.add(market)
        s.flush()
        need = Need(market_id=market.id, product_code="sustain", zone_code="CMZ_S",
                    direction="up", mw=[1.0] * 8, max_availability_price=Decimal(20),
                    utilisation_price_cap=Decimal(300), unmet_penalty=Decimal(0))
        rnd = ClearingRound(market_ids=[str(market.id)], status="done")
        s.add_all([need, rnd])
        s.flush()
        req = UtilisationRequest(mo_id=mo, market_id=market.id, need_id=need.id,
                                 product_code="sustain", zone_code="CMZ_S", direction="up",
                                 period_start=EVENT, period_end=EVENT + 4 * HH, mw=1.0,
                                 status="dispatched")
        run = DispatchRun(trigger="event", status="done")
        s.add_all([req, run])
        s.flush()
        ins_ids = []
        for who in ("fsp", "fsp2"):
            fsp = uuid.UUID(ids[who])
            bid = Bid(fsp_id=fsp, asset_id=uuid.UUID(assets[who]), need_id=need.id,
                      market_id=market.id, mw=[1.0] * 8, availability_price=Decimal("10.5"),
                      utilisation_price=Decimal("150"), status="accepted")
            s.add(bid)
            s.flush()
            cons = {}
            for p in range(8):
                ct = Contract(round_id=rnd.id, bid_id=bid.id, need_id=need.id,
                              market_id=market.id, asset_id=bid.asset_id, fsp_id=fsp, mo_id=mo,
                              product_code="sustain", direction="up", period_start=EVENT + p * HH,
                              mw=1.0, availability_price=Decimal("10.5"),
                              utilisation_price=Decimal("150"))
                s.add(ct)
                s.flush()
                cons[ct.period_start] = ct
            for t in instructed[who]:
                i = Instruction(run_id=run.id, request_id=req.id, contract_id=cons[t].id,
                                asset_id=bid.asset_id, fsp_id=fsp, mo_id=mo,
                                product_code="sustain", direction="up", period_start=t,
                                period_end=t + HH, mw=1.0, status="accepted",
                                ack_deadline=t - HH, acked_at=t - HH)
                s.add(i)
                s.flush()
                ins_ids.append(str(i.id))
        market_id = str(market.id)
    first = DAY - dt.timedelta(days=36)
    for who, kwh in (("fsp", 500.0), ("fsp2", 750.0)):  # fsp2 delivers half its 1 MW
        r = c.post(f"{API}/meter-readings/csv", headers=h[who] | {"content-type": "text/csv"},
                   content=readings_csv(mpans[who], first, DAY, kwh, set(instructed[who])))
        assert r.status_code == 201, r.text
    return World(h, ids, market_id, mpans, ins_ids)
