"""The stages run over the price decomposition (decompose.py): the method for large markets.

Same semantics as the monolithic method (monolithic.py): one stage per priority level, its
value held part by part (`holds.py`), then the cost stage; each stage starts from the
solution carried so far, which satisfies every hold.

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

import numpy as np

from .blocks import label
from .decompose import Decomposer, StageOutcome, default_workers, link_rows
from .holds import Hold, hold_rows, weighted_cost
from .model import MatrixModel, complete, empty_clearing
from .problem import Problem
from .result import ClearingOptions
from .run import SolveFailed, SolveRun, StageResult
from .solver import fixed_integer_duals
from .tolerances import HOLD_COLUMN_TOL, STAGE_ABS_TOL

LEVEL_SHARE = 0.45   # of the time left, for a tied level (the cost stage gets the rest)
# kept back from the stages for the pricing LP (integers fixed, warm on the kept LP) and the
# extraction: a share of time_limit, at most a fixed part plus a part growing with the model
RESERVE_SHARE = 0.15
RESERVE_S = 0.3
RESERVE_S_PER_COL = 6e-6
# the pricing LP's own share of that reserve, at most
PRICE_RESERVE_S = 0.05
PRICE_RESERVE_S_PER_COL = 2.5e-6


def budget(opts: ClearingOptions, mm: MatrixModel, t0: float) -> tuple[float, float]:
    """(stage deadline, pricing-LP deadline) of a call started at `t0` (see RESERVE_*)."""
    deadline = t0 + opts.time_limit
    reserve = min(RESERVE_SHARE * opts.time_limit, RESERVE_S + RESERVE_S_PER_COL * mm.ncols)
    return (deadline - reserve,
            deadline - min(reserve / 2, PRICE_RESERVE_S + PRICE_RESERVE_S_PER_COL * mm.ncols))


def solve_decomposed(prob: Problem, mm: MatrixModel, opts: ClearingOptions, t0: float,
                     t_built: float) -> SolveRun:
    """Every stage by the price decomposition, from the empty clearing (the stages find
    better ones at once; the merit-order start is `clear`'s floor, not this method's start).

    Raises:
        SolveFailed: the decomposition failed (any exception, as an `error`).
    """
    solve_deadline, price_deadline = budget(opts, mm, t0)
    dec = Decomposer(mm, link_rows(prob, mm), opts.workers or default_workers())
    zero_holds: list[Hold] = []

    def duals(x: np.ndarray, deadline: float) -> np.ndarray | None:
        """The marginal-cost duals, on the LP kept by the decomposition (see solver.py)."""
        h = dec.lp_model()
        h.changeColsCost(mm.ncols, np.arange(mm.ncols, dtype=np.int32), mm.col_cost)
        return fixed_integer_duals(h, mm, x, zero_holds, deadline)

    run = SolveRun(x=empty_clearing(prob, mm), t_built=t_built, price_deadline=price_deadline,
                   duals=duals, stats={"stage_s": [], "stages": []})
    try:
        _stages(run, dec, zero_holds, prob, mm, float(opts.mip_rel_gap), solve_deadline,
                prob.snapshot.rules.primacy == "lexicographic")
    except Exception as e:
        raise SolveFailed("error", f"decomposed solve failed: {e}") from e
    run.stats["lp_s"] = round(dec.lp_s, 3)
    return run


def _stages(run: SolveRun, dec: Decomposer, zero_holds: list[Hold], prob: Problem,
            mm: MatrixModel, gap: float, deadline: float, lexicographic: bool) -> None:
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
            return
        cols = np.flatnonzero(cost)
        t = time.perf_counter()
        if float(cost[cols] @ run.x[cols]) <= STAGE_ABS_TOL:
            part = None
            run.stats["stages"].append({"stage": name, "skipped": True})
            run.stages.append(StageResult(name, cost, 0.0, 0.0, True, pr))
        else:
            low = x0c + np.flatnonzero(xprio > pr)
            dec.set_bounds(low, np.zeros(len(low)), np.zeros(len(low)))
            try:
                exact = not dec.has_link()
                if exact:
                    aw = run.x[mm.blocks["x"]].copy()
                    aw[low - x0c] = 0.0
                    start = complete(prob, mm, aw)
                    until = now + (deadline - now) / (len(levels) - k + 1)
                    out = dec.solve_stage(cost, gap, until, [start if dec.feasible(start)
                                                            else run.x])
                    part = label(dec, np.zeros(0, np.int64), dec.moving())
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
                part = label(dec, np.zeros(0, np.int64), dec.moving())
            _record(run, name, cost, out, gap, time.perf_counter() - t, pr, exact=exact)
        if part is not None:
            part = part[u]
        _hold(run, dec, zero_holds, hold_rows(mm, part, cost, run.x, HOLD_COLUMN_TOL), cost)
    now = time.perf_counter()
    if now >= deadline:
        run.limited = True
        run.messages.append("time limit reached before the cost stage")
        return
    t = time.perf_counter()
    out = dec.solve_stage(mm.col_cost, gap, deadline, [run.x])
    run.finished = True
    _record(run, "cost", mm.col_cost, out, gap, time.perf_counter() - t, None)


def _record(run: SolveRun, name: str, cost: np.ndarray, out: StageOutcome, gap: float,
            dt: float, priority: int | None, **extra) -> None:
    run.x = out.x
    run.stats["stage_s"].append(round(dt, 3))
    run.stats["stages"].append({"stage": name, "value": out.value, "bound": out.bound,
                                "gap": out.gap, "rounds": out.rounds,
                                "components": out.components, "moves": out.moves,
                                "s": round(dt, 3), **extra})
    proven = not (out.limited or out.gap is None or out.gap > gap)
    run.stages.append(StageResult(name, cost, out.bound, out.gap, proven, priority))
    if not proven:
        run.limited = True
        shown = "-" if out.gap is None else f"{out.gap:.2e}"
        run.messages.append(f"{name} stage: stopped at gap {shown}"
                            + (f" ({out.message})" if out.message else ""))


def _hold(run: SolveRun, dec: Decomposer, zero_holds: list[Hold],
          held: tuple[list[Hold], np.ndarray], cost: np.ndarray) -> None:
    rows, zero = held
    for cols, vals, hi in rows:
        dec.add_row(cols, vals, hi)
        run.holds.append((cols, vals, hi))
    if len(zero):
        run.x = run.x.copy()
        run.x[zero] = 0.0
        dec.set_bounds(zero, np.zeros(len(zero)), np.zeros(len(zero)))
        zero_holds.append((zero, cost[zero], STAGE_ABS_TOL))
        run.holds.append((zero, cost[zero], STAGE_ABS_TOL))
