"""The lexicographic stages run over the price decomposition (decompose.py), for large markets.

Same semantics as the monolithic path in clearing.py: one stage per priority level, its value
held part by part, then the cost stage; each stage starts from the solution carried so far,
which satisfies every hold.

- A level whose stage falls apart once lower-level awards are fixed at 0 (they cannot help
  it: withdrawing them is always feasible) is solved exactly, component by component: the
  DSO level of a GB market, whose needs are all zonal, is one small MIP per zone.
- A level tied across zones (GB-wide needs) gets its bound and first solution by pricing; the
  descent then runs on the priority-weighted objective of this and the later levels plus cost,
  so the level's solution is also a good start for the cost stage (a solution found for the
  level alone is arbitrary in cost, and held at its level it leaves the cost stage little
  room: fixing the priced components' choices then rarely meets the hold).
- Holds are widened by the solver's feasibility tolerance per held column: a value read off a
  solution feasible within tolerance can sit a hair below exact arithmetic's reach.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .blocks import label
from .decompose import Decomposer, default_workers, link_rows
from .model import MatrixModel
from .problem import Problem
from .solver import fixed_integer_duals

STAGE_ABS_TOL = 1e-7
HOLD_COLUMN_TOL = 1e-6  # HiGHS's feasibility tolerance, per held column
LEVEL_SHARE = 0.45   # of the time left, for a tied level (the cost stage gets the rest)


@dataclass
class DecomposedRun:
    x: np.ndarray
    limited: bool = False
    gap: float | None = None
    messages: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    dec: Decomposer | None = None
    zero_holds: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)


def solve_decomposed(prob: Problem, mm: MatrixModel, x0: np.ndarray, gap: float,
                     deadline: float, lexicographic: bool,
                     workers: int | None = None) -> DecomposedRun:
    from .clearing import _complete, hold_rows, weighted_cost

    dec = Decomposer(mm, link_rows(prob, mm), workers or default_workers())
    run = DecomposedRun(x=x0, dec=dec)
    levels: list[tuple[int, np.ndarray]] = []
    if lexicographic:
        levels = [(pr, c) for pr, c in sorted(mm.stage_cost.items()) if c.any()]
    xprio = (prob.need_priority[prob.bid_need[prob.x_bid]] if prob.nx
             else np.zeros(0, dtype=np.int64))
    x0c = mm.blocks["x"].start
    u = mm.blocks["u"]
    for k, (pr, cost) in enumerate(levels):
        name = f"priority {pr}"
        now = time.perf_counter()
        if now >= deadline:
            run.limited = True
            run.messages.append(f"time limit reached before the {name} stage")
            return run
        cols = np.flatnonzero(cost)
        t = time.perf_counter()
        if float(cost[cols] @ run.x[cols]) <= STAGE_ABS_TOL:
            part = None
            run.stages.append({"stage": name, "skipped": True})
        else:
            low = x0c + np.flatnonzero(xprio > pr)
            dec.set_bounds(low, np.zeros(len(low)), np.zeros(len(low)))
            try:
                exact = not dec.has_link()
                if exact:
                    aw = run.x[mm.blocks["x"]].copy()
                    aw[low - x0c] = 0.0
                    start = _complete(prob, mm, aw)
                    until = now + (deadline - now) / (len(levels) - k + 1)
                    out = dec.solve_stage(cost, gap, until, [start if dec.feasible(start)
                                                            else run.x])
                    part = label(dec, np.zeros(0, np.int64), dec.ub - dec.lb > 1e-9)
            finally:
                dec.set_bounds(low, mm.col_lb[low], mm.col_ub[low])
            if not exact:
                # tied across zones: bound and primal by pricing, then descent on the
                # priority-weighted objective, so the level's solution is also a good start
                # for the cost (a level-only solution is arbitrary in cost, and held at its
                # level it leaves the cost stage little room)
                until = now + (deadline - now) * LEVEL_SHARE
                out = dec.solve_stage(cost, gap, until, [run.x],
                                      descent_cost=weighted_cost(mm, levels[k:]),
                                      lp_presolve=True)
                part = label(dec, np.zeros(0, np.int64), dec.ub - dec.lb > 1e-9)
            _record(run, name, out, gap, time.perf_counter() - t, exact=exact)
        if part is not None:
            part = part[u]
        _hold(run, dec, hold_rows(mm, part, cost, run.x, HOLD_COLUMN_TOL), cost)
    now = time.perf_counter()
    if now >= deadline:
        run.limited = True
        run.messages.append("time limit reached before the cost stage")
        return run
    t = time.perf_counter()
    out = dec.solve_stage(mm.col_cost, gap, deadline, [run.x])
    _record(run, "cost", out, gap, time.perf_counter() - t)
    return run


def _record(run: DecomposedRun, name: str, out, gap: float, dt: float, **extra) -> None:
    run.x = out.x
    run.gap = out.gap
    run.times.append(round(dt, 3))
    run.stages.append({"stage": name, "value": out.value, "bound": out.bound, "gap": out.gap,
                       "rounds": out.rounds, "components": out.components,
                       "moves": out.moves, "s": round(dt, 3),
                       **extra})
    if out.limited or out.gap is None or out.gap > gap:
        run.limited = True
        shown = "-" if out.gap is None else f"{out.gap:.2e}"
        run.messages.append(f"{name} stage: stopped at gap {shown}"
                            + (f" ({out.message})" if out.message else ""))


def _hold(run: DecomposedRun, dec: Decomposer, held, cost: np.ndarray) -> None:
    rows, zero = held
    for cols, vals, hi in rows:
        dec.add_row(cols, vals, hi)
    if len(zero):
        run.x = run.x.copy()
        run.x[zero] = 0.0
        dec.set_bounds(zero, np.zeros(len(zero)), np.zeros(len(zero)))
        run.zero_holds.append((zero, cost[zero], STAGE_ABS_TOL))


def pricing_duals(run: DecomposedRun, x: np.ndarray, deadline: float) -> np.ndarray | None:
    """The marginal-cost duals, on the LP kept by the decomposition (see solver.py)."""
    if run.dec is None:
        return None
    h = run.dec._lp_model()
    h.changeColsCost(run.dec.mm.ncols, np.arange(run.dec.mm.ncols, dtype=np.int32),
                     run.dec.mm.col_cost)
    return fixed_integer_duals(h, run.dec.mm, x, run.zero_holds, deadline)
