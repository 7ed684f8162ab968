"""One hand-made case per rule of dispatch-snapshot-v1: the engine's result passes the
independent checker, and the same snapshot dispatched without the rule's family breaks
that rule (so every family is needed and every case exercises its rule)."""

from __future__ import annotations

import dispatch_checker as checker
import pytest
from dispatch_cases import asset, contract, request, snapshot

from optimiser.dispatch import solve
from optimiser.dispatch.engine import dispatch
from optimiser.dispatch.model import FAMILIES


def _without(snap: dict, family: str) -> dict:
    return dispatch(snap, families=tuple(f for f in FAMILIES if f != family))[0]


def _mw(res: dict, contract_: str | None = None, period: int | None = None) -> float:
    return sum(i["mw"] for i in res["instructions"]
               if (contract_ is None or i["contract"] == contract_)
               and (period is None or i["period"] == period))


CASES = {
    # 2: one contract of 1 MW serving two requests of 1 MW in one period
    "contract_bound": ("rule 2", snapshot(1, [asset("A1")], [contract("C1", "A1", [1.0])],
                                          [request("R1", [1.0]), request("R2", [1.0])])),
    # 3: a minimum call of 2 MW against a 1 MW request: call 2 (cheap) rather than 0
    "minimum_call": ("rule 3", snapshot(1, [asset("A1")],
                                        [contract("C1", "A1", [3.0], 10.0, min_mw=2.0)],
                                        [request("R1", [1.0])])),
    # 4: declared 1 MW of a 2 MW contract
    "availability": ("rule 4", snapshot(
        1, [asset("A1")], [contract("C1", "A1", [2.0])], [request("R1", [2.0])],
        availability=[{"asset": "A1", "direction": "up", "mw": [1.0]}])),
    # 5: one asset contracted up to one MO and down to another, both called GB-wide
    "direction": ("rule 5", snapshot(
        1, [asset("A1")],
        [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], mo="ESO", direction="down")],
        [request("R1", [1.0], zone="GB"), request("R2", [1.0], mo="ESO", zone="GB",
                                                  direction="down")])),
    # 6: incompatible products on one asset
    "stacking": ("rule 6", snapshot(
        1, [asset("A1")],
        [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], product="dynamic")],
        [request("R1", [1.0]), request("R2", [1.0], product="dynamic")],
        incompatible=[["secure", "dynamic"]])),
    # 7: 1 MWh of energy against 2 MW over two half-hours
    "energy": ("rule 7", snapshot(2, [asset("A1", energy_mwh=1.0)],
                                  [contract("C1", "A1", [2.0, 2.0])],
                                  [request("R1", [2.0, 2.0])])),
    # 8: an up call GB-wide from an asset whose zone has a local down request
    "zone_conflicts": ("rule 8", snapshot(
        1, [asset("A1"), asset("A2", zone="Z2")],
        [contract("C1", "A1", [1.0], mo="ESO"), contract("C2", "A2", [1.0], mo="DSO1",
                                                         direction="down")],
        [request("R1", [1.0], mo="ESO", zone="GB"),
         request("R2", [1.0], mo="DSO1", zone="Z1", direction="down")])),
    # 9: at most one period in a row
    "run_length": ("rule 9", snapshot(3, [asset("A1", max_run_periods=1)],
                                      [contract("C1", "A1", [1.0, 1.0, 1.0])],
                                      [request("R1", [1.0, 1.0, 1.0])])),
}


@pytest.mark.parametrize("family", list(CASES))
def test_rule_holds_and_is_needed(family):
    rule, snap = CASES[family]
    res = solve(snap)
    assert res["status"] == "optimal"
    assert checker.check(snap, res) == []
    broken = checker.check(snap, _without(snap, family))
    assert any(b.startswith(rule) for b in broken), broken


def test_rule_1_calls_only_where_both_positive():
    snap = snapshot(2, [asset("A1")], [contract("C1", "A1", [0.0, 2.0])],
                    [request("R1", [2.0, 2.0])])
    res = solve(snap)
    assert _mw(res, period=0) == 0 and _mw(res, period=1) == pytest.approx(2.0)
    assert res["shortfall"] == [{"request": "R1", "period": 0, "mw": 2.0}]
    assert checker.check(snap, res) == []


def test_rule_3_minimum_is_at_most_what_is_left():
    # min_mw 2 but only 1.5 declared: the least call is 1.5 (U), not 2
    snap = snapshot(1, [asset("A1")], [contract("C1", "A1", [3.0], min_mw=2.0)],
                    [request("R1", [1.0])],
                    availability=[{"asset": "A1", "direction": "up", "mw": [1.5]}])
    res = solve(snap)
    assert _mw(res) == pytest.approx(1.0) or _mw(res) == pytest.approx(1.5)
    assert checker.check(snap, res) == []


def test_rule_3_minimum_of_a_dear_call_is_not_forced():
    # weighted: the 2 MW minimum costs more than leaving the 1 MW short
    snap = snapshot(1, [asset("A1")], [contract("C1", "A1", [3.0], 800.0, min_mw=2.0)],
                    [request("R1", [1.0], penalty=1000.0)], primacy="weighted")
    res = solve(snap)
    assert res["instructions"] == [] and res["objective"] == pytest.approx(500.0)
    assert checker.check(snap, res) == []


def test_rule_4_fixed_instructions_use_availability():
    snap = snapshot(1, [asset("A1", up=2.0)], [contract("C1", "A1", [2.0])],
                    [request("R1", [2.0])],
                    instructions=[{"id": "I1", "contract": "C1", "period": 0, "mw": 1.5}])
    res = solve(snap)
    assert _mw(res) == pytest.approx(0.5)
    assert checker.check(snap, res) == []


def test_rule_5_fixed_opposite_direction_blocks():
    snap = snapshot(1, [asset("A1")],
                    [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], direction="down",
                                                           mo="ESO")],
                    [request("R1", [1.0], zone="GB")],
                    instructions=[{"id": "I1", "contract": "C2", "period": 0, "mw": 1.0}])
    res = solve(snap)
    assert res["instructions"] == []
    assert res["not_dispatched"][0]["reasons"] == ["direction_conflict"]
    assert checker.check(snap, res) == []


def test_rule_6_self_incompatible_product():
    # two contracts of one product on one asset, the product incompatible with itself
    snap = snapshot(1, [asset("A1")],
                    [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], mo="DSO2")],
                    [request("R1", [1.0]), request("R2", [1.0], mo="DSO2")],
                    incompatible=[["secure", "secure"]])
    res = solve(snap)
    assert len(res["instructions"]) == 1
    assert checker.check(snap, res) == []
    assert any(b.startswith("rule 6") for b in checker.check(snap, _without(snap, "stacking")))


def test_rule_7_fixed_energy_counts():
    snap = snapshot(2, [asset("A1", energy_mwh=1.0)], [contract("C1", "A1", [2.0, 2.0])],
                    [request("R1", [0.0, 2.0])],
                    instructions=[{"id": "I1", "contract": "C1", "period": 0, "mw": 1.5}])
    res = solve(snap)
    assert _mw(res) == pytest.approx(0.5)
    assert checker.check(snap, res) == []


def test_rule_8_off_when_disabled():
    _, snap = CASES["zone_conflicts"]
    snap["rules"]["zone_conflicts"] = False
    res = solve(snap)
    assert _mw(res, "C1") == pytest.approx(1.0)
    assert checker.check(snap, res) == []


def test_rule_9_fixed_periods_count():
    snap = snapshot(3, [asset("A1", max_run_periods=2)], [contract("C1", "A1", [1.0] * 3)],
                    [request("R1", [0.0, 1.0, 1.0])],
                    instructions=[{"id": "I1", "contract": "C1", "period": 0, "mw": 1.0}])
    res = solve(snap)
    assert _mw(res) == pytest.approx(1.0)
    assert checker.check(snap, res) == []


def test_rule_10_reliability_scales_coverage():
    a = asset("A1")
    a["reliability"] = 0.5
    snap = snapshot(1, [a], [contract("C1", "A1", [3.0])], [request("R1", [1.0])])
    res = solve(snap)
    assert _mw(res) == pytest.approx(2.0) and res["shortfall"] == []
    assert checker.check(snap, res) == []


def test_cost_terms_and_objective():
    a = asset("A1")
    a["emission_t_per_mwh"] = 0.5
    snap = snapshot(2, [a], [contract("C1", "A1", [1.0, 1.0], 200.0)],
                    [request("R1", [1.0, 2.0], penalty=1000.0)], carbon_price=80.0)
    res = solve(snap)
    assert res["cost"] == pytest.approx({"utilisation": 200.0, "carbon": 40.0,
                                         "shortfall_penalty": 500.0})
    assert res["objective"] == pytest.approx(740.0)
    assert res["stages"] == [{"priority": 1, "shortfall_mwh": pytest.approx(0.5)}]
    assert checker.check(snap, res) == []


def _primacy_case(primacy: str) -> dict:
    # one asset, two MOs: priority 1 with a low penalty, priority 2 with a high one
    return snapshot(1, [asset("A1", up=1.0)],
                    [contract("C1", "A1", [1.0], mo="DSO1"), contract("C2", "A1", [1.0],
                                                                      mo="ESO")],
                    [request("R1", [1.0], 200.0, mo="DSO1", priority=1),
                     request("R2", [1.0], 5000.0, mo="ESO", zone="GB", priority=2)],
                    primacy=primacy)


def test_lexicographic_serves_priority_one_first():
    snap = _primacy_case("lexicographic")
    res = solve(snap)
    assert _mw(res, "C1") == pytest.approx(1.0) and _mw(res, "C2") == 0
    assert res["stages"] == [{"priority": 1, "shortfall_mwh": 0.0},
                             {"priority": 2, "shortfall_mwh": 0.5}]
    assert checker.check(snap, res) == []
    nd = {(n["contract"], n["request"]): n["reasons"] for n in res["not_dispatched"]}
    assert nd == {("C2", "R2"): ["capacity_in_use"]}


def test_weighted_minimises_cost_alone():
    snap = _primacy_case("weighted")
    res = solve(snap)
    assert _mw(res, "C2") == pytest.approx(1.0) and _mw(res, "C1") == 0
    assert res["objective"] == pytest.approx(50.0 + 100.0)
    assert checker.check(snap, res) == []


def test_lexicographic_holds_level_then_cost():
    # priority 1 can be met by either contract; the cost stage picks the cheaper
    snap = snapshot(1, [asset("A1"), asset("A2")],
                    [contract("C1", "A1", [1.0], 300.0), contract("C2", "A2", [1.0], 100.0)],
                    [request("R1", [1.0])])
    res = solve(snap)
    assert _mw(res, "C2") == pytest.approx(1.0)
    assert res["not_dispatched"] == [{"contract": "C1", "request": "R1",
                                      "reasons": ["outcompeted"]}]
