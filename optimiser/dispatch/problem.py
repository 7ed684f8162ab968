"""The dispatch problem as arrays, built apart from the model (model.py reads only these).

Everything the spec defines before any decision is computed here once, with numpy: which
contract can serve which request (`pairs`), the candidate calls `y[c,r,t]` (rule 1: both
positive in `t`), the declared availability capped at capability, the fixed instructions
per asset, direction, period and product, and `U[c,t]` of the minimum-call rule. The model
and the reasons both read these arrays, so they cannot disagree on what the snapshot says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..eligibility import zone_serves
from ..tolerances import MW_EPS
from .snapshot import Parsed

UP, DOWN = 0, 1


@dataclass
class Problem:
    snap: Parsed
    T: int
    dh: float
    products: list[str]
    # assets (A)
    a_zone: np.ndarray          # object (zone codes)
    a_cap: np.ndarray           # (A, 2) capability up, down
    a_emission: np.ndarray
    a_rel: np.ndarray
    a_energy: np.ndarray        # nan = no limit
    a_maxrun: np.ndarray        # -1 = no limit
    avail: np.ndarray           # (A, 2, T) declared MW capped at capability
    fixed: np.ndarray           # (A, 2, T) F[a,d,t]
    fixed_on: np.ndarray        # (A, T) bool: a fixed instruction of any direction
    fixed_prod: np.ndarray      # (A, T, P) bool: a fixed instruction under product p
    fixed_c: np.ndarray         # (C, T) fixed MW per contract
    # contracts (C)
    c_asset: np.ndarray
    c_dir: np.ndarray
    c_prod: np.ndarray
    c_mw: np.ndarray            # (C, T)
    c_min: np.ndarray
    c_unit: np.ndarray          # GBP per MW per period: dh * (price + carbon * emission)
    c_U: np.ndarray             # (C, T) U[c,t] = min(c.mw, avail - F), >= 0
    # requests (R)
    r_dir: np.ndarray
    r_prod: np.ndarray
    r_zone: np.ndarray
    r_prio: np.ndarray
    r_mw: np.ndarray            # (R, T)
    r_pen: np.ndarray
    # contract-request pairs that can serve (same mo, product, direction; zone)
    p_c: np.ndarray
    p_r: np.ndarray
    p_pos: np.ndarray           # bool: both positive in some period
    # candidate calls y (rule 1)
    y_p: np.ndarray
    y_c: np.ndarray
    y_r: np.ndarray
    y_t: np.ndarray
    # shortfall columns s: request-periods with mw > 0
    s_r: np.ndarray
    s_t: np.ndarray
    s_mw: np.ndarray
    # zone conflict per asset-direction-period (rule 8)
    zone_block: np.ndarray      # (A, 2, T) bool

    @property
    def A(self) -> int:
        return len(self.a_zone)

    @property
    def C(self) -> int:
        return len(self.c_asset)

    @property
    def R(self) -> int:
        return len(self.r_dir)


def prepare(snap: Parsed) -> Problem:
    T, dh = snap.T, snap.dh
    assets, contracts, requests = snap.assets, snap.contracts, snap.requests
    A, C, R = len(assets), len(contracts), len(requests)
    aidx = {a["id"]: i for i, a in enumerate(assets)}
    cidx = {c["id"]: i for i, c in enumerate(contracts)}
    products = sorted({c["product"] for c in contracts} | {r["product"] for r in requests}
                      | {p for pr in snap.incompatible for p in pr})
    pidx = {p: i for i, p in enumerate(products)}
    P = len(products)

    a_zone = np.array([a["zone"] for a in assets], dtype=object)
    a_cap = np.array([[a["up_mw"], a["down_mw"]] for a in assets], float).reshape(A, 2)
    a_em = np.array([a["emission_t_per_mwh"] for a in assets], float)
    a_rel = np.array([a["reliability"] for a in assets], float)
    a_energy = np.array([np.nan if a["energy_mwh"] is None else a["energy_mwh"]
                         for a in assets], float)
    a_maxrun = np.array([-1 if a["max_run_periods"] is None else a["max_run_periods"]
                         for a in assets], np.int64)
    avail = np.repeat(a_cap[:, :, None], T, axis=2)
    for v in snap.availability:
        a, d = aidx[v["asset"]], DIRS[v["direction"]]
        avail[a, d] = np.minimum(np.asarray(v["mw"], float), a_cap[a, d])

    c_asset = np.array([aidx[c["asset"]] for c in contracts], np.int64)
    c_dir = np.array([DIRS[c["direction"]] for c in contracts], np.int64)
    c_prod = np.array([pidx[c["product"]] for c in contracts], np.int64)
    c_mw = np.array([c["mw"] for c in contracts], float).reshape(C, T)
    c_min = np.array([c["min_mw"] for c in contracts], float)
    c_price = np.array([c["utilisation_price"] for c in contracts], float)
    c_unit = dh * (c_price + snap.carbon_price * a_em[c_asset]) if C else np.zeros(0)

    fixed = np.zeros((A, 2, T))
    fixed_c = np.zeros((C, T))
    fixed_prod = np.zeros((A, T, P), dtype=bool)
    for f in snap.instructions:
        k = cidx[f["contract"]]
        fixed_c[k, f["period"]] += f["mw"]
    fk, ft = np.nonzero(fixed_c > 0)
    np.add.at(fixed, (c_asset[fk], c_dir[fk], ft), fixed_c[fk, ft])
    fixed_prod[c_asset[fk], ft, c_prod[fk]] = True
    fixed_on = fixed.sum(axis=1) > 0
    head = np.maximum(avail - fixed, 0.0)
    c_U = np.minimum(c_mw, head[c_asset, c_dir]) if C else np.zeros((0, T))

    r_dir = np.array([DIRS[r["direction"]] for r in requests], np.int64)
    r_prod = np.array([pidx[r["product"]] for r in requests], np.int64)
    r_zone = np.array([r["zone"] for r in requests], dtype=object)
    r_prio = np.array([r["priority"] for r in requests], np.int64)
    r_mw = np.array([r["mw"] for r in requests], float).reshape(R, T)
    r_pen = np.array([r["shortfall_penalty"] for r in requests], float)

    # pairs: grouped by (mo, product, direction), then the zone rule
    by_key: dict[tuple, list[int]] = {}
    for k, c in enumerate(contracts):
        by_key.setdefault((c["mo"], c["product"], c["direction"]), []).append(k)
    pc, pr = [], []
    for j, r in enumerate(requests):
        ks = by_key.get((r["mo"], r["product"], r["direction"]))
        if not ks:
            continue
        ks = np.asarray(ks, np.int64)
        ok = zone_serves(r["zone"], a_zone[c_asset[ks]])
        ks = ks[np.asarray(ok, bool)]
        pc.append(ks)
        pr.append(np.full(len(ks), j, np.int64))
    p_c = np.concatenate(pc) if pc else np.zeros(0, np.int64)
    p_r = np.concatenate(pr) if pr else np.zeros(0, np.int64)
    both = (c_mw[p_c] > 0) & (r_mw[p_r] > 0)            # (npairs, T)
    p_pos = both.any(axis=1)
    y_p, y_t = np.nonzero(both)
    s_r, s_t = np.nonzero(r_mw > 0)

    # rule 8: a local request in zone Z, direction d, blocks new calls of assets in Z in the
    # opposite direction
    zone_block = np.zeros((A, 2, T), dtype=bool)
    if snap.zone_conflicts and R and A:
        local = r_zone != "GB"
        zones = {z: np.flatnonzero(a_zone == z) for z in set(r_zone[local].tolist())}
        for j in np.flatnonzero(local):
            on = r_mw[j] > 0
            ai = zones[r_zone[j]]
            if len(ai):
                zone_block[np.ix_(ai, [1 - r_dir[j]], np.flatnonzero(on))] = True
    return Problem(
        snap=snap, T=T, dh=dh, products=products, a_zone=a_zone, a_cap=a_cap, a_emission=a_em,
        a_rel=a_rel, a_energy=a_energy, a_maxrun=a_maxrun, avail=avail, fixed=fixed,
        fixed_on=fixed_on, fixed_prod=fixed_prod, fixed_c=fixed_c, c_asset=c_asset,
        c_dir=c_dir, c_prod=c_prod, c_mw=c_mw, c_min=c_min, c_unit=c_unit, c_U=c_U,
        r_dir=r_dir, r_prod=r_prod, r_zone=r_zone, r_prio=r_prio, r_mw=r_mw, r_pen=r_pen,
        p_c=p_c, p_r=p_r, p_pos=p_pos, y_p=y_p, y_c=p_c[y_p], y_r=p_r[y_p], y_t=y_t,
        s_r=s_r, s_t=s_t, s_mw=r_mw[s_r, s_t], zone_block=zone_block)


DIRS = {"up": UP, "down": DOWN}


def incompatible_pairs(prob: Problem) -> tuple[list[tuple[int, int]], set[int]]:
    """Different-product pairs (as product indexes, p < q) and self-incompatible products."""
    pidx = {p: i for i, p in enumerate(prob.products)}
    pairs, same = set(), set()
    for p, q in prob.snap.incompatible:
        i, j = pidx[p], pidx[q]
        if i == j:
            same.add(i)
        else:
            pairs.add((min(i, j), max(i, j)))
    return sorted(pairs), same


def blocked(prob: Problem) -> dict[str, np.ndarray]:
    """Per rule, the candidate calls it forbids outright, whatever else is dispatched.

    These are the rules' consequences of the snapshot alone (a zone conflict, a fixed
    instruction in the other direction or of an incompatible product, energy or run length
    already used up by fixed instructions, no availability left): the model leaves such
    calls out rather than carrying a column held at 0. Keys are the rule families of
    model.py, so leaving a family out of the model also drops its restriction.
    """
    T = prob.T
    a, d, t, c = prob.c_asset[prob.y_c], prob.c_dir[prob.y_c], prob.y_t, prob.y_c
    out = {
        "availability": prob.c_U[c, t] <= MW_EPS,
        "zone_conflicts": prob.zone_block[a, d, t],
        "direction": prob.fixed[a, 1 - d, t] > 0,
    }
    pairs, same = incompatible_pairs(prob)
    stack = np.zeros(len(c), dtype=bool)
    p = prob.c_prod[c]
    for i, j in pairs:
        stack |= (p == i) & prob.fixed_prod[a, t, j]
        stack |= (p == j) & prob.fixed_prod[a, t, i]
    if same:
        # contracts of a self-incompatible product fixed at (a, t), other than c itself
        P = len(prob.products)
        n_fixed = np.zeros((prob.A, T, P))
        fk, ft = np.nonzero(prob.fixed_c > 0)
        np.add.at(n_fixed, (prob.c_asset[fk], ft, prob.c_prod[fk]), 1.0)
        own = (prob.fixed_c[c, t] > 0).astype(float)
        stack |= np.isin(p, list(same)) & (n_fixed[a, t, p] - own > 0)
    out["stacking"] = stack
    energy = np.zeros(len(c), dtype=bool)
    if prob.A:
        left = prob.a_energy - prob.dh * prob.fixed[:, UP, :].sum(axis=1)  # nan: no limit
        energy = (d == UP) & (left[a] <= MW_EPS * prob.dh)
    out["energy"] = energy
    run = np.zeros(len(c), dtype=bool)
    m = prob.a_maxrun
    limited = np.flatnonzero(m >= 1)
    if len(limited):
        # adding a period to an asset is refused when a window of m+1 containing it already
        # has m fixed periods (and the period itself has none)
        blocked_at = np.zeros((prob.A, T), dtype=bool)
        for ai in limited.tolist():
            mm = int(m[ai])
            on = prob.fixed_on[ai].astype(np.int64)
            if mm + 1 > T or not on.any():
                continue
            cs = np.concatenate([[0], np.cumsum(on)])
            full = (cs[mm + 1:] - cs[:-mm - 1]) >= mm     # window starting at j: j..j+m
            for j in np.flatnonzero(full).tolist():
                blocked_at[ai, j:j + mm + 1] = True
            blocked_at[ai] &= ~prob.fixed_on[ai]
        run = blocked_at[a, t]
    out["run_length"] = run
    return out
