"""Baseline methodology as versioned data: validation, normal form, lookback."""
from datetime import date, time, timedelta

import pandas as pd
import pytest

from settlement import BL01, AssetCapacity, Nominated, ReferenceProfile, XofY, Zero
from settlement.methodology import KINDS, Methodology, history_start, lookback
from settlement.schema import DataError


def test_every_kind_round_trips_through_its_normal_form():
    cases = [
        {"kind": "BL01", "version": 1, "params": {"adjustment": "positive_only", "y": 10}},
        {"kind": "XofY", "version": 2, "params": {"x": 3, "y": 5, "selector": "highest"}},
        {"kind": "Nominated", "version": 1,
         "params": {"deadline_time": "10:00", "fallback": {"kind": "XofY", "params": {"y": 5}}}},
        {"kind": "ReferenceProfile", "version": 4, "params": {"profile_kwh": ["0.5"] * 48}},
        {"kind": "Zero", "version": 1},
        {"kind": "AssetCapacity", "version": 1, "params": {}},
    ]
    assert sorted(c["kind"] for c in cases) == sorted(KINDS)
    for c in cases:
        m = Methodology.from_dict(c)
        again = Methodology.from_dict(m.to_dict())
        assert again == m and again.to_dict() == m.to_dict()


def test_defaults_are_filled_in_so_equal_rules_have_equal_data():
    a = Methodology.from_dict({"kind": "BL01", "version": 1})
    b = Methodology.from_dict({"kind": "BL01", "version": 1,
                               "params": {"y": 10, "lookback_days": 60, "adjustment": "symmetric",
                                          "window_periods": 6, "gap_periods": 2,
                                          "min_coverage": "1"}})
    assert a == b
    assert a.params["min_window_periods"] == 6 and a.params["min_coverage"] == "1"


def test_validation_lists_every_bad_field():
    with pytest.raises(DataError) as e:
        Methodology.from_dict({"kind": "XofY", "version": 0, "colour": "red", "params": {
            "x": 6, "y": 5, "selector": "middle", "lookback_days": 3, "min_coverage": 0.5,
            "typo": 1}})
    paths = [p for p, _ in e.value.errors]
    assert paths == ["version", "params.min_coverage", "params.y", "params.x", "params.typo",
                     "colour"]
    msgs = dict(e.value.errors)
    assert "decimal number as a string" in msgs["params.min_coverage"]  # floats refused
    assert "cannot exceed" in msgs["params.x"]
    with pytest.raises(DataError) as e:
        Methodology.from_dict({"kind": "Nominated", "version": 1, "params": {
            "deadline_time": "25:00", "deadline_days_before": -1,
            "fallback": {"kind": "Nominated"}}})
    assert [p for p, _ in e.value.errors] == ["params.deadline_days_before",
                                              "params.deadline_time", "params.fallback.kind"]
    with pytest.raises(DataError) as e:
        Methodology.from_dict({"kind": "BL01", "version": 1, "params": {
            "adjustment": "sideways", "window_periods": 4, "min_window_periods": 5}})
    assert [p for p, _ in e.value.errors] == ["params.adjustment", "params.min_window_periods"]
    with pytest.raises(DataError, match="kind: is required"):
        Methodology.from_dict({"version": 1})
    with pytest.raises(DataError, match="48 half-hourly"):
        Methodology.from_dict({"kind": "ReferenceProfile", "version": 1,
                               "params": {"profile_kwh": ["1"] * 47}})
    with pytest.raises(DataError, match="is required with selector"):
        Methodology.from_dict({"kind": "XofY", "version": 1, "params": {"selector": "lowest"}})


def test_methods_built_from_the_data():
    m = Methodology.from_dict({"kind": "BL01", "version": 1,
                               "params": {"adjustment": "negative_only", "non_working_y": 4}})
    b = m.method()
    assert isinstance(b, BL01) and b.adjustment == "negative_only" and b.non_working_y == 4
    n = Methodology.from_dict({"kind": "Nominated", "version": 1, "params": {
        "deadline_time": "09:30", "deadline_days_before": 2,
        "fallback": {"kind": "XofY", "params": {"x": 2, "y": 4, "selector": "lowest"}}}}).method()
    assert isinstance(n, Nominated) and n.deadline_time == time(9, 30)
    assert isinstance(n.fallback, XofY) and (n.fallback.x, n.fallback.y) == (2, 4)
    meters = pd.DataFrame({"mpan": ["A", "B"], "devices": [100, None], "capacity_kw": [250, 50]})
    r = Methodology.from_dict({"kind": "ReferenceProfile", "version": 1, "params": {
        "profile_kwh": {"working": ["1"] * 48, "non_working": ["0.5"] * 48}}}).method(meters)
    assert isinstance(r, ReferenceProfile) and r.devices == {"A": 100.0}
    c = Methodology.from_dict({"kind": "AssetCapacity", "version": 1}).method(meters)
    assert isinstance(c, AssetCapacity) and c.capacity_kw == {"A": 250.0, "B": 50.0}
    assert isinstance(Methodology.from_dict({"kind": "Zero", "version": 1}).method(), Zero)


def test_lookback_says_how_much_history_to_load():
    bl01 = Methodology.from_dict({"kind": "BL01", "version": 1, "params": {"lookback_days": 45}})
    zero = Methodology.from_dict({"kind": "Zero", "version": 1})
    nom = Methodology.from_dict({"kind": "Nominated", "version": 1, "params": {
        "fallback": {"kind": "XofY", "params": {"y": 5, "lookback_days": 20}}}})
    assert lookback(bl01) == timedelta(days=45)
    assert lookback(zero) == timedelta(0)
    assert lookback(nom) == timedelta(days=20)
    assert history_start([bl01, zero, nom], date(2024, 11, 1)) == date(2024, 9, 17)
    assert history_start([zero], date(2024, 11, 1)) == date(2024, 11, 1)
