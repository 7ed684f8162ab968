"""Metering fixtures: an FSP with an asset and a meter point, and reading builders."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from flexplatform.audit import AuditEvent
from flexplatform.reporting.models import MeterReading, MeterSubmission
from tests.helpers import Party, asset_body, new_mpan

API = "/api/v1"
# A plain winter day, and the two 2025 clock-change days (46 and 50 periods).
DAY = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)
SPRING = dt.date(2025, 3, 30)
AUTUMN = dt.date(2025, 10, 26)
HEADER = "mpan,start,import_kwh,export_kwh\n"


@dataclass
class Metered:
    fsp: Party
    asset_id: str
    mpan: str


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def half_hours(start: dt.datetime, n: int) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=30 * i) for i in range(n)]


def csv_text(rows: list[tuple[Any, ...]], header: str = HEADER) -> str:
    return header + "".join(",".join("" if v is None else str(v) for v in r) + "\n" for r in rows)


def post_csv(client: Any, party: Party, body: str | bytes) -> Any:
    return client.post(f"{API}/meter-readings/csv", content=body,
                       headers=party.h | {"content-type": "text/csv"})


def post_json(client: Any, party: Party, readings: list[dict[str, Any]]) -> Any:
    # json.dumps, not httpx's json=: NaN and Infinity must reach the server to be refused.
    return client.post(f"{API}/meter-readings", content=json.dumps({"readings": readings}),
                       headers=party.h | {"content-type": "application/json"})


def add_meter(client: Any, fsp: Party, measures: str = "both", **asset: Any) -> Metered:
    a = client.post(f"{API}/assets", json=asset_body(**asset), headers=fsp.h)
    assert a.status_code == 201, a.text
    mpan = new_mpan()
    r = client.post(f"{API}/meter-points", headers=fsp.h,
                    json={"mpan": mpan, "asset_id": a.json()["id"], "measures": measures})
    assert r.status_code == 201, r.text
    return Metered(fsp=fsp, asset_id=a.json()["id"], mpan=mpan)


@pytest.fixture
def metered(client, make_party, zones) -> Metered:
    return add_meter(client, make_party("fsp"))


def stored(db) -> tuple[int, int, int]:
    """(readings, submissions, audit events): what a refused upload must leave alone."""
    return (db.scalar(select(func.count()).select_from(MeterReading)),
            db.scalar(select(func.count()).select_from(MeterSubmission)),
            db.scalar(select(func.count()).select_from(AuditEvent)))
