"""The time budget of a whole clear() call, and the shortcuts of the lexicographic stages."""

from __future__ import annotations

import time

import pytest
from checker import check
from opt_helpers import EXACT, asset, bid, need, snap, solve

from optimiser import ClearingOptions, clear, load_snapshot
from optimiser.solver import HighsBackend


@pytest.fixture(scope="module")
def market_1000():
    from bench.clearing import generate

    doc = generate(1000, seed=3)
    return doc, load_snapshot(doc)


@pytest.mark.parametrize("limit", [1.0, 3.0])
def test_time_limit_is_a_budget_for_the_whole_call(market_1000, limit):
    doc, s = market_1000
    t = time.perf_counter()
    res = clear(s, ClearingOptions(time_limit=limit, mip_rel_gap=1e-6))
    wall = time.perf_counter() - t
    assert wall < limit + 2.0, (wall, res.stats)
    d = res.to_dict()
    assert d["status"] in ("optimal", "feasible"), d.get("message")
    if d["status"] == "feasible":
        assert d["message"]
        assert d["mip_gap"] is None or d["mip_gap"] >= 0
    assert not check(doc, d)


def _two_levels(T=2):
    # priority 1 can be fully met (so its stage holds at 0), priority 2 only partly
    return snap([asset("A", up=3), asset("C", up=1), asset("D", up=1)],
                [need("N1", [1, 1], priority=1, penalty=1000),
                 need("N2", [5, 3], priority=2, penalty=300, zone="GB", product="reserve")],
                [bid("B1", "A", "N1", [2, 2], 10), bid("B2", "A", "N2", [3, 3], 5),
                 bid("B3", "C", "N1", [1, 1], 30), bid("B4", "D", "N2", [1, 1], 20,
                                                         min_mw=1.0)], T=T)


def test_zero_unmet_stage_held_by_bounds_same_as_row(monkeypatch):
    doc = _two_levels()
    fixed = solve(doc)
    assert fixed["stages"][0] == {"priority": 1, "unmet_mwh": 0.0}
    # the same clearing with the hold as a row (the plain formulation)
    monkeypatch.setattr(HighsBackend, "fix_zero",
                        lambda self, cols, vals, hi: self.add_row(cols, vals, hi))
    row = solve(doc)
    for k in ("objective", "awards", "unmet", "stages", "prices", "rejected"):
        assert fixed[k] == row[k], k


def test_stage_skipped_when_start_has_nothing_unmet():
    doc = _two_levels()
    doc["needs"][1]["mw"] = [3, 2]  # priority 2 can be fully met too
    res = clear(load_snapshot(doc), EXACT)
    # stage 1 solved (0 unmet, held by bounds); the priority-weighted start then meets all of
    # priority 2: no stage-2 solve
    assert res.stats["skipped_stages"] == [2]
    assert len(res.stats["stage_s"]) == 2  # priority 1 and cost
    assert res.to_dict()["stages"] == [{"priority": 1, "unmet_mwh": 0.0},
                                       {"priority": 2, "unmet_mwh": 0.0}]


def test_without_weighted_start_same_optimum(monkeypatch):
    import optimiser.clearing as c

    doc = _two_levels(T=2)
    doc["needs"][0]["mw"] = [5, 1]  # priority 1 now partly unmet too
    a = solve(doc)
    monkeypatch.setattr(c, "PROXY_SHARE", 0.0)  # start stage 1 from the empty clearing
    b = solve(doc)
    assert a["stages"] == b["stages"]
    assert a["objective"] == pytest.approx(b["objective"])
