"""Delivery periods are UTC half-hours, and one round's markets share one axis of them.

Found by trying the API: ``T04:30:00+05:45`` passed the boundary check (it read the local
minute) and was stored as 22:45Z; cleared in one round with an aligned market it shifted
that market's periods and sold one asset twice in a half-hour.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select

from flexplatform.competition import clearing
from flexplatform.competition.models import (
    Bid,
    ClearingRound,
    Contract,
    Market,
    MarketStatus,
    Need,
    NeedDirection,
    RoundStatus,
)
from tests.competition.test_bids import API, market_body
from tests.helpers import asset_body

NOW = dt.datetime.now(dt.UTC)
# Two clear days ahead: every window below (local offsets included) starts after the gate
# (market_body closes it a day from now), whatever the time of day the tests run.
DAY = (NOW + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)


def _window(start: dt.datetime, periods: int, mw: list[float]) -> dict:
    return market_body(
        delivery_start=start.isoformat(),
        delivery_end=(start + dt.timedelta(minutes=30 * periods)).isoformat(),
        needs=[{**market_body()["needs"][0], "mw": mw}])


def test_delivery_windows_are_checked_in_utc(client, make_party, zones):
    mo = make_party("mo")
    local = DAY.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=45)))
    off = local.replace(hour=4, minute=30)  # 22:45Z the day before: not a UTC half-hour
    body = market_body(delivery_start=off.isoformat(),
                       delivery_end=(off + dt.timedelta(hours=1)).isoformat())
    r = client.post(f"{API}/markets", json=body, headers=mo.h)
    assert r.status_code == 422, r.text
    assert "22:45Z" in r.text and "UTC" in r.text
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    on = DAY.astimezone(ist).replace(hour=4, minute=30)  # 23:00Z: a UTC half-hour
    body = market_body(delivery_start=on.isoformat(),
                       delivery_end=(on + dt.timedelta(hours=1)).isoformat())
    r = client.post(f"{API}/markets", json=body, headers=mo.h)
    assert r.status_code == 201, r.text
    stored = dt.datetime.fromisoformat(r.json()["delivery_start"])
    assert stored.utcoffset() == dt.timedelta(0) and stored == on
    assert (stored.hour, stored.minute) == (23, 0)


def test_markets_of_one_round_keep_their_own_periods(client, make_party, zones, db):
    """Different starts, lengths and a gap: each value lands on its own UTC half-hour."""
    mo, fsp = make_party("mo"), make_party("fsp")
    t17 = DAY.replace(hour=17)
    a = client.post(f"{API}/markets", json=_window(t17, 2, [1.0, 2.0]), headers=mo.h).json()
    b = client.post(f"{API}/markets", json=_window(t17 + dt.timedelta(minutes=30), 3,
                                                   [3.0, 4.0, 5.0]), headers=mo.h).json()
    c = client.post(f"{API}/markets", json=_window(t17 + dt.timedelta(hours=3), 1, [6.0]),
                    headers=mo.h).json()
    asset = client.post(f"{API}/assets", json=asset_body(up_mw=10.0, energy_mwh=20.0), headers=fsp.h).json()
    for m, mw in ((a, [0.5, 0.6]), (b, [0.7, 0.8, 0.9]), (c, [1.1])):
        client.post(f"{API}/bids", headers=fsp.h, json={
            "need_id": m["needs"][0]["id"], "asset_id": asset["id"], "mw": mw,
            "availability_price": "20", "utilisation_price": "150"}).raise_for_status()
    gate = dt.datetime.fromisoformat(a["gate_close_at"])
    (rid,) = clearing.close_gates(db, now=gate + dt.timedelta(seconds=1))
    db.flush()
    snap = clearing.build_snapshot(db, db.get(ClearingRound, rid))
    assert snap["periods"] == [(t17 + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")
                               for m in (0, 30, 60, 90, 180)]
    need_mw = {n["id"]: n["mw"] for n in snap["needs"]}
    assert need_mw[a["needs"][0]["id"]] == [1.0, 2.0, 0.0, 0.0, 0.0]
    assert need_mw[b["needs"][0]["id"]] == [0.0, 3.0, 4.0, 5.0, 0.0]
    assert need_mw[c["needs"][0]["id"]] == [0.0, 0.0, 0.0, 0.0, 6.0]
    bid_mw = {x["need"]: x["mw"] for x in snap["bids"]}
    assert bid_mw[b["needs"][0]["id"]] == [0.0, 0.7, 0.8, 0.9, 0.0]


def _legacy_market(db, mo_id: uuid.UUID, start: dt.datetime, gate: dt.datetime) -> Market:
    """A market stored before the UTC check existed (not creatable through the API now)."""
    m = Market(mo_id=mo_id, name="legacy", status=MarketStatus.open,
               gate_open_at=NOW - dt.timedelta(hours=1), gate_close_at=gate,
               delivery_start=start, delivery_end=start + dt.timedelta(hours=1))
    m.needs.append(Need(product_code="dynamic", zone_code="CMZ_NORTH",
                        direction=NeedDirection.up, priority=1, mw=[2.0, 2.0],
                        max_availability_price=Decimal("50"),
                        utilisation_price_cap=Decimal("300"), expected_utilisation=0.1,
                        unmet_penalty=Decimal("900")))
    db.add(m)
    db.commit()
    return m


def test_a_market_off_the_half_hour_never_clears_with_an_aligned_one(client, make_party,
                                                                      zones, db):
    """One 2 MW asset bids 2 MW into both: it must never be sold twice in any half-hour."""
    from optimiser import clear, load_snapshot

    mo, fsp = make_party("mo"), make_party("fsp")
    t23 = DAY.replace(hour=23)
    good = client.post(f"{API}/markets", json=_window(t23, 2, [2.0, 2.0]), headers=mo.h).json()
    gate = dt.datetime.fromisoformat(good["gate_close_at"])
    legacy = _legacy_market(db, mo.id, t23 - dt.timedelta(minutes=15), gate)
    asset = client.post(f"{API}/assets", json=asset_body(up_mw=2.0), headers=fsp.h).json()
    bids = {}
    for need in (good["needs"][0]["id"], str(legacy.needs[0].id)):
        r = client.post(f"{API}/bids", headers=fsp.h, json={
            "need_id": need, "asset_id": asset["id"], "mw": [2.0, 2.0],
            "availability_price": "20", "utilisation_price": "150"})
        assert r.status_code == 201, r.text
        bids[need] = r.json()["id"]

    (rid,) = clearing.close_gates(db, now=gate + dt.timedelta(seconds=1))
    db.flush()
    db.expire_all()
    rnd = db.get(ClearingRound, rid)
    assert rnd.market_ids == [good["id"]]
    assert db.get(Market, legacy.id).status == MarketStatus.cancelled
    refused = db.get(Bid, uuid.UUID(bids[str(legacy.needs[0].id)]))
    assert refused.status.value == "rejected" and refused.reasons[0]["code"] == "market_off_grid"
    snapshot = clearing.prepare(db, rid)
    result = clear(load_snapshot(snapshot)).to_dict()
    assert clearing.store(db, rid, result)
    db.flush()
    rows = db.scalars(select(Contract).where(Contract.asset_id == uuid.UUID(asset["id"]))).all()
    assert rows
    # Every UTC instant (on a quarter-hour, to see overlaps) carries at most 2 MW.
    for q in range(-2, 10):
        t = t23 + dt.timedelta(minutes=15 * q)
        covering = sum(c.mw for c in rows
                       if c.period_start <= t < c.period_start + dt.timedelta(minutes=30))
        assert covering <= 2.0 + 1e-6, (t, covering)


def test_a_round_holding_an_off_grid_market_fails_with_the_reason(make_party, zones, db):
    """A round queued before the check (its market slipped in) fails; it does not clear."""
    mo = make_party("mo")
    t = DAY.replace(hour=10, minute=45)
    legacy = _legacy_market(db, mo.id, t, NOW - dt.timedelta(minutes=1))
    legacy.status = MarketStatus.closed
    rnd = ClearingRound(market_ids=[str(legacy.id)])
    db.add(rnd)
    db.flush()
    assert clearing.prepare(db, rnd.id) is None
    assert rnd.status == RoundStatus.failed and "10:45Z" in rnd.error
