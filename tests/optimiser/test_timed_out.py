"""A clearing stopped by its time limit (issue #10): never less than the merit-order start,
never a false `outcompeted`, and an honest gap.

The failure this reproduces, at full scale: 2,000 assets, 6,000 bids, 48 periods, a 60 s
limit; the decomposition found nothing in time, and the round stored `feasible` with no award
at all, every need unmet and every bid rejected as `outcompeted`. Here the limit is 0 s, so no
stage runs at all (HiGHS finds nothing) on either method.
"""

from __future__ import annotations

import numpy as np
import pytest
from checker import check
from opt_helpers import asset, bid, need, reasons, snap

from optimiser import ClearingOptions, clear, load_snapshot
from optimiser.generate import generate
from optimiser.siloed import clear_siloed

METHODS = ["monolithic", "decomposed"]


def _two_markets():
    """Two DSOs' markets on one zone: in the siloed clearing both buy asset A (the cheapest),
    the later market's award clashes with the earlier one's and is dropped, so N2 is left
    unmet although C offered it. The optimum buys A for N1 and C for N2."""
    return snap([asset("A", up=1), asset("C", up=1)],
                [need("N1", [1], mo="DSO1", gate_closure="2026-05-31T08:00:00Z"),
                 need("N2", [1], mo="DSO2", gate_closure="2026-05-31T09:00:00Z")],
                [bid("A1", "A", "N1", [1], 5), bid("A2", "A", "N2", [1], 5),
                 bid("C2", "C", "N2", [1], 20)])


def _unmet_periods(d) -> set[tuple[str, int]]:
    return {(u["need"], u["period"]) for u in d["unmet"] if u["mw"] > 0}


def _false_outcompeted(doc, d) -> list[str]:
    """Bids called outcompeted in an unproven result while a need-period they could serve is
    unmet (no proof that they were priced out can exist there)."""
    bids = {b["id"]: b for b in doc["bids"]}
    unmet = _unmet_periods(d)
    return [r["bid"] for r in d["rejected"] if "outcompeted" in r["reasons"]
            and any((bids[r["bid"]]["need"], t) in unmet
                    for t, mw in enumerate(bids[r["bid"]]["mw"]) if mw > 0)]


@pytest.mark.parametrize("method", METHODS)
def test_no_time_gives_the_merit_order_start_not_the_empty_clearing(method):
    doc = _two_markets()
    res = clear(load_snapshot(doc), ClearingOptions(time_limit=0.0, method=method))
    d = res.to_dict()
    assert check(doc, d) == []
    assert d["status"] == "feasible"
    # the siloed clearing's surviving award, not nothing
    assert {(a["bid"], a["period"], a["mw"]) for a in d["awards"]} == {("A1", 0, 1.0)}
    assert _unmet_periods(d) == {("N2", 0)}
    assert "merit-order start" in d["message"]
    assert d["mip_gap"] is None  # no stage ran: nothing is proven
    # A2 lost A's capacity to A1 (a fact of the awards); C2 was never proven unneeded: N2 is
    # unmet and C2 is the only offer left for it
    assert reasons(d) == {"A2": ["capacity_used_by_other_awards"],
                          "C2": ["not_selected_unproven"]}


@pytest.mark.parametrize("method", METHODS)
def test_timed_out_market_keeps_the_merit_order_awards(method):
    doc = generate(300, seed=7)
    s = load_snapshot(doc)
    res = clear(s, ClearingOptions(time_limit=0.0, method=method))
    d = res.to_dict()
    assert check(doc, d) == []
    assert d["status"] == "feasible" and d["awards"]
    assert _false_outcompeted(doc, d) == []
    assert "merit-order start" in d["message"]
    sil = clear_siloed(s)
    # at least what today's separate markets give, level by level (the start drops only the
    # siloed awards the central rules forbid: cut all-or-nothing blocks, a second bid of an
    # exclusive group)
    assert len(d["awards"]) <= len(sil.awards)
    siloed_awards = {(b, t) for b, t, _ in sil.awards}
    assert {(a["bid"], a["period"]) for a in d["awards"]} <= siloed_awards
    losers = [r for r in d["rejected"] if "not_selected_unproven" in r["reasons"]]
    assert losers  # some bids could still have helped: they are not called outcompeted


def test_proven_result_is_untouched_by_the_floor():
    """With time to prove the optimum the floor changes nothing: the optimum (C for N2) is
    published, and a loser of a proven clearing with no conflict is outcompeted as before."""
    doc = _two_markets()
    doc["assets"].append(asset("D", up=1))
    doc["bids"].append(bid("D1", "D", "N1", [1], 30))
    d = clear(load_snapshot(doc), ClearingOptions(time_limit=30, mip_rel_gap=1e-9)).to_dict()
    assert d["status"] == "optimal" and "message" not in d
    assert {a["bid"] for a in d["awards"]} == {"A1", "C2"}
    assert reasons(d) == {"A2": ["capacity_used_by_other_awards"], "D1": ["outcompeted"]}


def test_mip_gap_is_the_largest_unproven_gap_or_unknown():
    """The platform reads finality off `status` and `mip_gap`: a level stopped short must show
    in the gap even when the cost stage under its hold was proven, and a stage that never ran
    (or ran without a bound) leaves the gap unknown."""
    from optimiser.run import SolveRun, StageResult

    c = np.ones(2)

    def run(*stages, finished=True):
        return SolveRun(x=np.zeros(2), t_built=0.0, price_deadline=0.0,
                        duals=lambda x, t: None, finished=finished, stages=list(stages))

    p1 = StageResult("priority 1", c, 0.9, 1e-4, True)
    p2 = StageResult("priority 2", c, 0.5, 0.3, False)
    cost = StageResult("cost", c, 9.0, 2e-3, True)
    assert run(p1, cost).mip_gap() == 2e-3       # proven levels: the cost stage's gap
    assert run(p1, p2, cost).mip_gap() == 0.3    # an unproven level shows
    assert run(p1, p2, finished=False).mip_gap() is None  # the cost stage never ran
    assert run(p1, StageResult("cost", c, None, None, False)).mip_gap() is None
    # another solution (the merit-order start) against the same bounds
    x = np.array([1.0, 1.0])                     # 2 on every stage objective here
    assert run(p1, cost).gap_of(x, within_holds=True) == pytest.approx(0.55)
    assert run(p1, cost).gap_of(x, within_holds=False) is None


def test_proven_levels_keep_their_awards_and_take_the_start_below(monkeypatch):
    """The decomposition proves the DSO level (exactly, zone by zone) and then stalls: no
    stage after it finds anything (as when the time runs out). Its solution has every award
    to the GB-wide level withdrawn (they cannot help the DSO level); the merit-order start is
    worse on the DSO level. The result keeps the proven DSO awards and takes the start's
    GB-wide awards where they fit: better than either."""
    from optimiser import decompose

    real = decompose.Decomposer.solve_stage
    solved: list[int] = []

    def stall_after_first(self, cost, gap, deadline, starts, **kw):
        if not solved:
            solved.append(1)
            return real(self, cost, gap, deadline, starts, **kw)
        best = min(starts, key=lambda s: float(cost @ s))
        return decompose.StageOutcome(best, float(cost @ best), None, True, "stalled")

    doc = generate(150, seed=5)
    s = load_snapshot(doc)
    full = clear(s, ClearingOptions(time_limit=60, method="decomposed")).to_dict()
    monkeypatch.setattr(decompose.Decomposer, "solve_stage", stall_after_first)
    d = clear(s, ClearingOptions(time_limit=60, method="decomposed")).to_dict()
    assert check(doc, d) == []
    assert d["status"] == "feasible" and "proved priority 1" in d["message"]
    sil = clear_siloed(s).unmet_by_priority
    assert d["stages"][0]["unmet_mwh"] == pytest.approx(full["stages"][0]["unmet_mwh"])
    assert d["stages"][0]["unmet_mwh"] < sil[1]           # better than the start alone
    gb_unmet = sum(n["mw"][t] * 0.5 for n in doc["needs"] if n["priority"] == 2
                   for t in range(len(n["mw"])))
    assert d["stages"][1]["unmet_mwh"] < gb_unmet         # better than the stalled run
    assert _false_outcompeted(doc, d) == []
