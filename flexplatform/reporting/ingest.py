"""Storing one upload: stage every checked row, then merge them as new versions.

Batches are checked as they arrive (``validate.check``) and their good rows written to a
temporary staging table (COPY on Postgres), so memory holds one batch, never the upload.
:meth:`Ingest.finish` then works in SQL, inside the request's transaction:

1. group the staged rows by (meter, period): identical repeats count once; a pair seen
   with different values is a conflict (409 listing their rows);
2. if any row failed a check or any pair conflicts, raise: the transaction rolls back and
   nothing is stored (all problems are reported, up to a cap, with their count);
3. under the ingest lock, compare with the latest stored version of each pair: a pair
   new to the platform is version 1, changed values are version n+1, identical values
   are left alone (an identical re-send is a no-op and creates no submission);
4. create the month partitions the new rows need and insert them.

Only meters that already hold readings in the upload's period range are looked up row
by row; the others are inserted straight away, so a fresh day costs one probe per meter,
not per reading.

The ingest lock (a transaction-level advisory lock on Postgres; SQLite has one writer)
makes submission ids follow commit order, and keeps two uploads from both taking the
same next version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from flexplatform import audit
from flexplatform.db import utcnow
from flexplatform.errors import Conflict, InvalidInput, field_error
from flexplatform.registration.service import MAX_REPORTED_ERRORS
from flexplatform.reporting import partitions, validate
from flexplatform.reporting.models import MeterSubmission
from flexplatform.reporting.validate import Checked, MeterAccess, Problems

INGEST_LOCK = 7_201_339  # pg_advisory_xact_lock key: one merge at a time


def rows_pointer(row: int, name: str) -> list[Any]:
    """Where a CSV or Parquet problem is: /rows/<row number>/<column>."""
    return ["rows", row, name]


def json_pointer(row: int, name: str) -> list[Any]:
    """Where a bulk JSON problem is: /readings/<index>/<field> (row numbers are 1-based)."""
    return ["readings", row - 1, name]


@dataclass
class Outcome:
    submission_id: int | None
    rows: int
    stored: int
    corrections: int
    unchanged: int
    duplicates: int
    first_period: dt.datetime | None
    last_period: dt.datetime | None
    existing_submissions: list[int] = field(default_factory=list)


class _Stage:
    """The staging table and the dialect-specific SQL around it."""

    def __init__(self, session: Session):
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        tag = uuid.uuid4().hex[:12]
        self.t = {k: f"meter_{k}_{tag}" for k in ("stage", "pairs", "touched", "current")}
        self.created: list[str] = []
        self.create("stage", "(row_no bigint, m integer, p timestamptz, i float8, e float8)"
                    if self.pg else "(row_no INTEGER, m INTEGER, p TEXT, i REAL, e REAL)")

    def create(self, key: str, body: str) -> None:
        name = self.t[key]
        if body.startswith("AS "):
            ddl = f"CREATE TEMP TABLE {name} {'ON COMMIT DROP ' if self.pg else ''}{body}"
        else:
            ddl = f"CREATE TEMP TABLE {name} {body}{' ON COMMIT DROP' if self.pg else ''}"
        self.run(ddl)
        self.created.append(name)

    def run(self, sql: str, **params: Any) -> Any:
        return self.session.execute(text(sql.format(**self.t)), params)

    def write(self, c: Checked) -> None:
        if not len(c.rows):
            return
        raw = self.session.connection().connection.driver_connection
        if self.pg:
            with raw.cursor() as cur, cur.copy(
                    f"COPY {self.t['stage']} FROM STDIN (FORMAT binary)") as copy:
                copy.write(_binary_copy(c))
            return
        # SQLite keeps datetimes as text in SQLAlchemy's format; staging writes the same.
        # Few distinct periods per batch (meters x periods): format each once.
        uniq, inverse = np.unique(c.start_s, return_inverse=True)
        texts = [dt.datetime.fromtimestamp(int(u), dt.UTC).strftime("%Y-%m-%d %H:%M:%S.000000")
                 for u in uniq]
        raw.executemany(f"INSERT INTO {self.t['stage']} VALUES (?, ?, ?, ?, ?)",
                        zip(c.rows.tolist(), c.meter_ids.tolist(), [texts[i] for i in inverse],
                            c.import_kwh.tolist(), c.export_kwh.tolist(), strict=True))

    def current_sql(self, dense: bool) -> str:
        """Each touched pair with the latest stored version's values (NULL: none).

        ``dense`` (Postgres): the upload covers most of each touched meter's range, so
        one index range scan per meter plus a hash join beats a probe per row (an
        identical re-send of a day: 1 M probes). Sparse uploads (two periods a month
        apart) keep the probe per row, whose cost never exceeds the upload's size.
        """
        cols = ("AS SELECT g.m, g.p, g.i, g.e, r.version AS v, r.import_kwh AS oi, "
                "r.export_kwh AS oe, r.submission_id AS os FROM {pairs} g "
                "JOIN {touched} t ON t.m = g.m ")
        if self.pg and dense:
            return cols + (
                "LEFT JOIN (SELECT DISTINCT ON (x.meter_point_id, x.period_start) "
                "x.meter_point_id, x.period_start, x.version, x.import_kwh, x.export_kwh, "
                "x.submission_id FROM {touched} u JOIN meter_readings x "
                "ON x.meter_point_id = u.m AND x.period_start >= u.lo "
                "AND x.period_start <= u.hi ORDER BY x.meter_point_id, x.period_start, "
                "x.version DESC) r ON r.meter_point_id = g.m AND r.period_start = g.p")
        if self.pg:
            return cols + (
                "LEFT JOIN LATERAL (SELECT version, import_kwh, export_kwh, submission_id "
                "FROM meter_readings r WHERE r.meter_point_id = g.m "
                "AND r.period_start = g.p ORDER BY version DESC LIMIT 1) r ON true")
        return cols + (
            "LEFT JOIN meter_readings r ON r.meter_point_id = g.m AND r.period_start = g.p "
            "AND r.version = (SELECT max(x.version) FROM meter_readings x "
            "WHERE x.meter_point_id = g.m AND x.period_start = g.p)")

    def drop(self) -> None:
        for name in reversed(self.created):
            self.run(f"DROP TABLE IF EXISTS {name}")
        self.created.clear()


class _Distinct:
    """Whether every (meter, period) staged so far is certainly distinct, in memory bounded
    by the meters (a period range per meter), not the rows.

    Files come meter by meter or period by period, so each batch's periods for a meter
    lie outside what earlier batches covered; then no pair can repeat and the merge skips
    grouping the upload. Anything else (a repeat within a batch, a batch reaching into a
    meter's earlier range) only says "maybe": the merge then groups in SQL and finds the
    exact repeats and conflicts.
    """

    def __init__(self) -> None:
        self.lo = np.empty(0, np.int64)
        self.hi = np.empty(0, np.int64)
        self.maybe = False

    def observe(self, meters: np.ndarray, starts: np.ndarray) -> None:
        if self.maybe or not len(meters):
            return
        o = np.lexsort((starts, meters))
        ms, ps = meters[o].astype(np.int64), starts[o]
        same = ms[1:] == ms[:-1]
        if (same & (ps[1:] == ps[:-1])).any():
            self.maybe = True
            return
        first = np.flatnonzero(np.r_[True, ~same])
        last = np.r_[first[1:] - 1, len(ms) - 1]
        um, clo, chi = ms[first], ps[first], ps[last]
        if um.max() >= len(self.lo):
            grow = int(um.max()) + 1 - len(self.lo)
            self.lo = np.r_[self.lo, np.full(grow, np.iinfo(np.int64).max)]
            self.hi = np.r_[self.hi, np.full(grow, np.iinfo(np.int64).min)]
        plo, phi = self.lo[um], self.hi[um]
        if ((clo <= phi) & (chi >= plo)).any():
            self.maybe = True
            return
        self.lo[um], self.hi[um] = np.minimum(plo, clo), np.maximum(phi, chi)


class Ingest:
    """One upload in progress. ``add`` batches, then ``finish`` once; nothing is stored
    unless every row of every batch is good."""

    def __init__(self, session: Session, access: MeterAccess, *, source: str,
                 submitted_by: uuid.UUID | None, actor: audit.Actor,
                 filename: str | None = None,
                 pointer: Callable[[int, str], list[Any]] = rows_pointer,
                 now: dt.datetime | None = None, cap: int | None = None):
        self.session, self.access, self.source = session, access, source
        self.submitted_by, self.actor, self.filename = submitted_by, actor, filename
        self.pointer, self.now = pointer, now or utcnow()
        self.problems = Problems(cap or MAX_REPORTED_ERRORS)
        self.rows = 0
        self.staged = 0
        self.months: set[int] = set()
        self.first_s: int | None = None
        self.last_s: int | None = None
        # Largest Arrow allocation seen after a batch: the streaming bound, for tests/bench.
        self.arrow_peak = 0
        self._stage = _Stage(session)
        self._distinct = _Distinct()

    def add(self, cols: dict[str, pa.Array], rows: np.ndarray) -> None:
        self.rows += len(rows)
        c = validate.check(cols, rows, self.access, self.problems, self.now, self.pointer)
        if len(c.rows):
            self._stage.write(c)
            self._distinct.observe(c.meter_ids, c.start_s)
            self.staged += len(c.rows)
            self.months.update(np.unique(partitions.month_index(c.start_s)).tolist())
            lo, hi = int(c.start_s.min()), int(c.start_s.max())
            self.first_s = lo if self.first_s is None else min(self.first_s, lo)
            self.last_s = hi if self.last_s is None else max(self.last_s, hi)
        self.arrow_peak = max(self.arrow_peak, pa.total_allocated_bytes())

    def feed(self, batches: Iterable[tuple[dict[str, pa.Array], np.ndarray]]) -> Ingest:
        for cols, rows in batches:
            self.add(cols, rows)
        return self

    def finish(self, content_sha256: str | None = None) -> Outcome:
        try:
            return self._finish(content_sha256)
        finally:
            self._stage.drop()

    # ------------------------------------------------------------------------------------
    def _finish(self, content_sha256: str | None) -> Outcome:
        st = self._stage
        if self.rows == 0:
            raise InvalidInput("no readings in the upload",
                               errors=[field_error(["rows"], "no readings")])
        if st.pg:
            st.run("SET LOCAL work_mem = '64MB'")
            st.run("SET LOCAL enable_memoize = off")  # it caches 1 M unique probes for nothing
            st.run("SET LOCAL jit = off")
        if self._distinct.maybe:
            st.create("pairs", "AS SELECT m, p, min(i) AS i, min(e) AS e, count(*) AS n, "
                               "min(row_no) AS first_row, "
                               "(min(i) <> max(i) OR min(e) <> max(e)) AS conflict "
                               "FROM {stage} GROUP BY m, p")
            pairs, conflicts = st.run("SELECT count(*), coalesce(sum(CASE WHEN conflict "
                                      "THEN 1 ELSE 0 END), 0) FROM {pairs}").one()
        else:  # every pair distinct: the staged rows are the pairs
            st.t["pairs"] = st.t["stage"]
            pairs, conflicts = self.staged, 0
        if self.problems.count or conflicts:
            self._refuse(conflicts)
        if st.pg:
            st.run("SELECT pg_advisory_xact_lock(:k)", k=INGEST_LOCK)
        st.create("touched", "AS SELECT d.m, d.lo, d.hi, d.n FROM (SELECT m, min(p) AS lo, "
                             "max(p) AS hi, count(*) AS n FROM {pairs} GROUP BY m) d "
                             "WHERE EXISTS (SELECT 1 FROM meter_readings r WHERE "
                             "r.meter_point_id = d.m AND r.period_start >= d.lo AND "
                             "r.period_start <= d.hi)")
        dense = False
        if st.pg:
            span, rows = st.run("SELECT coalesce(sum(extract(epoch FROM hi - lo) / 1800 + 1), 0),"
                                " coalesce(sum(n), 0) FROM {touched}").one()
            dense = span <= 2 * rows
        st.create("current", st.current_sql(dense))
        touched, fresh_in_touched, unchanged = st.run(
            "SELECT count(*), coalesce(sum(CASE WHEN v IS NULL THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN oi = i AND oe = e THEN 1 ELSE 0 END), 0) "
            "FROM {current}").one()
        corrections = touched - fresh_in_touched - unchanged
        stored = pairs - touched + fresh_in_touched + corrections
        existing = list(st.run("SELECT DISTINCT os FROM {current} WHERE v IS NOT NULL "
                               "ORDER BY os LIMIT 100").scalars())
        out = Outcome(None, self.rows, stored, corrections, unchanged, self.staged - pairs,
                      _utc(self.first_s), _utc(self.last_s), existing)
        if stored == 0:
            return out  # an identical re-send: nothing changes, nothing to audit
        sub = MeterSubmission(submitted_by=self.submitted_by, source=self.source,
                              filename=self.filename, content_sha256=content_sha256,
                              rows=self.rows, stored=stored, corrections=corrections,
                              unchanged=unchanged, duplicates=out.duplicates,
                              first_period=out.first_period, last_period=out.last_period)
        self.session.add(sub)
        self.session.flush()
        out.submission_id = sub.id
        created = partitions.ensure(self.session, self.months)
        cols = "(period_start, import_kwh, export_kwh, meter_point_id, submission_id, version)"
        n1 = st.run(f"INSERT INTO meter_readings {cols} SELECT p, i, e, m, :s, 1 FROM {{pairs}} "
                    "WHERE m NOT IN (SELECT m FROM {touched})", s=sub.id).rowcount
        n2 = st.run(f"INSERT INTO meter_readings {cols} SELECT p, i, e, m, :s, "
                    "coalesce(v, 0) + 1 FROM {current} WHERE v IS NULL OR oi <> i OR oe <> e",
                    s=sub.id).rowcount
        if n1 + n2 != stored:  # the counts above and the inserts read the same tables
            raise RuntimeError(f"ingest stored {n1 + n2} rows, expected {stored}")
        audit.record(self.session, self.actor, "meter.readings.submit", "meter_submission",
                     sub.id, {"source": self.source, "rows": self.rows, "stored": stored,
                              "corrections": corrections, "unchanged": unchanged,
                              "duplicates": out.duplicates, "first_period": out.first_period,
                              "last_period": out.last_period, "sha256": content_sha256,
                              "partitions_created": created})
        self._verify_later(sub.id)
        return out

    def _verify_later(self, submission_id: int) -> None:
        """New versions re-verify the instructions on their meters, after the commit
        (``workers/reporting.py``); without operations there is nothing to verify."""
        from flexplatform.reporting import sources

        if not sources.operations_available():
            return
        from flexplatform.db import after_commit
        from flexplatform.queue import enqueue

        after_commit(self.session, lambda: enqueue("flex.reporting.readings_arrived",
                                                   submission_id=submission_id))

    def _refuse(self, conflicts: int) -> None:
        st = self._stage
        errors = self.problems.sorted()
        room = max(self.problems.cap - len(errors), 0)
        if conflicts and room:
            mpans = {v[0]: m for m, v in self.access.found.items()}
            listed: dict[tuple[Any, Any], list[int]] = {}
            for m, p, row in st.run(
                    "SELECT s.m, s.p, s.row_no FROM {stage} s JOIN (SELECT m, p, first_row "
                    "FROM {pairs} WHERE conflict ORDER BY first_row LIMIT :cap) c "
                    "ON c.m = s.m AND c.p = s.p ORDER BY c.first_row, s.row_no", cap=room):
                listed.setdefault((m, p), []).append(int(row))
            for (m, p), rows in listed.items():
                at = _as_utc(p).isoformat().replace("+00:00", "Z")
                errors.append(field_error(
                    self.pointer(rows[1], "start"),
                    f"MPAN {mpans.get(m, m)} period {at} appears in rows "
                    f"{', '.join(map(str, rows))} with different values", row=rows[1], rows=rows,
                    issue="conflict", mpan=mpans.get(m), start=at))
        total = self.problems.count + conflicts
        if self.problems.count:
            raise InvalidInput(f"{total} problem(s) in {self.rows} row(s); nothing was stored",
                               errors=errors, error_count=total)
        raise Conflict(f"{conflicts} meter period(s) appear more than once with different "
                       "values; nothing was stored", errors=errors, error_count=conflicts)


# Postgres binary COPY: every staged row is five fixed-width fields, so the whole batch is
# one numpy record array (no text formatting on our side, no parsing on the server's, and
# floats travel bit for bit).
_PG_EPOCH_S = 946_684_800  # timestamptz counts microseconds from 2000-01-01 UTC
_COPY_ROW = np.dtype([("n", ">i2"), ("l0", ">i4"), ("row_no", ">i8"), ("l1", ">i4"),
                      ("m", ">i4"), ("l2", ">i4"), ("p", ">i8"), ("l3", ">i4"), ("i", ">f8"),
                      ("l4", ">i4"), ("e", ">f8")])
_COPY_HEAD = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TAIL = b"\xff\xff"


def _binary_copy(c: Checked) -> bytes:
    rec = np.empty(len(c.rows), dtype=_COPY_ROW)
    rec["n"] = 5
    rec["l0"], rec["l1"], rec["l2"], rec["l3"], rec["l4"] = 8, 4, 8, 8, 8
    rec["row_no"], rec["m"] = c.rows, c.meter_ids
    rec["p"] = (c.start_s - _PG_EPOCH_S) * 1_000_000
    rec["i"], rec["e"] = c.import_kwh, c.export_kwh
    return _COPY_HEAD + rec.tobytes() + _COPY_TAIL


def _utc(epoch_s: int | None) -> dt.datetime | None:
    return None if epoch_s is None else dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def _as_utc(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC) if v.tzinfo else v.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(v)).replace(tzinfo=dt.UTC)
