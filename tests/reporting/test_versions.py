"""Every version kept: a correction is a new version; an identical re-send is a no-op;
readings as of a submission stay fixed; stored readings are what the engine accepts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from flexplatform.audit import AuditEvent
from flexplatform.reporting import reads
from flexplatform.reporting.models import MeterPoint, MeterReading
from settlement.meter import MeterData
from tests.reporting.conftest import (
    DAY,
    add_meter,
    csv_text,
    half_hours,
    iso,
    post_csv,
    post_json,
    stored,
)

URL = "/api/v1/meter-points/{}/readings"


def _read(client, m, **params):
    q = {"start": iso(DAY), "end": iso(DAY + dt.timedelta(days=1))} | params
    r = client.get(URL.format(m.mpan), params=q, headers=m.fsp.h)
    assert r.status_code == 200, r.text
    return r.json()


def test_correction_is_a_new_version_and_resend_a_noop(client, db, metered):
    rows = [(metered.mpan, iso(t), f"{i}.25", "0") for i, t in enumerate(half_hours(DAY, 48))]
    first = post_csv(client, metered.fsp, csv_text(rows))
    assert first.status_code == 201, first.text
    s1 = first.json()
    assert (s1["stored"], s1["corrections"], s1["unchanged"]) == (48, 0, 0)
    assert s1["first_period"].startswith("2025-01-15T00:00") and s1["submission_id"]

    # The identical file again: nothing changes, and the answer says what exists.
    before = stored(db)
    again = post_csv(client, metered.fsp, csv_text(rows))
    assert again.status_code == 200
    assert again.json()["submission_id"] is None and again.json()["unchanged"] == 48
    assert again.json()["existing_submissions"] == [s1["submission_id"]]
    assert stored(db) == before  # no rows, no submission, no audit event

    # Two periods corrected, one new period, the rest re-sent unchanged.
    fixed = [*rows]
    fixed[3] = (metered.mpan, rows[3][1], "9.5", "0")
    fixed[7] = (metered.mpan, rows[7][1], "0", "0.75")
    extra = (metered.mpan, iso(DAY + dt.timedelta(days=1)), "1", "0")
    second = post_csv(client, metered.fsp, csv_text([*fixed, extra]))
    s2 = second.json()
    assert second.status_code == 201
    assert (s2["stored"], s2["corrections"], s2["unchanged"]) == (3, 2, 46)
    page = _read(client, metered)
    assert page["total"] == 48
    by = {x["start"]: x for x in page["items"]}
    p3 = by[rows[3][1].replace("Z", "") + "Z"]
    assert p3["import_kwh"] == 9.5 and p3["version"] == 2
    assert p3["submission_id"] == s2["submission_id"]
    # Every version kept: version 1 is still there.
    every = _read(client, metered, versions="all")
    assert every["total"] == 50
    old = [x for x in every["items"] if x["start"] == p3["start"]]
    assert [(x["version"], x["import_kwh"]) for x in old] == [(1, 3.25), (2, 9.5)]
    # As of the first submission, the readings are those of the first file.
    asof = _read(client, metered, as_of=s1["submission_id"])
    assert [x["import_kwh"] for x in asof["items"]] == [float(r[2]) for r in rows]
    # Re-sending an older value is a correction too: the latest sent wins.
    r = post_json(client, metered.fsp, [{"mpan": metered.mpan, "start": rows[3][1],
                                         "import_kwh": 3.25, "export_kwh": 0}])
    assert r.json()["corrections"] == 1
    assert _read(client, metered)["items"][3]["version"] == 3
    events = db.scalars(select(AuditEvent.action).where(
        AuditEvent.action == "meter.readings.submit")).all()
    assert len(events) == 3


def test_stored_readings_are_what_the_engine_accepts(client, db, metered):
    rows = [(metered.mpan, iso(t), f"{(i % 7) / 3:.6f}", "0")
            for i, t in enumerate(half_hours(DAY, 48))]
    s1 = post_csv(client, metered.fsp, csv_text(rows)).json()["submission_id"]
    post_csv(client, metered.fsp, csv_text([(metered.mpan, rows[0][1], "5", "0")]))
    mp = db.scalar(select(MeterPoint).where(MeterPoint.mpan == metered.mpan))
    end = DAY + dt.timedelta(days=1)
    frame = reads.readings_frame(db, [mp.id], DAY, end)
    assert len(frame) == 48 and frame["version"].tolist()[:2] == [2, 1]
    _, report = MeterData.validate(frame, window=(DAY.date(), DAY.date()))
    assert report.ok, report.issues.to_dict("records")[:3]
    # Exact values back (floats round-trip through COPY / SQLite untouched).
    assert frame["import_kwh"].tolist()[1:] == [float(r[2]) for r in rows[1:]]
    frozen = reads.readings_frame(db, [mp.id], DAY, end, as_of=s1)
    assert frozen["import_kwh"].tolist()[0] == float(rows[0][2])
    assert reads.watermark(db) > s1


def test_many_meters_mixed_fresh_and_touched(client, db, make_party, zones):
    """Meters new to a period take the no-lookup path, meters with readings the per-row
    path; both in one upload."""
    fsp = make_party("fsp")
    a, b = add_meter(client, fsp), add_meter(client, fsp)
    post_csv(client, fsp, csv_text([(a.mpan, iso(DAY), "1", "0")]))
    rows = [(m.mpan, iso(t), "2", "0") for m in (a, b) for t in half_hours(DAY, 4)]
    out = post_csv(client, fsp, csv_text(rows)).json()
    assert (out["stored"], out["corrections"]) == (8, 1)
    versions = db.execute(select(MeterReading.version)).scalars().all()
    assert sorted(versions) == [1] * 8 + [2]


def test_sparse_and_dense_resends_agree(client, db, metered):
    """Re-sending a whole day (one scan per meter) and two periods weeks apart (a probe
    per row) give the same versions."""
    day = [(metered.mpan, iso(t), "1", "0") for t in half_hours(DAY, 48)]
    late = (metered.mpan, iso(DAY + dt.timedelta(days=20)), "4", "0")
    assert post_csv(client, metered.fsp, csv_text([*day, late])).json()["stored"] == 49
    dense = [*day]
    dense[10] = (metered.mpan, day[10][1], "2", "0")
    out = post_csv(client, metered.fsp, csv_text(dense)).json()
    assert (out["stored"], out["corrections"], out["unchanged"]) == (1, 1, 47)
    sparse = [(metered.mpan, day[0][1], "1", "0"), (metered.mpan, late[1], "5", "0")]
    out = post_csv(client, metered.fsp, csv_text(sparse)).json()
    assert (out["stored"], out["corrections"], out["unchanged"]) == (1, 1, 1)
    page = _read(client, metered, end=iso(DAY + dt.timedelta(days=21)))
    assert [(x["version"], x["import_kwh"]) for x in page["items"]][9:11] == [(1, 1.0), (2, 2.0)]
    assert (page["items"][-1]["version"], page["items"][-1]["import_kwh"]) == (2, 5.0)
