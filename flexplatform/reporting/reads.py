"""Bulk reads of readings for verification and settlement: many meters over a range.

The latest version of each (meter, period), optionally as of a submission (the version
set a verification records; see ``models.MeterSubmission``), returned as numpy columns
or in the settlement engine's frame. On Postgres the rows leave the server by binary
COPY and are parsed with one ``np.frombuffer`` (fixed-width fields); every version in the
range is fetched and the latest kept in numpy, which is cheaper than asking the server to
sort for DISTINCT ON (nearly every pair has one version). The stream is parsed every few
MB into native columns of 34 bytes a row. 10,000 meters x 1 day (480,000 rows) went from
29 s through ORM rows to ~3 s this way (loaded machine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from flexplatform.reporting.models import MeterPoint, MeterSubmission

COLUMNS = ("meter_point_id", "start_s", "import_kwh", "export_kwh", "version", "submission_id")
_DTYPES = (np.int32, np.int64, np.float64, np.float64, np.int16, np.int32)
_PG_EPOCH_US = 946_684_800 * 1_000_000
_ROW = np.dtype([("n", ">i2"), ("l0", ">i4"), ("m", ">i4"), ("l1", ">i4"), ("p", ">i8"),
                 ("l2", ">i4"), ("i", ">f8"), ("l3", ">i4"), ("e", ">f8"), ("l4", ">i4"),
                 ("v", ">i2"), ("l5", ">i4"), ("s", ">i4")])
_HEAD, _TAIL = 19, 2  # binary COPY: signature, flags, extension length; then -1
_STEP = 10_000  # meters per statement


def _select(ids: Sequence[int], start: dt.datetime, end: dt.datetime, as_of: int | None,
            pg: bool) -> str:
    """Every version in range. Only ints and our own datetimes are inlined (COPY takes no
    parameters)."""
    ids_sql = ",".join(str(int(i)) for i in ids)
    cond = (f"meter_point_id = ANY('{{{ids_sql}}}'::int[])" if pg
            else f"meter_point_id IN ({ids_sql})")
    lo, hi = (t.astimezone(dt.UTC) for t in (start, end))
    if pg:
        lo_s, hi_s = f"'{lo.isoformat()}'", f"'{hi.isoformat()}'"
    else:
        lo_s, hi_s = (f"'{t:%Y-%m-%d %H:%M:%S.%f}'" for t in (lo, hi))
    where = f"{cond} AND period_start >= {lo_s} AND period_start < {hi_s}"
    if as_of is not None:
        where += f" AND submission_id <= {int(as_of)}"
    return ("SELECT meter_point_id, period_start, import_kwh, export_kwh, version, "
            f"submission_id FROM meter_readings WHERE {where}")


def _columns(rec: np.ndarray) -> dict[str, np.ndarray]:
    """Fixed-width binary COPY records as native columns (34 bytes a row)."""
    return {"meter_point_id": rec["m"].astype(np.int32),
            "start_s": (rec["p"] + _PG_EPOCH_US) // 1_000_000,
            "import_kwh": rec["i"].astype(np.float64), "export_kwh": rec["e"].astype(np.float64),
            "version": rec["v"].astype(np.int16), "submission_id": rec["s"].astype(np.int32)}


def _fetch_pg(session: Session, sql: str) -> list[dict[str, np.ndarray]]:
    """Parse the COPY stream every few MB, so the raw bytes never add up to the result."""
    raw = session.connection().connection.driver_connection
    parts, buf, size = [], bytearray(), _ROW.itemsize
    skip = _HEAD
    with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as cp:
        for block in cp:
            buf += block
            if len(buf) < (4 << 20):
                continue
            n = (len(buf) - skip) // size
            parts.append(_columns(np.frombuffer(buf, dtype=_ROW, count=n, offset=skip)))
            del buf[: skip + n * size]
            skip = 0
    n = (len(buf) - skip - _TAIL) // size
    if n > 0:
        parts.append(_columns(np.frombuffer(buf, dtype=_ROW, count=n, offset=skip)))
    return parts


def _fetch_sqlite(session: Session, sql: str) -> list[dict[str, np.ndarray]]:
    rows = session.execute(text(sql)).all()
    if not rows:
        return []
    m, p, i, e, v, s = zip(*rows, strict=True)
    starts = pd.to_datetime(pd.Series(p), format="%Y-%m-%d %H:%M:%S.%f", utc=True)
    return [{"meter_point_id": np.asarray(m, np.int32),
             "start_s": starts.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
             .astype(np.int64),
             "import_kwh": np.asarray(i, np.float64), "export_kwh": np.asarray(e, np.float64),
             "version": np.asarray(v, np.int16), "submission_id": np.asarray(s, np.int32)}]


def latest_arrays(session: Session, meter_ids: Sequence[int], start: dt.datetime,
                  end: dt.datetime, as_of: int | None = None) -> dict[str, np.ndarray]:
    """Latest version per (meter, period) in [start, end) among submissions <= ``as_of``,
    as numpy columns (``COLUMNS``), sorted by meter then period."""
    pg = session.get_bind().dialect.name == "postgresql"
    parts = []
    ids = [int(i) for i in meter_ids]
    for k in range(0, len(ids), _STEP):
        sql = _select(ids[k : k + _STEP], start, end, as_of, pg)
        parts.extend(_fetch_pg(session, sql) if pg else _fetch_sqlite(session, sql))
    if not parts:
        return {c: np.empty(0, d) for c, d in zip(COLUMNS, _DTYPES, strict=True)}
    cols = {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
    del parts
    order = np.lexsort((cols["version"], cols["start_s"], cols["meter_point_id"]))
    cols = {c: a[order] for c, a in cols.items()}
    m, t = cols["meter_point_id"], cols["start_s"]
    last = np.ones(len(m), dtype=bool)  # the highest version closes each (meter, period)
    last[:-1] = (m[1:] != m[:-1]) | (t[1:] != t[:-1])
    return {c: a[last] for c, a in cols.items()}


def readings_frame(session: Session, meter_ids: Sequence[int], start: dt.datetime,
                   end: dt.datetime, as_of: int | None = None) -> pd.DataFrame:
    """:func:`latest_arrays` in the settlement engine's frame (``settlement.meter``):
    mpan, start (UTC), import_kwh, export_kwh, version, plus submission_id."""
    cols = latest_arrays(session, meter_ids, start, end, as_of)
    ids = np.unique(cols["meter_point_id"]).tolist()
    names: dict[int, str] = {}
    for k in range(0, len(ids), 5000):
        names.update(session.execute(select(MeterPoint.id, MeterPoint.mpan).where(
            MeterPoint.id.in_(ids[k : k + 5000]))).all())
    codes, uniq = pd.factorize(cols["meter_point_id"])
    mpan = pd.Categorical.from_codes(codes, categories=[names[int(u)] for u in uniq]) \
        if len(uniq) else pd.Categorical([])
    return pd.DataFrame({
        "mpan": mpan, "start": pd.to_datetime(cols["start_s"], unit="s", utc=True),
        "import_kwh": cols["import_kwh"], "export_kwh": cols["export_kwh"],
        "version": cols["version"], "submission_id": cols["submission_id"]})


def watermark(session: Session) -> int | None:
    """The newest submission: ``as_of`` this value is a fixed set of readings."""
    return session.scalar(select(func.max(MeterSubmission.id)))
