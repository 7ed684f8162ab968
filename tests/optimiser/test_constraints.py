"""One hand-worked instance per constraint of the spec; each fails if that constraint is
dropped (the comment says what the unconstrained optimum would be)."""

from __future__ import annotations

import pytest
from opt_helpers import asset, awarded, bid, need, reasons, snap, solve

from optimiser import ClearingOptions


def test_1_award_bounded_by_asset_capability():
    # without the capability bound: 4 MW awarded, nothing unmet
    d = solve(snap([asset("A", up=2)], [need("N", [4])], [bid("B", "A", "N", [5], 10)]))
    assert awarded(d) == {("B", 0): 2.0}
    assert d["unmet"] == [{"need": "N", "period": 0, "mw": 2.0}]


def test_1_award_bounded_by_offer():
    d = solve(snap([asset("A", up=9)], [need("N", [4])], [bid("B", "A", "N", [3], 10)]))
    assert awarded(d) == {("B", 0): 3.0}


def test_2_min_mw():
    # without min_mw: 1 MW of the cheap bid A (cost 5); with it A costs 2 MW * 10 * 0.5 = 10
    # and B's 1 MW costs 7.5
    d = solve(snap([asset("A", up=3), asset("C", up=1)], [need("N", [1])],
                   [bid("BA", "A", "N", [3], 10, min_mw=2), bid("BC", "C", "N", [1], 15)]))
    assert awarded(d) == {("BC", 0): 1.0}
    assert reasons(d)["BA"] == ["indivisible_not_economic"]


def test_2_min_mw_awarded_at_least_min():
    # only bid: 0.5 MW needed, min 2 MW -> awards 2 (over-cover) rather than 1000/MWh unmet
    d = solve(snap([asset("A", up=3)], [need("N", [0.5])],
                   [bid("B", "A", "N", [3], 10, min_mw=2)]))
    assert awarded(d) == {("B", 0): 2.0}


def test_2_min_mw_capped_by_bound():
    # min_mw above the bound: the least award is the bound itself
    d = solve(snap([asset("A", up=1)], [need("N", [0.5])],
                   [bid("B", "A", "N", [3], 10, min_mw=2)]))
    assert awarded(d) == {("B", 0): 1.0}


def test_3_all_or_nothing():
    # without AON: 1 MW of A in each period (cost 10); AON forces 3 MW (cost 30) > B (25)
    d = solve(snap([asset("A", up=3), asset("C", up=1)], [need("N", [1, 1])],
                   [bid("BA", "A", "N", [3, 3], 10, all_or_nothing=True),
                    bid("BC", "C", "N", [1, 1], 25)], T=2))
    assert awarded(d) == {("BC", 0): 1.0, ("BC", 1): 1.0}


def test_3_all_or_nothing_accepted_whole():
    d = solve(snap([asset("A", up=3)], [need("N", [1, 1, 0])],
                   [bid("BA", "A", "N", [3, 2, 3], 10, all_or_nothing=True)], T=3))
    assert awarded(d) == {("BA", 0): 3.0, ("BA", 1): 2.0}


def test_3_all_or_nothing_block_with_unavailable_period_is_rejected():
    d = solve(snap([asset("A", up=3, unavailable_periods=[1])], [need("N", [1, 1])],
                   [bid("BA", "A", "N", [3, 3], 10, all_or_nothing=True)], T=2))
    assert d["awards"] == []
    assert reasons(d)["BA"] == ["all_or_nothing_unavailable"]


def test_4_exclusive_group():
    # without the group: A1 and A2 both (cost 10); with it N2 goes to the dearer C
    d = solve(snap([asset("A", up=2), asset("C", up=1)],
                   [need("N1", [1]), need("N2", [1])],
                   [bid("A1", "A", "N1", [1], 10, exclusive_group="G"),
                    bid("A2", "A", "N2", [1], 10, exclusive_group="G"),
                    bid("C2", "C", "N2", [1], 50)]))
    assert awarded(d) == {("A1", 0): 1.0, ("C2", 0): 1.0}
    assert reasons(d)["A2"] == ["exclusive_group"]


def test_5_coverage_counts_reliability():
    # reliability 0.5: 2 MW contracted to cover 1 MW (1 MW without reliability)
    d = solve(snap([asset("A", up=3, reliability=0.5)], [need("N", [1])],
                   [bid("B", "A", "N", [3], 10)]))
    assert awarded(d) == {("B", 0): 2.0}
    assert d["unmet"] == []


def test_5_coverage_unmet_priced():
    # penalty below the bid cost: leaving it unmet is cheaper under weighted primacy
    d = solve(snap([asset("A", up=3)], [need("N", [1], penalty=5)],
                   [bid("B", "A", "N", [3], 10)], primacy="weighted"))
    assert d["awards"] == [] and d["unmet"] == [{"need": "N", "period": 0, "mw": 1.0}]
    assert reasons(d)["B"] == ["outcompeted"]


def test_6_capacity_shared_between_needs():
    # without the capacity row: 2 MW to each need from a 2 MW asset
    d = solve(snap([asset("A", up=2)], [need("N1", [2]), need("N2", [2], penalty=500)],
                   [bid("B1", "A", "N1", [2], 10), bid("B2", "A", "N2", [2], 10)]))
    assert awarded(d) == {("B1", 0): 2.0}
    assert reasons(d)["B2"] == ["capacity_used_by_other_awards"]


def test_7_direction():
    # without the direction rule both (different capabilities, no shared capacity)
    d = solve(snap([asset("A", up=2, down=2)],
                   [need("N1", [1]), need("N2", [1], direction="down", penalty=500)],
                   [bid("B1", "A", "N1", [1], 10), bid("B2", "A", "N2", [1], 10)]))
    assert awarded(d) == {("B1", 0): 1.0}
    assert reasons(d)["B2"] == ["direction_conflict"]


def test_7_direction_other_period_allowed():
    d = solve(snap([asset("A", up=2, down=2)],
                   [need("N1", [1, 0]), need("N2", [0, 1], direction="down")],
                   [bid("B1", "A", "N1", [1, 1], 10), bid("B2", "A", "N2", [1, 1], 10)], T=2))
    assert awarded(d) == {("B1", 0): 1.0, ("B2", 1): 1.0}


def test_8_stacking_incompatible_products():
    # without stacking rules: both, capacity allows 4 MW
    d = solve(snap([asset("A", up=4)],
                   [need("N1", [1], product="sustain"),
                    need("N2", [1], product="dynamic", penalty=500)],
                   [bid("B1", "A", "N1", [1], 10), bid("B2", "A", "N2", [1], 10)],
                   incompatible_products=[["sustain", "dynamic"]]))
    assert awarded(d) == {("B1", 0): 1.0}
    assert reasons(d)["B2"] == ["stacking_conflict"]


def test_8_stacking_compatible_products_stack():
    d = solve(snap([asset("A", up=4)],
                   [need("N1", [1], product="sustain"), need("N2", [1], product="secure")],
                   [bid("B1", "A", "N1", [1], 10), bid("B2", "A", "N2", [1], 10)],
                   incompatible_products=[["sustain", "dynamic"]]))
    assert len(awarded(d)) == 2


def test_8_stacking_same_product_pair():
    # a product incompatible with itself: one asset may not serve two sustain needs at once
    d = solve(snap([asset("A", up=4)],
                   [need("N1", [1]), need("N2", [1], penalty=500)],
                   [bid("B1", "A", "N1", [1], 10), bid("B2", "A", "N2", [1], 10)],
                   incompatible_products=[["sustain", "sustain"]]))
    assert awarded(d) == {("B1", 0): 1.0}


def test_lexicographic_primacy_beats_penalties():
    # priority 1 need wins the only MW even though the priority 2 penalty is higher
    doc = snap([asset("A", up=1)],
               [need("N1", [1], priority=1, penalty=100), need("N2", [1], priority=2,
                                                                 penalty=1000)],
               [bid("B1", "A", "N1", [1], 10), bid("B2", "A", "N2", [1], 10)])
    d = solve(doc)
    assert awarded(d) == {("B1", 0): 1.0}
    assert set(reasons(d)["B2"]) == {"capacity_used_by_other_awards", "primacy"}
    assert d["stages"] == [{"priority": 1, "unmet_mwh": 0.0}, {"priority": 2, "unmet_mwh": 0.5}]
    doc["rules"]["primacy"] = "weighted"
    d = solve(doc)
    assert awarded(d) == {("B2", 0): 1.0}


def test_lexicographic_minimises_unmet_before_cost():
    # covering N costs 2000/h > its penalty 100/h: weighted leaves it unmet, lexicographic not
    doc = snap([asset("A", up=1)], [need("N", [1], penalty=100)],
               [bid("B", "A", "N", [1], 2000)], primacy="weighted")
    doc["needs"][0]["max_availability_price"] = 5000
    assert solve(doc)["awards"] == []
    doc["rules"]["primacy"] = "lexicographic"
    assert awarded(solve(doc)) == {("B", 0): 1.0}


@pytest.mark.parametrize("backend", ["highs", "pyomo"])
def test_backends_agree(backend):
    doc = snap([asset("A", up=2, down=2), asset("C", up=3)],
               [need("N1", [1, 2]), need("N2", [1, 1], direction="down", product="dynamic")],
               [bid("B1", "A", "N1", [2, 2], 10, min_mw=1.5), bid("B2", "A", "N2", [1, 1], 5),
                bid("B3", "C", "N1", [3, 3], 20, all_or_nothing=True)], T=2,
               incompatible_products=[["sustain", "dynamic"]])
    d = solve(doc, ClearingOptions(time_limit=30, mip_rel_gap=1e-9, backend=backend))
    assert d["objective"] == pytest.approx(solve(doc)["objective"], rel=1e-9)
