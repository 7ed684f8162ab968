"""Asset registration over the API, on every backend."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from flexplatform.registration.models import Asset, Prequalification
from tests.helpers import asset_body, new_mpan


def test_register_asset_prequalifies_against_every_product(client, make_party, zones, db):
    fsp = make_party("fsp")
    r = client.post("/api/v1/assets", json=asset_body(), headers=fsp.h)
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["fsp_id"] == str(fsp.id) and asset["zone"] == "CMZ_NORTH"
    pq = client.get(f"/api/v1/assets/{asset['id']}/prequalification", headers=fsp.h).json()
    products = {p["product"]: p for p in pq}
    # Every seeded product evaluated: register once, qualify everywhere.
    assert set(products) >= {"sustain", "secure", "dynamic", "restore", "dfs"}
    assert products["dynamic"]["status"] == "eligible"
    # 2 MW battery meets the 1 MW DFS minimum; 4 MWh sustains 2 MW for 120 min.
    assert products["dfs"]["status"] == "eligible"


def test_prequalification_reasons_and_recompute_on_update(client, make_party, zones):
    fsp = make_party("fsp")
    body = asset_body(up_mw=0.5, down_mw=0.0, energy_mwh=0.1, ramp_mw_per_min=0.001)
    a = client.post("/api/v1/assets", json=body, headers=fsp.h).json()
    pq = {p["product"]: p for p in
          client.get(f"/api/v1/assets/{a['id']}/prequalification", headers=fsp.h).json()}
    codes = {r["code"] for r in pq["dfs"]["reasons"]}
    assert pq["dfs"]["status"] == "ineligible"
    assert {"below_minimum_size", "insufficient_energy", "too_slow"} <= codes
    # 0.1 MWh at 0.5 MW lasts 12 min < 30 min: ineligible for dynamic too.
    assert "insufficient_energy" in {r["code"] for r in pq["dynamic"]["reasons"]}
    r = client.patch(f"/api/v1/assets/{a['id']}", headers=fsp.h,
                     json={"up_mw": 2.0, "energy_mwh": 4.0, "ramp_mw_per_min": 5.0})
    assert r.status_code == 200, r.text
    pq = {p["product"]: p for p in
          client.get(f"/api/v1/assets/{a['id']}/prequalification", headers=fsp.h).json()}
    assert pq["dfs"]["status"] == "eligible" and pq["dynamic"]["status"] == "eligible"


def test_product_change_requalifies_assets(client, make_party, zones):
    fsp, admin = make_party("fsp"), make_party("admin")
    a = client.post("/api/v1/assets", json=asset_body(), headers=fsp.h).json()
    products = {p["code"]: p for p in client.get("/api/v1/products").json()}
    dyn = products["dynamic"] | {"min_mw": 5.0}
    r = client.put("/api/v1/products/dynamic", json=dyn, headers=admin.h)
    assert r.status_code == 200, r.text
    pq = {p["product"]: p for p in
          client.get(f"/api/v1/assets/{a['id']}/prequalification", headers=fsp.h).json()}
    assert pq["dynamic"]["status"] == "ineligible"
    assert pq["dynamic"]["reasons"][0]["code"] == "below_minimum_size"


def test_lifecycle_and_decommission(client, make_party, zones):
    fsp = make_party("fsp")
    a = client.post("/api/v1/assets", json=asset_body(status="in_development"),
                    headers=fsp.h).json()
    pq = {p["product"]: p["status"] for p in
          client.get(f"/api/v1/assets/{a['id']}/prequalification", headers=fsp.h).json()}
    assert pq["sustain"] == "eligible" and pq["dynamic"] == "ineligible"
    r = client.patch(f"/api/v1/assets/{a['id']}", json={"status": "mothballed"}, headers=fsp.h)
    assert r.status_code == 409  # in_development cannot jump to mothballed
    assert client.patch(f"/api/v1/assets/{a['id']}", json={"status": "operational"},
                        headers=fsp.h).status_code == 200
    r = client.post(f"/api/v1/assets/{a['id']}/decommission", headers=fsp.h)
    assert r.json()["status"] == "archived"
    assert client.patch(f"/api/v1/assets/{a['id']}", json={"name": "x"},
                        headers=fsp.h).status_code == 409
    pq = client.get(f"/api/v1/assets/{a['id']}/prequalification", headers=fsp.h).json()
    assert all(p["status"] == "ineligible" for p in pq)


def test_bulk_create_all_or_nothing_with_row_errors(client, make_party, zones, db):
    fsp = make_party("fsp")
    dup = new_mpan()
    rows = [asset_body(name=f"A{i}") for i in range(5)]
    rows[1]["mpan"] = "1234567890123"  # bad check digit
    rows[2]["up_mw"] = -1
    rows[3]["zone"] = "NOWHERE"
    rows[0]["mpan"] = dup
    rows[4]["mpan"] = dup
    before = db.scalar(select(func.count()).select_from(Asset))
    r = client.post("/api/v1/assets/bulk", json={"assets": rows}, headers=fsp.h)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/assets/1/mpan", "/assets/2/up_mw", "/assets/3/zone", "/assets/4/mpan"} <= pointers
    assert db.scalar(select(func.count()).select_from(Asset)) == before


def test_bulk_create_thousands(client, make_party, zones, db):
    fsp = make_party("fsp")
    rows = [asset_body(name=f"EV hub {i}", technology="ev_charging", up_mw=0.2, down_mw=0.2,
                       energy_mwh=0.5) for i in range(2000)]
    r = client.post("/api/v1/assets/bulk", json={"assets": rows}, headers=fsp.h)
    assert r.status_code == 201, r.text[:500]
    assert r.json()["created"] == 2000
    n = db.scalar(select(func.count()).select_from(Prequalification).where(
        Prequalification.asset_id.in_([uuid.UUID(i) for i in r.json()["ids"][:10]])))
    assert n and n % 10 == 0
    listed = client.get("/api/v1/assets?limit=5&offset=1995", headers=fsp.h).json()
    assert listed["total"] == 2000 and len(listed["items"]) == 5


def test_bulk_limit(client, make_party, zones, monkeypatch):
    from flexplatform.config import get_settings

    monkeypatch.setattr(get_settings(), "max_bulk_assets", 3)
    fsp = make_party("fsp")
    r = client.post("/api/v1/assets/bulk", json={"assets": [asset_body() for _ in range(4)]},
                    headers=fsp.h)
    assert r.status_code == 422 and "at most 3" in r.json()["detail"]


def test_duplicate_mpan_single(client, make_party, zones):
    fsp = make_party("fsp")
    body = asset_body()
    assert client.post("/api/v1/assets", json=body, headers=fsp.h).status_code == 201
    r = client.post("/api/v1/assets", json=body | {"name": "again"}, headers=fsp.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/mpan"
