"""Dispatched (operations Instruction) and delivered (reporting Verification) in the
carbon report, market report operations and open data, from real rows of those stages."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.transparency.conftest import T0, intensity

END = T0 + dt.timedelta(hours=1)
Q = "start=2026-01-12T16:00:00Z&end=2026-01-12T17:00:00Z"


@pytest.fixture
def delivered(db, market):
    """Both north half-hours dispatched at 1 MW for the battery and the generator; the
    battery's first half-hour verified at 400 kWh (v1 300 superseded by v2), the
    generator's at 500 kWh. One shortfall request and one resolved conflict."""
    from flexplatform.operations.models import (
        Conflict,
        DispatchRun,
        Instruction,
        UtilisationRequest,
    )
    from flexplatform.reporting.settlement_models import Verification

    need = market.needs["north"]
    req = UtilisationRequest(mo_id=market.mo.id, market_id=need.market_id, need_id=need.id,
                             product_code="sustain", zone_code="CMZ_NORTH", direction="up",
                             period_start=T0, period_end=END, mw=3.0, status="shortfall")
    run = DispatchRun(trigger="event", status="done")
    db.add_all([req, run])
    db.flush()
    by_asset = {c.asset_id: c for c in market.contracts if c.period_start == T0}
    for a, kwh in zip(market.assets["north"][::2], ([300.0, 400.0], [500.0]), strict=True):
        c = by_asset[a.id]
        ins = Instruction(run_id=run.id, request_id=req.id, contract_id=c.id, asset_id=a.id,
                          fsp_id=a.fsp_id, mo_id=market.mo.id, product_code="sustain",
                          direction="up", period_start=T0, period_end=END, mw=1.0,
                          status="accepted", ack_deadline=T0)
        db.add(ins)
        db.flush()
        for version, k in enumerate(kwh, start=1):
            db.add(Verification(instruction_id=str(ins.id), period_start=T0, version=version,
                                fsp_id=a.fsp_id, mo_id=market.mo.id, contract_id=c.id,
                                mpan=a.mpan, ordered_kwh=500.0, delivered_kwh=k,
                                reading_versions={}, methodology="test", status="ok"))
    db.add(Conflict(kind="stacking", detected_by="event", zone_code="CMZ_NORTH",
                    period_start=T0, period_end=END, parties=[], status="resolved",
                    dedupe_key=f"test-{uuid.uuid4()}", resolution="primacy",
                    rationale="DSO first"))
    db.commit()
    return market


def test_carbon_report_dispatched_and_delivered(db, delivered):
    from flexplatform.transparency.reports import carbon_report

    intensity(db, 9, 200.0)
    rep = carbon_report(db, T0, END)
    assert rep["sources"] == {"contracted": 10, "dispatched": 4, "delivered": 2}
    rows = {(r["period_start"], r["technology"]): r for r in rep["halfhours"]
            if r["region_id"] == 9}
    bat = rows[(T0.isoformat(), "battery")]
    assert bat["dispatched_mwh"] == 0.5 and bat["delivered_mwh"] == pytest.approx(0.4)
    assert bat["displaced_tco2"] == pytest.approx(0.4 * 0.2)
    gen = rows[(T0.isoformat(), "generator")]
    assert gen["direct_tco2"] == pytest.approx(0.5 * 0.45)
    later = rows[((T0 + dt.timedelta(minutes=30)).isoformat(), "battery")]
    assert later["dispatched_mwh"] == 0.5 and later["delivered_mwh"] == 0
    day = next(r for r in rep["days"] if r["region_id"] == 9 and r["technology"] == "battery")
    assert day["delivered_intensity_g_per_kwh"] == 200.0


def test_operations_in_market_report(client, db, delivered):
    from flexplatform.transparency.reports import market_report

    full = market_report(db, T0, END, public=False)["operations"]
    assert full["available"] and full["shortfalls"] == 1 and full["shortfall_requested_mw"] == 3
    assert full["conflicts"] == [{"kind": "stacking", "status": "resolved", "count": 1}]
    assert full["conflicts_resolved_share"] == 1.0 and full["conflict_details"][0]["rationale"]
    public = client.get(f"/api/v1/market-report?{Q}").json()["operations"]
    assert public["shortfalls"] == 1 and "conflict_details" not in public


def test_open_dispatch_and_delivery(client, delivered):
    rows = client.get(f"/api/v1/open-data/dispatch?{Q}").json()["items"]
    assert len(rows) == 2 and all(r["fsps"] == 2 and r["suppressed"] for r in rows)
    full = client.get(f"/api/v1/open-data/delivery/full?{Q}",
                      headers=delivered.regulator.h).json()["items"]
    assert sorted(r["mwh"] for r in full) == [pytest.approx(0.4), pytest.approx(0.5)]
