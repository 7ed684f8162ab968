"""The dispatch MILP, one `define_<family>` function per rule of dispatch-snapshot-v1.

Rows and columns are built as numpy triplets (no Python loop per element) into a `Model`
whose row families are named; `Model.row_name(i)` spells a row as `family[key]`. The
families follow the spec's numbering; each docstring carries its formula. Notation: `y`
calls, `s` shortfall, `Y[c,t] = sum_r y[c,r,t]`, `U[c,t] = min(c.mw[t], avail - F)`.

Calls that a rule forbids from the snapshot alone are not built at all (`problem.blocked`),
so a family may act by removing columns as well as by rows. `FAMILIES` is the order of
construction; a test can build the model without one family to show the rule matters.

Binaries are created only where a rule can bind: an on/off per contract-period only with a
positive minimum call (or a self-incompatible product), a direction choice only where an
asset has calls possible in both directions in one period, and so on. The comparator in
`monolithic.py` builds the same model without these reductions.
"""

from __future__ import annotations

import numpy as np

from ..tolerances import MW_EPS, NUM_EPS
from .builder import Builder, Model, group
from .problem import DOWN, UP, Problem, incompatible_pairs

INF = np.inf


# --------------------------------------------------------------------------- families


def define_calls(b: Builder) -> None:
    """Rule 1: `0 <= y[c,r,t] <= c.mw[t]`, a column only where `c` can serve `r` and
    `c.mw[t] > 0` and `r.mw[t] > 0` (elsewhere `y = 0`). Cost per column:
    `dh * (c.utilisation_price + carbon_price * emission_t_per_mwh)`."""
    p = b.prob
    yc, yt = p.y_c[b.y_cand], p.y_t[b.y_cand]
    b.add_cols("y", np.zeros(len(yc)), p.c_mw[yc, yt], p.c_unit[yc], False)


def define_coverage(b: Builder) -> None:
    """Rule 10: `sum_c reliability(a) * y[c,r,t] + s[r,t] >= r.mw[t]`, `0 <= s[r,t] <=
    r.mw[t]`, cost `dh * shortfall_penalty` per MW of s.  Rows `coverage[r,t]`."""
    p = b.prob
    ns = len(p.s_r)
    s0 = b.add_cols("s", np.zeros(ns), p.s_mw, p.dh * p.r_pen[p.s_r], False)
    spos = np.full((p.R, p.T), -1, np.int64)
    spos[p.s_r, p.s_t] = np.arange(ns)
    yc, yr, yt = p.y_c[b.y_cand], p.y_r[b.y_cand], p.y_t[b.y_cand]
    rel = p.a_rel[p.c_asset[yc]]
    reqs = p.snap.requests
    b.add_rows("coverage", p.s_mw, INF,
               [(spos[yr, yt], b.y0 + np.arange(len(yc)), rel),
                (np.arange(ns), s0 + np.arange(ns), 1.0)],
               lambda i: f"{reqs[p.s_r[i]]['id']},{p.s_t[i]}")


def define_contract_bound(b: Builder) -> None:
    """Rule 2: `Y[c,t] <= c.mw[t]`.  Rows `contract_bound[c,t]` where `c` has calls for two
    or more requests in `t` (one call is bounded by its column bound); not where the
    minimum-call rows already bound `Y[c,t] <= U[c,t] * on[c,t]`, with `U <= c.mw`."""
    p = b.prob
    cnt = np.bincount(b.y_ct, minlength=len(b.ct_key))
    rows = np.flatnonzero((cnt >= 2) & (b.ct_on < 0))
    lr, yc = b.ct_sum(rows)
    con = p.snap.contracts
    b.add_rows("contract_bound", np.full(len(rows), -INF), p.c_mw[b.ct_c[rows], b.ct_t[rows]],
               [(lr, yc, 1.0)], lambda i: f"{con[b.ct_c[rows[i]]]['id']},{b.ct_t[rows[i]]}")


def define_minimum_call(b: Builder) -> None:
    """Rule 3: with a binary `on[c,t]` and `m = min(c.min_mw, U[c,t]) > 0`:
    `Y[c,t] <= U[c,t] * on[c,t]` and `Y[c,t] >= m * on[c,t]`.  Rows `min_call_on[c,t]`,
    `min_call[c,t]`.  (`Y <= U` holds anyway by rule 4; the binary makes `Y` either 0 or at
    least `m`.)"""
    p = b.prob
    m = np.minimum(p.c_min[b.ct_c], b.ct_U)
    rows = np.flatnonzero(m > MW_EPS)
    _on_binaries(b, rows)
    lr, yc = b.ct_sum(rows)
    on = b.ct_on[rows]
    con = p.snap.contracts
    def key(i):
        return (f"{con[b.ct_c[rows[i]]]['id']},{b.ct_t[rows[i]]}")
    n = len(rows)
    b.add_rows("min_call_on", np.full(n, -INF), 0.0,
               [(lr, yc, 1.0), (np.arange(n), on, -b.ct_U[rows])], key)
    b.add_rows("min_call", np.zeros(n), INF, [(lr, yc, 1.0), (np.arange(n), on, -m[rows])], key)


def _on_binaries(b: Builder, rows: np.ndarray, block: str = "on") -> None:
    new = rows[b.ct_on[rows] < 0]
    first = b.add_cols(block, np.zeros(len(new)), 1.0, 0.0, True)
    b.ct_on[new] = first + np.arange(len(new))


def define_availability(b: Builder) -> None:
    """Rule 4: `sum_{c of a, d} Y[c,t] + F[a,d,t] <= avail(a,d,t)`.  Column bounds carry
    `y <= U[c,t] = min(c.mw[t], avail - F)` (calls with `U = 0` are not built); rows
    `availability[a,d,t]` where the calls' bounds could sum above `avail - F`.  A snapshot
    whose fixed instructions already exceed the declaration leaves no room (`U = 0`)."""
    p = b.prob
    y = b.blocks["y"]
    yc, yt = p.y_c[b.y_cand], p.y_t[b.y_cand]
    ub = b.cols[0][1]  # the y block, built first
    ub[:] = np.minimum(p.c_mw[yc, yt], p.c_U[yc, yt])
    a, d = p.c_asset[yc], p.c_dir[yc]
    key = (a * 2 + d) * p.T + yt
    uk, inv, _ = group(key)
    sum_ub = np.bincount(inv, weights=ub, minlength=len(uk))
    ka, kd, kt = (uk // p.T) // 2, (uk // p.T) % 2, uk % p.T
    head = np.maximum(p.avail[ka, kd, kt] - p.fixed[ka, kd, kt], 0.0)
    need = sum_ub > head + NUM_EPS
    rows = np.full(len(uk), -1, np.int64)
    rows[need] = np.arange(int(need.sum()))
    sel = np.flatnonzero(rows[inv] >= 0)
    ids = [a_["id"] for a_ in p.snap.assets]
    nr = np.flatnonzero(need)
    b.add_rows("availability", np.full(len(nr), -INF), head[nr],
               [(rows[inv[sel]], y.start + sel, 1.0)],
               lambda i: f"{ids[ka[nr[i]]]},{DIRN[kd[nr[i]]]},{kt[nr[i]]}")


DIRN = ("up", "down")


def define_direction(b: Builder) -> None:
    """Rule 5: no asset in both directions in one period.  Calls against a fixed
    instruction in the other direction are not built; where calls are possible in both
    directions, a binary `w[a,t]` (1 = up) and per contract-period
    `Y[c,t] <= U[c,t] * w[a,t]` (up), `Y[c,t] <= U[c,t] * (1 - w[a,t])` (down), through
    `on[c,t]` where it exists.  Rows `direction[c,t]`."""
    p = b.prob
    T = p.T
    a, d = p.c_asset[b.ct_c], p.c_dir[b.ct_c]
    at = a * T + b.ct_t
    uat, _inv, _ = group(at * 2 + d)
    both_keys = np.intersect1d(uat[uat % 2 == 0] // 2, uat[uat % 2 == 1] // 2)
    if not len(both_keys):
        return
    w0 = b.add_cols("w", np.zeros(len(both_keys)), 1.0, 0.0, True)
    pos = np.searchsorted(both_keys, at)
    pos = np.minimum(pos, len(both_keys) - 1)
    hit = both_keys[pos] == at
    rows = np.flatnonzero(hit)
    con = p.snap.contracts
    b.link("direction", rows, w0 + pos[rows], d[rows] == UP,
           lambda i: f"{con[b.ct_c[rows[i]]]['id']},{b.ct_t[rows[i]]}")


def define_stacking(b: Builder) -> None:
    """Rule 6: no asset under two incompatible products in one period.  Calls against a
    fixed instruction of an incompatible product are not built.  For a pair `p != q`: a
    binary `g[a,t,p]` per product where calls of both are possible, `Y[c,t] <= U[c,t] *
    g[a,t,product(c)]` (rows `stacking[c,t]`) and `g[a,t,p] + g[a,t,q] <= 1` (rows
    `stacking_pair[a,t,p,q]`).  For a product incompatible with itself: at most one
    contract of it per asset-period, `sum_c on[c,t] <= 1` (rows `stacking_same[a,t,p]`)."""
    p = b.prob
    pairs, same = incompatible_pairs(p)
    if not len(b.ct_key) or not (pairs or same):
        return
    T, P = p.T, len(p.products)
    a, prod = p.c_asset[b.ct_c], p.c_prod[b.ct_c]
    at = a * T + b.ct_t
    atp = at * P + prod
    ukp = np.unique(atp)
    gkeys, pair_rows = [], []
    for i, j in pairs:
        ki = ukp[ukp % P == i] // P
        kj = ukp[ukp % P == j] // P
        common = np.intersect1d(ki, kj)
        if len(common):
            gkeys += [common * P + i, common * P + j]
            pair_rows.append((common, i, j))
    ids = [x["id"] for x in p.snap.assets]
    con = p.snap.contracts
    if gkeys:
        gk = np.unique(np.concatenate(gkeys))
        g0 = b.add_cols("g", np.zeros(len(gk)), 1.0, 0.0, True)
        pos = np.minimum(np.searchsorted(gk, atp), len(gk) - 1)
        rows = np.flatnonzero(gk[pos] == atp)
        b.link("stacking", rows, g0 + pos[rows], np.ones(len(rows), bool),
               lambda k: f"{con[b.ct_c[rows[k]]]['id']},{b.ct_t[rows[k]]}")
        for common, i, j in pair_rows:
            n = len(common)
            b.add_rows("stacking_pair", np.full(n, -INF), 1.0,
                       [(np.arange(n), g0 + np.searchsorted(gk, common * P + i), 1.0),
                        (np.arange(n), g0 + np.searchsorted(gk, common * P + j), 1.0)],
                       lambda k, common=common, i=i, j=j:
                       f"{ids[common[k] // T]},{common[k] % T},{p.products[i]},"
                       f"{p.products[j]}")
    if same:
        sel = np.flatnonzero(np.isin(prod, list(same)))
        _uk, inv, cnt = group(atp[sel])
        multi = sel[cnt[inv] >= 2]
        if len(multi):
            _on_binaries(b, multi, "k")
            uk2, inv2, _ = group(atp[multi])
            b.add_rows("stacking_same", np.full(len(uk2), -INF), 1.0,
                       [(inv2, b.ct_on[multi], 1.0)],
                       lambda k: f"{ids[uk2[k] // P // T]},{uk2[k] // P % T},"
                                 f"{p.products[uk2[k] % P]}")
            # an on binary created here must bound its calls: Y <= U * on
            fresh = multi[~np.isin(multi, _min_rows(b))]
            lr, yc = b.ct_sum(fresh)
            n = len(fresh)
            b.add_rows("stacking_on", np.full(n, -INF), 0.0,
                       [(lr, yc, 1.0), (np.arange(n), b.ct_on[fresh], -b.ct_U[fresh])],
                       lambda k: f"{con[b.ct_c[fresh[k]]]['id']},{b.ct_t[fresh[k]]}")


def _min_rows(b: Builder) -> np.ndarray:
    m = np.minimum(b.prob.c_min[b.ct_c], b.ct_U)
    return np.flatnonzero(m > MW_EPS) if "minimum_call" in b.families_on else np.zeros(0, int)


def define_energy(b: Builder) -> None:
    """Rule 7: for an asset with `energy_mwh`: `dh * sum_{c up of a, t} Y[c,t] <=
    energy_mwh - dh * sum_t F[a,up,t]`.  Rows `energy[a]` where the calls could exceed it;
    up calls are not built when fixed instructions already use it all."""
    p = b.prob
    yc = p.y_c[b.y_cand]
    a = p.c_asset[yc]
    sel = np.flatnonzero((p.c_dir[yc] == UP) & ~np.isnan(p.a_energy[a]))
    if not len(sel):
        return
    ub = b.cols[0][1]
    ua, inv, _ = group(a[sel])
    left = p.a_energy[ua] - p.dh * p.fixed[ua, UP, :].sum(axis=1)
    most = p.dh * np.bincount(inv, weights=ub[sel], minlength=len(ua))
    need = most > left + NUM_EPS
    rows = np.full(len(ua), -1, np.int64)
    rows[need] = np.arange(int(need.sum()))
    k = np.flatnonzero(rows[inv] >= 0)
    nr = np.flatnonzero(need)
    ids = [x["id"] for x in p.snap.assets]
    b.add_rows("energy", np.full(len(nr), -INF), np.maximum(left[nr], 0.0),
               [(rows[inv[k]], b.y0 + sel[k], p.dh)], lambda i: ids[ua[nr[i]]])


def define_zone_conflicts(b: Builder) -> None:
    """Rule 8 (when `zone_conflicts`): `y[c,r,t] = 0` for an asset in zone `Z`, direction
    `d`, in a period where a request of zone `Z` (not GB) and the opposite direction has
    `mw[t] > 0`.  Decided from the snapshot alone: such calls are not built
    (`problem.blocked`), no rows."""


def define_run_length(b: Builder) -> None:
    """Rule 9: for an asset with `max_run_periods = m`: a binary `v[a,t]` (the asset
    carries an instruction in t; 1 where a fixed one is), `Y[c,t] <= U[c,t] * v[a,t]` (rows
    `run_on[c,t]`) and for every window `W` of `m + 1` consecutive periods
    `sum_{t in W} v[a,t] <= m` (rows `run_length[a,first period]`, fixed periods moved to
    the right-hand side).  Calls that would break a window by fixed instructions alone
    are not built."""
    p = b.prob
    T = p.T
    a = p.c_asset[b.ct_c]
    m = p.a_maxrun[a]
    sel = np.flatnonzero((m >= 1) & (m + 1 <= T) & ~p.fixed_on[a, b.ct_t])
    if not len(sel):
        return
    # windows first: a binary v only for periods in a window that can break the rule
    cand = np.unique(a[sel] * T + b.ct_t[sel])
    ca, ct = cand // T, cand % T
    windows: list[tuple[int, np.ndarray, np.ndarray]] = []   # (asset, starts, right sides)
    for ai in np.unique(ca).tolist():
        mm = int(p.a_maxrun[ai])
        has = np.zeros(T, np.int64)
        has[ct[ca == ai]] = 1
        fx = p.fixed_on[ai].astype(np.int64)
        cs_v = np.concatenate([[0], np.cumsum(has)])
        cs_f = np.concatenate([[0], np.cumsum(fx)])
        j = np.arange(T - mm)
        nv = cs_v[j + mm + 1] - cs_v[j]
        nf = cs_f[j + mm + 1] - cs_f[j]
        need = (nv > 0) & (nv + nf > mm)
        if need.any():
            windows.append((ai, j[need], np.maximum(mm - nf[need], 0)))
    if not windows:
        return
    used = []
    for ai, starts, _ in windows:
        mm = int(p.a_maxrun[ai])
        ts = np.unique((starts[:, None] + np.arange(mm + 1)[None, :]).ravel())
        used.append(ai * T + ts)
    vkeys = np.intersect1d(cand, np.concatenate(used))
    v0 = b.add_cols("v", np.zeros(len(vkeys)), 1.0, 0.0, True)
    at = a[sel] * T + b.ct_t[sel]
    pos = np.minimum(np.searchsorted(vkeys, at), len(vkeys) - 1)
    link = np.flatnonzero(vkeys[pos] == at)
    rows = sel[link]
    con = p.snap.contracts
    b.link("run_on", rows, v0 + pos[link], np.ones(len(rows), bool),
           lambda k: f"{con[b.ct_c[rows[k]]]['id']},{b.ct_t[rows[k]]}")
    ids = [x["id"] for x in p.snap.assets]
    for ai, starts, rhs in windows:
        mm = int(p.a_maxrun[ai])
        win = starts[:, None] + np.arange(mm + 1)[None, :]
        key = ai * T + win
        kp = np.minimum(np.searchsorted(vkeys, key), len(vkeys) - 1)
        ok = vkeys[kp] == key
        lr = np.repeat(np.arange(len(starts)), mm + 1).reshape(win.shape)
        b.add_rows("run_length", np.full(len(starts), -INF), rhs,
                   [(lr[ok], v0 + kp[ok], 1.0)],
                   lambda k, ai=ai, starts=starts: f"{ids[ai]},{starts[k]}")


FAMILIES: tuple[str, ...] = (
    "calls", "zone_conflicts", "availability", "minimum_call", "contract_bound", "direction",
    "stacking", "energy", "run_length", "coverage")

DEFINE = {
    "calls": define_calls, "coverage": define_coverage, "contract_bound": define_contract_bound,
    "minimum_call": define_minimum_call, "availability": define_availability,
    "direction": define_direction, "stacking": define_stacking, "energy": define_energy,
    "zone_conflicts": define_zone_conflicts, "run_length": define_run_length,
}


def build(prob: Problem, families: tuple[str, ...] = FAMILIES) -> Model:
    """The model of `prob` with the given rule families (all of them by default)."""
    b = Builder(prob, families)
    for name in FAMILIES:
        if name in families or name in ("calls", "coverage"):
            DEFINE[name](b)
    mm = b.finish()
    return mm


def stage_costs(prob: Problem, mm: Model) -> dict[int, np.ndarray]:
    """Per priority level, the objective `dh * sum s[r,t]` over its requests (MWh unserved)."""
    out = {}
    s = mm.blocks["s"]
    pr = prob.r_prio[prob.s_r]
    for level in sorted({int(x) for x in prob.r_prio}):
        c = np.zeros(mm.ncols)
        c[s] = np.where(pr == level, prob.dh, 0.0)
        out[level] = c
    return out


__all__ = ["DOWN", "FAMILIES", "Model", "build", "stage_costs"]
