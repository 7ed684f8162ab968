"""The comparator: a straightforward monolithic build of the same dispatch model.

What a first implementation would write: Python loops over contracts, assets and periods,
an on/off binary for every contract-period with a call, a direction, product and run binary
for every asset-period (run: all periods of a limited asset), aggregated big-M rows, and
every stage one MIP over the whole model (no independent parts, lower-priority calls left
free). Same rules, same optimum; `bench/dispatch.py` compares it with `model.py` + `solve.py`
on the same snapshots. Not used by the platform.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from .engine import lower_columns, result, start_vector
from .model import Model, stage_costs
from .problem import UP, Problem, incompatible_pairs, prepare
from .snapshot import parse
from .stages import Options, solve_model

INF = np.inf


def build_monolithic(prob: Problem) -> Model:
    T, dh = prob.T, prob.dh
    lb: list[float] = []
    ub: list[float] = []
    cost: list[float] = []
    integer: list[bool] = []
    rows: list[tuple[dict[int, float], float, float]] = []

    def col(lo, hi, c, is_int):
        lb.append(lo)
        ub.append(hi)
        cost.append(c)
        integer.append(is_int)
        return len(lb) - 1

    ycols = []
    ct_cols: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in range(len(prob.y_c)):
        c, t = int(prob.y_c[i]), int(prob.y_t[i])
        a, d = int(prob.c_asset[c]), int(prob.c_dir[c])
        hi = 0.0 if prob.zone_block[a, d, t] else float(prob.c_mw[c, t])
        j = col(0.0, hi, float(prob.c_unit[c]), False)
        ycols.append(j)
        ct_cols[(c, t)].append(j)
    scol = {}
    for k in range(len(prob.s_r)):
        r, t = int(prob.s_r[k]), int(prob.s_t[k])
        scol[(r, t)] = col(0.0, float(prob.s_mw[k]), dh * float(prob.r_pen[r]), False)
    on = {}
    for (c, t), js in ct_cols.items():
        on[(c, t)] = o = col(0.0, 1.0, 0.0, True)
        U = float(prob.c_U[c, t])
        rows.append(({**dict.fromkeys(js, 1.0), o: -float(prob.c_mw[c, t])}, -INF, 0.0))
        rows.append(({**dict.fromkeys(js, 1.0), o: -min(float(prob.c_min[c]), U)}, 0.0, INF))
    by_adt: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    by_atp: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for (c, t), js in ct_cols.items():
        a = int(prob.c_asset[c])
        by_adt[(a, int(prob.c_dir[c]), t)] += js
        by_atp[(a, t, int(prob.c_prod[c]))] += js
    for (a, d, t), js in by_adt.items():
        head = max(float(prob.avail[a, d, t] - prob.fixed[a, d, t]), 0.0)
        rows.append((dict.fromkeys(js, 1.0), -INF, head))
    # direction: w[a,t] = 1 up, 0 down, forced by fixed instructions
    for a, t in sorted({(a, t) for (a, _d, t) in by_adt}):
        lo = 1.0 if prob.fixed[a, UP, t] > 0 else 0.0
        hi = 0.0 if prob.fixed[a, 1, t] > 0 else 1.0
        w = col(lo, max(lo, hi), 0.0, True)
        for d in (0, 1):
            js = by_adt.get((a, d, t))
            if js:
                capd = float(prob.a_cap[a, d])
                if d == UP:
                    rows.append(({**dict.fromkeys(js, 1.0), w: -capd}, -INF, 0.0))
                else:
                    rows.append(({**dict.fromkeys(js, 1.0), w: capd}, -INF, capd))
    pairs, same = incompatible_pairs(prob)
    g = {}
    for (a, t, p), js in by_atp.items():
        g[(a, t, p)] = gi = col(1.0 if prob.fixed_prod[a, t, p] else 0.0, 1.0, 0.0, True)
        capmax = float(prob.a_cap[a].max())
        rows.append(({**dict.fromkeys(js, 1.0), gi: -capmax}, -INF, 0.0))
    for (a, t, p), gi in g.items():
        for i, j in pairs:
            if p == i:
                other = g.get((a, t, j))
                if other is not None:
                    rows.append(({gi: 1.0, other: 1.0}, -INF, 1.0))
                elif prob.fixed_prod[a, t, j]:
                    ub[gi] = 0.0
            elif p == j and (a, t, i) not in g and prob.fixed_prod[a, t, i]:
                ub[gi] = 0.0
        if p in same:
            cs = [on[(c, t)] for (c, tt) in on if tt == t and prob.c_asset[c] == a
                  and prob.c_prod[c] == p]
            nf = sum(1 for c in range(prob.C) if prob.c_asset[c] == a and prob.c_prod[c] == p
                     and prob.fixed_c[c, t] > 0)
            rows.append((dict.fromkeys(cs, 1.0), -INF, max(1.0 - nf, 0.0) if nf else 1.0))
    for a in range(prob.A):
        if np.isnan(prob.a_energy[a]):
            continue
        js = [j for (aa, d, _t), jj in by_adt.items() if aa == a and d == UP for j in jj]
        if js:
            left = float(prob.a_energy[a] - dh * prob.fixed[a, UP].sum())
            rows.append((dict.fromkeys(js, dh), -INF, max(left, 0.0)))
    for a in range(prob.A):
        m = int(prob.a_maxrun[a])
        if m < 1 or m + 1 > T:
            continue
        v = [col(1.0 if prob.fixed_on[a, t] else 0.0, 1.0, 0.0, True) for t in range(T)]
        for (c, t), o in on.items():
            if prob.c_asset[c] == a:
                rows.append(({o: 1.0, v[t]: -1.0}, -INF, 0.0))
        for j in range(T - m):
            rows.append((dict.fromkeys(v[j:j + m + 1], 1.0), -INF, float(m)))
    cover: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    for i, j in enumerate(ycols):
        r, t, c = int(prob.y_r[i]), int(prob.y_t[i]), int(prob.y_c[i])
        cover[(r, t)][j] = float(prob.a_rel[prob.c_asset[c]])
    for (r, t), s in scol.items():
        rows.append(({**cover.get((r, t), {}), s: 1.0}, float(prob.r_mw[r, t]), INF))
    # CSR
    start = [0]
    index: list[int] = []
    value: list[float] = []
    for coefs, _lo, _hi in rows:
        for k, v in coefs.items():
            if v != 0:
                index.append(k)
                value.append(v)
        start.append(len(index))
    ny = len(ycols)
    return Model(np.array(lb), np.array(ub), np.array(cost), np.array(integer, bool),
                 np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                 np.array(start, np.int64), np.array(index, np.int64), np.array(value),
                 {"y": slice(0, ny), "s": slice(ny, ny + len(scol))}, {}, [],
                 np.arange(ny), {})


def solve_monolithic(snapshot: dict, *, mip_rel_gap: float = 1e-4,
                     time_limit: float = 60.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The comparator's result document and model statistics."""
    t0 = time.perf_counter()
    prob = prepare(parse(snapshot))
    mm = build_monolithic(prob)
    levels = stage_costs(prob, mm) if prob.snap.primacy == "lexicographic" else {}
    t1 = time.perf_counter()
    opts = Options(time_limit=time_limit, mip_rel_gap=mip_rel_gap, split=False,
                   fix_lower=False)
    out = solve_model(mm, levels, lower_columns(prob, mm), start_vector(prob, mm), opts,
                      t0 + time_limit)
    res = result(prob, mm, out.x[mm.blocks["y"]])
    t2 = time.perf_counter()
    res["status"] = "optimal" if out.proven else "feasible"
    res["mip_gap"] = (max((out.obj - out.bound) / max(abs(out.obj), 1e-9), 0.0)
                      if np.isfinite(out.bound) else None)
    res["timing"] = {"build_s": round(t1 - t0, 4), "solve_s": round(t2 - t1, 4)}
    return res, {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows}
