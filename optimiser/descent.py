"""Block coordinate descent: improve a feasible clearing one component at a time.

Why: priced components (decompose.py) give a strong bound, but their solutions are chosen
against prices, not against each other. Where GB-wide needs are short, every unmet row has the
same price, the components' choices are ties, and fixing them and re-solving the continuous
awards leaves a few percent on the table; under a tight hold from an earlier level the fixed
choices may not even be feasible. Here each block (a component, or a batch of small ones) is
re-solved as an exact MIP against the rest of the market as it stands: its own rows, the
GB-wide coverage rows it touches with the other blocks' supply as a constant and the rows'
unmet columns free, and any hold over those unmet columns with the others' share as a
constant. Every accepted move keeps the whole solution feasible and lowers the objective.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from .blocks import HEURISTICS_OFF, Blocks, quiet_highs
from .rows import RowView
from .tolerances import NUM_EPS


class Descent:
    """The coupling of the blocks through priced rows, prepared once per stage."""

    def __init__(self, dec: RowView, comps: Blocks, link: np.ndarray,
                 batch_cols: int = 300):
        self.dec = dec
        mm = dec.mm
        self.blocks = list(comps.blocks)
        # columns in no kept row move only through the linking rows: batches of them (the
        # linking rows' own unmet columns move with whichever block touches their row)
        link_u = np.zeros(mm.ncols, dtype=bool)
        lent, _ = dec.entries(link)
        u = mm.blocks["u"]
        lc = dec.index[lent]
        link_u[lc[(lc >= u.start) & (lc < u.stop)]] = True
        free = comps.free[~link_u[comps.free]]
        for i in range(0, len(free), batch_cols):
            cols = free[i:i + batch_cols]
            self.blocks.append((cols, np.zeros(1, dtype=np.int32), np.zeros(0, np.int32),
                                np.zeros(0), np.zeros(0), np.zeros(0),
                                mm.integer[cols].astype(np.int32)))
        self.link = link
        ent, row_of = dec.entries(link)
        cols = dec.index[ent]
        u = mm.blocks["u"]
        is_u = (cols >= u.start) & (cols < u.stop)
        # the unmet column of each linking row (-1: none), the rest as column-sorted entries
        self.u_of = np.full(len(link), -1, dtype=np.int64)
        self.u_of[row_of[is_u]] = cols[is_u]
        self.u_coef = np.zeros(len(link))
        self.u_coef[row_of[is_u]] = dec.value[ent[is_u]]
        o = np.argsort(cols, kind="stable")
        self.e_col = cols[o]
        self.e_row = row_of[o]
        self.e_val = dec.value[ent][o]
        # rows outside the link that hold linking rows' unmet columns (level holds)
        other = np.setdiff1d(np.arange(dec.nrows), link)
        u_set = np.zeros(mm.ncols, dtype=bool)
        u_set[self.u_of[self.u_of >= 0]] = True
        oent, orow = dec.entries(other)
        touch = np.bincount(orow, weights=u_set[dec.index[oent]].astype(float),
                            minlength=len(other)) > 0
        self.holds = other[touch]
        hent, hrow = dec.entries(self.holds)
        self.h_col, self.h_row, self.h_val = dec.index[hent], hrow, dec.value[hent]

    def run(self, cost: np.ndarray, x: np.ndarray, deadline: float, sweeps: int = 2,
            gap: float = 1e-6) -> tuple[np.ndarray, int]:
        """Sweeps over the blocks until nothing improves, `sweeps` are done or the deadline;
        returns the improved solution and how many block moves were accepted."""
        dec = self.dec
        x = x.copy()
        act = dec.activity(x)
        moves = 0
        for _ in range(sweeps):
            before = moves
            for block in self.blocks:
                if time.perf_counter() >= deadline:
                    return x, moves
                if self._improve(block, cost, x, act, deadline, gap):
                    moves += 1
            if moves == before:
                break
        return x, moves

    def _improve(self, block, cost, x, act, deadline, gap) -> bool:
        dec = self.dec
        cols, st, idx, val, lo, hi, integ = block
        n = len(cols)
        # linking entries of the block's columns
        a = np.searchsorted(self.e_col, cols, side="left")
        b = np.searchsorted(self.e_col, cols, side="right")
        cnt = b - a
        if cnt.sum() == 0 and len(lo) == 0:
            return False
        pos = np.repeat(a, cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt,
                                                                         cnt))
        lrow = self.e_row[pos]
        lloc = np.repeat(np.arange(n), cnt)
        lval = self.e_val[pos]
        touched = np.unique(lrow)
        ucol = self.u_of[touched]
        has_u = ((ucol >= 0) & (dec.ub[np.maximum(ucol, 0)] > dec.lb[np.maximum(ucol, 0)])
                 & ~np.isin(ucol, cols))
        uvar = ucol[has_u]
        nu = len(uvar)
        S = np.concatenate([cols, uvar])
        # linking rows, restricted: block entries + own unmet column; the rest is constant
        rmap = np.full(len(self.link), -1, dtype=np.int64)
        rmap[touched] = np.arange(len(touched))
        blk_act = np.bincount(rmap[lrow], weights=lval * x[cols[lloc]],
                              minlength=len(touched))
        u_loc = np.full(len(touched), -1, dtype=np.int64)
        u_loc[has_u] = n + np.arange(nu)
        u_act = np.where(has_u, self.u_coef[touched] * x[np.maximum(ucol, 0)], 0.0)
        const = act[self.link[touched]] - blk_act - u_act
        r_lo = dec.row_lo[self.link[touched]] - const
        r_hi = dec.row_hi[self.link[touched]] - const
        rr = np.concatenate([rmap[lrow], np.flatnonzero(has_u)])
        rc = np.concatenate([lloc, u_loc[has_u]])
        rv = np.concatenate([lval, self.u_coef[touched][has_u]])
        rows_lo, rows_hi = [lo, r_lo], [hi, r_hi]
        ents = [(np.repeat(np.arange(len(lo)), np.diff(st)), idx, val),
                (rr + len(lo), rc, rv)]
        nrow = len(lo) + len(touched)
        # holds over those unmet columns, the other columns' share constant
        if nu and len(self.holds):
            smap = np.full(dec.mm.ncols, -1, dtype=np.int64)
            smap[uvar] = n + np.arange(nu)
            inS = smap[self.h_col] >= 0
            hrows = np.unique(self.h_row[inS])
            if len(hrows):
                hm = np.full(len(self.holds), -1, dtype=np.int64)
                hm[hrows] = np.arange(len(hrows))
                h_act = act[self.holds[hrows]]
                mine = np.bincount(hm[self.h_row[inS]],
                                   weights=self.h_val[inS] * x[self.h_col[inS]],
                                   minlength=len(hrows))
                hc = h_act - mine
                rows_lo.append(dec.row_lo[self.holds[hrows]] - hc)
                rows_hi.append(dec.row_hi[self.holds[hrows]] - hc)
                ents.append((hm[self.h_row[inS]] + nrow, smap[self.h_col[inS]],
                             self.h_val[inS]))
                nrow += len(hrows)
        R = np.concatenate([e[0] for e in ents])
        C = np.concatenate([e[1] for e in ents]).astype(np.int32)
        V = np.concatenate([e[2] for e in ents])
        o = np.argsort(R, kind="stable")
        start = np.zeros(nrow + 1, dtype=np.int32)
        start[1:] = np.cumsum(np.bincount(R, minlength=nrow))
        integ_s = np.concatenate([integ, np.zeros(nu, dtype=np.int32)])
        c = cost[S]
        old = float(c @ x[S])
        h = quiet_highs()
        h.setOptionValue("mip_rel_gap", gap)
        h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
        for k in HEURISTICS_OFF:
            h.setOptionValue(k, False)
        h.passModel(len(S), nrow, len(V), int(highspy.MatrixFormat.kRowwise),
                    int(highspy.ObjSense.kMinimize), 0.0, c, dec.lb[S], dec.ub[S],
                    np.concatenate(rows_lo), np.concatenate(rows_hi), start, C[o], V[o],
                    integ_s)
        # no start solution: with RENS off HiGHS 1.15.1 may declare it optimal at the root
        # (see Decomposer.polish), which would make every block keep its choice
        h.run()
        info = h.getInfo()
        if info.primal_solution_status != 2:
            return False
        new = np.array(h.getSolution().col_value)
        if integ_s.any():
            ii = np.flatnonzero(integ_s)
            new[ii] = np.round(new[ii])
        if float(c @ new) >= old - max(NUM_EPS * abs(old), NUM_EPS):
            return False
        delta = new - x[S]
        # keep the activities current: every row the moved columns appear in
        moved = S[np.abs(delta) > 0]
        if not len(moved):
            return False
        rows = dec.rows_of_cols(moved)
        ent, row_of = dec.entries(rows)
        before = np.bincount(row_of, weights=dec.value[ent] * x[dec.index[ent]],
                             minlength=len(rows))
        x[S] = new
        after = np.bincount(row_of, weights=dec.value[ent] * x[dec.index[ent]],
                            minlength=len(rows))
        act[rows] += after - before
        return True

