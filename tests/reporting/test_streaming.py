"""The CSV upload is streamed: a large body is checked and staged chunk by chunk, in
memory bounded by the chunk, not the upload, and row numbers run on across chunks."""

from __future__ import annotations

import datetime as dt
import tracemalloc
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from flexplatform.reporting import formats, ingest
from flexplatform.reporting.models import MeterPoint, MeterReading
from tests.helpers import asset_body
from tests.live_server import serve
from tests.reporting.conftest import DAY, HEADER, add_meter, csv_text, iso, post_csv, stored

ROWS = 200_000
METERS = 100


def _body(mpans: list[str], periods: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    """The CSV generated as it is sent: the test never holds the whole body either."""
    t0 = int(DAY.timestamp())
    buf = [HEADER]
    size = 0
    for k, m in enumerate(mpans):
        for j in range(periods):
            t = dt.datetime.fromtimestamp(t0 + 1800 * j, dt.UTC)
            line = f"{m},{t:%Y-%m-%dT%H:%M:%SZ},{(k + j) % 17 / 4},0\n"
            buf.append(line)
            size += len(line)
            if size >= piece:
                yield "".join(buf).encode()
                buf, size = [], 0
    yield "".join(buf).encode()


@pytest.fixture
def many_meters(client, make_party, zones, db):
    fsp = make_party("fsp")
    bodies = [asset_body(name=f"Site {i}") for i in range(METERS)]
    r = client.post("/api/v1/assets/bulk", json={"assets": bodies}, headers=fsp.h)
    assert r.status_code == 201, r.text
    for aid, b in zip(r.json()["ids"], bodies, strict=True):
        db.add(MeterPoint(mpan=b["mpan"], asset_id=uuid.UUID(aid), measures="both"))
    db.commit()
    return fsp, [b["mpan"] for b in bodies]


def test_large_csv_streams_in_bounded_memory(app, client, db, many_meters, monkeypatch):
    fsp, mpans = many_meters
    periods = ROWS // METERS
    monkeypatch.setattr(formats, "CHUNK_BYTES", 512 * 1024)
    seen: list[ingest.Ingest] = []
    real_init = ingest.Ingest.__init__

    def spy(self, *a, **kw):
        real_init(self, *a, **kw)
        seen.append(self)

    monkeypatch.setattr(ingest.Ingest, "__init__", spy)
    body_bytes = sum(len(c) for c in _body(mpans, periods))
    with serve(app) as url:
        tracemalloc.start()
        try:
            r = httpx.post(f"{url}/api/v1/meter-readings/csv", content=_body(mpans, periods),
                           headers=fsp.h | {"content-type": "text/csv"}, timeout=120)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status_code == 201, r.text
    assert r.json()["stored"] == ROWS
    assert db.scalar(select(func.count()).select_from(MeterReading)) == ROWS
    # The body is ~8 MB; holding it whole (or its rows as objects) would exceed this.
    assert body_bytes > 8_000_000
    assert peak < 0.75 * body_bytes, f"Python peak {peak / 1e6:.1f} MB for a {body_bytes / 1e6:.1f} MB body"
    assert seen[0].arrow_peak < body_bytes / 2, seen[0].arrow_peak


def test_rows_and_conflicts_across_chunks(client, db, metered, monkeypatch):
    monkeypatch.setattr(formats, "CHUNK_BYTES", 300)  # a few lines per chunk
    m = metered.mpan
    rows = [(m, iso(DAY + dt.timedelta(minutes=30 * i)), "1", "0") for i in range(30)]
    rows[4] = (m, "soon", "1", "0")
    rows[25] = (m, rows[2][1], "7", "0")  # conflicts with row 3, many chunks earlier
    before = stored(db)
    r = post_csv(client, metered.fsp, csv_text(rows))
    assert r.status_code == 422
    errs = {(e["issue"], e["row"]) for e in r.json()["errors"]}
    assert errs == {("invalid_timestamp", 5), ("conflict", 26)}
    conflict = next(e for e in r.json()["errors"] if e["issue"] == "conflict")
    assert conflict["rows"] == [3, 26]
    assert stored(db) == before
    rows[4] = rows[3]  # an identical repeat in the same chunk ...
    rows[25] = rows[2]  # ... and one many chunks later: both stored once
    r = post_csv(client, metered.fsp, csv_text(rows).replace("\n", "\r\n"))  # CRLF too
    assert r.status_code == 201, r.text
    assert (r.json()["stored"], r.json()["duplicates"]) == (28, 2)
    # Period by period across meters (not meter by meter) takes the same path.
    other = add_meter(client, metered.fsp)
    rows = [(m, iso(DAY + dt.timedelta(days=1, minutes=30 * i)), "1", "0")
            for i in range(12) for m in (metered.mpan, other.mpan)]
    r = post_csv(client, metered.fsp, csv_text(rows))
    assert (r.json()["stored"], r.json()["duplicates"]) == (24, 0)


def test_csv_upload_has_its_own_body_limit(app, client, metered):
    """The streamed upload may exceed the general body limit, up to its own."""
    from fastapi.testclient import TestClient

    from flexplatform.app import API, BodyLimit

    rows = [(metered.mpan, iso(DAY + dt.timedelta(minutes=30 * i)), "1", "0") for i in range(100)]
    body = csv_text(rows)
    assert 3000 < len(body) < 10_000
    small = BodyLimit(app, max_bytes=1000, per_path={f"{API}/meter-readings/csv": 10_000})
    h = metered.fsp.h | {"content-type": "text/csv"}
    with TestClient(small, raise_server_exceptions=False) as c:
        assert c.post(f"{API}/meter-readings/csv", content=body, headers=h).status_code == 201
        r = c.post(f"{API}/meter-readings", headers=metered.fsp.h,
                   json={"readings": [{"mpan": metered.mpan, "start": r[1], "import_kwh": 1}
                                      for r in rows]})
        assert r.status_code == 413
        r = c.post(f"{API}/meter-readings/csv", content=body * 3, headers=h)
        assert r.status_code == 413
