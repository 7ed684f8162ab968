"""Property tests: random tiny markets, clearing vs brute-force enumeration of the integer
decisions (which bid-periods are on), each candidate's LP solved with plain highspy."""

from __future__ import annotations

import itertools

import highspy
import numpy as np
import pytest
from checker import check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opt_helpers import EXACT, periods

from optimiser import clear, load_snapshot


@st.composite
def markets(draw):
    T = draw(st.integers(1, 2))
    nA = draw(st.integers(1, 2))
    nN = draw(st.integers(1, 2))
    nB = draw(st.integers(1, 3))
    mw = st.sampled_from([0.0, 0.5, 1.0, 2.0])
    assets = [{"id": f"A{i}", "zone": draw(st.sampled_from(["Z1", "Z2"])),
               "up_mw": draw(st.sampled_from([0.0, 1.0, 2.0])),
               "down_mw": draw(st.sampled_from([0.0, 1.0])),
               "reliability": draw(st.sampled_from([1.0, 0.8])),
               "emission_t_per_mwh": draw(st.sampled_from([0.0, 0.5])),
               "unavailable_periods": draw(st.sampled_from([[], [0]]))} for i in range(nA)]
    needs = [{"id": f"N{j}", "mo": draw(st.sampled_from(["M1", "M2"])),
              "product": draw(st.sampled_from(["p", "q"])),
              "zone": draw(st.sampled_from(["Z1", "GB"])),
              "direction": draw(st.sampled_from(["up", "down"])),
              "priority": draw(st.integers(1, 2)),
              "mw": [draw(mw) for _ in range(T)],
              "max_availability_price": 25.0, "utilisation_price_cap": 100.0,
              "expected_utilisation": draw(st.sampled_from([0.0, 0.5])),
              "unmet_penalty": draw(st.sampled_from([5.0, 50.0, 200.0]))} for j in range(nN)]
    bids = [{"id": f"B{k}", "asset": f"A{draw(st.integers(0, nA - 1))}",
             "need": f"N{draw(st.integers(0, nN - 1))}",
             "mw": [draw(mw) for _ in range(T)],
             "min_mw": draw(st.sampled_from([0.0, 0.0, 0.5, 1.5])),
             "availability_price": float(draw(st.integers(1, 30))),
             "utilisation_price": float(draw(st.sampled_from([0, 40]))),
             "all_or_nothing": draw(st.booleans()),
             "exclusive_group": draw(st.sampled_from([None, None, "G"]))} for k in range(nB)]
    rules = {"incompatible_products": draw(st.sampled_from([[], [["p", "q"]], [["p", "p"]]])),
             "primacy": draw(st.sampled_from(["lexicographic", "weighted"])),
             "pricing": draw(st.sampled_from(["pay_as_bid", "pay_as_clear"])),
             "carbon_price": 80.0}
    return {"version": 1, "period_minutes": 30, "periods": periods(T), "assets": assets,
            "needs": needs, "bids": bids, "rules": rules}


def brute_force(doc) -> float:
    """Optimal objective by enumerating on/off of every candidate bid-period."""
    T = len(doc["periods"])
    dh = 0.5
    A = {a["id"]: a for a in doc["assets"]}
    N = {n["id"]: n for n in doc["needs"]}
    inc = {frozenset(p) for p in doc["rules"]["incompatible_products"]}
    cands, bound = [], {}
    for b in doc["bids"]:
        n, a = N[b["need"]], A[b["asset"]]
        cap = a[f"{n['direction']}_mw"]
        if (n["zone"] not in ("GB", a["zone"]) or cap <= 0
                or b["availability_price"] > n["max_availability_price"]
                or b["utilisation_price"] > n["utilisation_price_cap"]):
            continue
        block = [t for t in range(T) if b["mw"][t] > 0 and n["mw"][t] > 0]
        if b["all_or_nothing"] and any(t in a["unavailable_periods"] for t in block):
            continue
        for t in block:
            if t not in a["unavailable_periods"]:
                cands.append((b["id"], t))
                bound[(b["id"], t)] = min(b["mw"][t], cap)
    bids = {b["id"]: b for b in doc["bids"]}
    needs_t = [(n["id"], t) for n in doc["needs"] for t in range(T) if n["mw"][t] > 0]
    prios = sorted({n["priority"] for n in doc["needs"]})
    cost_x = {}
    for c in cands:
        b = bids[c[0]]
        n, a = N[b["need"]], A[b["asset"]]
        eu = n["expected_utilisation"]
        cost_x[c] = dh * (b["availability_price"] + eu * b["utilisation_price"]
                          + 80.0 * a["emission_t_per_mwh"] * eu)

    def feasible(on):
        act = set(on)
        ids = {c[0] for c in act}
        for bid in ids:
            b = bids[bid]
            if b["all_or_nothing"] and any((bid, t) not in act for (x, t) in cands if x == bid):
                return False
        groups = [bids[i]["exclusive_group"] for i in ids if bids[i]["exclusive_group"]]
        if len(groups) != len(set(groups)):
            return False
        for c1, c2 in itertools.combinations(act, 2):
            b1, b2 = bids[c1[0]], bids[c2[0]]
            if c1[1] != c2[1] or b1["asset"] != b2["asset"]:
                continue
            n1, n2 = N[b1["need"]], N[b2["need"]]
            if n1["direction"] != n2["direction"]:
                return False
            if frozenset([n1["product"], n2["product"]]) in inc:
                return False
        return True

    def lp(on, objective, caps):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        cols = list(on) + needs_t
        for c in on:
            b = bids[c[0]]
            lo = bound[c] if b["all_or_nothing"] else min(b["min_mw"], bound[c])
            h.addVar(lo, bound[c])
        for (nid, t) in needs_t:
            h.addVar(0.0, N[nid]["mw"][t])
        idx = {c: i for i, c in enumerate(cols)}
        h.changeColsCost(len(cols), np.arange(len(cols), dtype=np.int32),
                         np.array([objective(c) for c in cols], dtype=float))
        for (nid, t) in needs_t:
            terms = [(idx[c], A[bids[c[0]]["asset"]]["reliability"]) for c in on
                     if bids[c[0]]["need"] == nid and c[1] == t] + [(idx[(nid, t)], 1.0)]
            h.addRow(N[nid]["mw"][t], highspy.kHighsInf, len(terms),
                     np.array([i for i, _ in terms], dtype=np.int32),
                     np.array([v for _, v in terms]))
        use = {}
        for c in on:
            b = bids[c[0]]
            use.setdefault((b["asset"], c[1], N[b["need"]]["direction"]), []).append(idx[c])
        for (aid, _t, d), ix in use.items():
            h.addRow(-highspy.kHighsInf, A[aid][f"{d}_mw"], len(ix),
                     np.array(ix, dtype=np.int32), np.ones(len(ix)))
        for p, hi in caps:
            ix = [idx[(nid, t)] for nid, t in needs_t if N[nid]["priority"] == p]
            if ix:
                h.addRow(-highspy.kHighsInf, hi, len(ix), np.array(ix, dtype=np.int32),
                         np.full(len(ix), dh))
        if not cols:
            return 0.0
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return h.getInfo().objective_function_value

    combos = [on for r in range(len(cands) + 1) for on in itertools.combinations(cands, r)
              if feasible(on)]
    def full(c):
        return cost_x[c] if c in cost_x else dh * N[c[0]]["unmet_penalty"]
    caps: list[tuple[int, float]] = []
    if doc["rules"]["primacy"] == "lexicographic":
        for p in prios:
            def stage(c, p=p):
                return 0.0 if c in cost_x else (dh if N[c[0]]["priority"] == p
                                                                         else 0.0)
            v = min(x for on in combos if (x := lp(on, stage, caps)) is not None)
            caps.append((p, v * (1 + 1e-6) + 1e-7))
    return min(x for on in combos if (x := lp(on, full, caps)) is not None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_clearing_matches_brute_force_and_passes_checker(doc):
    res = clear(load_snapshot(doc), EXACT)
    d = res.to_dict()
    assert d["status"] == "optimal"
    assert check(doc, d) == []
    assert d["objective"] == pytest.approx(brute_force(doc), rel=1e-5, abs=1e-4)
