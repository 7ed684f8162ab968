"""A case per reason code of `not_dispatched` (dispatch-snapshot-v1, Result)."""

from __future__ import annotations

import dispatch_checker as checker
import pytest
from dispatch_cases import asset, contract, request, snapshot

from optimiser import reasons as R
from optimiser.dispatch import solve


def _reasons(snap: dict) -> dict[tuple[str, str], list[str]]:
    res = solve(snap)
    assert checker.check(snap, res) == []
    return {(n["contract"], n["request"]): n["reasons"] for n in res["not_dispatched"]}


def test_every_code_has_a_text_in_the_one_table():
    assert set(R.DISPATCH) == checker.CODES
    assert all(code in R.REASON_TEXT for code in R.DISPATCH)


def test_unavailable():
    snap = snapshot(1, [asset("A1")], [contract("C1", "A1", [1.0])], [request("R1", [1.0])],
                    availability=[{"asset": "A1", "direction": "up", "mw": [0.0]}])
    assert _reasons(snap) == {("C1", "R1"): ["unavailable"]}


def test_capacity_in_use_by_fixed_instructions():
    snap = snapshot(1, [asset("A1", up=1.0)],
                    [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], mo="DSO2")],
                    [request("R1", [1.0])],
                    instructions=[{"id": "I1", "contract": "C2", "period": 0, "mw": 1.0}])
    assert _reasons(snap) == {("C1", "R1"): ["capacity_in_use"]}


def test_energy_limit():
    snap = snapshot(2, [asset("A1", energy_mwh=0.5)], [contract("C1", "A1", [1.0, 1.0])],
                    [request("R1", [1.0, 0.0])],
                    instructions=[{"id": "I1", "contract": "C1", "period": 1, "mw": 1.0}])
    assert _reasons(snap) == {("C1", "R1"): ["energy_limit"]}


def test_run_limit():
    snap = snapshot(2, [asset("A1", max_run_periods=1)], [contract("C1", "A1", [1.0, 1.0])],
                    [request("R1", [1.0, 0.0])],
                    instructions=[{"id": "I1", "contract": "C1", "period": 1, "mw": 1.0}])
    assert _reasons(snap) == {("C1", "R1"): ["run_limit"]}


def test_zone_conflict():
    snap = snapshot(1, [asset("A1")], [contract("C1", "A1", [1.0], mo="ESO")],
                    [request("R1", [1.0], mo="ESO", zone="GB"),
                     request("R2", [1.0], zone="Z1", direction="down")])
    assert _reasons(snap) == {("C1", "R1"): ["zone_conflict"]}


def test_stacking_conflict():
    snap = snapshot(1, [asset("A1")],
                    [contract("C1", "A1", [1.0]), contract("C2", "A1", [1.0], product="dyn")],
                    [request("R1", [1.0])], incompatible=[["secure", "dyn"]],
                    instructions=[{"id": "I1", "contract": "C2", "period": 0, "mw": 0.5}])
    assert _reasons(snap) == {("C1", "R1"): ["stacking_conflict"]}


def test_direction_conflict():
    snap = snapshot(1, [asset("A1")],
                    [contract("C1", "A1", [1.0], mo="ESO"),
                     contract("C2", "A1", [1.0], mo="ESO", direction="down")],
                    [request("R1", [1.0], mo="ESO", zone="GB")],
                    instructions=[{"id": "I1", "contract": "C2", "period": 0, "mw": 1.0}])
    assert _reasons(snap) == {("C1", "R1"): ["direction_conflict"]}


def test_outcompeted_and_not_needed():
    # C2 cheaper covers R1 in full: C1 (dearer) is outcompeted; C3, as cheap as C2 but
    # with a minimum call of 2 MW, was not needed
    snap = snapshot(1, [asset("A1"), asset("A2"), asset("A3")],
                    [contract("C1", "A1", [1.0], 300.0), contract("C2", "A2", [1.0], 100.0),
                     contract("C3", "A3", [3.0], 100.0, min_mw=2.0)],
                    [request("R1", [1.0])])
    assert _reasons(snap) == {("C1", "R1"): ["outcompeted"], ("C3", "R1"): ["not_needed"]}


def test_outcompeted_by_the_penalty():
    snap = snapshot(1, [asset("A1")], [contract("C1", "A1", [1.0], 5000.0)],
                    [request("R1", [1.0], penalty=100.0)], primacy="weighted")
    assert _reasons(snap) == {("C1", "R1"): ["outcompeted"]}


@pytest.mark.parametrize("mw", [[0.0, 1.0], [1.0, 0.0]])
def test_no_row_for_a_pair_never_positive_together(mw):
    snap = snapshot(2, [asset("A1")], [contract("C1", "A1", mw)],
                    [request("R1", list(reversed(mw)))])
    assert _reasons(snap) == {}
