"""Advice request loading: every problem listed at once, with path, id and field."""

from __future__ import annotations

import json

import pytest
from advice_helpers import asset, need, request

from optimiser.advice import AdviceOptions, AdviceRequest, AdviceRequestError, load_advice_request
from optimiser.advice.estimators import EstimatorSettings


def _doc():
    return request(asset(up=2.0, down=1.0, energy_mwh=4.0, max_run_periods=6,
                         reliability=0.9, unavailable_periods=[1]),
                   [need("N1", [1.0, 2.0]), need("N2", [0.0, 1.0], direction="down",
                                                 zone="GB", cap=None)],
                   pairs=[("secure", "dynamic")],
                   history=[{"product": "secure", "zone": "Z1", "direction": "up",
                             "accepted_prices": [10, 20], "rejected_prices": [30],
                             "utilisation": [0.1], "bidders": [0, 1, 2]},
                            {"product": "secure", "accepted_prices": [15]}],
                   products={"secure": {"allowed_technologies": ["battery"]}})


def test_round_trip_dict_string_and_path(tmp_path):
    doc = _doc()
    r = load_advice_request(doc)
    assert isinstance(r, AdviceRequest)
    assert load_advice_request(r.to_dict()) == r
    assert load_advice_request(json.dumps(doc)) == r
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    assert load_advice_request(p) == r and load_advice_request(str(p)) == r
    assert load_advice_request(r) is r
    assert r.asset.unavailable_periods == (1,) and r.technologies_for("secure") == ("battery",)
    assert r.technologies_for("dynamic") == () and r.dh == 0.5 and r.n_periods == 2


def test_defaults_and_nulls():
    doc = request({"zone": "Z1", "technology": "ev", "up_mw": 1.0, "down_mw": 0.0},
                  [{"id": "N1", "product": "p", "zone": "GB", "direction": "up",
                    "mw": [1.0]}])
    del doc["history"], doc["products"], doc["rules"]
    r = load_advice_request(doc)
    a, n = r.asset, r.needs[0]
    assert a.id is None and a.reliability == 1.0 and a.energy_mwh is None
    assert a.max_run_periods is None and a.recharge_rate == 0.0
    assert n.max_availability_price is None and n.expected_utilisation is None
    assert n.priority == 1 and r.incompatible_products == () and r.history == ()


def test_all_problems_listed_in_one_error():
    doc = _doc()
    doc["version"] = 2
    doc["periods"][1] = "not a time"
    a = doc["asset"]
    a["up_mw"] = -1
    a["reliability"] = 0
    a["initial_energy_mwh"] = 5.0
    a["max_run_periods"] = 0
    a["unavailable_periods"] = [7]
    del a["zone"]
    n = doc["needs"][0]
    n["direction"] = "sideways"
    n["mw"] = [1.0]
    n["max_availability_price"] = -3
    n["expected_utilisation"] = 1.5
    doc["needs"][1]["id"] = "N1"
    doc["history"][0]["accepted_prices"] = [1, "x"]
    doc["history"][0]["bidders"] = [1.5]
    doc["history"][1]["direction"] = "left"
    doc["history"].append({"product": "secure", "zone": "Z1", "direction": "up"})
    doc["products"]["secure"]["allowed_technologies"] = "battery"
    doc["rules"]["incompatible_products"] = [["secure"]]
    with pytest.raises(AdviceRequestError) as ei:
        load_advice_request(doc)
    paths = {p["path"] for p in ei.value.problems}
    expected = {
        "version", "$.periods[1]", "asset.up_mw", "asset.reliability",
        "asset.initial_energy_mwh", "asset.max_run_periods", "asset.unavailable_periods",
        "asset.zone", "needs[0].direction", "needs[0].mw", "needs[0].max_availability_price",
        "needs[0].expected_utilisation", "needs[1].id", "history[0].accepted_prices",
        "history[0].bidders", "history[1].direction", "history[2]",
        "products.secure.allowed_technologies", "rules.incompatible_products[0]",
    }
    assert expected <= paths, expected - paths
    for p in ei.value.problems:
        assert set(p) == {"path", "id", "field", "message"} and p["message"]
    assert "invalid advice request" in str(ei.value)
    dup = next(p for p in ei.value.problems if p["path"] == "needs[1].id")
    assert dup["id"] == "N1" and "duplicate" in dup["message"]


def test_energy_fields_need_an_energy_limit():
    doc = _doc()
    del doc["asset"]["energy_mwh"]
    doc["asset"]["initial_energy_mwh"] = 1.0
    doc["asset"]["recharge_mw"] = 1.0
    with pytest.raises(AdviceRequestError) as ei:
        load_advice_request(doc)
    assert {p["field"] for p in ei.value.problems} == {"initial_energy_mwh", "recharge_mw"}


@pytest.mark.parametrize("bad, where", [
    (None, "$"), ([], "$"), ("{not json", "$"), ("/no/such/file.json", "$"),
])
def test_not_a_document(bad, where):
    with pytest.raises(AdviceRequestError) as ei:
        load_advice_request(bad)
    assert ei.value.problems[0]["path"] == where


def test_missing_asset_and_bad_sections():
    doc = _doc()
    del doc["asset"]
    doc["needs"] = {"N1": {}}
    doc["history"] = [3]
    doc["products"] = []
    doc["rules"] = "none"
    with pytest.raises(AdviceRequestError) as ei:
        load_advice_request(doc)
    paths = {p["path"] for p in ei.value.problems}
    assert {"asset", "needs", "history[0]", "products", "rules"} <= paths


@pytest.mark.parametrize("kw", [
    {"time_limit": 0}, {"mip_rel_gap": 1.5}, {"threads": 0}, {"min_win_probability": 2},
    {"min_expected_gbp": -1}, {"estimators": EstimatorSettings(price_levels=0)},
    {"estimators": EstimatorSettings(prior_weight=0)},
    {"estimators": EstimatorSettings(prior_low_share=1.0)},
])
def test_bad_options(kw):
    with pytest.raises(ValueError):
        AdviceOptions(**kw)
