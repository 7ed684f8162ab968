"""Independent blocks of a clearing model, and the HiGHS settings they are solved with.

A `Decomposer` (decompose.py) leaves some rows out (the priced ones); what remains falls apart
into components, found here by label propagation over rows and solved as small MIPs, tiny
ones batched so that HiGHS's per-model overhead (~1 ms) does not dominate 100,000 of them.
The model is read through its `rows.RowView`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import highspy
import numpy as np

from .rows import RowView
from .tolerances import NUM_EPS

# HiGHS's primal heuristics cost a component more than they save: measured on the 10,000-asset
# market, the components solve 3x faster without them (branching finds the incumbents)
HEURISTICS_OFF = ("mip_heuristic_run_feasibility_jump", "mip_heuristic_run_rins",
                   "mip_heuristic_run_rens", "mip_heuristic_run_root_reduced_cost",
                   "mip_heuristic_run_zi_round", "mip_heuristic_run_shifting")


def set_time_limit(h: highspy.Highs, deadline: float) -> None:
    """HiGHS's time_limit counts the instance's run time over *all* its runs, so a reused
    instance must be given its past run time plus what is left before the deadline."""
    h.setOptionValue("time_limit", h.getRunTime() + max(deadline - time.perf_counter(), 0.01))


def quiet_highs(quiet: bool = True) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", not quiet)
    return h


def label(dec: RowView, drop: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Component label (smallest member column) of every column, rows `drop` left out;
    columns that cannot move join nothing."""
    n = dec.mm.ncols
    rows = dec.row_of_entries()
    keep = np.ones(dec.nrows, dtype=bool)
    keep[drop] = False
    km = keep[rows] & moving[dec.index]
    rr, cc = rows[km], dec.index[km]
    lab = np.arange(n)
    while True:  # label propagation with pointer jumping: a few sweeps
        rmin = np.full(dec.nrows, n)
        np.minimum.at(rmin, rr, lab[cc])
        new = lab.copy()
        np.minimum.at(new, cc, rmin[rr])
        new = new[new]
        if np.array_equal(new, lab):
            return lab
        lab = new


class Blocks:
    """The model minus some rows, split into independent blocks ready for HiGHS.

    Components under `batch_cols` columns are batched into one block; `solve` runs the blocks
    in a pool of `workers` threads (highspy releases the GIL while it solves).
    """

    def __init__(self, dec: RowView, link: np.ndarray, batch_cols: int, workers: int = 1):
        self.dec = dec
        self.workers = workers
        n = dec.mm.ncols
        rows = dec.row_of_entries()
        moving = dec.moving()
        keep = np.ones(dec.nrows, dtype=bool)
        keep[link] = False
        km = keep[rows] & moving[dec.index]
        rr, cc = rows[km], dec.index[km]
        lab = label(dec, link, moving)
        lab[~moving] = -1
        uniq, comp = np.unique(lab, return_inverse=True)
        if len(uniq) and uniq[0] == -1:
            comp = comp - 1  # fixed columns: -1
        ncomp = int(comp.max()) + 1 if len(comp) and comp.max() >= 0 else 0
        self.count = ncomp
        rcomp = np.full(dec.nrows, -1)
        rcomp[rr] = comp[cc]
        has_row = np.zeros(ncomp, dtype=bool)
        has_row[rcomp[rcomp >= 0]] = True
        size = np.bincount(comp[comp >= 0], minlength=ncomp)
        cid = np.flatnonzero(has_row)
        big = cid[size[cid] >= batch_cols]
        small = cid[size[cid] < batch_cols]
        batch = np.full(ncomp, -1)
        batch[big] = np.arange(len(big))
        batch[small] = len(big) + np.cumsum(size[small]) // batch_cols
        nb = int(batch.max()) + 1 if len(cid) else 0
        colb = np.where(comp >= 0, batch[np.maximum(comp, 0)], -2)
        colb[(comp >= 0) & ~has_row[np.maximum(comp, 0)]] = -1
        self.free = np.flatnonzero(colb == -1)  # movable columns in no kept row
        self.fixed = np.flatnonzero(colb == -2)
        rowb = np.where(rcomp >= 0, batch[np.maximum(rcomp, 0)], -1)
        oc = np.argsort(colb, kind="stable")
        cb = np.searchsorted(colb[oc], np.arange(-1, nb + 1))
        orr = np.argsort(rowb, kind="stable")
        rb = np.searchsorted(rowb[orr], np.arange(-1, nb + 1))
        loc = np.full(n, -1, dtype=np.int64)
        self.blocks = []
        # entries of each block row restricted to movable columns; fixed columns move to the
        # row bounds
        fixed_val = np.where(moving, 0.0, dec.lb)
        for k in range(nb):
            cols = oc[cb[k + 1]:cb[k + 2]]
            rws = orr[rb[k + 1]:rb[k + 2]]
            loc[cols] = np.arange(len(cols))
            cnt = dec.start[rws + 1] - dec.start[rws]
            first = np.repeat(dec.start[rws], cnt)
            off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            ent = first + off
            rloc = np.repeat(np.arange(len(rws)), cnt)
            gcol = dec.index[ent]
            mv = moving[gcol]
            shift = np.bincount(rloc[~mv], weights=dec.value[ent[~mv]] * fixed_val[gcol[~mv]],
                                minlength=len(rws))
            st = np.zeros(len(rws) + 1, dtype=np.int32)
            st[1:] = np.cumsum(np.bincount(rloc[mv], minlength=len(rws)))
            self.blocks.append((cols, st, loc[gcol[mv]].astype(np.int32), dec.value[ent[mv]],
                                dec.row_lo[rws] - shift, dec.row_hi[rws] - shift,
                                dec.mm.integer[cols].astype(np.int32)))

    def mix(self, new: np.ndarray, cur: np.ndarray, link: np.ndarray,
            cost: np.ndarray | None = None) -> np.ndarray:
        """`cur` with blocks (component batches or free columns) taken from `new`, keeping
        `cur`'s supply to every linking row within what the row can spare: the blocks are
        independent apart from those rows, so the mixture is feasible with `cur`'s unmet.

        Blocks that supply each row at least as much as in `cur` are always taken. With
        `cost`, the others are then taken greedily, largest saving per MW of supply lost
        first, while every row they take supply from has that much over its requirement
        in `cur` (plus what the blocks taken add): under a tight hold that is where the
        cheaper choices fit."""
        dec = self.dec
        n = dec.mm.ncols
        block_of = np.full(n, -1, dtype=np.int64)
        for k, b in enumerate(self.blocks):
            block_of[b[0]] = k
        block_of[self.free] = len(self.blocks) + np.arange(len(self.free))
        ent, row_of = dec.entries(link)
        cols = dec.index[ent]
        blk = block_of[cols]
        sel = blk >= 0
        nb = len(self.blocks) + len(self.free)
        L = len(link)
        key = blk[sel] * L + row_of[sel]
        uk, inv = np.unique(key, return_inverse=True)
        diff = np.bincount(inv, weights=dec.value[ent[sel]] * (new[cols[sel]] - cur[cols[sel]]),
                           minlength=len(uk))
        ub_, ur = uk // L, uk % L
        worse = np.zeros(nb, dtype=bool)
        worse[ub_[diff < -NUM_EPS]] = True
        take_blk = ~worse
        if cost is not None:
            # spare supply per row: over the requirement (>= rows) or under the cap (<= rows)
            act = dec.activity(cur)[link]
            lo, hi = dec.row_lo[link], dec.row_hi[link]
            sign = np.where(np.isfinite(lo), 1.0, -1.0)
            spare = np.where(np.isfinite(lo), act - lo, hi - act)
            d = diff * sign[ur]
            gain = np.bincount(ur[take_blk[ub_]], weights=np.maximum(d[take_blk[ub_]], 0.0),
                               minlength=L)
            spare = np.maximum(spare, 0.0) + gain
            moved = block_of >= 0
            saving = np.bincount(block_of[moved], weights=cost[moved] * (cur[moved] - new[moved]),
                                 minlength=nb)
            loss = np.bincount(ub_, weights=np.maximum(-d, 0.0), minlength=nb)
            cand = np.flatnonzero(worse & (saving > NUM_EPS))
            cand = cand[np.argsort(-saving[cand] / np.maximum(loss[cand], NUM_EPS))]
            o = np.argsort(ub_, kind="stable")
            starts = np.searchsorted(ub_[o], np.arange(nb + 1))
            for k in cand:
                e = o[starts[k]:starts[k + 1]]
                r, dk = ur[e], d[e]
                if np.all(dk >= -spare[r] - NUM_EPS):
                    spare[r] += dk
                    take_blk[k] = True
        take = (block_of >= 0) & take_blk[np.maximum(block_of, 0)]
        out = cur.copy()
        out[take] = new[take]
        return out

    def solve(self, cost: np.ndarray, priced, deadline: float, gap: float):
        """(bound, x, complete) of min cost (minus priced rows) over the blocks, or None.

        `priced` is (rows, prices): those rows leave the model and their prices move into
        the costs (a Lagrangian relaxation); None when no row is relaxed."""
        dec = self.dec
        c = np.array(cost, dtype=float)
        const = 0.0
        if priced is not None:
            rows, lam = priced
            ent, row_of = dec.entries(rows)
            np.subtract.at(c, dec.index[ent], lam[row_of] * dec.value[ent])
            lo, hi = dec.row_lo[rows], dec.row_hi[rows]
            const = float(np.where(lam > 0, lam * np.where(np.isfinite(lo), lo, 0.0),
                                   lam * np.where(np.isfinite(hi), hi, 0.0)).sum())
        x = dec.lb.copy()
        free = self.free
        x[free] = np.where(c[free] < 0, dec.ub[free], dec.lb[free])
        bound = const + float(c[free] @ x[free]) + float(c[self.fixed] @ dec.lb[self.fixed])

        def run(block):
            return solve_block(block, c, dec.lb, dec.ub, gap, deadline)

        if self.workers > 1 and len(self.blocks) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(run, self.blocks))
        else:
            results = [run(b) for b in self.blocks]
        complete = True
        for block, r in zip(self.blocks, results, strict=False):
            if r is None or not np.isfinite(r[0]):
                return None
            b, xs, ok = r
            bound += b
            x[block[0]] = xs
            complete &= ok
        return bound, x, complete


def solve_block(block, cost: np.ndarray, lb: np.ndarray, ub: np.ndarray, gap: float,
                deadline: float):
    """(bound, x, optimal) of one block's MIP under `cost`, or None if no solution in time."""
    cols, st, idx, val, lo, hi, integ = block
    rem = deadline - time.perf_counter()
    if rem <= 0:
        return None
    h = quiet_highs()
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", rem)
    for k in HEURISTICS_OFF:
        h.setOptionValue(k, False)
    h.passModel(len(cols), len(lo), len(idx), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMinimize), 0.0, cost[cols], lb[cols], ub[cols], lo, hi,
                st, idx, val, integ)
    h.run()
    ms = h.getModelStatus()
    if ms == highspy.HighsModelStatus.kInfeasible:
        # every block is feasible (the stage's start satisfies it), yet HiGHS's presolve
        # has called one infeasible: a hold a tolerance above its held value, seen at
        # 10,000 assets (tests/optimiser/data). Without presolve it solves.
        h.setOptionValue("presolve", "off")
        set_time_limit(h, deadline)
        h.run()
        ms = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        return None
    xs = np.array(h.getSolution().col_value)
    b = float(info.mip_dual_bound) if integ.any() else float(info.objective_function_value)
    return b, xs, ms == highspy.HighsModelStatus.kOptimal
