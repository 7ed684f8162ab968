"""Snapshot loading: every problem listed at once; unknown references are not errors."""

from __future__ import annotations

import json

import pytest
from opt_helpers import asset, bid, need, snap

from optimiser import Snapshot, SnapshotError, load_snapshot


def _doc():
    return snap([asset("A", up=2)], [need("N", [1, 2])], [bid("B", "A", "N", [1, 1], 10)], T=2)


def test_round_trip_dict_string_and_path(tmp_path):
    doc = _doc()
    s = load_snapshot(doc)
    assert isinstance(s, Snapshot)
    assert load_snapshot(s.to_dict()) == s
    assert load_snapshot(json.dumps(doc)) == s
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc))
    assert load_snapshot(p) == s and load_snapshot(str(p)) == s
    assert s.to_dict() == load_snapshot(s.to_dict()).to_dict()


def test_defaults_for_optional_fields():
    doc = _doc()
    del doc["assets"][0]["reliability"], doc["assets"][0]["unavailable_periods"]
    del doc["bids"][0]["min_mw"], doc["bids"][0]["all_or_nothing"]
    del doc["rules"]
    s = load_snapshot(doc)
    assert s.assets[0].reliability == 1.0 and s.bids[0].min_mw == 0
    assert s.rules.primacy == "lexicographic" and s.rules.pricing == "pay_as_bid"


def test_all_problems_listed_in_one_error():
    doc = _doc()
    doc["version"] = 3  # (2 exists since the probabilistic extension)
    doc["assets"].append(asset("A", up=-1))                 # duplicate id, negative MW
    doc["needs"][0]["direction"] = "sideways"
    doc["needs"][0]["mw"] = [1]                             # wrong length
    doc["bids"][0]["mw"] = [1, "x"]                         # wrong type
    doc["bids"][0]["all_or_nothing"] = "yes"
    doc["rules"]["pricing"] = "vickrey"
    with pytest.raises(SnapshotError) as e:
        load_snapshot(doc)
    probs = e.value.problems
    got = {(p["path"], p["field"]) for p in probs}
    assert ("version", "version") in got
    assert ("assets[1].id", "id") in got
    assert ("assets[1].up_mw", "up_mw") in got
    assert ("needs[0].direction", "direction") in got
    assert ("needs[0].mw", "mw") in got
    assert ("bids[0].mw", "mw") in got
    assert ("bids[0].all_or_nothing", "all_or_nothing") in got
    assert ("rules.pricing", "pricing") in got
    assert all({"path", "id", "field", "message"} <= set(p) for p in probs)
    assert {p["id"] for p in probs if p["path"].startswith("needs")} == {"N"}
    assert "8 problem(s)" in str(e.value) or len(probs) >= 8


def test_bad_json_and_missing_file(tmp_path):
    with pytest.raises(SnapshotError):
        load_snapshot("{not json")
    with pytest.raises(SnapshotError):
        load_snapshot(tmp_path / "missing.json")


def test_unknown_references_are_not_errors():
    doc = _doc()
    doc["bids"].append(bid("B2", "NOPE", "N", [1, 1], 10))
    doc["bids"].append(bid("B3", "A", "NOPE", [1, 1], 10))
    assert len(load_snapshot(doc).bids) == 3


@pytest.mark.parametrize("field,value", [("reliability", 1.5), ("unavailable_periods", [7]),
                                         ("emission_t_per_mwh", float("nan"))])
def test_asset_ranges(field, value):
    doc = _doc()
    doc["assets"][0][field] = value
    with pytest.raises(SnapshotError) as e:
        load_snapshot(doc)
    assert e.value.problems[0]["field"] == field


def test_bool_is_not_a_number_and_periods_must_increase():
    doc = _doc()
    doc["needs"][0]["priority"] = True
    doc["periods"] = list(reversed(doc["periods"]))
    with pytest.raises(SnapshotError) as e:
        load_snapshot(doc)
    assert {p["field"] for p in e.value.problems} == {"priority", "periods"}
