"""Each reading rule, reported with its row number, for CSV and JSON; nothing is stored
when any row is bad."""

from __future__ import annotations

import datetime as dt

import pytest

from settlement.periods import day_start, periods_in_day
from tests.helpers import new_mpan
from tests.reporting.conftest import (
    AUTUMN,
    DAY,
    HEADER,
    SPRING,
    add_meter,
    csv_text,
    half_hours,
    iso,
    post_csv,
    post_json,
    stored,
)

GOOD = ("{m}", iso(DAY), "1.5", "0")

# (row given as the third data row, issue, field, message fragment)
CASES = [
    (("1400000000000", iso(DAY), "1", "0"), "invalid_mpan", "mpan", "check digit"),
    (("12345", iso(DAY), "1", "0"), "invalid_mpan", "mpan", "13 digits"),
    (("", iso(DAY), "1", "0"), "invalid_mpan", "mpan", "missing"),
    (("{unknown}", iso(DAY), "1", "0"), "unknown_mpan", "mpan", "not a meter point you may"),
    (("{foreign}", iso(DAY), "1", "0"), "unknown_mpan", "mpan", "not a meter point you may"),
    (("{m}", "2025-01-15T00:00:00", "1", "0"), "naive_timestamp", "start", "no UTC offset"),
    (("{m}", "2025-01-15 00:00", "1", "0"), "naive_timestamp", "start", "no UTC offset"),
    (("{m}", "15/01/2025 00:00", "1", "0"), "invalid_timestamp", "start", "ISO 8601"),
    (("{m}", "", "1", "0"), "invalid_timestamp", "start", "missing"),
    (("{m}", "2025-01-15T00:15:00Z", "1", "0"), "misaligned", "start", "not the start"),
    (("{m}", "2025-01-15T00:30:01Z", "1", "0"), "misaligned", "start", "not the start"),
    (("{m}", "2025-01-15T01:15:00+01:00", "1", "0"), "misaligned", "start", "not the start"),
    (("{m}", "2099-01-15T00:00:00Z", "1", "0"), "out_of_range", "start", "not ended"),
    (("{m}", "1999-01-15T00:00:00Z", "1", "0"), "out_of_range", "start", "before 2000"),
    (("{m}", iso(DAY), "NaN", "0"), "missing_value", "import_kwh", "NaN"),
    (("{m}", iso(DAY), "", "0"), "missing_value", "import_kwh", "missing"),
    (("{m}", iso(DAY), "1", "nan"), "missing_value", "export_kwh", "NaN"),
    (("{m}", iso(DAY), "-0.5", "0"), "negative", "import_kwh", "negative"),
    (("{m}", iso(DAY), "1", "-2"), "negative", "export_kwh", "negative"),
    (("{m}", iso(DAY), "abc", "0"), "invalid_number", "import_kwh", "not a number"),
    (("{m}", iso(DAY), "inf", "0"), "implausible", "import_kwh", "infinite"),
    (("{m}", iso(DAY), "60000", "0"), "implausible", "import_kwh", "above 50,000"),
]


@pytest.fixture
def setting(client, make_party, zones):
    fsp = make_party("fsp")
    mine = add_meter(client, fsp)
    other = add_meter(client, make_party("fsp"))
    fill = {"m": mine.mpan, "unknown": new_mpan(), "foreign": other.mpan}
    return fsp, mine, fill


@pytest.mark.parametrize("bad, issue, field, fragment", CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_csv_rule_reported_with_row_number(client, db, setting, bad, issue, field, fragment):
    fsp, mine, fill = setting
    rows = [tuple(v.format(**fill) for v in GOOD),
            (mine.mpan, iso(DAY + dt.timedelta(minutes=30)), "2", "0"),
            tuple(v.format(**fill) for v in bad),
            (mine.mpan, iso(DAY + dt.timedelta(hours=2)), "2", "0")]
    before = stored(db)
    r = post_csv(client, fsp, csv_text(rows))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["error_count"] == 1, problem
    (err,) = problem["errors"]
    assert (err["row"], err["issue"], err["field"]) == (3, issue, f"rows.3.{field}")
    assert err["pointer"] == f"/rows/3/{field}"
    assert fragment in err["message"], err
    assert stored(db) == before  # nothing half-written


@pytest.mark.parametrize("bad, issue, field, fragment", [c for c in CASES if c[0][2] != "abc"],
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES) if c[0][2] != "abc"])
def test_json_rule_reported_with_row_number(client, db, setting, bad, issue, field, fragment):
    fsp, _, fill = setting

    def obj(vals):
        m, s, i, e = (v.format(**fill) for v in vals)
        num = lambda x: None if x == "" else float(x)  # noqa: E731
        return {"mpan": m, "start": s, "import_kwh": num(i), "export_kwh": num(e)}

    before = stored(db)
    r = post_json(client, fsp, [obj(GOOD), obj(bad)])
    assert r.status_code == 422, r.text
    (err,) = r.json()["errors"]
    assert (err["row"], err["issue"], err["pointer"]) == (2, issue, f"/readings/1/{field}")
    assert fragment in err["message"]
    assert stored(db) == before


def test_every_problem_reported_capped_with_count(client, db, setting, monkeypatch):
    fsp, mine, _ = setting
    from flexplatform.reporting import ingest

    rows = [(mine.mpan, iso(DAY + dt.timedelta(minutes=30 * i)), "-1", "0") for i in range(40)]
    rows.insert(10, (mine.mpan, "yesterday", "1", "0"))
    before = stored(db)
    monkeypatch.setattr(ingest, "MAX_REPORTED_ERRORS", 25)
    r = post_csv(client, fsp, csv_text(rows))
    assert r.status_code == 422
    body = r.json()
    assert body["error_count"] == 41
    assert len(body["errors"]) == 25  # capped
    assert [e["row"] for e in body["errors"]][:12] == [*range(1, 11), 11, 12]
    assert body["errors"][10]["issue"] == "invalid_timestamp"
    assert stored(db) == before


def test_wrong_field_count_and_blank_lines(client, db, setting):
    fsp, mine, _ = setting
    body = (HEADER + f"{mine.mpan},{iso(DAY)},1,0\n\n"
            f"{mine.mpan},{iso(DAY + dt.timedelta(hours=1))},1\n"
            f"{mine.mpan},{iso(DAY + dt.timedelta(hours=2))},1,0,9\n"
            f"{mine.mpan},{iso(DAY + dt.timedelta(hours=3))},2,0\n")
    r = post_csv(client, fsp, body)
    assert r.status_code == 422
    errs = r.json()["errors"]
    assert [(e["row"], e["issue"]) for e in errs] == [(3, "format"), (4, "format")]
    assert "got 3" in errs[0]["message"] and "got 5" in errs[1]["message"]
    # A blank line keeps its number but holds no reading: without the bad rows, it stores.
    ok = HEADER + f"{mine.mpan},{iso(DAY)},1,0\n\n{mine.mpan},{iso(DAY + dt.timedelta(hours=3))},2,0\n"
    r = post_csv(client, fsp, ok)
    assert r.status_code == 201 and r.json()["stored"] == 2 and r.json()["rows"] == 2


@pytest.mark.parametrize("header, why", [
    ("mpan,start,import_kw\n", "unknown column 'import_kw'"),
    ("mpan,import_kwh\n", "column 'start' is required"),
    ("mpan,start\n", "give import_kwh, export_kwh or both"),
    ("mpan,start,import_kwh,import_kwh\n", "appears twice"),
])
def test_bad_header(client, db, setting, header, why):
    fsp, mine, _ = setting
    before = stored(db)
    r = post_csv(client, fsp, header + f"{mine.mpan},{iso(DAY)},1\n")
    assert r.status_code == 422 and why in r.text
    assert r.json()["errors"][0]["pointer"] == "/header"
    assert stored(db) == before


def test_empty_and_non_utf8_bodies(client, setting):
    fsp, mine, _ = setting
    assert post_csv(client, fsp, b"").status_code == 422
    assert post_csv(client, fsp, HEADER).json()["errors"][0]["pointer"] == "/rows"
    r = post_csv(client, fsp, (HEADER + f"{mine.mpan},{iso(DAY)},1,0\n").encode() + b"\xff,x\n")
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/rows/2"
    # A "line" of 5 MB is not a reading: refused without buffering the rest of the body.
    r = post_csv(client, fsp, HEADER + f"{mine.mpan},{iso(DAY)},1,0\n" + "9" * 5_000_000)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/rows/2"


def test_measures_one_direction(client, make_party, zones):
    fsp = make_party("fsp")
    imp = add_meter(client, fsp, measures="import")
    rows = [(imp.mpan, iso(DAY), "1", ""),  # export not measured: blank is fine
            (imp.mpan, iso(DAY + dt.timedelta(minutes=30)), "1", "0"),
            (imp.mpan, iso(DAY + dt.timedelta(hours=1)), "1", "0.2")]
    r = post_csv(client, fsp, csv_text(rows))
    (err,) = r.json()["errors"]
    assert (err["row"], err["issue"], err["field"]) == (3, "not_measured", "rows.3.export_kwh")
    r = post_csv(client, fsp, "mpan,start,import_kwh\n" + f"{imp.mpan},{iso(DAY)},1\n")
    assert r.status_code == 201, r.text
    exp = add_meter(client, fsp, measures="export")
    r = post_csv(client, fsp, "mpan,start,import_kwh\n" + f"{exp.mpan},{iso(DAY)},1\n")
    assert {(e["issue"], e["field"]) for e in r.json()["errors"]} == {
        ("missing_value", "rows.1.export_kwh"), ("not_measured", "rows.1.import_kwh")}


def test_conflicting_duplicates_are_409_listing_rows(client, db, setting):
    fsp, mine, _ = setting
    t = iso(DAY)
    rows = [(mine.mpan, t, "1", "0"), (mine.mpan, iso(DAY + dt.timedelta(hours=1)), "1", "0"),
            (mine.mpan, t, "1", "0"),  # identical repeat: fine, counted once
            (mine.mpan, t, "2", "0")]  # same period, other value: conflict
    before = stored(db)
    r = post_csv(client, fsp, csv_text(rows))
    assert r.status_code == 409, r.text
    (err,) = r.json()["errors"]
    assert err["issue"] == "conflict" and err["rows"] == [1, 3, 4] and err["mpan"] == mine.mpan
    assert err["start"] == t
    assert stored(db) == before
    r = post_csv(client, fsp, csv_text(rows[:3]))
    assert r.status_code == 201 and r.json()["duplicates"] == 1 and r.json()["stored"] == 2


def test_conflicts_and_row_errors_together_are_422(client, setting):
    fsp, mine, _ = setting
    rows = [(mine.mpan, iso(DAY), "1", "0"), (mine.mpan, iso(DAY), "2", "0"),
            (mine.mpan, "x", "1", "0")]
    r = post_csv(client, fsp, csv_text(rows))
    assert r.status_code == 422
    assert {e["issue"] for e in r.json()["errors"]} == {"conflict", "invalid_timestamp"}
    assert r.json()["error_count"] == 2


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["46-periods", "50-periods"])
def test_clock_change_days_need_no_special_input(client, setting, day):
    """UTC instants: 46 (spring) and 50 (autumn) half hours, read back as periods 1..n."""
    fsp, mine, _ = setting
    n = periods_in_day(day)
    starts = half_hours(day_start(day), n)
    r = post_csv(client, fsp, csv_text([(mine.mpan, iso(t), f"{i}.5", "0")
                                        for i, t in enumerate(starts)]))
    assert r.status_code == 201 and r.json()["stored"] == n
    lo, hi = iso(starts[0]), iso(starts[-1] + dt.timedelta(minutes=30))
    page = client.get(f"/api/v1/meter-points/{mine.mpan}/readings",
                      params={"start": lo, "end": hi}, headers=fsp.h).json()
    assert [x["settlement_period"] for x in page["items"]] == list(range(1, n + 1))
    assert {x["settlement_date"] for x in page["items"]} == {day.isoformat()}
    # The same readings given as local wall-clock times with their offsets.
    local = [t.astimezone(dt.timezone(dt.timedelta(hours=1))) for t in starts]
    r = post_json(client, fsp, [{"mpan": mine.mpan, "start": t.isoformat(),
                                 "import_kwh": i + 0.5, "export_kwh": 0}
                                for i, t in enumerate(local)])
    assert r.status_code == 200 and r.json()["unchanged"] == n  # the same instants


def test_json_type_errors_and_size_cap(client, setting, monkeypatch):
    fsp, mine, _ = setting
    r = client.post("/api/v1/meter-readings", headers=fsp.h,
                    json={"readings": [{"mpan": mine.mpan, "start": iso(DAY),
                                        "import_kwh": "lots"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/readings/0/import_kwh"
    from flexplatform.config import get_settings

    monkeypatch.setattr(get_settings(), "max_bulk_readings", 2)
    r = post_json(client, fsp, [{"mpan": mine.mpan, "start": iso(t), "import_kwh": 1}
                                for t in half_hours(DAY, 3)])
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/readings"

