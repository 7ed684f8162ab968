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
    from optimiser.generate import generate

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
    # the priority-weighted start meets every level: no stage solve, both held by bounds
    assert res.stats["skipped_stages"] == [1, 2]
    assert len(res.stats["stage_s"]) == 1  # the cost stage only
    assert res.to_dict()["stages"] == [{"priority": 1, "unmet_mwh": 0.0},
                                       {"priority": 2, "unmet_mwh": 0.0}]


def test_without_weighted_start_same_optimum(monkeypatch):
    import optimiser.monolithic as c

    doc = _two_levels(T=2)
    doc["needs"][0]["mw"] = [5, 1]  # priority 1 now partly unmet too
    a = solve(doc)
    monkeypatch.setattr(c, "PROXY_SHARE", 0.0)  # start stage 1 from the empty clearing
    b = solve(doc)
    assert a["stages"] == b["stages"]
    assert a["objective"] == pytest.approx(b["objective"])


def _zones_market():
    # two CMZs with priority-1 needs (one short of offers), linked only by a GB-wide
    # priority-2 need; assets bid to both levels, so the stages trade off
    assets = [asset("A1", up=2, zone="Z1"), asset("A2", up=1, zone="Z1"),
              asset("C1", up=2, zone="Z2"), asset("C2", up=1, zone="Z2", down=1)]
    needs = [need("N1", [3, 4], zone="Z1"), need("N2", [1, 4], zone="Z2", product="secure"),
             need("E", [2, 2], zone="GB", priority=2, penalty=300, product="reserve"),
             need("D", [1, 0], zone="GB", priority=2, direction="down", penalty=200)]
    bids = [bid("b1", "A1", "N1", [2, 2], 10), bid("b2", "A2", "N1", [1, 1], 12, min_mw=1.0),
            bid("b3", "C1", "N2", [2, 2], 8), bid("b4", "A1", "E", [2, 2], 5),
            bid("b5", "C1", "E", [2, 2], 6), bid("b6", "C2", "E", [1, 1], 7),
            bid("b7", "C2", "N2", [1, 1], 9, all_or_nothing=True),
            bid("b8", "C2", "D", [1, 0], 3)]
    return snap(assets, needs, bids, T=2, incompatible_products=[["secure", "reserve"]])


def test_stage_parts_split_by_zone():
    from optimiser.holds import stage_parts
    from optimiser.problem import prepare

    prob = prepare(load_snapshot(_zones_market()))
    p1 = stage_parts(prob, 1)
    prio = prob.need_priority[prob.u_need]
    # priority-1 columns of N1 and N2 are in different parts; priority-2 columns are not in
    # the priority-1 split
    n1 = p1[(prob.u_need == 0)]
    n2 = p1[(prob.u_need == 1)]
    assert len(set(n1.tolist())) == 1 and len(set(n2.tolist())) == 1 and n1[0] != n2[0]
    assert (p1[prio == 2] == -1).all()
    p2 = stage_parts(prob, 2)
    assert len(set(p2[prio == 2].tolist())) == 1  # GB-wide needs tie everything


def test_holds_by_part_same_result_as_one_row(monkeypatch):
    import optimiser.monolithic as c

    doc = _zones_market()
    by_part = solve(doc)
    assert [s["unmet_mwh"] > 0 for s in by_part["stages"]] == [True, True]
    rows = []
    monkeypatch.setattr(HighsBackend, "add_row", lambda self, cols, vals, hi, f=HighsBackend.add_row:
                        (rows.append(len(cols)), f(self, cols, vals, hi)))
    assert {k: v for k, v in solve(doc).items() if k != "timing"} == {
        k: v for k, v in by_part.items() if k != "timing"}
    assert rows[:2] == [2, 2]  # priority 1 held by one row per zone (2 periods each), not 1x4
    monkeypatch.setattr(c, "stage_parts", lambda prob, pr: None)  # one row per stage
    one_row = solve(doc)
    for k in ("objective", "awards", "unmet", "stages", "rejected"):
        assert by_part[k] == one_row[k], k


@pytest.mark.parametrize("market", ["gb", "dense"])
def test_siloed_start_is_feasible(market):
    from optimiser.generate import generate
    from optimiser.model import build_matrix, feasible
    from optimiser.problem import prepare
    from optimiser.start import siloed_start

    s = load_snapshot(generate(300, seed=5, market=market))
    prob = prepare(s)
    mm = build_matrix(prob)
    v = siloed_start(s, prob, mm)
    assert feasible(mm, v)
    assert mm.col_cost @ v < mm.col_cost[mm.blocks["u"]] @ prob.u_mw  # beats the empty clearing


def test_same_optimum_without_siloed_start(monkeypatch):
    import optimiser.clearing as c

    doc = _zones_market()
    a = solve(doc)
    monkeypatch.setattr(c, "merit_order_start", lambda snap, prob, mm: None)
    b = solve(doc)
    assert a["stages"] == b["stages"] and a["objective"] == pytest.approx(b["objective"])
