"""Market report and open data: the regulator sees everything, the public sees aggregates
with every cell backed by fewer than ``public_min_fsps`` FSPs suppressed."""

from __future__ import annotations

import io

import pytest

from flexplatform.config import get_settings

Q = "start=2026-01-12T16:00:00Z&end=2026-01-12T17:00:00Z"


@pytest.fixture
def min_fsps(monkeypatch):
    def set_(n: int) -> None:
        monkeypatch.setenv("FLEX_PUBLIC_MIN_FSPS", str(n))
        get_settings.cache_clear()

    yield set_
    monkeypatch.delenv("FLEX_PUBLIC_MIN_FSPS", raising=False)
    get_settings.cache_clear()


def _cells(rep, side="awarded"):
    return {(c["zone"], c["technology"]): c for c in rep[side]}


def test_public_market_report_suppresses_thin_cells(client, market):
    rep = client.get(f"/api/v1/market-report?{Q}").json()
    assert rep["view"] == "public" and rep["suppression"] == {"min_fsps": 3}
    # Every technology cell has one FSP: all suppressed, counts kept, no ids anywhere.
    assert all(c["suppressed"] and c["mwh"] is None and c["availability_price"] is None
               for c in rep["awarded"])
    assert "fsp_ids" not in str(rep) and str(market.fsps[0].id) not in str(rep)
    cell = _cells(rep)[("CMZ_SOUTH", "battery")]
    assert cell["fsps"] == 1 and cell["count"] == 4 and cell["mo"] == "NGED Test"


def test_threshold_is_a_setting(client, market, min_fsps):
    min_fsps(1)
    rep = client.get(f"/api/v1/market-report?{Q}").json()
    cell = _cells(rep)[("CMZ_SOUTH", "battery")]
    assert not cell["suppressed"] and cell["mwh"] == pytest.approx(2.5)
    ap = cell["availability_price"]
    # 2 MW at 150 and 0.5 MW at 160, two half-hours each.
    assert (ap["min"], ap["max"], ap["median"]) == (150, 160, 155)
    assert ap["vwap"] == pytest.approx((150 * 2 + 160 * 0.5) / 2.5, abs=0.01)
    assert "fsp_ids" not in cell


def test_regulator_sees_everything(client, market, db):
    import datetime as dt

    from flexplatform.transparency.reports import market_report
    from tests.transparency.conftest import T0

    rep = market_report(db, T0, T0 + dt.timedelta(hours=1), public=False)
    cell = _cells(rep)[("CMZ_NORTH", "generator")]
    assert not cell["suppressed"] and cell["fsp_ids"] == [str(market.fsps[2].id)]
    assert cell["utilisation_price"]["vwap"] == 400
    liq = rep["liquidity"]
    assert liq["needs"] == 3 and liq["bids"] == 6 and liq["needs_with_no_bid"] == 1
    assert liq["needs_with_one_bidder"] == 0  # south: fsps[3] and the losing fsps[0]
    assert liq["unmet_share"] == pytest.approx((0 + 0.5 * 2 + 3 * 2) / 18, abs=1e-4)
    assert liq["single_provider_zones"] == ["CMZ_SOUTH"]
    assert liq["single_provider_zone_fsps"] == {"CMZ_SOUTH": str(market.fsps[3].id)}
    assert len(liq["per_need"]) == 3
    assert rep["offered"] and rep["operations"]["available"] is True  # the stage is installed


def test_zone_with_enough_fsps_is_published(client, market, min_fsps):
    """Grouped by zone alone the north has three FSPs: the open awards cell is shown."""
    rows = client.get(f"/api/v1/open-data/awards?{Q}").json()["items"]
    north = [r for r in rows if r["zone"] == "CMZ_NORTH"]
    south = [r for r in rows if r["zone"] == "CMZ_SOUTH"]
    assert len(north) == 2 and all(not r["suppressed"] and r["fsps"] == 3 for r in north)
    assert north[0]["mw"] == pytest.approx(3.0)
    assert north[0]["availability_price_vwap"] == pytest.approx(140.0)
    assert all(r["suppressed"] and r["mw"] is None and r["availability_price_vwap"] is None
               for r in south)
    min_fsps(4)
    rows = client.get(f"/api/v1/open-data/awards?{Q}").json()["items"]
    assert all(r["suppressed"] for r in rows)


def test_open_data_pages_and_full_rows(client, market):
    page = client.get(f"/api/v1/open-data/needs?{Q}&limit=2&offset=1").json()
    assert page["total"] == 6 and len(page["items"]) == 2 and page["offset"] == 1
    assert page["items"][0]["required_mw"] == 3.0 and page["items"][0]["mo"] == "NGED Test"
    prices = client.get(f"/api/v1/open-data/prices?{Q}").json()
    assert prices["total"] == 6
    assert {p["clearing_price"] for p in prices["items"]} == {200.0, None}
    south = [p for p in prices["items"] if p["need_id"] == str(market.needs["south"].id)]
    # One FSP won the south: its price and its volume (awarded, so unmet) are withheld.
    assert all(p["suppressed"] and p["fsps"] == 1 and p["awarded_mw"] is None
               and p["unmet_mw"] is None and p["required_mw"] == 3.0 for p in south)
    full = client.get(f"/api/v1/open-data/prices/full?{Q}", headers=market.regulator.h).json()
    assert {p["clearing_price"] for p in full["items"]
            if p["need_id"] == str(market.needs["south"].id)} == {200.0}
    assert {p["awarded_mw"] for p in full["items"]
            if p["need_id"] == str(market.needs["south"].id)} == {2.5}
    assert client.get(f"/api/v1/open-data/dispatch?{Q}").json()["total"] == 0  # no call here
    full = client.get(f"/api/v1/open-data/awards/full?{Q}", headers=market.regulator.h).json()
    assert full["total"] == 10 and {"fsp_id", "asset_id", "contract_id"} <= set(full["items"][0])
    assert client.get("/api/v1/open-data/nope").status_code == 404
    r = client.get("/api/v1/open-data/needs?start=2026-01-12T16:00:00Z")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"


def test_monthly_files_csv_and_parquet(client, market):
    import pyarrow.parquet as pq

    r = client.get("/api/v1/open-data/awards/monthly/2026-01.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0].startswith("need_id,product,zone") and len(lines) == 1 + 4
    assert str(market.fsps[0].id) not in r.text
    r = client.get("/api/v1/open-data/needs/monthly/2026-01.parquet")
    assert r.status_code == 200
    t = pq.read_table(io.BytesIO(r.content))
    assert t.num_rows == 6 and "required_mw" in t.column_names
    assert b"licence" in t.schema.metadata
    empty = pq.read_table(io.BytesIO(client.get(
        "/api/v1/open-data/prices/monthly/2025-01.parquet").content))
    assert empty.num_rows == 0 and "clearing_price" in empty.column_names
    for bad in ("2026-13.csv", "2026-01.xlsx", "26-01.csv"):
        r = client.get(f"/api/v1/open-data/needs/monthly/{bad}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_catalogue_dictionary_licence(client):
    cat = client.get("/api/v1/open-data").json()
    assert {d["name"] for d in cat["datasets"]} == {"needs", "prices", "awards", "dispatch",
                                                    "delivery"}
    assert cat["suppression_min_fsps"] == 3 and "CC BY 4.0" in cat["licence"]["name"]
    d = client.get("/api/v1/open-data/awards/dictionary").json()
    assert "fsp_id" in d["regulator_only_columns"]
    assert any(c["name"] == "suppressed" for c in d["columns"])
    assert "withheld" in client.get("/api/v1/open-data/licence").json()
