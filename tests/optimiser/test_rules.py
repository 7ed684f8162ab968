"""The rules the optimiser defines once for every engine and the platform: reason codes and
texts, zone and direction eligibility, the award cost, packing parts into bins."""

from __future__ import annotations

import numpy as np
import pytest
from opt_helpers import asset, bid, need, reasons, snap, solve

from optimiser import load_snapshot
from optimiser import reasons as codes
from optimiser.components import pack
from optimiser.costs import TERMS, award_costs, cost_terms, unit_cost
from optimiser.eligibility import GB, can_move, capability, zone_serves
from optimiser.problem import prepare


def test_every_reason_code_has_a_text_in_one_table():
    declared = {v for k, v in vars(codes).items() if k.isupper() and isinstance(v, str)}
    assert declared == set(codes.REASON_TEXT), "a code without a text, or a text without a code"
    assert all(t.strip() for t in codes.REASON_TEXT.values())
    assert not set(codes.INELIGIBLE) & set(codes.COMPETITION)
    assert tuple(codes.REASON_TEXT) == codes.REASONS


def test_platform_shows_the_optimiser_texts():
    from flexplatform.competition.clearing import REASON_TEXT

    assert {k: REASON_TEXT[k] for k in codes.REASON_TEXT} == codes.REASON_TEXT


def test_zone_rule():
    assert zone_serves("CMZ1", "CMZ1") and zone_serves(GB, "CMZ1")
    assert not zone_serves("CMZ1", "CMZ2") and not zone_serves("CMZ1", GB)
    got = zone_serves(np.array(["Z1", GB, "Z1"], dtype=object),
                      np.array(["Z1", "Z2", "Z2"], dtype=object))
    assert got.tolist() == [True, True, False]


def test_direction_rule():
    assert capability(2.0, 0.5, "up") == 2.0 and capability(2.0, 0.5, "down") == 0.5
    assert capability(None, 0.5, "both") == 0.5 and capability(None, None, "up") == 0.0
    with pytest.raises(ValueError):
        capability(1.0, 1.0, "sideways")
    assert can_move(0.1) and not can_move(0.0)
    assert can_move(np.array([0.0, 1.0])).tolist() == [False, True]


def test_clearing_applies_the_same_eligibility_rules():
    doc = snap([asset("A", up=1, zone="Z1"), asset("B", up=0, down=1, zone="Z2")],
               [need("N1", [1], zone="Z1"), need("N2", [1], zone="Z2"),
                need("G", [1], zone=GB, product="reserve")],
               [bid("AZ", "A", "N2", [1], 5),      # wrong zone
                bid("AG", "A", "G", [1], 5),       # GB-wide: any zone
                bid("BU", "B", "N2", [1], 5)])     # B cannot move up
    d = solve(doc)
    assert reasons(d) == {"AZ": ["zone_mismatch"], "BU": ["direction_not_supported"]}


def test_award_cost_is_the_objective():
    ap, up, eu, ef = (np.array([10.0, 4.0]), np.array([100.0, 0.0]), np.array([0.3, 0.3]),
                      np.array([0.5, 0.0]))
    terms = cost_terms(ap, up, eu, ef, carbon_price=80.0)
    assert list(terms) == list(TERMS)
    assert unit_cost(terms).tolist() == pytest.approx([10 + 30 + 12, 4.0])
    assert award_costs(np.array([2.0, 1.0]), terms) == pytest.approx(
        {"availability": 24.0, "utilisation_expected": 60.0, "carbon": 24.0})
    # the model's cost per MW/h of every bid is the same formula
    doc = snap([asset("A", up=1, emission_t_per_mwh=0.5)],
               [need("N", [1], expected_utilisation=0.3)],
               [bid("B", "A", "N", [1], 10, utilisation_price=100)], carbon_price=80.0)
    assert prepare(load_snapshot(doc)).bid_cost.tolist() == pytest.approx([52.0])


def test_pack_longest_first_into_the_least_loaded_bin():
    assert pack([1, 5, 3, 3], 2) == [[1, 0], [2, 3]]  # 5+1 and 3+3
    assert pack([4, 4], 3) == [[0], [1]]               # no empty bins
    assert pack([], 4) == []
    assert pack([2, 1], 1) == [[0, 1]]
