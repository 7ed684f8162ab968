"""Solving the dispatch model: independent parts, lexicographic stages, HiGHS per part.

Two parts of the model that share no row are independent, and every objective here (each
priority level's unserved MWh, the cost) is a sum over parts, so the optimum of the whole is
the union of the parts' optima, stage by stage (holding each part's level is holding the
sum, as `optimiser/holds.py` argues for the clearing). A GB-wide call links everything its
MO's contracts touch; zonal DSO calls fall apart zone by zone.

Within a part, under lexicographic primacy, the stage of level k fixes the calls for
lower-priority requests at 0: they cannot help level k (a contract's MW for a lower request
can always be moved to a higher one it serves in that period, or withdrawn, which no rule
forbids), so the stage's optimum is the same and its MIP smaller. Each stage starts from the
previous stage's solution, which satisfies every hold so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np

from ..tolerances import HOLD_COLUMN_TOL, MW_EPS, NUM_EPS, STAGE_ABS_TOL, STAGE_REL_TOL
from .model import Model

M = highspy.HighsModelStatus


@dataclass
class Options:
    time_limit: float = 60.0
    mip_rel_gap: float = 1e-4
    threads: int | None = None
    split: bool = True   # solve independent parts apart (False: one MIP per stage)
    fix_lower: bool = True  # fix lower-priority calls at 0 in a level's stage
    # `parts`: one MIP per independent part and stage; `decomposed`: the clearing's price
    # decomposition (decomposed.py); `auto`: decomposed for large models with GB requests
    method: str = "auto"


@dataclass
class Outcome:
    x: np.ndarray
    proven: bool = True        # every stage optimal within the gap
    finished: bool = True      # every stage ran
    obj: float = 0.0           # cost stage: objective and bound, summed over parts
    bound: float = 0.0
    level_gaps: list[float] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    parts: int = 0
    log: list[tuple] = field(default_factory=list)  # (part columns, stage, seconds, status)


def components(mm: Model) -> np.ndarray:
    """Part label per column (columns sharing a row share a label; labels are the least
    column index of the part). Label propagation with pointer jumping, numpy only."""
    n = mm.ncols
    lab = np.arange(n)
    if mm.nrows == 0 or n == 0:
        return lab
    counts = np.diff(mm.start)
    nz = np.flatnonzero(counts > 0)
    idx = mm.index.astype(np.int64)
    while True:
        rmin = np.minimum.reduceat(lab[idx], mm.start[nz])
        new = lab.copy()
        np.minimum.at(new, idx, np.repeat(rmin, counts[nz]))
        while True:
            j = new[new]
            if np.array_equal(j, new):
                break
            new = j
        if np.array_equal(new, lab):
            return lab
        lab = new


def _highs(opts: Options) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", float(opts.mip_rel_gap))
    h.setOptionValue("random_seed", 0)
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
    return h


def _pass(h: highspy.Highs, lb, ub, cost, integer, lo, hi, start, index, value) -> None:
    h.passModel(len(lb), len(lo), len(value), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMinimize), 0.0, np.asarray(cost, float),
                np.asarray(lb, float), np.asarray(ub, float), np.asarray(lo, float),
                np.asarray(hi, float), start.astype(np.int32), index.astype(np.int32),
                np.asarray(value, float), integer.astype(np.int32))


def _run(h: highspy.Highs, x0: np.ndarray, deadline: float, has_int: bool
         ) -> tuple[np.ndarray | None, bool, float | None, float | None, str]:
    """Solve from start x0 until `deadline`: (x, proven, objective, bound, status text)."""
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
    h.setSolution(len(x0), np.arange(len(x0), dtype=np.int32), np.asarray(x0, float))
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status != 2 and ms != M.kModelEmpty:
        return None, False, None, None, h.modelStatusToString(ms)
    x = np.array(h.getSolution().col_value)
    obj = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if has_int else obj
    if not np.isfinite(bound):
        bound = None
    return x, ms in (M.kOptimal, M.kModelEmpty), obj, bound, h.modelStatusToString(ms)


def solve_model(mm: Model, levels: dict[int, np.ndarray], lower: dict[int, np.ndarray],
                x0: np.ndarray, opts: Options, deadline: float) -> Outcome:
    """Every stage (levels in order, then the cost), part by part.

    Parameters:
        levels: priority -> stage objective over all columns (empty for weighted primacy).
        lower: priority -> columns to fix at 0 in that level's stage.
        x0: a feasible start (nothing called, everything short).
    """
    lab = components(mm) if opts.split else np.zeros(mm.ncols, np.int64)
    order = np.argsort(lab, kind="stable")
    cuts = np.flatnonzero(np.diff(lab[order])) + 1
    parts = np.split(order, cuts) if mm.ncols else []
    # smallest first: the many small parts finish at once, the large one gets what is left
    parts.sort(key=len)
    row_lab = lab[mm.index[mm.start[:-1].clip(max=max(len(mm.index) - 1, 0))]] \
        if len(mm.index) else np.zeros(mm.nrows, np.int64)
    row_lab = np.where(np.diff(mm.start) > 0, row_lab, -1)
    rorder = np.argsort(row_lab, kind="stable")
    rl_sorted = row_lab[rorder]
    out = Outcome(x=x0.copy(), parts=len(parts))
    pos = np.empty(mm.ncols, np.int64)
    left = float(sum(len(p) for p in parts if ((p >= mm.blocks["y"].start)
                                               & (p < mm.blocks["y"].stop)).any()))
    y = mm.blocks["y"]
    for cols in parts:
        if len(cols) == 0 or not ((cols >= y.start) & (cols < y.stop)).any():
            continue  # no call possible: everything short, as the start has it
        # which rows: those whose label is this part's
        key = lab[cols[0]]
        a, b = np.searchsorted(rl_sorted, key, "left"), np.searchsorted(rl_sorted, key, "right")
        rows = np.sort(rorder[a:b])
        now = time.perf_counter()
        # a share of the time left by size, at least a quarter: parts come smallest first
        # and a small one finishes long before its share runs out
        until = now + max(deadline - now, 0.0) * max(len(cols) / max(left, 1.0), 0.25)
        left -= len(cols)
        pos[cols] = np.arange(len(cols))
        _solve_part(mm, cols, rows, pos, levels, lower, out, opts, until)
    return out


def _solve_part(mm: Model, cols: np.ndarray, rows: np.ndarray, pos: np.ndarray,
                levels: dict[int, np.ndarray], lower: dict[int, np.ndarray], out: Outcome,
                opts: Options, deadline: float) -> None:
    cnt = np.diff(mm.start)[rows]
    ent = (np.repeat(mm.start[rows], cnt)
           + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    start = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(cnt, out=start[1:])
    integer = mm.integer[cols]
    has_int = bool(integer.any())
    lb, ub = mm.col_lb[cols], mm.col_ub[cols]
    x = out.x[cols].copy()
    # a part with no decision (only shortfall columns): the start is optimal
    if not (mm.col_cost[cols] != 0).any() and not len(rows):
        return
    h = _highs(opts)
    _pass(h, lb, ub, mm.col_cost[cols], integer, mm.row_lo[rows], mm.row_hi[rows], start,
          pos[mm.index[ent]], mm.value[ent])
    stages = [(lv, c[cols]) for lv, c in sorted(levels.items()) if c[cols].any()]
    n_stages = len(stages) + 1
    for k, (lv, cost) in enumerate(stages):
        val0 = float(cost @ x)
        if val0 <= STAGE_ABS_TOL:
            continue
        now = time.perf_counter()
        until = now + (deadline - now) / (n_stages - k)
        low = pos[np.intersect1d(lower.get(lv, np.zeros(0, np.int64)), cols)] \
            if opts.fix_lower else np.zeros(0, np.int64)
        low = low.astype(np.int32)
        if len(low):
            h.changeColsBounds(len(low), low, np.zeros(len(low)), np.zeros(len(low)))
        h.changeColsCost(len(cols), np.arange(len(cols), dtype=np.int32), cost)
        t = time.perf_counter()
        xs, proven, obj, bound, msg = _run(h, x, until, has_int)
        out.log.append((len(cols), lv, round(time.perf_counter() - t, 3), msg))
        if len(low):
            h.changeColsBounds(len(low), low, lb[low], ub[low])
        if xs is None:
            out.proven = False
            out.messages.append(f"priority {lv} stage: {msg}")
        else:
            x = xs
            if not proven:
                out.proven = False
                out.messages.append(f"priority {lv} stage stopped: {msg}")
                if bound is not None:
                    out.level_gaps.append((obj - bound) / max(abs(obj), NUM_EPS))
        val = float(cost @ x)
        nz = np.flatnonzero((cost != 0) & (x > MW_EPS))
        hi = (val * (1 + STAGE_REL_TOL) + STAGE_ABS_TOL
              + HOLD_COLUMN_TOL * float(np.abs(cost[nz]).sum()))
        nzc = np.flatnonzero(cost).astype(np.int32)
        h.addRow(-highspy.kHighsInf, hi, len(nzc), nzc, cost[nzc])
    h.changeColsCost(len(cols), np.arange(len(cols), dtype=np.int32), mm.col_cost[cols])
    t = time.perf_counter()
    xs, proven, obj, bound, msg = _run(h, x, deadline, has_int)
    out.log.append((len(cols), "cost", round(time.perf_counter() - t, 3), msg))
    if xs is None:
        out.proven = False
        out.finished = False
        out.messages.append(f"cost stage: {msg}")
        c = mm.col_cost[cols]
        out.obj += float(c @ x)
        out.bound = float("nan")
    else:
        x = xs
        if not proven:
            out.proven = False
            out.messages.append(f"cost stage stopped: {msg}")
        out.obj += obj
        if bound is None:  # stopped before any bound: the box's, valid for any solution
            c = mm.col_cost[cols]
            bound = float(np.minimum(c, 0.0) @ ub)
        out.bound += bound
    out.x[cols] = x

