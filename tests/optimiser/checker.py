"""Independent feasibility checker: a result verified against its snapshot, from the JSON.

Written from the spec (market-snapshot-v1), not from the optimiser's code: every constraint
and the objective are recomputed from the awards. Returns a list of violations (empty = ok).
"""

from __future__ import annotations

from collections import defaultdict

TOL = 1e-5


def _close(a: float, b: float, tol: float = TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check(snapshot: dict, result: dict, tol: float = TOL) -> list[str]:
    bad: list[str] = []
    if result["status"] not in ("optimal", "feasible"):
        return bad if result["status"] in ("infeasible", "error") else ["unknown status"]
    T = len(snapshot["periods"])
    dh = snapshot["period_minutes"] / 60
    rules = snapshot.get("rules", {})
    carbon = rules.get("carbon_price", 0.0)
    incompatible = {frozenset(p) if p[0] != p[1] else frozenset([p[0]])
                    for p in rules.get("incompatible_products", [])}
    assets = {a["id"]: a for a in snapshot["assets"]}
    needs = {n["id"]: n for n in snapshot["needs"]}
    bids = {b["id"]: b for b in snapshot["bids"]}

    def eligible(b):
        n, a = needs.get(b["need"]), assets.get(b["asset"])
        if n is None or a is None:
            return False
        if n["zone"] != "GB" and a["zone"] != n["zone"]:
            return False
        if a[f"{n['direction']}_mw"] <= 0:
            return False
        cap_a = n.get("max_availability_price")
        cap_u = n.get("utilisation_price_cap")
        if cap_a is not None and b["availability_price"] > cap_a:
            return False
        return not (cap_u is not None and b.get("utilisation_price", 0) > cap_u)

    x: dict[tuple[str, int], float] = {}
    for aw in result["awards"]:
        b = bids.get(aw["bid"])
        t = aw["period"]
        if b is None or not (0 <= t < T):
            bad.append(f"award {aw} names an unknown bid or period")
            continue
        if (aw["bid"], t) in x:
            bad.append(f"duplicate award {aw['bid']} {t}")
        if aw["mw"] <= 0:
            bad.append(f"award {aw} with mw <= 0")
        x[(aw["bid"], t)] = aw["mw"]
        if not eligible(b):
            bad.append(f"award to ineligible bid {b['id']}")
            continue
        n, a = needs[b["need"]], assets[b["asset"]]
        if b["mw"][t] <= 0 or n["mw"][t] <= 0 or t in a.get("unavailable_periods", []):
            bad.append(f"award {b['id']}@{t} in a period it cannot serve")
        ub = min(b["mw"][t], a[f"{n['direction']}_mw"])
        if aw["mw"] > ub + tol:                                              # 1
            bad.append(f"award {b['id']}@{t} {aw['mw']} above bound {ub}")
        if aw["mw"] < min(b.get("min_mw", 0), ub) - tol:                    # 2
            bad.append(f"award {b['id']}@{t} {aw['mw']} below min_mw")
    awarded = {bid for bid, _ in x}
    for bid in awarded:                                                      # 3
        b = bids[bid]
        if b.get("all_or_nothing"):
            n, a = needs[b["need"]], assets[b["asset"]]
            for t in range(T):
                if b["mw"][t] > 0 and n["mw"][t] > 0:
                    ub = min(b["mw"][t], a[f"{n['direction']}_mw"])
                    if not _close(x.get((bid, t), 0.0), ub, tol):
                        bad.append(f"all-or-nothing bid {bid} not at its bound in {t}")
    groups = defaultdict(set)                                                # 4
    for bid in awarded:
        g = bids[bid].get("exclusive_group")
        if g is not None:
            groups[g].add(bid)
    for g, members in groups.items():
        if len(members) > 1:
            bad.append(f"exclusive group {g} has {sorted(members)} awarded")

    cover = defaultdict(float)
    use = defaultdict(float)
    prods = defaultdict(set)
    for (bid, t), mw in x.items():
        b = bids[bid]
        n, a = needs[b["need"]], assets[b["asset"]]
        cover[(n["id"], t)] += a.get("reliability", 1.0) * mw
        use[(a["id"], t, n["direction"])] += mw
        prods[(a["id"], t)].add((n["product"], bid))
    unmet_rep = {(u["need"], u["period"]): u["mw"] for u in result["unmet"]}
    unmet = {}
    for n in snapshot["needs"]:                                             # 5
        for t in range(T):
            if n["mw"][t] > 0:
                u = unmet_rep.get((n["id"], t), 0.0)
                if u < -tol or u > n["mw"][t] + tol:
                    bad.append(f"unmet {n['id']}@{t} out of [0, mw]")
                if cover[(n["id"], t)] + u < n["mw"][t] - tol:
                    bad.append(f"coverage {n['id']}@{t}: {cover[(n['id'], t)]} + {u} "
                               f"< {n['mw'][t]}")
                unmet[(n["id"], t)] = u
            elif (n["id"], t) in unmet_rep:
                bad.append(f"unmet reported for {n['id']}@{t} with no need")
    for (aid, t, d), mw in use.items():                                     # 6
        if mw > assets[aid][f"{d}_mw"] + tol:
            bad.append(f"capacity {aid}@{t} {d}: {mw} > {assets[aid][d + '_mw']}")
        if d == "up" and use.get((aid, t, "down"), 0) > 0:                  # 7
            bad.append(f"direction: {aid}@{t} awarded up and down")
    for (aid, t), ps in prods.items():                                      # 8
        items = sorted(ps)
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                p, q = items[i][0], items[j][0]
                if frozenset([p, q]) in incompatible:
                    bad.append(f"stacking: {aid}@{t} awarded {p} and {q}")

    # objective recomputed
    cost = {"availability": 0.0, "utilisation_expected": 0.0, "carbon": 0.0,
            "unmet_penalty": 0.0}
    for (bid, _t), mw in x.items():
        b = bids[bid]
        n, a = needs[b["need"]], assets[b["asset"]]
        eu = n.get("expected_utilisation", 0.0)
        cost["availability"] += mw * dh * b["availability_price"]
        cost["utilisation_expected"] += mw * dh * eu * b.get("utilisation_price", 0.0)
        cost["carbon"] += mw * dh * carbon * a.get("emission_t_per_mwh", 0.0) * eu
    for (nid, _t), u in unmet.items():
        cost["unmet_penalty"] += u * dh * needs[nid]["unmet_penalty"]
    for k, v in cost.items():
        if not _close(v, result["cost"][k], 1e-6):
            bad.append(f"cost {k}: recomputed {v}, reported {result['cost'][k]}")
    if not _close(sum(cost.values()), result["objective"], 1e-6):
        bad.append(f"objective: recomputed {sum(cost.values())}, reported {result['objective']}")

    # rejected = exactly the bids with no award
    rejected = {r["bid"] for r in result["rejected"]}
    if rejected & awarded:
        bad.append(f"awarded bids listed as rejected: {sorted(rejected & awarded)}")
    missing = set(bids) - awarded - rejected
    if missing:
        bad.append(f"bids neither awarded nor rejected: {sorted(missing)}")
    for r in result["rejected"]:
        if not r["reasons"]:
            bad.append(f"rejected bid {r['bid']} without reasons")

    # prices and award prices
    top = defaultdict(float)
    for (bid, t), _ in x.items():
        b = bids[bid]
        key = (b["need"], t)
        top[key] = max(top.get(key, float("-inf")), b["availability_price"])
    rows = {(p["need"], p["period"]): p for p in result["prices"]}
    if set(rows) != set(top):
        bad.append("prices rows are not exactly the need-periods with awards")
    for k, v in top.items():
        if k in rows and not _close(rows[k]["clearing_price"], v, 1e-9):
            bad.append(f"clearing price {k}: {rows[k]['clearing_price']} != {v}")
    pac = rules.get("pricing", "pay_as_bid") == "pay_as_clear"
    for aw in result["awards"]:
        b = bids[aw["bid"]]
        want = top[(b["need"], aw["period"])] if pac else b["availability_price"]
        if not _close(aw["price"], want, 1e-9):
            bad.append(f"award price {aw}: expected {want}")
    # stages
    prio = defaultdict(float)
    for (nid, _t), u in unmet.items():
        prio[needs[nid]["priority"]] += u * dh
    for s in result["stages"]:
        if not _close(s["unmet_mwh"], prio.get(s["priority"], 0.0), 1e-6):
            bad.append(f"stage {s['priority']}: {s['unmet_mwh']} != {prio[s['priority']]}")
    return bad
