"""Public catalogue and per-asset opportunities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flexplatform.competition.models import Market, MarketStatus, Need, NeedDirection
from tests.helpers import asset_body

NOW = dt.datetime.now(dt.UTC)


def _market(db, mo_id, status=MarketStatus.open, zone="CMZ_NORTH", product="dynamic",
            direction=NeedDirection.up, start_days=3, name="M"):
    start = (NOW + dt.timedelta(days=start_days)).replace(minute=0, second=0, microsecond=0)
    m = Market(mo_id=mo_id, name=name, status=status,
               gate_open_at=NOW - dt.timedelta(days=1), gate_close_at=NOW + dt.timedelta(days=1),
               delivery_start=start, delivery_end=start + dt.timedelta(hours=2))
    m.needs.append(Need(name=f"{name} need", product_code=product, zone_code=zone,
                        direction=direction, priority=1, mw=[1.0, 2.0, 2.0, 1.0],
                        max_availability_price=Decimal("50"), utilisation_price_cap=Decimal("400"),
                        expected_utilisation=0.2, unmet_penalty=Decimal("1000")))
    db.add(m)
    db.commit()
    return m


def test_catalogue_public_filters_and_pagination(client, make_party, zones, db):
    mo = make_party("mo")
    _market(db, mo.id, name="A")
    _market(db, mo.id, name="B", zone="CMZ_SOUTH", product="secure")
    _market(db, mo.id, name="C", direction=NeedDirection.down, product="local_turn_up")
    _market(db, mo.id, name="D", status=MarketStatus.draft)
    _market(db, mo.id, name="E", start_days=30)
    r = client.get("/api/v1/catalogue/needs")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and {n["market_name"] for n in body["items"]} == {"A", "B", "C", "E"}
    n = body["items"][0]
    assert n["peak_mw"] == 2.0 and n["total_mwh"] == 3.0 and n["max_availability_price"] == "50.0000"
    assert client.get("/api/v1/catalogue/needs?zone=CMZ_SOUTH").json()["total"] == 1
    assert client.get("/api/v1/catalogue/needs?product=secure").json()["total"] == 1
    assert client.get("/api/v1/catalogue/needs?direction=down").json()["total"] == 1
    w_to = (NOW + dt.timedelta(days=10)).isoformat()
    r = client.get("/api/v1/catalogue/needs", params={"window_to": w_to})
    assert r.json()["total"] == 3
    page = client.get("/api/v1/catalogue/needs?limit=2&offset=2").json()
    assert len(page["items"]) == 2 and page["total"] == 4
    r = client.get("/api/v1/catalogue/needs", params={"window_from": "2026-01-01T00:00:00"})
    assert r.status_code == 422
    one = body["items"][1]
    r = client.get(f"/api/v1/catalogue/needs/{one['id']}")
    assert r.status_code == 200 and r.json() == one
    assert [n["market_name"] for n in body["items"]] == ["A", "B", "C", "E"]  # by gate, then age
    a = body["items"][0]
    assert (a["product"], a["zone"], a["direction"], a["mw"]) == (
        "dynamic", "CMZ_NORTH", "up", [1.0, 2.0, 2.0, 1.0])
    assert a["utilisation_price_cap"] == "400.0000" and a["mo"].startswith("MO ")


def test_draft_need_not_in_catalogue(client, make_party, zones, db):
    mo = make_party("mo")
    m = _market(db, mo.id, status=MarketStatus.draft)
    assert client.get(f"/api/v1/catalogue/needs/{m.needs[0].id}").status_code == 404


def test_opportunities_explain_why_not(client, make_party, zones, db):
    mo, fsp = make_party("mo"), make_party("fsp")
    _market(db, mo.id, name="north-dynamic")
    _market(db, mo.id, name="south-secure", zone="CMZ_SOUTH", product="secure")
    _market(db, mo.id, name="gb-dfs", zone="GB", product="dfs")
    _market(db, mo.id, name="turn-up", direction=NeedDirection.down, product="local_turn_up")
    a = client.post("/api/v1/assets", headers=fsp.h, json=asset_body(
        up_mw=0.5, down_mw=0.0, energy_mwh=2.0, technology="industrial_dsr")).json()
    r = client.get(f"/api/v1/assets/{a['id']}/opportunities", headers=fsp.h)
    assert r.status_code == 200
    body = r.json()
    yes = {v["need"]["market_name"] for v in body["qualifying"]}
    no = {v["need"]["market_name"]: {x["code"] for x in v["reasons"]}
          for v in body["not_qualifying"]}
    assert yes == {"north-dynamic"}
    assert "zone_mismatch" in no["south-secure"]
    assert "below_minimum_size" in no["gb-dfs"]  # 0.5 MW < 1 MW DFS minimum
    assert "direction_not_supported" in no["turn-up"]
