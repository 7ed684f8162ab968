"""The dashboard's helpers on their own: form errors to fields, MW profiles, CSV, charts,
and the service functions the pages added."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from starlette.datastructures import UploadFile

from flexplatform.errors import InvalidInput, field_error
from flexplatform.web import charts
from flexplatform.web.forms import FormErrors, attempt, profile, read_csv, readable, row_errors
from flexplatform.web.render import money, time_left, when


def test_errors_go_to_the_field_their_pointer_names():
    errs = FormErrors([
        field_error(["needs", 0, "product"], "unknown product"),
        field_error(["body", "needs", 0, "mw", 3], "too big"),
        field_error([], "Value error, gate_close_at must not be after delivery_start"),
        field_error([], "needs[1].mw has 3 values; the delivery window has 4"),
        field_error([], "something about nothing"),
    ], fields=["gate_close_at", "needs.0.product", "needs.0.mw", "needs.1.mw"])
    assert errs.get("needs.0.product") == ["unknown product"]
    assert errs.get("needs.0.mw") == ["too big"]
    assert errs.get("gate_close_at") == ["gate_close_at must not be after delivery_start"]
    assert errs.get("needs.1.mw") == ["needs[1].mw has 3 values; the delivery window has 4"]
    assert errs.general == ["something about nothing"]
    assert not FormErrors([])
    assert readable("needs.0.max_availability_price") == "need 1: max availability price"
    assert readable("up_mw") == "up MW"


@pytest.mark.parametrize(("text", "periods", "out"), [
    ("2", 4, ["2"] * 4), ("1, 2; 2 1", 4, ["1", "2", "2", "1"]), ("1,2", None, ["1", "2"]),
    ("", 4, None), ("x", 2, ["x", "x"]),
])
def test_mw_profile(text, periods, out):
    assert profile(text, periods) == out


def _upload(data: bytes, name: str = "f.csv") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=name)


def test_csv_reading_and_row_errors():
    rows = read_csv(_upload(b"\xef\xbb\xbfname,mpan\nA,1\n,\nB,\n"), ["name"])
    assert rows == [{"name": "A", "mpan": "1"}, {"name": "B"}]
    for data, why in ((b"name\n", "no rows"), (b"\xff\xfe", "not UTF-8"), (b"a,b\n1,2", "lacks")):
        with pytest.raises(InvalidInput) as e:
            read_csv(_upload(data), ["name"])
        assert why in e.value.errors[0]["message"] or why in e.value.detail
    with pytest.raises(InvalidInput):
        read_csv(None, ["name"])
    assert row_errors([field_error(["assets", 3, "mpan"], "bad")], "assets") == [
        {"line": 5, "column": "mpan", "message": "bad"}]


def test_attempt_rolls_back_a_refused_call(db):
    from flexplatform.registration.models import TermsVersion

    def write_then_refuse():
        db.add(TermsVersion(version="X", title="t", body="b", body_sha256="0" * 64,
                            effective_from=dt.datetime.now(dt.UTC)))
        db.flush()
        db.info.setdefault("after_commit", []).append(lambda: None)
        raise InvalidInput("no")

    db.info["after_commit"] = [print]
    with pytest.raises(InvalidInput):
        attempt(db, write_then_refuse)
    assert db.info["after_commit"] == [print]
    assert db.query(TermsVersion).filter_by(version="X").count() == 0


def test_chart_is_inline_svg_with_a_title_and_a_text_alternative():
    start = dt.datetime(2026, 12, 1, 16, tzinfo=dt.UTC)
    periods = [start + dt.timedelta(minutes=30 * i) for i in range(4)]
    series = {f"Asset {i}": [float(i)] * 4 for i in range(12)}
    c = charts.stacked_periods("Feeder <1>", periods, series, line=[50.0] * 4,
                               unmet=[0, 1, 1, 0])
    assert c.svg.startswith("<svg") and 'role="img"' in c.svg
    assert "<title>Feeder &lt;1&gt;</title>" in c.svg and "<!DOCTYPE" not in c.svg
    assert "12 series" in c.alt and "unmet in 2 period(s)" in c.alt
    # More than MAX_SERIES assets are folded: the 7 largest and "5 other assets".
    assert "5 other assets" in c.svg and "Asset 0<" not in c.svg
    assert re.search(r'aria-label="[^"]*16:00 UTC', c.svg)
    folded = charts.top_series({"a": [1, 1], "b": [2, 2], "c": [3, 3]}, keep=1)
    assert folded == {"c": [3, 3], "2 other assets": [3, 3]}


def test_display_filters():
    t = dt.datetime(2026, 12, 1, 16, 0, 5, tzinfo=dt.UTC)
    assert when(t) == "Tue 01 Dec 2026 16:00:05 UTC"
    assert when(t.replace(second=0)) == "Tue 01 Dec 2026 16:00 UTC"
    assert time_left(t, t - dt.timedelta(hours=2, minutes=3)) == "2 h 3 min left"
    assert time_left(t, t + dt.timedelta(seconds=1)) == "gate closed"
    assert money("1234.565") == "£1,234.57"


def test_list_terms_and_latest_audit_events(db, terms):
    from flexplatform.audit import Actor
    from flexplatform.governance.service import latest_audit_events
    from flexplatform.registration.schemas import TermsCreate
    from flexplatform.registration.service import create_terms, list_terms

    later = create_terms(db, TermsCreate(version="T-2026.2", title="t", body="b",
                                         effective_from=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)),
                         Actor.system())
    versions = [t.version for t in list_terms(db)]
    assert versions.index(later.version) < versions.index(terms)
    events = latest_audit_events(db, 2)
    assert len(events) == 2 and events[0].seq > events[1].seq
    assert events[0].action == "terms.create"


def test_chart_text_is_data_not_markup():
    """Asset names are typed by FSPs: escaped in the SVG, never read as mathtext."""
    t = [dt.datetime(2026, 12, 1, 16, tzinfo=dt.UTC)]
    c = charts.stacked_periods("t", t, {"<script>alert(1)</script>": [1.0],
                                        r"Plant $\frac{$": [1.0]})
    assert "<script>" not in c.svg and "&lt;script&gt;" in c.svg
    assert "Plant $" in c.svg
