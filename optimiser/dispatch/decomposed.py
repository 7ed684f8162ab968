"""The stages over the clearing's price decomposition (optimiser/decompose.py): large models.

A dispatch has the structure the clearing's decomposition exploits: every row lives inside
one CMZ (its DSO requests and the assets there) or one asset, except the coverage of GB-wide
requests. Pricing those rows leaves thousands of small MIPs; measured on the generated GB
snapshot of 2,000 assets, the cost stage reaches 0.05% in ~13 s where one branch-and-bound
had not reached 20% in 60 s (HiGHS bounds it well at the root but finds good dispatches
late). The `Decomposer` reads any CSR model through `RowView`; the dispatch model is handed
over as a `MatrixModel` whose award block `x` is the calls `y` and unmet block `u` the
shortfall `s`.

Holds: a level whose shortfall columns sit only in zonal rows is held part by part (zones
are independent in its stage, lower-priority calls being fixed at 0, so the sum of the
parts' optima is the level's); a level with GB-wide requests is held by one row, which the
decomposition prices like the GB coverage rows.
"""

from __future__ import annotations

import time

import numpy as np

from ..decompose import Decomposer
from ..holds import weighted_cost
from ..model import MatrixModel
from ..tolerances import HOLD_COLUMN_TOL, MW_EPS, STAGE_ABS_TOL, STAGE_REL_TOL
from .model import Model
from .problem import Problem
from .stages import Options, Outcome, components

DECOMPOSE_MIN_COLS = 3000  # below this, one MIP per part is as fast


def link_rows(prob: Problem, mm: Model) -> np.ndarray:
    """The coverage rows of GB-wide requests (they tie the zones together)."""
    cov = mm.families.get("coverage")
    if not cov:
        return np.zeros(0, np.int64)
    gb = prob.r_zone[prob.s_r] == "GB"
    return cov[0].start + np.flatnonzero(gb)


def worth_it(prob: Problem, mm: Model) -> bool:
    link = link_rows(prob, mm)
    return mm.ncols >= DECOMPOSE_MIN_COLS and bool(len(link)) and bool(
        (np.diff(mm.start)[link] > 1).any())


def solve_decomposed(prob: Problem, mm: Model, levels: dict[int, np.ndarray],
                     lower: dict[int, np.ndarray], x0: np.ndarray, opts: Options,
                     deadline: float) -> Outcome:
    link = link_rows(prob, mm)
    mx = MatrixModel(mm.col_lb, mm.col_ub, mm.col_cost, mm.integer, mm.row_lo, mm.row_hi,
                     mm.start.astype(np.int64), mm.index.astype(np.int32), mm.value,
                     {"x": mm.blocks["y"], "u": mm.blocks["s"]}, {})
    dec = Decomposer(mx, link, opts.threads or 2)
    out = Outcome(x=x0.copy(), parts=1)
    x = x0.copy()
    gap = float(opts.mip_rel_gap)
    # labels without the linking rows: which zone-part a shortfall column belongs to
    in_link = np.zeros(mm.ncols, dtype=bool)
    ent = np.concatenate([np.arange(mm.start[r], mm.start[r + 1]) for r in link]) \
        if len(link) else np.zeros(0, np.int64)
    in_link[mm.index[ent]] = True
    keep = np.ones(mm.nrows, dtype=bool)
    keep[link] = False
    lab = components(_without_rows(mm, keep))
    todo = [(lv, c) for lv, c in sorted(levels.items()) if c.any()]
    for k, (lv, cost) in enumerate(todo):
        cols = np.flatnonzero(cost)
        if float(cost[cols] @ x[cols]) > STAGE_ABS_TOL:
            now = time.perf_counter()
            until = now + (deadline - now) / (len(todo) - k + 1)
            low = lower.get(lv, np.zeros(0, np.int64))
            dec.set_bounds(low, np.zeros(len(low)), np.zeros(len(low)))
            try:
                t = time.perf_counter()
                tied = bool(in_link[cols].any())
                # a level tied across zones descends on the priority-weighted objective of
                # this and the later levels plus cost, as the clearing's (lexicographic.py):
                # its solution is then also a good start for the stages after it
                res = dec.solve_stage(cost, gap, until, [x], lp_presolve=tied,
                                      descent_cost=weighted_cost(mx, todo[k:]) if tied
                                      else None)
                out.log.append((mm.ncols, lv, round(time.perf_counter() - t, 3),
                                res.message or "decomposed"))
            finally:
                dec.set_bounds(low, mm.col_lb[low], mm.col_ub[low])
            x = res.x
            if res.limited or res.gap is None or res.gap > gap:
                out.proven = False
                out.messages.append(f"priority {lv} stage stopped at gap {res.gap}")
                if res.gap is not None:
                    out.level_gaps.append(res.gap)
        groups = [cols] if in_link[cols].any() else _split(cols, lab[cols])
        for g in groups:
            val = float(cost[g] @ x[g])
            nz = g[x[g] > MW_EPS]
            hi = (val * (1 + STAGE_REL_TOL) + STAGE_ABS_TOL
                  + HOLD_COLUMN_TOL * float(np.abs(cost[nz]).sum()))
            dec.add_row(g, cost[g], hi)
    t = time.perf_counter()
    res = dec.solve_stage(mm.col_cost, gap, deadline, [x])
    out.log.append((mm.ncols, "cost", round(time.perf_counter() - t, 3),
                    res.message or "decomposed"))
    out.x = res.x
    out.obj = float(res.value)
    out.bound = float(res.bound) if res.bound is not None else float("nan")
    if res.limited or res.gap is None or res.gap > gap:
        out.proven = False
        out.messages.append(f"cost stage stopped at gap {res.gap}")
    return out


def _split(cols: np.ndarray, lab: np.ndarray) -> list[np.ndarray]:
    o = np.argsort(lab, kind="stable")
    return np.split(cols[o], np.flatnonzero(np.diff(lab[o])) + 1)


def _without_rows(mm: Model, keep: np.ndarray) -> Model:
    cnt = np.diff(mm.start)
    rows = np.flatnonzero(keep)
    ent = (np.repeat(mm.start[rows], cnt[rows])
           + np.arange(int(cnt[rows].sum())) - np.repeat(np.cumsum(cnt[rows]) - cnt[rows],
                                                         cnt[rows]))
    start = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(cnt[rows], out=start[1:])
    return Model(mm.col_lb, mm.col_ub, mm.col_cost, mm.integer, mm.row_lo[rows],
                 mm.row_hi[rows], start, mm.index[ent], mm.value[ent], mm.blocks, {})
