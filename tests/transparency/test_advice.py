"""Advice from the platform's records: the asset's FSP, prospects, opportunity alerts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from flexplatform.db import utcnow
from flexplatform.transparency import advice
from tests.transparency.monitoring_world import API, HH


def _open_market(world, zone="CMZ_NORTH"):
    start = (utcnow() + dt.timedelta(days=3)).replace(hour=17, minute=0, second=0,
                                                      microsecond=0)
    m, n, _ = world.market(start, periods=4, zone=zone, status="open")
    return m, n


def _history(world, fsp):
    """Three cleared sustain needs in the zone: accepted at 20-24, outcompeted at 40."""
    a = world.asset(fsp, name="past")
    for k in range(3):
        t = utcnow() - dt.timedelta(days=30 - k)
        m, n, _ = world.market(t.replace(minute=0, second=0, microsecond=0), periods=2)
        world.bid(m, n, a, 20.0 + 2 * k)
        world.bid(m, n, a, 40.0, status="rejected", reasons=[{"code": "outcompeted"}])


def _qualified(world, fsp, **kw):
    from flexplatform.registration.service import recompute_for_assets

    a = world.asset(fsp, **kw)
    recompute_for_assets(world.db, [a.id])
    return a


def test_asset_advice_for_its_fsp(client, world, db):
    fsp = world.make_party("fsp")
    _history(world, world.make_party("fsp"))
    a = _qualified(world, fsp, energy_mwh=4.0)
    _m, n = _open_market(world)
    _, far = _open_market(world, zone="CMZ_SOUTH")
    db.commit()
    r = client.get(f"{API}/assets/{a.id}/advice?availability_cost=1", headers=fsp.h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["history"]["bids"] == 6 and out["history"]["needs"] == 3
    adv = out["advice"]
    assert adv["status"] == "optimal"
    (bid,) = adv["bids"]
    assert bid["need"] == str(n.id) and 0 < bid["win_probability"] <= 1
    assert float(bid["availability_price"]) <= 50 and "text" in bid
    assert bid["basis"]["prices"]["observations"] >= 3
    (skip,) = [x for x in adv["not_advised"] if x["need"] == str(far.id)]
    assert skip["codes"] == ["zone_mismatch"]
    assert adv["expected"]["total_gbp"] == bid["expected"]["total_gbp"]


def test_asset_advice_is_404_for_others(client, world, db, make_party):
    fsp, other = world.make_party("fsp"), world.make_party("fsp")
    a = _qualified(world, fsp)
    db.commit()
    assert client.get(f"{API}/assets/{a.id}/advice", headers=other.h).status_code == 404
    assert client.get(f"{API}/assets/{uuid.uuid4()}/advice", headers=fsp.h).status_code == 404
    assert client.get(f"{API}/assets/{a.id}/advice", headers=world.mo.h).status_code == 403


def test_prospect_advice_is_public(client, world, db):
    _open_market(world)
    db.commit()
    body = {"zone": "CMZ_NORTH", "technology": "battery", "up_mw": 1.0, "down_mw": 1.0,
            "energy_mwh": 2.0, "utilisation_cost": 20}
    r = client.post(f"{API}/advice", json=body)
    assert r.status_code == 200, r.text
    adv = r.json()["advice"]
    assert adv["asset"] is None and len(adv["bids"]) == 1
    r = client.post(f"{API}/advice", json=body | {"zone": "NOWHERE"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/zone"
    r = client.post(f"{API}/advice", json=body | {"up_mw": 0, "down_mw": 0})
    assert r.status_code == 422


def test_prospect_ruled_out_by_prequalification(client, world, db):
    _open_market(world)
    db.commit()
    # 0.01 MWh sustains 1 MW for 36 s: sustain needs longer, the platform says so itself.
    body = {"zone": "CMZ_NORTH", "technology": "battery", "up_mw": 1.0, "energy_mwh": 0.01}
    adv = client.post(f"{API}/advice", json=body).json()["advice"]
    assert adv["bids"] == [] and adv["not_advised"][0]["codes"] == ["insufficient_energy"]


def test_opportunity_alerts_tell_each_qualifying_fsp_once(world, db):
    from flexplatform.notifications import Notification

    near, far = world.make_party("fsp"), world.make_party("fsp")
    a = _qualified(world, near)
    _qualified(world, far, zone="CMZ_SOUTH")
    m, n = _open_market(world)
    assert advice.alert_opportunities(db, m.id) == 1
    assert advice.alert_opportunities(db, m.id) == 1  # same dedupe key: nothing new stored
    (note,) = db.query(Notification).filter(Notification.kind == "market.opportunity").all()
    assert note.participant_id == near.id
    p = note.payload
    assert p["asset_id"] == str(a.id) and p["qualifying_needs"] == [str(n.id)]
    assert p["advice"]["bids"][0]["need"] == str(n.id)
    assert advice.count_alerts(db, m.id) == 1


def test_opening_a_market_enqueues_the_alerts(client, world, db, monkeypatch):
    import flexplatform.queue as q

    sent = []
    monkeypatch.setattr(q, "enqueue", lambda name, **kw: sent.append((name, kw)))
    from flexplatform.competition.models import Market, MarketStatus

    m, _ = _open_market(world)
    m.status = MarketStatus.draft
    db.commit()
    r = client.post(f"{API}/markets/{m.id}/open", headers=world.mo.h)
    assert r.status_code == 200, r.text
    assert ("flex.advice.opportunity_alerts", {"market_id": str(m.id)}) in sent
    assert db.get(Market, m.id) is not None


@pytest.mark.parametrize("path", ["/advice"])
def test_prospect_body_is_validated(client, path):
    assert client.post(f"{API}{path}", json={}).status_code == 422
    _ = HH
