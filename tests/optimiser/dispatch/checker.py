"""An independent check of a dispatch result against its snapshot, written from
../shared/specs/dispatch-snapshot-v1.md alone (it imports nothing from the engine).

`check(snapshot, result)` returns every broken rule as a line of text ([] = the result
satisfies the spec), with the rule's number. Plain Python, dicts and loops: slow but
obvious. Where the snapshot itself already breaks a rule through fixed instructions
(declared below what was instructed, say), only what the new instructions add is counted.
"""

from __future__ import annotations

import math
from collections import defaultdict

TOL = 1e-5
CODES = {"unavailable", "capacity_in_use", "energy_limit", "run_limit", "zone_conflict",
         "stacking_conflict", "direction_conflict", "outcompeted", "not_needed"}


def cost_of(snapshot: dict, instructions: list[dict], shortfall: dict) -> dict[str, float]:
    """The spec's cost terms for calls and shortfall {(request, t): mw}."""
    dh = snapshot["period_minutes"] / 60
    con = {c["id"]: c for c in snapshot["contracts"]}
    ast = {a["id"]: a for a in snapshot["assets"]}
    req = {r["id"]: r for r in snapshot["requests"]}
    cp = (snapshot.get("rules") or {}).get("carbon_price", 0.0) or 0.0
    util = carbon = pen = 0.0
    for i in instructions:
        c = con[i["contract"]]
        util += i["mw"] * dh * c["utilisation_price"]
        carbon += i["mw"] * dh * cp * (ast[c["asset"]].get("emission_t_per_mwh") or 0.0)
    for (r, _t), mw in shortfall.items():
        pen += mw * dh * req[r]["shortfall_penalty"]
    return {"utilisation": util, "carbon": carbon, "shortfall_penalty": pen}


def serves(c: dict, r: dict, asset: dict) -> bool:
    return (c["mo"] == r["mo"] and c["product"] == r["product"]
            and c["direction"] == r["direction"] and r["zone"] in ("GB", asset["zone"]))


def check(snapshot: dict, result: dict, tol: float = TOL) -> list[str]:
    bad: list[str] = []
    T = len(snapshot["periods"])
    dh = snapshot["period_minutes"] / 60
    rules = snapshot.get("rules") or {}
    ast = {a["id"]: a for a in snapshot["assets"]}
    con = {c["id"]: c for c in snapshot["contracts"]}
    req = {r["id"]: r for r in snapshot["requests"]}
    cap = {(a, d): ast[a]["up_mw" if d == "up" else "down_mw"] for a in ast
           for d in ("up", "down")}
    avail = {(a, d, t): cap[(a, d)] for a in ast for d in ("up", "down") for t in range(T)}
    for v in snapshot.get("availability", []):
        for t in range(T):
            avail[(v["asset"], v["direction"], t)] = min(v["mw"][t], cap[(v["asset"],
                                                                           v["direction"])])
    F = defaultdict(float)        # (asset, dir, t)
    Fc = defaultdict(float)       # (contract, t)
    for f in snapshot.get("instructions", []):
        c = con[f["contract"]]
        F[(c["asset"], c["direction"], f["period"])] += f["mw"]
        Fc[(f["contract"], f["period"])] += f["mw"]

    Y = defaultdict(float)        # (contract, t) new MW
    y = defaultdict(float)        # (contract, request, t)
    seen = set()
    for i in result["instructions"]:
        k = (i["contract"], i["request"], i["period"])
        if k in seen:
            bad.append(f"instruction listed twice: {k}")
        seen.add(k)
        c, r, t = con.get(i["contract"]), req.get(i["request"]), i["period"]
        if c is None or r is None or not (0 <= t < T):
            bad.append(f"instruction with unknown contract, request or period: {i}")
            continue
        if i["asset"] != c["asset"]:
            bad.append(f"instruction {k}: asset {i['asset']} is not the contract's")
        if not serves(c, r, ast[c["asset"]]):
            bad.append(f"instruction {k}: the contract cannot serve the request")
        if not i["mw"] > 0:
            bad.append(f"instruction {k}: mw must be > 0")
        if not (c["mw"][t] > 0 and r["mw"][t] > 0):
            bad.append(f"rule 1: {k} called where the contract or the request is 0")
        y[k] += i["mw"]
        Y[(i["contract"], t)] += i["mw"]

    for (cid, t), v in Y.items():
        c = con[cid]
        a, d = c["asset"], c["direction"]
        if v > c["mw"][t] + tol:
            bad.append(f"rule 2: Y[{cid},{t}] = {v} above contract {c['mw'][t]}")
        U = min(c["mw"][t], avail[(a, d, t)] - F[(a, d, t)])
        if v > tol and v < min(c.get("min_mw") or 0.0, U) - tol:
            bad.append(f"rule 3: Y[{cid},{t}] = {v} below the minimum call")
    newad = defaultdict(float)
    for (cid, t), v in Y.items():
        c = con[cid]
        newad[(c["asset"], c["direction"], t)] += v
    for (a, d, t), v in newad.items():
        if v > tol and v + F[(a, d, t)] > max(avail[(a, d, t)], F[(a, d, t)]) + tol:
            bad.append(f"rule 4: asset {a} {d} period {t}: {v} + fixed {F[(a, d, t)]} above "
                       f"available {avail[(a, d, t)]}")
    # 5 and 6: what each asset carries per period, new and fixed
    carry = defaultdict(set)      # (asset, t) -> {(contract, new?)}
    for (cid, t), v in Y.items():
        if v > tol:
            carry[(con[cid]["asset"], t)].add((cid, True))
    for (cid, t), v in Fc.items():
        if v > 0:
            carry[(con[cid]["asset"], t)].add((cid, False))
    inc = {tuple(p) for p in rules.get("incompatible_products", [])}
    incompatible = inc | {(q, p) for p, q in inc}
    for (a, t), items in carry.items():
        for c1, new1 in items:
            if not new1:
                continue
            for c2, _new2 in items:
                if c1 == c2:
                    continue
                k1, k2 = con[c1], con[c2]
                if k1["direction"] != k2["direction"]:
                    bad.append(f"rule 5: asset {a} period {t}: {c1} and {c2} in both "
                               f"directions")
                if (k1["product"], k2["product"]) in incompatible:
                    bad.append(f"rule 6: asset {a} period {t}: {c1} and {c2} under "
                               f"incompatible products")
    for a, x in ast.items():
        e = x.get("energy_mwh")
        if e is None:
            continue
        new = sum(v for (aa, d, _t), v in newad.items() if aa == a and d == "up")
        fixed = sum(v for (aa, d, _t), v in F.items() if aa == a and d == "up")
        if new > tol and dh * (new + fixed) > max(e, dh * fixed) + tol:
            bad.append(f"rule 7: asset {a} delivers {dh * (new + fixed)} MWh up, energy {e}")
    if rules.get("zone_conflicts", True):
        for (cid, t), v in Y.items():
            if v <= tol:
                continue
            c = con[cid]
            z = ast[c["asset"]]["zone"]
            for r in snapshot["requests"]:
                if r["zone"] == z and r["zone"] != "GB" and r["direction"] != c["direction"] \
                        and r["mw"][t] > 0:
                    bad.append(f"rule 8: {cid} called {c['direction']} in period {t} against "
                               f"local request {r['id']}")
    for a, x in ast.items():
        m = x.get("max_run_periods")
        if m is None or m + 1 > T:
            continue
        on = [any(con[cid]["asset"] == a for cid, _n in carry.get((a, t), ())) for t in
              range(T)]
        newon = [any(n for _c, n in carry.get((a, t), ())) for t in range(T)]
        for j in range(T - m):
            if all(on[j:j + m + 1]) and any(newon[j:j + m + 1]):
                bad.append(f"rule 9: asset {a} runs periods {j}..{j + m} (max {m})")
    # 10: coverage and the shortfall list
    short = {}
    for s in result["shortfall"]:
        short[(s["request"], s["period"])] = s["mw"]
    for r in snapshot["requests"]:
        for t in range(T):
            s = short.get((r["id"], t), 0.0)
            if s < -tol or s > r["mw"][t] + tol:
                bad.append(f"rule 10: shortfall {s} of {r['id']} period {t} outside [0, mw]")
            if r["mw"][t] <= 0:
                continue
            got = sum(ast[con[cid]["asset"]].get("reliability", 1.0) * v
                      for (cid, rid, tt), v in y.items() if rid == r["id"] and tt == t)
            if got + s < r["mw"][t] - tol:
                bad.append(f"rule 10: {r['id']} period {t}: {got} + shortfall {s} < "
                           f"{r['mw'][t]}")
            if s > max(r["mw"][t] - got, 0.0) + tol:
                bad.append(f"shortfall of {r['id']} period {t} is {s}, more than left unserved")
    # objective and stages
    cost = cost_of(snapshot, result["instructions"], short)
    for k, v in cost.items():
        if not math.isclose(result["cost"][k], v, rel_tol=1e-6, abs_tol=1e-4):
            bad.append(f"cost {k} is {result['cost'][k]}, recomputed {v}")
    if not math.isclose(result["objective"], sum(cost.values()), rel_tol=1e-6, abs_tol=1e-4):
        bad.append(f"objective {result['objective']} != cost {sum(cost.values())}")
    levels = sorted({r["priority"] for r in snapshot["requests"]})
    got_stages = {s["priority"]: s["shortfall_mwh"] for s in result["stages"]}
    for lv in levels:
        want = dh * sum(mw for (rid, _t), mw in short.items() if req[rid]["priority"] == lv)
        if not math.isclose(got_stages.get(lv, -1), want, rel_tol=1e-6, abs_tol=1e-6):
            bad.append(f"stage {lv}: shortfall_mwh {got_stages.get(lv)} != {want}")
    # not_dispatched: exactly the serving pairs, positive together somewhere, never called
    called = {(c, r) for (c, r, _t) in y}
    want = set()
    for c in snapshot["contracts"]:
        for r in snapshot["requests"]:
            if serves(c, r, ast[c["asset"]]) and (c["id"], r["id"]) not in called and any(
                    c["mw"][t] > 0 and r["mw"][t] > 0 for t in range(T)):
                want.add((c["id"], r["id"]))
    got = {}
    for n in result["not_dispatched"]:
        got[(n["contract"], n["request"])] = n["reasons"]
        if not n["reasons"] or not set(n["reasons"]) <= CODES:
            bad.append(f"not_dispatched {n}: reasons must be one or more of the codes")
    if set(got) != want:
        bad.append(f"not_dispatched pairs differ: missing {sorted(want - set(got))}, "
                   f"extra {sorted(set(got) - want)}")
    if result.get("status") not in ("optimal", "feasible", "infeasible", "error"):
        bad.append(f"status {result.get('status')!r}")
    return bad


def stage_values(snapshot: dict, result: dict) -> list[float]:
    """(shortfall MWh per priority level, ascending, then the objective)."""
    return [s["shortfall_mwh"] for s in sorted(result["stages"], key=lambda s: s["priority"])] \
        + [result["objective"]]
