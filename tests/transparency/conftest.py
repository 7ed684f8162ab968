"""A small cleared market built straight in the database, and tasks run inline.

Reports are built by a worker in its own transaction; inside the suite's rolled-back
connection ``inline_tasks`` builds them on that connection instead (the live test in
test_reports.py runs the real task through the embedded queue).

``world`` gives the monitoring, ratings and advice tests their builders
(tests/transparency/monitoring_world.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

T0 = dt.datetime(2026, 1, 12, 16, 0, tzinfo=dt.UTC)  # a Monday, 16:00 UTC


@dataclass
class Market:
    mo: Any
    fsps: list[Any]
    regulator: Any
    admin: Any
    needs: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, Any] = field(default_factory=dict)
    contracts: list[Any] = field(default_factory=list)


@pytest.fixture
def inline_tasks(monkeypatch: pytest.MonkeyPatch, connection: Any) -> None:
    from flexplatform.transparency import service

    def run(name: str, **kw: Any) -> None:
        s = Session(bind=connection, join_transaction_mode="create_savepoint",
                    expire_on_commit=False)
        try:
            service.build_now(s, uuid.UUID(kw["report_id"]))
            s.commit()
        finally:
            s.close()

    monkeypatch.setattr(service, "enqueue", run)


def _asset(db: Session, fsp: Any, zone: str, tech: str, ef: float = 0.0) -> Any:
    from flexplatform.registration.models import Asset

    a = Asset(fsp_id=fsp.id, name=f"{tech} {uuid.uuid4().hex[:4]}",
              mpan=f"{uuid.uuid4().int % 10**13:013d}", zone_code=zone, technology_code=tech,
              up_mw=5.0, down_mw=5.0, emission_t_per_mwh=ef)
    db.add(a)
    db.flush()
    return a


@pytest.fixture
def market(db: Session, make_party: Any, zones: list[str]) -> Market:
    """Two CMZs: CMZ_NORTH (three FSPs win, East Midlands) and CMZ_SOUTH (one FSP bids
    twice and wins, a second bids and loses; South West England). A third need has no bid.
    Two half-hours from :data:`T0`."""
    from flexplatform.competition.models import (
        Bid,
        ClearingRound,
        Contract,
        Need,
        NeedOutcome,
        RoundStatus,
    )
    from flexplatform.competition.models import Market as M
    from flexplatform.transparency.models import ZoneCarbonRegion

    mo = make_party("mo", name="NGED Test")
    fsps = [make_party("fsp") for _ in range(4)]
    mk = Market(mo=mo, fsps=fsps, regulator=make_party("regulator"), admin=make_party("admin"))
    db.add_all([ZoneCarbonRegion(zone_code="CMZ_NORTH", region_id=9),
                ZoneCarbonRegion(zone_code="CMZ_SOUTH", region_id=11)])
    rnd = ClearingRound(status=RoundStatus.done, market_ids=[])
    db.add(rnd)
    db.flush()
    m = M(mo_id=mo.id, name="Peak", gate_open_at=T0 - dt.timedelta(days=2),
          gate_close_at=T0 - dt.timedelta(days=1), delivery_start=T0,
          delivery_end=T0 + dt.timedelta(hours=1), status="cleared", clearing_round_id=rnd.id)
    db.add(m)
    db.flush()
    rnd.market_ids = [str(m.id)]
    money = {"max_availability_price": Decimal("300"), "utilisation_price_cap": Decimal("600"),
             "unmet_penalty": Decimal("1000")}
    for key, zone in (("north", "CMZ_NORTH"), ("south", "CMZ_SOUTH"), ("empty", "CMZ_SOUTH")):
        n = Need(market_id=m.id, product_code="sustain", zone_code=zone, direction="up",
                 mw=[3.0, 3.0], **money)
        db.add(n)
        db.flush()
        mk.needs[key] = n
    plan = [("north", fsps[0], "battery", 100, 1.0, 0.0), ("north", fsps[1], "heat_pump", 120,
            1.0, 0.0), ("north", fsps[2], "generator", 200, 1.0, 0.45),
            ("south", fsps[3], "battery", 150, 2.0, 0.0), ("south", fsps[3], "battery", 160,
            0.5, 0.0)]
    for key, fsp, tech, price, mw, ef in plan:
        n = mk.needs[key]
        a = _asset(db, fsp, n.zone_code, tech, ef)
        mk.assets.setdefault(key, []).append(a)
        b = Bid(fsp_id=fsp.id, asset_id=a.id, need_id=n.id, market_id=m.id, mw=[mw, mw],
                availability_price=Decimal(price), utilisation_price=Decimal(price * 2),
                status="accepted")
        db.add(b)
        db.flush()
        for i in range(2):
            c = Contract(round_id=rnd.id, bid_id=b.id, need_id=n.id, market_id=m.id,
                         asset_id=a.id, fsp_id=fsp.id, mo_id=mo.id, product_code="sustain",
                         direction="up", period_start=T0 + dt.timedelta(minutes=30 * i), mw=mw,
                         availability_price=Decimal(price), utilisation_price=Decimal(price * 2))
            db.add(c)
            mk.contracts.append(c)
    loser = _asset(db, fsps[0], "CMZ_SOUTH", "battery")
    db.add(Bid(fsp_id=fsps[0].id, asset_id=loser.id, need_id=mk.needs["south"].id,
               market_id=m.id, mw=[1.0, 1.0], availability_price=Decimal("290"),
               utilisation_price=Decimal("500"), status="rejected"))
    for key, awarded in (("north", 3.0), ("south", 2.5), ("empty", 0.0)):
        for i in range(2):
            db.add(NeedOutcome(round_id=rnd.id, need_id=mk.needs[key].id,
                               period_start=T0 + dt.timedelta(minutes=30 * i), required_mw=3.0,
                               awarded_mw=awarded, unmet_mw=3.0 - awarded,
                               clearing_price=None if not awarded else 200.0))
    db.commit()
    return mk


def intensity(db: Session, region: int, value: float, start: dt.datetime = T0,
              n: int = 6, actual: bool = False) -> None:
    from flexplatform.transparency.models import CarbonIntensity

    for i in range(n):
        db.add(CarbonIntensity(region_id=region, period_start=start + dt.timedelta(minutes=30 * i),
                               forecast=None if actual else value, actual=value if actual else None,
                               source="test"))
    db.commit()


@pytest.fixture
def world(db, make_party, zones):
    """A tiny market history for the monitoring, ratings and advice tests."""
    from tests.transparency.monitoring_world import World

    return World(db, make_party)

