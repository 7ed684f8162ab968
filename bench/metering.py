"""Metering bench: reading ingest at 1 M rows, memory of the streamed upload, a GB-month
projection and a large slice with query timings.

    FLEX_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/flex_bench_metering \\
        python bench/metering.py [--rows 1000000] [--slice-meters 10000 --slice-days 62]
    python bench/metering.py --no-postgres --rows 200000     # embedded SQLite only

Postgres (``FLEX_DATABASE_URL``): the database is created if missing and its public schema
DROPPED and recreated, so point it at a bench database only. Rows are one day of 48 half
hours for ``rows / 48`` meters (each step a fresh day unless it says otherwise):

* COPY floor: binary COPY straight into ``meter_readings`` (no checks, no versions): the
  fastest Postgres takes the rows, to compare the ingest paths with;
* ``meter import`` CSV and Parquet (``import_file``, what the CLI runs), the identical
  re-send (no-op) and a 1% correction;
* the streamed CSV upload through a real API server (uvicorn in a subprocess) and the
  server's peak RSS during the upload (VmHWM reset just before it);
* bulk JSON at its cap (100,000 rows);
* SQLite (embedded default): the CSV import, for comparison;
* the slice: ``slice_meters`` x ``slice_days`` x 48 rows fed day by day through the ingest
  (typed columns, no CSV text), then "one meter, one month" and "10,000 meters, one day".

Peak memory in-process is the growth of VmHWM (peak RSS, reset per step) on Linux.
Figures taken while other work shares the machine are noisy; say so with them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)  # a Monday in winter: 48 periods a day
GB_MONTH_ROWS = 300_000 * 30 * 48


def _vm(field: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak(pid: int | str = "self") -> int:
    """Reset the peak RSS (Linux clear_refs 5); returns the RSS now."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _vm("VmRSS", pid)


def _prepare_postgres(url: str) -> None:
    from pgfresh import fresh_schema

    fresh_schema(url)


def _setup(n_meters: int) -> tuple[Any, str, list[str], np.ndarray]:
    """Migrated database, one FSP with a key, ``n_meters`` assets each with a meter point."""
    import uuid

    from sqlalchemy import select

    from flexplatform.audit import Actor
    from flexplatform.cli import _upgrade
    from flexplatform.db import bulk_insert, unit_of_work, utcnow
    from flexplatform.governance.models import Zone, ZoneKind
    from flexplatform.registration.models import Asset
    from flexplatform.registration.mpan import make_mpan
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant
    from flexplatform.reporting.models import MeterPoint

    _upgrade()
    with unit_of_work() as s:
        fsp, key = create_participant(s, ParticipantCreate(
            role="fsp", legal_name="Bench FSP", billing_contact={
                "name": "ops", "email": "ops@bench.example"}), Actor(id=None, role="cli"))
        s.add(Zone(code="CMZ_BENCH", name="bench", kind=ZoneKind.cmz))
        s.flush()
        mpans = [make_mpan(f"15{i:010d}") for i in range(n_meters)]
        now = utcnow()
        assets = [{"id": uuid.uuid4(), "fsp_id": fsp.id, "name": f"site {i}", "mpan": m,
                   "zone_code": "CMZ_BENCH", "technology_code": "battery", "status": "operational",
                   "up_mw": 1.0, "down_mw": 0.0, "emission_t_per_mwh": 0.0, "reliability": 1.0,
                   "created_at": now, "updated_at": now} for i, m in enumerate(mpans)]
        bulk_insert(s, Asset, assets)
        bulk_insert(s, MeterPoint, [{"mpan": a["mpan"], "asset_id": a["id"],
                                     "measures": "import", "created_at": now} for a in assets])
        ids = dict(s.execute(select(MeterPoint.mpan, MeterPoint.id)).all())
    return fsp, key, mpans, np.array([ids[m] for m in mpans], dtype=np.int64)


def _day(mpans: list[str], day: int, rng: np.random.Generator, days: int = 1):
    """Readings of ``days`` days from DAY0 + ``day``, meter-major, as an Arrow table."""
    import pyarrow as pa

    periods = 48 * days
    t0 = int((DAY0 + dt.timedelta(days=day)).timestamp())
    starts = np.tile(t0 + 1800 * np.arange(periods, dtype=np.int64), len(mpans))
    n = len(starts)
    return pa.table({
        "mpan": pa.array(np.repeat(np.array(mpans, dtype=object), periods), pa.string()),
        "start": pa.array(starts, pa.timestamp("s", "UTC")),
        "import_kwh": pa.array(np.round(rng.gamma(2.0, 0.6, n), 3)),
        "export_kwh": pa.array(np.zeros(n))})


def _csv(table, path: Path) -> Path:
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, path)
    return path


def _timed(fn):  # type: ignore[no-untyped-def]
    base = _reset_peak()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t, max(_vm("VmHWM") - base, 0)


def _import(path: Path, fmt: str | None = None):  # type: ignore[no-untyped-def]
    from flexplatform.db import unit_of_work
    from flexplatform.reporting.importer import import_file

    with unit_of_work() as s:
        return import_file(s, path, fmt)


def copy_floor(table, ids: np.ndarray) -> float:
    """Binary COPY of the rows straight into meter_readings, rolled back after."""
    from flexplatform.db import get_engine
    from flexplatform.reporting import partitions

    dtype = np.dtype([("n", ">i2"), ("l0", ">i4"), ("p", ">i8"), ("l1", ">i4"), ("i", ">f8"),
                      ("l2", ">i4"), ("e", ">f8"), ("l3", ">i4"), ("m", ">i4"), ("l4", ">i4"),
                      ("s", ">i4"), ("l5", ">i4"), ("v", ">i2")])
    start_s = table.column("start").to_numpy().astype("datetime64[s]").astype(np.int64)
    with get_engine().connect() as conn:
        from sqlalchemy.orm import Session

        with Session(conn) as s:
            partitions.ensure(s, np.unique(partitions.month_index(start_s)).tolist())
            s.flush()
            t = time.perf_counter()
            rec = np.empty(len(start_s), dtype)
            rec["n"] = 6
            rec["l0"], rec["l1"], rec["l2"], rec["l3"], rec["l4"], rec["l5"] = 8, 8, 8, 4, 4, 2
            rec["p"] = (start_s - 946_684_800) * 1_000_000
            rec["i"] = table.column("import_kwh").to_numpy()
            rec["e"] = table.column("export_kwh").to_numpy()
            rec["m"] = np.repeat(ids, 48)[: len(start_s)]
            rec["s"], rec["v"] = 0, 1
            raw = s.connection().connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    "COPY meter_readings (period_start, import_kwh, export_kwh, meter_point_id,"
                    " submission_id, version) FROM STDIN (FORMAT binary)") as cp:
                cp.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8) + rec.tobytes() + b"\xff\xff")
            took = time.perf_counter() - t
            s.rollback()
    return took


def api_upload(path: Path, key: str, url: str) -> tuple[float, int, int, dict[str, Any]]:
    """Stream the CSV to a real server; (seconds, server RSS before, peak growth, answer)."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {"FLEX_DATABASE_URL": url}
    env.pop("FLEX_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "flexplatform.app:create_app",
                             "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        h = {"Authorization": f"Bearer {key}", "content-type": "text/csv"}
        with open(path, "rb") as f:  # warm-up: imports, pools, the first partition check
            head = f.readline() + f.readline()
        httpx.post(f"{base}/meter-readings/csv", content=head, headers=h, timeout=60)
        rss = _reset_peak(proc.pid)

        def chunks():
            with open(path, "rb") as f:
                while c := f.read(64 * 1024):
                    yield c

        t = time.perf_counter()
        r = httpx.post(f"{base}/meter-readings/csv", content=chunks(), headers=h, timeout=3600)
        took = time.perf_counter() - t
        peak = _vm("VmHWM", proc.pid) - rss
        if r.status_code not in (200, 201):
            raise SystemExit(f"upload failed {r.status_code}: {r.text[:2000]}")
        return took, rss, peak, r.json()
    finally:
        proc.terminate()
        proc.wait(30)


def json_upload(table, key: str) -> float:
    from fastapi.testclient import TestClient

    from flexplatform.app import create_app

    body = {"readings": [{"mpan": m, "start": s.isoformat(), "import_kwh": i, "export_kwh": e}
                         for m, s, i, e in zip(*(table.column(c).to_pylist() for c in (
                             "mpan", "start", "import_kwh", "export_kwh")), strict=True)]}
    with TestClient(create_app()) as c:
        t = time.perf_counter()
        r = c.post("/api/v1/meter-readings", json=body, headers={"Authorization": f"Bearer {key}"})
        took = time.perf_counter() - t
    if r.status_code != 201:
        raise SystemExit(f"JSON upload failed {r.status_code}: {r.text[:2000]}")
    return took


def storage() -> tuple[int, int]:
    from sqlalchemy import text

    from flexplatform.db import unit_of_work

    with unit_of_work(readonly=True) as s:
        size = s.execute(text("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) "
                              "FROM pg_inherits WHERE inhparent = 'meter_readings'::regclass")
                         ).scalar()
        rows = s.execute(text("SELECT count(*) FROM meter_readings")).scalar()
    return int(size), int(rows)


def load_slice(mpans: list[str], days: int, first_day: int, rng) -> tuple[float, int]:
    """Feed ``days`` days, one submission a day, through the ingest as typed columns."""
    from flexplatform.audit import Actor
    from flexplatform.db import unit_of_work
    from flexplatform.reporting import service
    from flexplatform.reporting.ingest import Ingest
    from flexplatform.reporting.validate import MeterAccess

    total, t = 0, time.perf_counter()
    for d in range(days):
        table = _day(mpans, first_day + d, rng)
        with unit_of_work() as s:
            ing = Ingest(s, MeterAccess(service.submit_lookup(s, None)), source="bench",
                         submitted_by=None, actor=Actor(id=None, role="bench"))
            step = 500_000
            for lo in range(0, table.num_rows, step):
                part = table.slice(lo, step)
                ing.add({c: part.column(c).combine_chunks() for c in part.column_names},
                        np.arange(lo + 1, lo + part.num_rows + 1))
            total += ing.finish().stored
        if d % 10 == 9:
            print(f"  slice: {d + 1}/{days} days, {total:,} rows, "
                  f"{total / (time.perf_counter() - t):,.0f} rows/s", flush=True)
    return time.perf_counter() - t, total


def query_timings(ids: np.ndarray, first_day: int, days: int) -> list[tuple[str, int, float]]:
    from flexplatform.db import unit_of_work
    from flexplatform.reporting import reads

    start = DAY0 + dt.timedelta(days=first_day)
    out = []
    with unit_of_work(readonly=True) as s:
        month_end = start + dt.timedelta(days=min(days, 30))
        times = []
        for mid in ids[:: max(len(ids) // 5, 1)][:5]:
            t = time.perf_counter()
            f = reads.readings_frame(s, [int(mid)], start, month_end)
            times.append(time.perf_counter() - t)
        out.append(("one meter, one month (median of 5)", len(f), float(np.median(times))))
        n = min(10_000, len(ids))
        day = start + dt.timedelta(days=days // 2)
        t = time.perf_counter()
        f = reads.readings_frame(s, ids[:n].tolist(), day, day + dt.timedelta(days=1))
        out.append((f"{n:,} meters, one day", len(f), time.perf_counter() - t))
        t = time.perf_counter()
        f = reads.readings_frame(s, ids[:n].tolist(), start, month_end)
        out.append((f"{n:,} meters, one month (a settlement shard)", len(f),
                    time.perf_counter() - t))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--slice-meters", type=int, default=10_000)
    ap.add_argument("--slice-days", type=int, default=62)
    ap.add_argument("--no-slice", action="store_true")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    rng = np.random.default_rng(7)
    n_meters = -(-args.rows // 48)
    work = Path(tempfile.mkdtemp(prefix="flex-bench-metering-"))
    table = Table(title=f"Meter reading ingest ({args.rows:,} rows = {n_meters:,} meters x 48 "
                        "half hours)")
    for c in ("backend", "step", "rows", "seconds", "rows/s", "peak MB", "note"):
        table.add_column(c, justify="left" if c in ("backend", "step", "note") else "right")

    def row(backend, step, n, secs, peak=None, note=""):  # type: ignore[no-untyped-def]
        table.add_row(backend, step, f"{n:,}", f"{secs:.2f}", f"{n / secs:,.0f}" if secs else "-",
                      "-" if peak is None else f"{peak / 2**20:,.0f}", note)
        print(f"{backend} {step}: {n:,} rows {secs:.2f} s", flush=True)

    from flexplatform.db import reset_runtime

    url = os.environ.get("FLEX_DATABASE_URL", "")
    projection: list[str] = []
    slice_rows: list[tuple[str, int, float]] = []
    if url.startswith("postgres") and not args.no_postgres:
        _prepare_postgres(url.replace("postgresql://", "postgresql+psycopg://"))
        reset_runtime()
        _, key, mpans, ids = _setup(max(n_meters, args.slice_meters))
        mp = mpans[:n_meters]
        days = [_day(mp, d, rng) for d in range(4)]
        secs = copy_floor(days[0], ids[:n_meters])
        row("postgres", "COPY floor (binary, no checks)", args.rows, secs)
        csv0 = _csv(days[0], work / "day0.csv")
        out, secs, peak = _timed(lambda: _import(csv0))
        row("postgres", "meter import CSV", out.stored, secs, peak,
            f"{csv0.stat().st_size / 2**20:,.0f} MB file")
        ingest_rate = out.stored / secs
        out, secs, peak = _timed(lambda: _import(csv0))
        row("postgres", "identical re-send (no-op)", out.unchanged, secs, peak,
            f"stored {out.stored}")
        fix = days[0].slice(0, args.rows // 100)
        fix = fix.set_column(2, "import_kwh", [fix.column("import_kwh").to_numpy() + 1])
        fix_csv = _csv(fix, work / "fix.csv")
        out, secs, peak = _timed(lambda: _import(fix_csv))
        row("postgres", "1% correction", out.corrections, secs, peak, "new versions")
        import pyarrow.parquet as pq

        pq.write_table(days[1], work / "day1.parquet")
        out, secs, peak = _timed(lambda: _import(work / "day1.parquet"))
        row("postgres", "meter import Parquet", out.stored, secs, peak)
        csv2 = _csv(days[2], work / "day2.csv")
        secs, rss, peak, answer = api_upload(csv2, key, url)
        row("postgres", "API CSV upload, streamed", answer["stored"], secs, peak,
            f"server RSS before {rss / 2**20:,.0f} MB")
        reset_runtime()
        jrows = min(100_000, args.rows)
        secs = json_upload(days[3].slice(0, jrows), key)
        row("postgres", "API bulk JSON (its cap)", jrows, secs)
        size, rows = storage()
        per_row = size / max(rows, 1)
        projection = [
            f"stored: {rows:,} rows in {size / 2**20:,.0f} MB = {per_row:.0f} bytes/row "
            "(heap + primary key)",
            f"GB month (300,000 meters x 30 days x 48 = {GB_MONTH_ROWS / 1e6:.0f} M rows): "
            f"{GB_MONTH_ROWS * per_row / 2**30:,.0f} GiB, ingest "
            f"{GB_MONTH_ROWS / ingest_rate / 3600:,.1f} h at the CSV import rate "
            f"({GB_MONTH_ROWS / 30 / ingest_rate / 60:,.1f} min per daily 14.4 M-row file)"]
        if not args.no_slice:
            secs, n = load_slice(mpans[: args.slice_meters], args.slice_days, 30, rng)
            row("postgres", f"slice: {args.slice_meters:,} meters x {args.slice_days} days",
                n, secs, None, "a submission a day")
            slice_rows = query_timings(ids[: args.slice_meters], 30, args.slice_days)
            size, rows = storage()
            projection.append(f"after the slice: {rows:,} rows, {size / 2**30:,.2f} GiB, "
                              f"{size / rows:.0f} bytes/row")
    if not args.no_sqlite:
        os.environ.pop("FLEX_DATABASE_URL", None)
        os.environ["FLEX_VAR_DIR"] = str(work / "sqlite")
        reset_runtime()
        _, _, mpans, _ = _setup(n_meters)
        csv = _csv(_day(mpans, 0, rng), work / "sqlite.csv")
        out, secs, peak = _timed(lambda: _import(csv))
        row("sqlite", "meter import CSV", out.stored, secs, peak)
        reset_runtime()
    console = Console(width=170)
    console.print(table)
    for line in projection:
        console.print(line)
    if slice_rows:
        q = Table(title="Queries on the slice (readings_frame: latest version, engine frame)")
        for c in ("query", "rows", "seconds"):
            q.add_column(c)
        for name, n, secs in slice_rows:
            q.add_row(name, f"{n:,}", f"{secs:.3f}")
        console.print(q)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
