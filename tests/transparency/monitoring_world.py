"""Builders for monitoring, ratings and advice tests: rows written straight through the ORM
(the rules read records, so the quickest honest fixture is the records themselves)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from tests.helpers import new_mpan

API = "/api/v1"
T0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)  # an event at 17:00Z
HH = dt.timedelta(minutes=30)


class World:
    """A tiny market history: assets, a cleared market per call, its contracts."""

    def __init__(self, db: Any, make_party: Any):
        self.db, self.make_party = db, make_party
        self.mo = make_party("mo")

    def asset(self, fsp: Any, zone: str = "CMZ_NORTH", **kw: Any) -> Any:
        from flexplatform.registration.models import Asset

        a = Asset(fsp_id=fsp.id, name=kw.pop("name", "A"), mpan=new_mpan(), zone_code=zone,
                  technology_code=kw.pop("technology", "battery"),
                  up_mw=kw.pop("up_mw", 2.0), down_mw=kw.pop("down_mw", 2.0), **kw)
        self.db.add(a)
        self.db.flush()
        return a

    def market(self, start: dt.datetime, periods: int = 4, zone: str = "CMZ_NORTH",
               product: str = "sustain", direction: str = "up", mw: float = 1.0,
               status: str = "cleared") -> tuple[Any, Any, Any]:
        from flexplatform.competition.models import (
            ClearingRound,
            Market,
            MarketStatus,
            Need,
            NeedDirection,
        )

        m = Market(mo_id=self.mo.id, name="M", status=MarketStatus(status),
                   gate_open_at=start - dt.timedelta(days=2),
                   gate_close_at=start - dt.timedelta(days=1), delivery_start=start,
                   delivery_end=start + periods * HH)
        self.db.add(m)
        self.db.flush()
        n = Need(market_id=m.id, product_code=product, zone_code=zone,
                 direction=NeedDirection(direction),
                 mw=[mw] * periods, max_availability_price=Decimal("50"),
                 utilisation_price_cap=Decimal("500"), unmet_penalty=Decimal("1000"))
        r = ClearingRound(status="done", market_ids=[str(m.id)])
        self.db.add_all([n, r])
        self.db.flush()
        m.clearing_round_id = r.id
        return m, n, r

    def bid(self, market: Any, need: Any, asset: Any, price: float, status: str = "accepted",
            created_at: dt.datetime | None = None, reasons: list | None = None) -> Any:
        from flexplatform.competition.models import Bid, BidStatus

        status = BidStatus(status)
        b = Bid(fsp_id=asset.fsp_id, asset_id=asset.id, need_id=need.id, market_id=market.id,
                mw=list(need.mw), availability_price=Decimal(str(price)),
                utilisation_price=Decimal("100"), status=status, reasons=reasons or [],
                created_at=created_at or market.gate_open_at)
        self.db.add(b)
        self.db.flush()
        return b

    def award(self, rnd: Any, market: Any, need: Any, bid: Any, asset: Any,
              period_start: dt.datetime, mw: float = 1.0) -> Any:
        from flexplatform.competition.models import Contract

        c = Contract(round_id=rnd.id, bid_id=bid.id, need_id=need.id, market_id=market.id,
                     asset_id=asset.id, fsp_id=asset.fsp_id, mo_id=market.mo_id,
                     product_code=need.product_code, direction=need.direction.value,
                     period_start=period_start, mw=mw,
                     availability_price=bid.availability_price,
                     utilisation_price=bid.utilisation_price)
        self.db.add(c)
        self.db.flush()
        return c

    def outcome(self, rnd: Any, need: Any, period_start: dt.datetime, unmet: float = 0.0,
                price: float | None = None) -> None:
        from flexplatform.competition.models import NeedOutcome

        self.db.add(NeedOutcome(round_id=rnd.id, need_id=need.id, period_start=period_start,
                                required_mw=1.0, awarded_mw=1.0 - unmet, unmet_mw=unmet,
                                clearing_price=price))
        self.db.flush()

    def readings(self, asset: Any, values: dict[dt.datetime, float]) -> None:
        """Net import per half-hour on one meter of the asset."""
        from flexplatform.reporting.models import MeterPoint, MeterReading, MeterSubmission

        mp = MeterPoint(mpan=new_mpan(), asset_id=asset.id, measures="both")
        self.db.add(mp)
        self.db.flush()
        ts = sorted(values)
        sub = MeterSubmission(source="test", rows=len(ts), stored=len(ts), corrections=0,
                              unchanged=0, duplicates=0, first_period=ts[0], last_period=ts[-1])
        self.db.add(sub)
        self.db.flush()
        if self.db.get_bind().dialect.name == "postgresql":
            from flexplatform.reporting import partitions

            partitions.ensure(self.db, partitions.month_index(
                __import__("numpy").array([int(t.timestamp()) for t in ts])).tolist())
        self.db.add_all([MeterReading(meter_point_id=mp.id, period_start=t,
                                      import_kwh=max(values[t], 0.0), export_kwh=max(-values[t], 0.0),
                                      submission_id=sub.id, version=1) for t in ts])
        self.db.flush()


def uid() -> str:
    return str(uuid.uuid4())
