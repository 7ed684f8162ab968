"""Monthly partitions on Postgres, made on demand by the upload that needs them, in its
transaction, safely when two uploads race for the same month."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from flexplatform.reporting import partitions
from settlement.periods import LONDON
from tests.reporting.conftest import csv_text, half_hours, iso, post_csv


def _bounds(db, name):
    return db.execute(text("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                           "WHERE c.relname = :n"), {"n": name}).scalar()


def test_partitions_created_on_demand(client, db, metered, backend):
    # The last half hour of January (local = UTC in winter) and the first of June's
    # settlement month, which starts at 23:00 UTC on 31 May (BST).
    jan = dt.datetime(2025, 1, 31, 23, 30, tzinfo=dt.UTC)
    june = dt.datetime(2025, 5, 31, 23, 0, tzinfo=dt.UTC)
    may = june - dt.timedelta(minutes=30)
    rows = [(metered.mpan, iso(t), "1", "0") for t in (jan, may, june)]
    r = post_csv(client, metered.fsp, csv_text(rows))
    assert r.status_code == 201, r.text
    if backend == "sqlite":
        assert partitions.existing(db) == []
        return
    names = partitions.existing(db)
    assert names == ["meter_readings_p2025_01", "meter_readings_p2025_05",
                     "meter_readings_p2025_06"]
    assert "'2025-05-31 23:00:00+00'" in _bounds(db, "meter_readings_p2025_06")
    count = db.execute(text("SELECT count(*) FROM meter_readings_p2025_06")).scalar()
    assert count == 1  # the 23:00 UTC reading is June's first settlement period
    # Another upload in an existing month creates nothing; the rows land in it.
    r = post_csv(client, metered.fsp, csv_text(
        [(metered.mpan, iso(t), "2", "0") for t in half_hours(june, 3)[1:]]))
    assert r.status_code == 201 and partitions.existing(db) == names
    # A refused upload leaves no partition behind.
    r = post_csv(client, metered.fsp, csv_text([
        (metered.mpan, iso(dt.datetime(2024, 7, 1, 12, tzinfo=dt.UTC)), "1", "0"),
        (metered.mpan, iso(dt.datetime(2024, 8, 1, 12, tzinfo=dt.UTC)), "-1", "0")]))
    assert r.status_code == 422 and partitions.existing(db) == names


def test_month_index_follows_local_midnight():
    t = np.array([dt.datetime(2025, 5, 31, 22, 30, tzinfo=dt.UTC).timestamp(),
                  dt.datetime(2025, 5, 31, 23, 0, tzinfo=dt.UTC).timestamp(),
                  dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC).timestamp(),
                  dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC).timestamp()], dtype=np.int64)
    starts = partitions.month_starts()[partitions.month_index(t)]
    local = [dt.datetime.fromtimestamp(int(x), dt.UTC).astimezone(LONDON) for x in starts]
    assert [(d.year, d.month, d.day, d.hour) for d in local] == [
        (2025, 5, 1, 0), (2025, 6, 1, 0), (2025, 12, 1, 0), (2026, 1, 1, 0)]


def test_concurrent_creators_of_one_month(engine, backend):
    """Two transactions need the same new month at once: both succeed, one partition."""
    if backend == "sqlite":
        return
    month = int(partitions.month_index(np.array(
        [dt.datetime(2090, 3, 10, tzinfo=dt.UTC).timestamp()], dtype=np.int64))[0])
    barrier = threading.Barrier(2)
    results: list[object] = []

    def create() -> None:
        try:
            with Session(engine) as s:
                barrier.wait()
                results.append(partitions.ensure(s, [month]))
                s.commit()
        except Exception as e:  # reported below
            results.append(e)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert sorted(map(str, results)) == ["['meter_readings_p2090_03']", "[]"], results
        with Session(engine) as s:
            assert "meter_readings_p2090_03" in partitions.existing(s)
    finally:
        with engine.begin() as c:
            c.execute(text("DROP TABLE IF EXISTS meter_readings_p2090_03"))
