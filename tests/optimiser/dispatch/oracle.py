"""Brute force for tiny dispatch snapshots, from the spec alone (no engine code).

The integer part of a dispatch is which contract-periods carry a call. The oracle
enumerates every such set, keeps those that the combinatorial rules (5 direction,
6 stacking, 8 zone, 9 run length) allow together with the fixed instructions, and solves the
continuous rest (2, 3, 4, 7, 10) as LPs, stage by stage: the best value vector over all sets
is the optimum. Exponential; only for a handful of contract-periods.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import highspy
import numpy as np


def _serves(c, r, a):
    return (c["mo"] == r["mo"] and c["product"] == r["product"]
            and c["direction"] == r["direction"] and r["zone"] in ("GB", a["zone"]))


def optimum(snap: dict) -> list[float]:
    """(shortfall MWh per priority level ascending, cost) at the optimum; under weighted
    primacy the levels are those of the cheapest dispatch."""
    T = len(snap["periods"])
    dh = snap["period_minutes"] / 60
    rules = snap.get("rules") or {}
    lex = rules.get("primacy", "lexicographic") == "lexicographic"
    cp = rules.get("carbon_price", 0.0)
    ast = {a["id"]: a for a in snap["assets"]}
    con = snap["contracts"]
    req = snap["requests"]
    cap = {(a, d): ast[a]["up_mw" if d == "up" else "down_mw"] for a in ast for d in
           ("up", "down")}
    avail = {(a, d, t): cap[(a, d)] for (a, d) in cap for t in range(T)}
    for v in snap.get("availability", []):
        for t in range(T):
            avail[(v["asset"], v["direction"], t)] = min(v["mw"][t], cap[(v["asset"],
                                                                           v["direction"])])
    F = defaultdict(float)
    fixed_items = set()   # (asset, t, contract index)
    cid = {c["id"]: k for k, c in enumerate(con)}
    for f in snap.get("instructions", []):
        k = cid[f["contract"]]
        c = con[k]
        F[(c["asset"], c["direction"], f["period"])] += f["mw"]
        if f["mw"] > 0:
            fixed_items.add((c["asset"], f["period"], k))
    inc = {tuple(p) for p in rules.get("incompatible_products", [])}
    inc |= {(q, p) for p, q in inc}
    zc = rules.get("zone_conflicts", True)

    def zone_blocked(k, t):
        c = con[k]
        z = ast[c["asset"]]["zone"]
        return zc and any(r["zone"] == z and r["zone"] != "GB" and r["direction"] !=
                          c["direction"] and r["mw"][t] > 0 for r in req)

    serve = {(k, t): [j for j, r in enumerate(req) if _serves(con[k], r, ast[con[k]["asset"]])
                      and r["mw"][t] > 0]
             for k in range(len(con)) for t in range(T) if con[k]["mw"][t] > 0}
    cand = [kt for kt, js in serve.items() if js and not zone_blocked(*kt)]
    levels = sorted({r["priority"] for r in req})
    best: list[float] | None = None
    for n in range(len(cand) + 1):
        for S in itertools.combinations(cand, n):
            if not _combinatorial_ok(S, con, fixed_items, ast, inc, T):
                continue
            vec = _stages(S, serve, snap, con, req, ast, avail, F, levels, lex, dh, cp, T)
            if vec is not None and (best is None or (_better(vec, best) if lex
                                                     else _better(vec[-1:], best[-1:]))):
                best = vec
    return best


def _better(a: list[float], b: list[float]) -> bool:
    for x, y in zip(a, b, strict=True):
        if x < y - 1e-6 * max(1.0, abs(y)):
            return True
        if x > y + 1e-6 * max(1.0, abs(y)):
            return False
    return False


def _combinatorial_ok(S, con, fixed_items, ast, inc, T) -> bool:
    items = defaultdict(set)  # (asset, t) -> contract indexes carrying
    for k, t in S:
        items[(con[k]["asset"], t)].add(k)
    new_at = set(items)
    for a, t, k in fixed_items:
        items[(a, t)].add(k)
    for (_a, _t), ks in items.items():
        if (_a, _t) not in new_at:
            continue
        ks = list(ks)
        for i, j in itertools.combinations(ks, 2):
            if con[i]["direction"] != con[j]["direction"]:
                return False
            if (con[i]["product"], con[j]["product"]) in inc:
                return False
    for a, x in ast.items():
        m = x.get("max_run_periods")
        if m is None or m + 1 > T:
            continue
        on = [bool(items.get((a, t))) for t in range(T)]
        new = [(a, t) in new_at for t in range(T)]
        for j in range(T - m):
            if all(on[j:j + m + 1]) and any(new[j:j + m + 1]):
                return False
    return True


def _stages(S, serve, snap, con, req, ast, avail, F, levels, lex, dh, cp, T):
    # columns: y[(k, j, t)] for (k, t) in S and j serving; s[(j, t)] for r.mw > 0
    ycols = [(k, j, t) for (k, t) in S for j in serve[(k, t)]]
    scols = [(j, t) for j, r in enumerate(req) for t in range(T) if r["mw"][t] > 0]
    n = len(ycols) + len(scols)
    lb = np.zeros(n)
    ub = np.array([con[k]["mw"][t] for k, _j, t in ycols]
                  + [req[j]["mw"][t] for j, t in scols], float)
    rows = []  # (coefs dict, lo, hi)
    for k, t in S:
        c = con[k]
        a, d = c["asset"], c["direction"]
        idx = [i for i, (kk, _j, tt) in enumerate(ycols) if kk == k and tt == t]
        rows.append((dict.fromkeys(idx, 1.0), -np.inf, c["mw"][t]))
        U = min(c["mw"][t], avail[(a, d, t)] - F[(a, d, t)])
        rows.append((dict.fromkeys(idx, 1.0), min(c.get("min_mw", 0.0), U), np.inf))
    groups = defaultdict(list)
    for i, (k, _j, t) in enumerate(ycols):
        groups[(con[k]["asset"], con[k]["direction"], t)].append(i)
    for (a, d, t), idx in groups.items():
        rows.append((dict.fromkeys(idx, 1.0), -np.inf, avail[(a, d, t)] - F[(a, d, t)]))
    for a, x in ast.items():
        e = x.get("energy_mwh")
        if e is None:
            continue
        idx = [i for i, (k, _j, _t) in enumerate(ycols) if con[k]["asset"] == a
               and con[k]["direction"] == "up"]
        if idx:
            fixed = sum(v for (aa, d, _t), v in F.items() if aa == a and d == "up")
            rows.append((dict.fromkeys(idx, dh), -np.inf, e - dh * fixed))
    for si, (j, t) in enumerate(scols):
        coefs = {len(ycols) + si: 1.0}
        for i, (k, jj, tt) in enumerate(ycols):
            if jj == j and tt == t:
                coefs[i] = ast[con[k]["asset"]].get("reliability", 1.0)
        rows.append((coefs, req[j]["mw"][t], np.inf))
    cost = np.zeros(n)
    for i, (k, _j, _t) in enumerate(ycols):
        c = con[k]
        cost[i] = dh * (c["utilisation_price"] + cp * ast[c["asset"]].get(
            "emission_t_per_mwh", 0.0))
    for si, (j, _t) in enumerate(scols):
        cost[len(ycols) + si] = dh * req[j]["shortfall_penalty"]
    stage_objs = []
    for lv in levels:
        c = np.zeros(n)
        for si, (j, _t) in enumerate(scols):
            if req[j]["priority"] == lv:
                c[len(ycols) + si] = dh
        stage_objs.append(c)
    objs = [*stage_objs, cost] if lex else [cost]
    vals = []
    x = None
    for obj in objs:
        x = _lp(n, lb, ub, rows, obj)
        if x is None:
            return None
        v = float(obj @ x)
        vals.append(v)
        rows.append(({i: obj[i] for i in np.flatnonzero(obj)}, -np.inf,
                     v * (1 + 1e-9) + 1e-9))
    if not lex:
        vals = [float(c @ x) for c in stage_objs] + vals
    return vals


def _lp(n, lb, ub, rows, cost):
    if n == 0:
        return np.zeros(0) if all(lo <= 0 <= hi for _c, lo, hi in rows) else None
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    h.addVars(n, lb, ub)
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
    for coefs, lo, hi in rows:
        idx = np.array(list(coefs), dtype=np.int32)
        h.addRow(-inf if lo == -np.inf else lo, inf if hi == np.inf else hi, len(idx), idx,
                 np.array([coefs[i] for i in idx], float))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.array(h.getSolution().col_value)
