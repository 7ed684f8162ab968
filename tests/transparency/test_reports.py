"""Regulator reports over the API: queued, built by the task, read as JSON, CSV and SVG."""

from __future__ import annotations

import csv
import io

import pytest

from tests.transparency.conftest import T0, intensity

RANGE = {"start": "2026-01-12T16:00:00Z", "end": "2026-01-12T17:00:00Z"}


def test_carbon_report_json_csv_and_charts(client, market, db, inline_tasks):
    intensity(db, 9, 200.0)
    reg = market.regulator
    r = client.post("/api/v1/reports/carbon", json=RANGE, headers=reg.h)
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    rep = client.get(f"/api/v1/reports/{rid}", headers=reg.h).json()
    assert rep["status"] == "done", rep
    res = rep["result"]
    assert res["kind"] == "carbon" and res["sources"]["contracted"] == 10
    assert {r["region"] for r in res["regions"]} == {"East Midlands", "South West England"}
    for level, n in (("halfhour", 8), ("day", 4), ("month", 4), ("total", 4)):
        r = client.get(f"/api/v1/reports/{rid}/csv?level={level}", headers=reg.h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == n, (level, r.text)
    assert rows[0]["region"] and "net_avoided_tco2" in rows[0]
    for name in ("mwh-by-region", "emissions-by-region"):
        r = client.get(f"/api/v1/reports/{rid}/charts/{name}", headers=reg.h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.text.startswith("<svg") and "<title>" in r.text
    assert client.get(f"/api/v1/reports/{rid}/charts/nope", headers=reg.h).status_code == 404
    r = client.get(f"/api/v1/reports/{rid}/csv?level=week", headers=reg.h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "level"
    listed = client.get("/api/v1/reports?kind=carbon", headers=reg.h).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == rid


def test_reports_are_regulator_only(client, market, inline_tasks):
    reg = market.regulator
    rid = client.post("/api/v1/reports/market", json=RANGE, headers=reg.h).json()["id"]
    for who in (market.mo, market.fsps[0]):
        assert client.post("/api/v1/reports/carbon", json=RANGE,
                           headers=who.h).status_code == 403
        for path in (f"/api/v1/reports/{rid}", f"/api/v1/reports/{rid}/csv", "/api/v1/reports",
                     "/api/v1/open-data/awards/full"):
            r = client.get(path, headers=who.h)
            assert r.status_code == 403 and r.json()["allowed_roles"] == ["admin", "regulator"]
    assert client.get(f"/api/v1/reports/{rid}").status_code == 401
    assert client.get(f"/api/v1/reports/{rid}", headers=market.admin.h).status_code == 200
    res = client.get(f"/api/v1/reports/{rid}", headers=reg.h).json()["result"]
    assert res["view"] == "regulator" and res["awarded"][0]["fsp_ids"]
    r = client.get(f"/api/v1/reports/{rid}/csv?level=offered", headers=reg.h)
    assert r.status_code == 200 and "availability_price_vwap" in r.text.splitlines()[0]


def test_market_report_charts(client, market, inline_tasks):
    """Prices and volumes per product and technology as SVG, drawn from the stored cells."""
    reg = market.regulator
    rid = client.post("/api/v1/reports/market", json=RANGE, headers=reg.h).json()["id"]
    cells = client.get(f"/api/v1/reports/{rid}", headers=reg.h).json()["result"]["awarded"]
    total = sum(c["mwh"] for c in cells)
    assert total > 0
    for name in ("awarded-prices", "awarded-volumes"):
        r = client.get(f"/api/v1/reports/{rid}/charts/{name}", headers=reg.h)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.text.startswith("<svg") and f"{total:.2f} MWh awarded" in r.text
        assert "sustain / battery" in r.text  # a product and technology pair, labelled
    r = client.get(f"/api/v1/reports/{rid}/charts/mwh-by-region", headers=reg.h)
    assert r.status_code == 404 and "awarded-prices" in r.json()["detail"]
    assert client.get(f"/api/v1/reports/{rid}/charts/awarded-prices",
                      headers=market.mo.h).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"start": "2026-01-12T17:00:00Z", "end": "2026-01-12T16:00:00Z"}, "end"),
    ({"start": "2026-01-12T16:10:00Z", "end": "2026-01-12T17:00:00Z"}, "start"),
    ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
    ({"start": "2026-01-12T16:00:00", "end": "2026-01-12T17:00:00Z"}, "start"),
    ({"start": "yesterday", "end": "2026-01-12T17:00:00Z"}, "start"),
])
def test_bad_ranges_are_422_naming_the_field(client, make_party, body, field):
    reg = make_party("regulator")
    r = client.post("/api/v1/reports/carbon", json=body, headers=reg.h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].endswith(field) for e in r.json()["errors"]), r.json()
    q = "&".join(f"{k}={v}" for k, v in body.items())
    r = client.get(f"/api/v1/market-report?{q}")
    assert r.status_code == 422 and r.json()["errors"]


def test_report_not_built_yet_is_409(client, market, monkeypatch):
    from flexplatform.transparency import service

    monkeypatch.setattr(service, "enqueue", lambda *a, **k: None)
    reg = market.regulator
    rid = client.post("/api/v1/reports/carbon", json=RANGE, headers=reg.h).json()["id"]
    assert client.get(f"/api/v1/reports/{rid}", headers=reg.h).json()["status"] == "queued"
    r = client.get(f"/api/v1/reports/{rid}/csv", headers=reg.h)
    assert r.status_code == 409 and r.json()["type"].endswith("/conflict")


def test_live_task_builds_the_report(backend, tmp_path, monkeypatch):
    """The real task through the embedded queue (in-process Celery), its own
    transactions against a migrated database of its own."""
    import datetime as dt

    from fastapi.testclient import TestClient

    from flexplatform.audit import Actor
    from flexplatform.db import reset_runtime, unit_of_work
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant
    from tests.competition.conftest import live_postgres_url, migrate_and_seed

    url = f"sqlite:///{tmp_path / 'live.db'}" if backend == "sqlite" else live_postgres_url()
    monkeypatch.setenv("FLEX_DATABASE_URL", url)
    monkeypatch.setenv("FLEX_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FLEX_REDIS_URL", raising=False)
    monkeypatch.setenv("FLEX_TASK_ALWAYS_EAGER", "true")
    reset_runtime()
    try:
        migrate_and_seed(url)
        with unit_of_work() as s:
            _, key = create_participant(s, ParticipantCreate(
                role="regulator", legal_name="Ofgem Test",
                billing_contact={"name": "B", "email": "b@example.org"}), Actor.system())
        from flexplatform.app import create_app

        with TestClient(create_app()) as c:
            h = {"Authorization": f"Bearer {key}"}
            r = c.post("/api/v1/reports/carbon", json=RANGE, headers=h)
            assert r.status_code == 202
            rep = c.get(f"/api/v1/reports/{r.json()['id']}", headers=h).json()
            assert rep["status"] == "done", rep
            assert rep["result"]["halfhours"] == [] and rep["finished_at"]
            assert dt.datetime.fromisoformat(rep["result"]["start"]) == T0
    finally:
        reset_runtime()


def test_lost_and_lapsed_reports_are_found_by_the_scan(db, make_party):
    import datetime as dt

    from flexplatform.db import utcnow
    from flexplatform.transparency import service
    from flexplatform.transparency.models import TransparencyReport

    now = utcnow()
    params = {"start": T0.isoformat(), "end": (T0 + dt.timedelta(hours=1)).isoformat()}
    fresh = TransparencyReport(kind="carbon", params=params, created_at=now)
    lost = TransparencyReport(kind="carbon", params=params,
                              created_at=now - dt.timedelta(minutes=10))
    dead = TransparencyReport(kind="market", params=params, status="running", attempts=1,
                              lease_expires_at=now - dt.timedelta(seconds=1))
    live = TransparencyReport(kind="market", params=params, status="running", attempts=1,
                              lease_expires_at=now + dt.timedelta(minutes=1))
    db.add_all([fresh, lost, dead, live])
    db.flush()
    assert set(service.stale_reports(db, now)) == {lost.id, dead.id}
    # A live lease is never taken twice; a lapsed one is rebuilt once more, then failed.
    assert service.start_build(db, live.id) is None
    assert service.build_now(db, dead.id).status == "done"
    dead2 = TransparencyReport(kind="carbon", params=params, status="running", attempts=2,
                               lease_expires_at=now - dt.timedelta(seconds=1))
    db.add(dead2)
    db.flush()
    assert service.start_build(db, dead2.id) is None and dead2.status == "failed"
