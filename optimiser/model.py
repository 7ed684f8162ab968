"""The clearing MILP: built once as sparse arrays, handed to HiGHS or to pyomo.

The formulation is written block by block as coordinate triplets computed with numpy (one
block per constraint family of the spec), so its size never costs Python-level loops per
element. `build_pyomo` turns the same arrays into a pyomo model with indexed components; the
direct HiGHS path passes the CSR arrays to `Highs.passModel`. Both are one formulation, so
tests can compare them; the bench measures which is faster (see docs/market-formulation.md).

Column blocks: x (awards), u (unmet), y (on/off per bid-period), z (acceptance per bid),
w (direction per asset-period), s (product on per asset-period-product).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .problem import Problem
from .tolerances import NUM_EPS, PRIMAL_FEAS_TOL

INF = np.inf


@dataclass
class MatrixModel:
    col_lb: np.ndarray
    col_ub: np.ndarray
    col_cost: np.ndarray
    integer: np.ndarray            # bool per column
    row_lo: np.ndarray
    row_hi: np.ndarray
    start: np.ndarray              # CSR (row-wise)
    index: np.ndarray
    value: np.ndarray
    blocks: dict[str, slice]       # column blocks
    row_blocks: dict[str, slice]
    stage_cost: dict[int, np.ndarray] = field(default_factory=dict)  # priority -> cost vector
    # per award column x: the binary column it drives (-1: none), so that a start given by
    # awards alone can be completed: y/z/s are 1 where an award is on, w is 0 where a down
    # award is on ("dir": 0 up, 1 down)
    x_link: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ncols(self) -> int:
        return len(self.col_lb)

    @property
    def nrows(self) -> int:
        return len(self.row_lo)

    @property
    def nints(self) -> int:
        return int(self.integer.sum())


class _Builder:
    def __init__(self) -> None:
        self.ncols = 0
        self.nrows = 0
        self.cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = []
        self.rows_r: list[np.ndarray] = []
        self.rows_c: list[np.ndarray] = []
        self.rows_v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.blocks: dict[str, slice] = {}
        self.row_blocks: dict[str, slice] = {}

    def add_cols(self, name: str, lb, ub, cost, integer: bool) -> int:
        n = len(lb)
        first = self.ncols
        self.cols.append((np.asarray(lb, float), np.asarray(ub, float),
                          np.asarray(cost, float), integer))
        self.blocks[name] = slice(first, first + n)
        self.ncols += n
        return first

    def add_rows(self, name: str, lo, hi, terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                 ) -> None:
        """terms: (local row index, column index, coefficient) arrays."""
        n = len(lo)
        first = self.nrows
        for r, c, v in terms:
            self.rows_r.append(np.asarray(r, np.int64) + first)
            self.rows_c.append(np.asarray(c, np.int64))
            self.rows_v.append(np.broadcast_to(np.asarray(v, float), np.shape(r)))
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (n,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (n,)))
        old = self.row_blocks.get(name)
        self.row_blocks[name] = slice(old.start if old else first, first + n)
        self.nrows += n

    def finish(self) -> MatrixModel:
        def cat(xs, dt=float):
            return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)
        lb = cat([c[0] for c in self.cols])
        ub = cat([c[1] for c in self.cols])
        cost = cat([c[2] for c in self.cols])
        integer = cat([np.full(len(c[0]), c[3]) for c in self.cols], bool)
        r = cat(self.rows_r, np.int64)
        c = cat(self.rows_c, np.int32)
        v = cat(self.rows_v)
        order = np.argsort(r, kind="stable")
        counts = np.bincount(r, minlength=self.nrows)
        start = np.zeros(self.nrows + 1, dtype=np.int32)
        np.cumsum(counts, out=start[1:])
        return MatrixModel(lb, ub, cost, integer, cat(self.lo), cat(self.hi), start,
                           c[order], v[order], self.blocks, self.row_blocks)


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys, inverse index and counts, in one sort."""
    if len(keys) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return uniq, inv, counts


def build_matrix(prob: Problem) -> MatrixModel:
    snap = prob.snapshot
    T, dh = prob.T, prob.dh
    nx, nu = prob.nx, prob.nu
    xb, xt, ub, xmin = prob.x_bid, prob.x_t, prob.x_ub, prob.x_min
    xa = prob.bid_asset[xb]
    xd = prob.bid_dir[xb]
    xprod = prob.bid_product[xb]
    aon = prob.bid_aon[xb]
    ar = np.arange(nx)
    bld = _Builder()

    # x and u columns
    bld.add_cols("x", np.zeros(nx), ub, dh * prob.bid_cost[xb], False)
    pen = np.array([n.unmet_penalty for n in snap.needs], dtype=float)
    ux = bld.add_cols("u", np.zeros(nu), prob.u_mw, dh * pen[prob.u_need] if nu else [], False)

    # 5. coverage: sum rel * x + u >= mw
    rel = prob.cover_coef if nx else np.zeros(0)
    bld.add_rows("coverage", prob.u_mw, INF, [(prob.x_cov, ar, rel),
                                              (np.arange(nu), ux + np.arange(nu), 1.0)])

    # which bids need an acceptance binary z: all-or-nothing, or an exclusive group with >= 2
    # bids that could be awarded
    bids_x = np.unique(xb)
    grp = prob.bid_group[bids_x]
    g_ok = grp >= 0
    gcount = np.bincount(grp[g_ok], minlength=len(prob.groups)) if g_ok.any() else np.zeros(0)
    in_group = np.zeros(len(snap.bids), dtype=bool)
    in_group[bids_x[g_ok]] = gcount[grp[g_ok]] >= 2
    zbid = bids_x[prob.bid_aon[bids_x] | in_group[bids_x]]
    zpos = np.full(len(snap.bids), -1, dtype=np.int64)
    z0 = bld.add_cols("z", np.zeros(len(zbid)), np.ones(len(zbid)), np.zeros(len(zbid)), True)
    zpos[zbid] = z0 + np.arange(len(zbid))
    xz = zpos[xb]

    # 8 (same product) stacking needs per-bid on/off binaries; other pairs use s below
    pidx = {p: i for i, p in enumerate(prob.products)}
    self_inc = [pidx[p] for p, q in snap.rules.incompatible_products if p == q]
    stack_y = np.zeros(nx, dtype=bool)
    self_keys = np.zeros(0, dtype=np.int64)
    if self_inc and nx:
        cand = np.isin(xprod, self_inc)
        k = ((xa * T + xt) * len(prob.products) + xprod)
        _, inv, cnt = _group(k[cand])
        multi = np.zeros(nx, dtype=bool)
        multi[np.flatnonzero(cand)] = cnt[inv] >= 2
        stack_y = multi
        self_keys = k

    # 2. min_mw: y binary, x <= ub*y and x >= min*y (all-or-nothing bids are handled by z)
    need_y = ((xmin > 0) & ~aon) | stack_y
    yx = np.flatnonzero(need_y)
    ny = len(yx)
    y0 = bld.add_cols("y", np.zeros(ny), np.ones(ny), np.zeros(ny), True)
    yc = y0 + np.arange(ny)
    bld.add_rows("min_mw", np.full(ny, -INF), 0.0, [(np.arange(ny), yx, 1.0),
                                                    (np.arange(ny), yc, -ub[yx])])
    lo_y = np.flatnonzero(xmin[yx] > 0)
    bld.add_rows("min_mw", 0.0 * lo_y, INF, [(np.arange(len(lo_y)), yx[lo_y], 1.0),
                                             (np.arange(len(lo_y)), yc[lo_y], -xmin[yx[lo_y]])])

    # 3. all-or-nothing: x = ub * z in every period of the block
    ax = np.flatnonzero(aon)
    bld.add_rows("all_or_nothing", np.zeros(len(ax)), 0.0,
                 [(np.arange(len(ax)), ax, 1.0), (np.arange(len(ax)), xz[ax], -ub[ax])])

    # 4. exclusive groups: link each award to its bid's z, then at most one z per group
    ex = np.flatnonzero((xz >= 0) & ~aon)
    ex_y = ex[need_y[ex]]
    ex_n = ex[~need_y[ex]]
    ypos = np.full(nx, -1, dtype=np.int64)
    ypos[yx] = yc
    bld.add_rows("exclusive_link", np.full(len(ex_y), -INF), 0.0,
                 [(np.arange(len(ex_y)), ypos[ex_y], 1.0), (np.arange(len(ex_y)), xz[ex_y], -1.0)])
    bld.add_rows("exclusive_link", np.full(len(ex_n), -INF), 0.0,
                 [(np.arange(len(ex_n)), ex_n, 1.0), (np.arange(len(ex_n)), xz[ex_n], -ub[ex_n])])
    gz = prob.bid_group[zbid]
    gsel = (gz >= 0) & in_group[zbid]
    ug, ginv, _ = _group(gz[gsel])
    bld.add_rows("exclusive_group", np.full(len(ug), -INF), 1.0,
                 [(ginv, zpos[zbid[gsel]], 1.0)])

    # 6 + 7. capacity per asset-period-direction; direction binary w where both directions
    # have awards possible in the same asset-period (capacity row then carries w)
    ka = xa * T + xt
    kad = ka * 2 + xd
    uad, adinv, adcnt = _group(kad)
    sum_ub = np.bincount(adinv, weights=ub, minlength=len(uad)) if nx else np.zeros(0)
    ad_asset, ad_dir = (uad // 2) // T, uad % 2
    cap = prob.asset_cap[ad_asset, ad_dir] if len(uad) else np.zeros(0)
    uka, kainv, _ = _group(uad // 2)
    both = np.zeros(len(uka), dtype=bool)
    if len(uad):
        both = np.bincount(kainv, minlength=len(uka)) == 2
    nw = int(both.sum())
    w0 = bld.add_cols("w", np.zeros(nw), np.ones(nw), np.zeros(nw), True)
    wpos = np.full(len(uka), -1, dtype=np.int64)
    wpos[both] = w0 + np.arange(nw)
    ad_w = wpos[kainv] if len(uad) else np.zeros(0, dtype=np.int64)
    need_row = (ad_w >= 0) | ((adcnt >= 2) & (sum_ub > cap + NUM_EPS))
    rows_of_ad = np.full(len(uad), -1, dtype=np.int64)
    rows_of_ad[need_row] = np.arange(int(need_row.sum()))
    rx = rows_of_ad[adinv] if nx else np.zeros(0, dtype=np.int64)
    sel = rx >= 0
    rw = np.flatnonzero(need_row & (ad_w >= 0))
    hi = np.where(ad_w[need_row] >= 0, np.where(ad_dir[need_row] == 1, cap[need_row], 0.0),
                  cap[need_row])
    # up: sum x_up - cap_up * w <= 0 ; down: sum x_down + cap_down * w <= cap_down
    wcoef = np.where(ad_dir[rw] == 0, -cap[rw], cap[rw])
    bld.add_rows("capacity", np.full(int(need_row.sum()), -INF), hi,
                 [(rx[sel], np.flatnonzero(sel), 1.0), (rows_of_ad[rw], ad_w[rw], wcoef)])
    # and per award where w exists: up x <= ub * w, down x <= ub * (1 - w). Implied by the
    # capacity row at integer w, but they tighten the relaxation (measured: the root bound at
    # 10,000 assets moves 0.25% closer to the optimum), which the decomposition's bound needs
    xw_all = ad_w[adinv] if nx else np.zeros(0, dtype=np.int64)
    iw = np.flatnonzero(xw_all >= 0)
    upw = xd[iw] == 0
    bld.add_rows("direction", np.full(len(iw), -INF), np.where(upw, 0.0, ub[iw]),
                 [(np.arange(len(iw)), iw, 1.0),
                  (np.arange(len(iw)), xw_all[iw], np.where(upw, -ub[iw], ub[iw]))])

    # 8. stacking between different products: s[a,t,p] on/off per product, pairs exclusive
    s_keys: list[np.ndarray] = []
    pairs = sorted({(min(pidx[p], pidx[q]), max(pidx[p], pidx[q]))
                    for p, q in snap.rules.incompatible_products if p != q})
    if pairs and nx:
        P = len(prob.products)
        kp = ka * P + xprod
        ukp, kpinv, _ = _group(kp)
        pair_rows: list[tuple[np.ndarray, np.ndarray]] = []
        for p, q in pairs:
            kap = ukp[ukp % P == p] // P
            kaq = ukp[ukp % P == q] // P
            common = np.intersect1d(kap, kaq, assume_unique=True)
            if len(common):
                s_keys += [common * P + p, common * P + q]
                pair_rows.append((common * P + p, common * P + q))
        if s_keys:
            skey = np.unique(np.concatenate(s_keys))
            ns = len(skey)
            s0 = bld.add_cols("s", np.zeros(ns), np.ones(ns), np.zeros(ns), True)
            spos = np.full(len(ukp), -1, dtype=np.int64)
            spos[np.searchsorted(ukp, skey)] = np.arange(ns)
            xs = spos[kpinv]
            sx = np.flatnonzero(xs >= 0)
            # one row per award (x <= ub * s), not one aggregated big-M row per s: the same
            # integer points, a much tighter LP relaxation (the aggregated row lets s be a
            # fraction of the sum of the bounds)
            nsx = len(sx)
            bld.add_rows("stacking", np.full(nsx, -INF), 0.0,
                         [(np.arange(nsx), sx, 1.0), (np.arange(nsx), s0 + xs[sx], -ub[sx])])
            for kp_, kq_ in pair_rows:
                n = len(kp_)
                bld.add_rows("stacking_pair", np.full(n, -INF), 1.0,
                             [(np.arange(n), s0 + np.searchsorted(skey, kp_), 1.0),
                              (np.arange(n), s0 + np.searchsorted(skey, kq_), 1.0)])
    if stack_y.any():
        ks = self_keys[stack_y]
        uks, ksinv, _ = _group(ks)
        bld.add_rows("stacking_same", np.full(len(uks), -INF), 1.0,
                     [(ksinv, ypos[stack_y], 1.0)])

    mm = bld.finish()
    x_s = np.full(nx, -1, dtype=np.int64)
    if pairs and nx and s_keys:
        x_s[sx] = s0 + xs[sx]
    mm.x_link = {"y": ypos, "z": xz, "s": x_s, "dir": xd,
                 "w": ad_w[adinv] if nx else np.zeros(0, dtype=np.int64)}
    # lexicographic stage objectives: unmet MWh of each priority level
    up = prob.need_priority[prob.u_need] if nu else np.zeros(0, dtype=np.int64)
    for pr in sorted({int(p) for p in prob.need_priority}):
        c = np.zeros(mm.ncols)
        c[mm.blocks["u"]] = np.where(up == pr, dh, 0.0)
        mm.stage_cost[pr] = c
    return mm


def complete(prob: Problem, mm: MatrixModel, xs: np.ndarray) -> np.ndarray:
    """A full column vector from awards `xs` (one per x column): the unmet they leave and
    the binaries they imply (`MatrixModel.x_link`). Feasible whenever the awards are."""
    covered = np.zeros(prob.nu)
    if prob.nx:
        np.add.at(covered, prob.x_cov, prob.cover_coef * xs)
    v = np.zeros(mm.ncols)
    v[mm.blocks["x"]] = xs
    # (a chance-constrained coefficient can be negative: u stays within its bound, the row
    # then shows the awards infeasible)
    v[mm.blocks["u"]] = np.minimum(np.maximum(prob.u_mw - covered, 0.0), prob.u_mw)
    on = xs > 0
    link = mm.x_link
    for k in ("y", "z", "s"):
        c = link[k]
        v[c[on & (c >= 0)]] = 1.0
    w = link["w"]
    v[w[w >= 0]] = 1.0
    v[w[on & (w >= 0) & (link["dir"] == 1)]] = 0.0
    return v


def empty_clearing(prob: Problem, mm: MatrixModel) -> np.ndarray:
    """Nothing awarded, every need unmet: always feasible."""
    x = np.zeros(mm.ncols)
    x[mm.blocks["u"]] = prob.u_mw
    return x


def violated_rows(mm: MatrixModel, v: np.ndarray, tol: float = PRIMAL_FEAS_TOL) -> np.ndarray:
    """Rows of the model that `v` breaks by more than `tol`."""
    rows = np.repeat(np.arange(mm.nrows), np.diff(mm.start))
    act = np.bincount(rows, weights=mm.value * v[mm.index], minlength=mm.nrows)
    return np.flatnonzero((act < mm.row_lo - tol) | (act > mm.row_hi + tol))


def feasible(mm: MatrixModel, v: np.ndarray, tol: float = PRIMAL_FEAS_TOL) -> bool:
    """`v` within the column bounds and row bounds (HiGHS's feasibility tolerance)."""
    if np.any(v < mm.col_lb - tol) or np.any(v > mm.col_ub + tol):
        return False
    return not len(violated_rows(mm, v, tol))
