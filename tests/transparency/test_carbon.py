"""Carbon intensities in (the API's own JSON) and the carbon report's figures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from flexplatform.transparency import facts
from flexplatform.transparency.models import CarbonIntensity
from tests.transparency.conftest import T0, intensity

DATA = Path(__file__).parents[2] / "flexplatform" / "demo_data"
NATIONAL = DATA / "carbon_intensity_national_2023-01-23_to_29.json"
REGIONAL = DATA / "carbon_intensity_regional_2018-09-18.json"
END = T0 + dt.timedelta(hours=1)


def test_import_sample_files_through_the_api(client, make_party, db):
    admin = make_party("admin")
    r = client.post("/api/v1/carbon-intensities/import", headers=admin.h,
                    json=json.loads(NATIONAL.read_text()))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["shape"] == "national" and out["inserted"] == 336 and out["regions"] == [0]
    r = client.post("/api/v1/carbon-intensities/import", headers=admin.h,
                    json=json.loads(REGIONAL.read_text()))
    out = r.json()
    assert out["shape"] == "regional" and out["inserted"] == 48 * 14
    assert out["regions"] == list(range(1, 15)) and out["negative_values_ignored"] == 1
    # The London -1.0 artefact is stored as missing, never used.
    london = db.get(CarbonIntensity, (13, dt.datetime(2018, 9, 18, 23, 0, tzinfo=dt.UTC)))
    assert london.forecast is None
    # The blank actuals of 26 Jan keep their forecast; re-import updates, never duplicates.
    r = client.post("/api/v1/carbon-intensities/import", headers=admin.h,
                    json=json.loads(NATIONAL.read_text()))
    assert r.json()["updated"] == 336 and r.json()["inserted"] == 0
    page = client.get("/api/v1/carbon-intensities?region_id=0&start=2023-01-26T13:30:00Z"
                      "&end=2023-01-26T14:00:00Z").json()
    assert page["total"] == 1 and page["items"][0]["actual"] is None
    assert page["items"][0]["forecast"] is not None


def test_regional_by_region_shape(db):
    from flexplatform.transparency.carbon import import_document

    doc = {"data": {"regionid": 9, "dnoregion": "WPD East Midlands", "shortname": "East Midlands",
                    "data": [{"from": "2026-01-12T16:00Z", "to": "2026-01-12T16:30Z",
                              "intensity": {"forecast": 250, "index": "high"},
                              "generationmix": [{"fuel": "gas", "perc": 50}]}]}}
    out = import_document(db, doc, "test")
    assert out.shape == "regional-by-region" and out.regions == [9]
    assert db.get(CarbonIntensity, (9, T0)).forecast == 250


def test_bad_file_names_every_field_and_writes_nothing(client, make_party, db):
    admin = make_party("admin")
    bad = {"data": [{"from": "2026-01-12T16:10Z", "to": "2026-01-12T16:40Z",
                     "intensity": {"forecast": "high"}},
                    {"from": "2026-01-12T16:00Z", "to": "2026-01-12T17:00Z",
                     "intensity": {"forecast": 100}}]}
    r = client.post("/api/v1/carbon-intensities/import", headers=admin.h, json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith(
        "application/problem+json")
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/data/0/from", "/data/0/to", "/data/0/intensity/forecast", "/data/1/to"} <= pointers
    assert db.query(CarbonIntensity).count() == 0
    r = client.post("/api/v1/carbon-intensities/import", headers=admin.h, json={"data": []})
    assert r.status_code == 422
    fsp = make_party("fsp")
    assert client.post("/api/v1/carbon-intensities/import", headers=fsp.h,
                       json={"data": []}).status_code == 403


def test_zone_region_map_and_inheritance(client, make_party, zones):
    admin = make_party("admin")
    r = client.put("/api/v1/zones/GSP_A/carbon-region", headers=admin.h, json={"region_id": 8})
    assert r.status_code == 200
    regions = {r["region_id"]: r for r in client.get("/api/v1/carbon-regions").json()}
    assert {"GSP_A", "CMZ_NORTH", "CMZ_SOUTH"} <= set(regions[8]["zones"])  # CMZs inherit
    assert "GB" in regions[0]["zones"]
    r = client.put("/api/v1/zones/GSP_A/carbon-region", headers=admin.h, json={"region_id": 15})
    assert r.status_code == 422
    assert client.put("/api/v1/zones/NOPE/carbon-region", headers=admin.h,
                      json={"region_id": 1}).status_code == 404


def test_contracted_mwh_by_region_halfhour_day_month(db, market):
    from flexplatform.transparency.reports import carbon_report

    rep = carbon_report(db, T0, END)
    assert rep["sources"]["contracted"] == 10
    north = [r for r in rep["halfhours"] if r["region_id"] == 9]
    assert {r["technology"] for r in north} == {"battery", "heat_pump", "generator"}
    assert all(r["contracted_mwh"] == 0.5 for r in north)  # 1 MW for half an hour
    south_day = [r for r in rep["days"] if r["region_id"] == 11]
    assert len(south_day) == 1 and south_day[0]["contracted_mwh"] == pytest.approx(2.5)
    assert south_day[0]["period"] == "2026-01-12"
    assert rep["months"][0]["period"] == "2026-01"
    assert sum(r["contracted_mwh"] for r in rep["regions"]) == pytest.approx(5.5)


def _delivered(market, mwh=1.0, direction="up"):
    out = []
    for key, assets in market.assets.items():
        for a in assets:
            out.append(facts.Flow("delivered", T0, a.id, a.fsp_id, market.mo.id,
                                  market.needs[key].zone_code, "sustain", direction, mwh))
    return out


def test_direct_displaced_recharge_and_rebound(db, market, monkeypatch):
    """Planted deliveries of 1 MWh at 16:00: East Midlands (9) at 200 g/kWh, South West
    (11) has no regional figure, so it falls back to the national 100 g/kWh."""
    from flexplatform.transparency import reports

    intensity(db, 9, 200.0)
    intensity(db, 0, 100.0, actual=True)
    monkeypatch.setattr(facts, "instructions", lambda s, a, b: [])
    monkeypatch.setattr(facts, "verifications", lambda s, a, b, d: _delivered(market))
    rep = reports.carbon_report(db, T0, END)
    rows = {(r["region_id"], r["technology"]): r for r in rep["halfhours"]
            if r["period_start"] == T0.isoformat()}
    gen = rows[(9, "generator")]
    assert gen["intensity_basis"] == "regional" and gen["intensity_g_per_kwh"] == 200.0
    assert gen["direct_tco2"] == pytest.approx(0.45)
    assert gen["displaced_tco2"] == pytest.approx(0.2)
    assert gen["net_avoided_tco2"] == pytest.approx(0.2 - 0.45)
    bat = rows[(9, "battery")]
    assert bat["recharge_tco2"] == pytest.approx(1 / 0.85 * 200 / 1000)  # day mean 200
    hp = rows[(9, "heat_pump")]
    assert hp["rebound_tco2"] == pytest.approx(0.2)  # all of it back, 4 half-hours at 200
    south = rows[(11, "battery")]
    assert south["intensity_basis"] == "national" and south["displaced_tco2"] == pytest.approx(
        2 * 0.1)
    assert rep["intensities"]["delivered_without_intensity"] == 0


def test_down_delivery_adds_grid_supply(db, market, monkeypatch):
    from flexplatform.transparency import reports

    intensity(db, 9, 200.0)
    monkeypatch.setattr(facts, "instructions", lambda s, a, b: [])
    monkeypatch.setattr(facts, "verifications",
                        lambda s, a, b, d: _delivered(market, direction="down")[:1])
    rep = reports.carbon_report(db, T0, END)
    row = next(r for r in rep["halfhours"] if r["delivered_mwh"])
    assert row["displaced_tco2"] == pytest.approx(-0.2) and row["recharge_tco2"] == 0


def test_no_intensity_is_counted_not_guessed(db, market, monkeypatch):
    from flexplatform.transparency import reports

    monkeypatch.setattr(facts, "instructions", lambda s, a, b: [])
    monkeypatch.setattr(facts, "verifications", lambda s, a, b, d: _delivered(market)[:1])
    rep = reports.carbon_report(db, T0, END)
    assert rep["intensities"]["delivered_without_intensity"] == 1
    row = next(r for r in rep["halfhours"] if r["delivered_mwh"])
    assert row["intensity_basis"] == "missing" and row["displaced_tco2"] == 0
