"""Edge cases, pricing, duals and solver limits."""

from __future__ import annotations

import json

import pytest
from checker import check
from opt_helpers import EXACT, asset, awarded, bid, need, reasons, snap, solve

from optimiser import ClearingOptions, clear, load_snapshot


def test_empty_market():
    d = solve(snap([], [], []))
    assert d["objective"] == 0 and d["awards"] == [] and d["stages"] == []


def test_needs_without_bids_all_unmet():
    d = solve(snap([asset("A", up=1)], [need("N", [1, 2], penalty=100)], [], T=2))
    assert d["objective"] == pytest.approx((1 + 2) * 0.5 * 100)
    assert d["stages"] == [{"priority": 1, "unmet_mwh": 1.5}]


def test_no_eligible_bids_each_rejected_with_reasons():
    doc = snap([asset("A", up=1, zone="Z2"), asset("D", down=1)],
               [need("N", [1], max_availability_price=20, utilisation_price_cap=100)],
               [bid("B1", "A", "N", [1], 10), bid("B2", "D", "N", [1], 10),
                bid("B3", "D", "N", [1], 30, utilisation_price=200),
                bid("B4", "X", "N", [1], 10), bid("B5", "A", "Y", [1], 10),
                bid("B6", "D", "N", [0], 10)])
    doc["assets"][1]["up_mw"] = 0
    doc["assets"].append(asset("E", up=1))
    doc["bids"].append(bid("B7", "E", "N", [0], 10))
    d = solve(doc)
    r = reasons(d)
    assert r["B1"] == ["zone_mismatch"]
    assert r["B2"] == ["direction_not_supported"]
    assert r["B3"] == ["direction_not_supported", "availability_price_above_cap",
                       "utilisation_price_above_cap"]
    assert r["B4"] == ["asset_not_found"] and r["B5"] == ["need_not_found"]
    assert r["B7"] == ["no_deliverable_periods"]
    assert d["unmet"] == [{"need": "N", "period": 0, "mw": 1.0}]


def test_gb_zone_accepts_any_zone():
    d = solve(snap([asset("A", up=1, zone="Z7")], [need("N", [1], zone="GB")],
                   [bid("B", "A", "N", [1], 10)]))
    assert awarded(d) == {("B", 0): 1.0}


@pytest.mark.parametrize("T", [46, 50])
def test_clock_change_days(T):
    mw = [1.0 if 30 <= t < 40 else 0.0 for t in range(T)]
    d = solve(snap([asset("A", up=2)], [need("N", mw)], [bid("B", "A", "N", [2.0] * T, 10)],
                   T=T))
    assert sorted(t for _, t in awarded(d)) == list(range(30, 40))


def test_unavailable_period():
    d = solve(snap([asset("A", up=2, unavailable_periods=[0])], [need("N", [1, 1])],
                   [bid("B", "A", "N", [1, 1], 10)], T=2))
    assert awarded(d) == {("B", 1): 1.0}


def test_pay_as_clear_prices():
    doc = snap([asset("A", up=1), asset("C", up=1)], [need("N", [2])],
               [bid("BA", "A", "N", [1], 10), bid("BC", "C", "N", [1], 20)],
               pricing="pay_as_clear")
    d = solve(doc)
    assert {a["price"] for a in d["awards"]} == {20.0}
    assert d["prices"][0]["clearing_price"] == 20.0
    assert d["cost"]["availability"] == pytest.approx((10 + 20) * 0.5)  # objective: bid costs
    doc["rules"]["pricing"] = "pay_as_bid"
    assert {a["price"] for a in solve(doc)["awards"]} == {10.0, 20.0}


def test_marginal_cost_is_the_coverage_dual():
    # 3 MW needed; A (cost 10) full, C partly used: C's full cost per MW/h sets the margin:
    # 20 + 0.5 * 100 (utilisation) + 80 * 0.25 * 0.5 (carbon) = 80
    doc = snap([asset("A", up=2), asset("C", up=5, emission_t_per_mwh=0.25)],
               [need("N", [3], expected_utilisation=0.5)],
               [bid("BA", "A", "N", [2], 10), bid("BC", "C", "N", [5], 20, utilisation_price=100)],
               carbon_price=80)
    d = solve(doc)
    assert d["prices"][0]["marginal_cost"] == pytest.approx(80.0)
    assert d["cost"]["carbon"] == pytest.approx(1 * 0.5 * 80 * 0.25 * 0.5)


def test_marginal_cost_with_unmet_is_penalty():
    # nothing more to buy: one more MW would be unmet (weighted: the penalty)
    d = solve(snap([asset("A", up=1)], [need("N", [2], penalty=300)],
                   [bid("B", "A", "N", [1], 10)], primacy="weighted"))
    assert d["prices"][0]["marginal_cost"] == pytest.approx(300.0)


def test_outcompeted_reason():
    d = solve(snap([asset("A", up=2), asset("C", up=2)], [need("N", [1])],
                   [bid("BA", "A", "N", [2], 10), bid("BC", "C", "N", [2], 20)]))
    assert reasons(d) == {"BC": ["outcompeted"]}


def test_time_limit_reported_honestly():
    from optimiser.generate import generate

    doc = generate(1000, seed=3)
    res = clear(load_snapshot(doc), ClearingOptions(time_limit=0.5, mip_rel_gap=0))
    d = res.to_dict()
    assert d["status"] in ("feasible", "error")
    if d["status"] == "feasible":
        assert d["message"] and not check(doc, d)
        assert d["mip_gap"] is None or d["mip_gap"] > 0


def test_result_is_json():
    d = solve(snap([asset("A", up=1)], [need("N", [1])], [bid("B", "A", "N", [1], 10)]))
    assert set(d) == {"version", "status", "mip_gap", "objective", "cost", "awards", "unmet",
                      "rejected", "prices", "stages", "timing"}
    assert set(d["timing"]) == {"build_s", "solve_s"}
    json.dumps(d)


def test_exact_options_threads():
    res = clear(load_snapshot(snap([asset("A", up=1)], [need("N", [1])],
                                   [bid("B", "A", "N", [1], 10)])),
                ClearingOptions(threads=1, mip_rel_gap=EXACT.mip_rel_gap))
    assert res.status == "optimal"
