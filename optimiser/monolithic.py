"""The stages solved on one HiGHS model (or its pyomo twin): the monolithic method.

Lexicographic primacy is one MIP per priority level (minimise that level's unmet MWh, then
hold it part by part, `holds.py`) and a final cost MIP; each stage starts from the solution
carried so far, which stays feasible because it satisfies every row added so far. Before the
levels, one priority-weighted MIP gives every stage a near-optimal start (docs/
market-formulation.md, Primacy). Weighted primacy is the cost MIP alone.
"""

from __future__ import annotations

import time

import numpy as np

from .holds import Hold, hold_rows, holds_ok, stage_parts, weighted_cost
from .model import MatrixModel, empty_clearing
from .problem import Problem
from .result import ClearingOptions
from .run import SolveFailed, SolveRun, StageResult, relative_gap
from .start import restore_lower
from .tolerances import MIP_ABS_GAP, STAGE_ABS_TOL

PROXY_GAP_FACTOR = 0.1  # the priority-weighted start is solved to a tenth of mip_rel_gap...
PROXY_SHARE = 0.4       # ... and may use this share of the solve time
# kept back from the solves for the pricing LP and extraction: a share of time_limit, at most
# a fixed part plus a part growing with the model
RESERVE_SHARE = 0.1
RESERVE_S = 0.1
RESERVE_S_PER_COL = 5e-6


def budget(opts: ClearingOptions, mm: MatrixModel, t0: float) -> tuple[float, float]:
    """(solve deadline, pricing-LP deadline) of a call started at `t0`: the whole call
    (build, stages, pricing LP, extraction) fits in `time_limit`; the rest is extraction's."""
    deadline = t0 + opts.time_limit
    reserve = min(RESERVE_SHARE * opts.time_limit, RESERVE_S + RESERVE_S_PER_COL * mm.ncols)
    return deadline - reserve, deadline - reserve / 2


def solve_monolithic(prob: Problem, mm: MatrixModel, opts: ClearingOptions, backend,
                     t0: float, t_built: float, start: np.ndarray | None) -> SolveRun:
    """Every stage on `backend`, from `start` (a feasible column vector; None: the empty
    clearing).

    Raises:
        SolveFailed: a stage proved the model infeasible, or the solver failed outright.
    """
    solve_deadline, price_deadline = budget(opts, mm, t0)
    state = StageEngine(backend, mm, opts, solve_deadline, prob)
    state.x = empty_clearing(prob, mm) if start is None else start
    if prob.snapshot.rules.primacy == "lexicographic":
        state.lexicographic()
    state.cost_stage()
    return SolveRun(x=state.x, t_built=t_built, price_deadline=price_deadline,
                    duals=backend.lp_duals, limited=state.limited, finished=state.finished,
                    messages=state.messages, stages=state.results, holds=state.holds,
                    stats={"stage_s": state.times, "proxy_s": state.proxy_s,
                           "skipped_stages": state.skipped})


class StageEngine:
    """The sequence of solves of one clearing, sharing one deadline.

    `x` is always a solution feasible for every row added so far (the carried solution).
    """

    def __init__(self, backend, mm: MatrixModel, opts: ClearingOptions, deadline: float,
                 prob: Problem):
        self.be, self.mm, self.opts, self.deadline, self.prob = backend, mm, opts, deadline, prob
        self.x: np.ndarray = np.zeros(mm.ncols)
        self.limited = False
        self.finished = False  # the cost stage ran
        self.messages: list[str] = []
        self.times: list[float] = []
        self.results: list[StageResult] = []
        self.holds: list[Hold] = []
        # priority -> part of each u column (-1: other levels)
        self.parts = {pr: stage_parts(prob, pr) for pr in mm.stage_cost}
        self.proxy_s: list[float] = []  # weighted-start solve times
        self.skipped: list[int] = []
        self.wcost: np.ndarray | None = None  # priority-weighted objective of all levels
        self.lower: dict[int, np.ndarray] = {}  # priority -> award columns of lower levels
        if prob.nx:
            xprio = prob.need_priority[prob.bid_need[prob.x_bid]]
            x0 = mm.blocks["x"].start
            self.lower = {pr: x0 + np.flatnonzero(xprio > pr) for pr in mm.stage_cost}

    def _run(self, cost: np.ndarray, until: float, gap: float | None = None):
        self.be.set_cost(cost)
        self.be.set_start(self.x)  # after the cost change, which drops HiGHS's solution
        t = time.perf_counter()
        out = self.be.solve(until, gap)
        return out, round(time.perf_counter() - t, 3)

    def _record(self, pr: int, cost: np.ndarray, bound: float | None, proven: bool) -> None:
        self.results.append(StageResult(f"priority {pr}", cost, bound,
                                        relative_gap(float(cost @ self.x), bound), proven, pr))

    def lexicographic(self) -> None:
        mm = self.mm
        todo = [(pr, c) for pr, c in mm.stage_cost.items() if c.any()]
        if not todo:
            return
        self.wcost = weighted_cost(mm, todo)
        self._weighted_start(todo)
        for k, (pr, cost) in enumerate(todo):
            name = f"priority {pr}"
            cols = np.flatnonzero(cost)
            nxt = todo[k + 1][1] if k + 1 < len(todo) else mm.col_cost
            if float(cost[cols] @ self.x[cols]) <= STAGE_ABS_TOL:
                # nothing of this priority left unmet: optimal without a solve
                self._record(pr, cost, 0.0, True)
                self._hold(pr, cost)
                self.skipped.append(pr)
                continue
            now = time.perf_counter()
            if now >= self.deadline:
                self.limited = True
                self.messages.append(f"time limit reached before {name} stage")
                return
            # share what is left between this stage, the later ones and the cost stage, so a
            # hard stage cannot starve the cost stage. Awards to lower levels cannot help this
            # stage (withdrawing them is always feasible), so they are fixed at 0 during it:
            # the same optimum and bound, and the top stage splits into small parts
            low = self.lower.get(pr)
            if low is not None and len(low) and hasattr(self.be, "set_bounds"):
                self.be.set_bounds(low, np.zeros(len(low)), np.zeros(len(low)))
            try:
                out, dt = self._run(cost, now + (self.deadline - now) / (len(todo) - k + 1))
            finally:
                if low is not None and len(low) and hasattr(self.be, "set_bounds"):
                    self.be.set_bounds(low, mm.col_lb[low], mm.col_ub[low])
            self.times.append(dt)
            if out.status == "infeasible" or (out.status == "error" and not out.limited):
                raise SolveFailed(out.status, f"{name} stage: {out.message}")
            if out.status == "error":  # stopped before any solution: keep the carried one
                self.limited = True
                self.messages.append(f"{name} stage: {out.message}")
                self._record(pr, cost, None, False)
                self._hold(pr, cost)
                return
            if out.status == "feasible":
                # stopped by the time limit: nothing is proven, so carry whichever of HiGHS's
                # incumbent and the start is better by the priority-weighted objective (an
                # unmet-only incumbent typically withdraws every lower-priority award)
                self.limited = True
                self.messages.append(f"{name} stage: {out.message} (gap {out.gap})")
                cands = [out.x, self._restore_lower(out.x, self.x, pr)]
                best = min(cands, key=lambda c: float(self.wcost @ c))
                if float(self.wcost @ best) <= float(self.wcost @ self.x):
                    self.x = best
                self._record(pr, cost, out.bound, False)
            else:
                start = self.x
                self.x = self._pick(cost, out, nxt)
                if self.x is not start:
                    rep = self._restore_lower(self.x, start, pr)
                    if float(nxt @ rep) <= float(nxt @ self.x):
                        self.x = rep
                self._record(pr, cost, out.bound, True)
                if self.x is not start and k + 1 < len(todo):
                    # the weighted solution was beaten beyond the gap on this level: HiGHS's
                    # incumbent of an unmet-only objective is poor for the later levels, so
                    # solve the weighted objective of the levels left under the new hold
                    self._hold(pr, cost)
                    self._weighted_start(todo[k + 1:])
                    continue
            self._hold(pr, cost)

    def _restore_lower(self, x: np.ndarray, start: np.ndarray, pr: int) -> np.ndarray:
        """`x` (a stage's incumbent, lower-level awards withdrawn) with the start's awards to
        lower levels put back where they fit (`start.restore_lower`): the same value on this
        and higher levels, usually far better on the lower ones. `x` itself if that does not
        give a solution feasible for every row and hold."""
        low = self.lower.get(pr)
        if low is None or not len(low):
            return x
        v = restore_lower(self.prob, self.mm, x, start, low)
        return v if v is not None and holds_ok(self.holds, v) else x

    def _weighted_start(self, todo: list[tuple[int, np.ndarray]]) -> None:
        """A priority-weighted solve of the levels in `todo` and the cost, subject to the holds
        so far: one MIP whose optimum is (nearly always) the lexicographic one, so each later
        stage starts from a near-optimal incumbent and mostly has to prove it."""
        now = time.perf_counter()
        if now >= self.deadline or PROXY_SHARE <= 0:
            return
        cost = weighted_cost(self.mm, todo)
        # the weights inflate the objective, so the caller's relative gap would let its cost
        # part stray far: solve it tighter
        out, dt = self._run(cost, now + (self.deadline - now) * PROXY_SHARE,
                            float(self.opts.mip_rel_gap) * PROXY_GAP_FACTOR)
        self.proxy_s.append(dt)
        if out.status == "infeasible":
            raise SolveFailed("infeasible", f"priority-weighted start: {out.message}")
        if out.x is not None and holds_ok(self.holds, out.x):
            if float(cost @ out.x) <= float(cost @ self.x):
                self.x = out.x
        elif not out.limited:
            self.messages.append(f"priority-weighted start: {out.message}")

    def _pick(self, cost: np.ndarray, out, nxt: np.ndarray) -> np.ndarray:
        """The solution to carry after an optimal stage: of the solver's incumbent and the
        stage's start, each proven within the gap of this stage's bound, the better one for
        the next objective (the start is usually the priority-weighted solution, which is
        near-optimal for every later stage too)."""
        if out.bound is None:
            return out.x
        g = float(self.opts.mip_rel_gap)
        ok = []
        for cand in (out.x, self.x):
            v = float(cost @ cand)
            if v - out.bound <= max(g * abs(v), MIP_ABS_GAP) and holds_ok(self.holds, cand):
                ok.append(cand)
        if not ok:
            return out.x
        return min(ok, key=lambda c: float(nxt @ c))

    def _hold(self, pr: int, cost: np.ndarray) -> None:
        """Hold this stage's value of the carried solution, part by part (`hold_rows`)."""
        rows, zero = hold_rows(self.mm, self.parts.get(pr), cost, self.x)
        for cols, vals, hi in rows:
            self.be.add_row(cols, vals, hi)
            self.holds.append((cols, vals, hi))
        if len(zero):
            self.x = self.x.copy()
            self.x[zero] = 0.0
            self.be.fix_zero(zero, cost[zero], STAGE_ABS_TOL)
            self.holds.append((zero, cost[zero], STAGE_ABS_TOL))

    def cost_stage(self) -> None:
        now = time.perf_counter()
        if now >= self.deadline:
            self.limited = True
            self.messages.append("time limit reached before the cost stage")
            return
        cost = self.mm.col_cost
        out, dt = self._run(cost, self.deadline)
        self.times.append(dt)
        self.finished = True
        if out.status == "infeasible" or (out.status == "error" and not out.limited):
            if not self.holds:
                raise SolveFailed(out.status, out.message)
            self.messages.append(f"cost stage: {out.message}; keeping the last stage's solution")
            self.limited = True
            self.results.append(StageResult("cost", cost, None, None, False))
            return
        if out.status == "error":
            self.limited = True
            self.messages.append(f"cost stage: {out.message}; keeping the last stage's solution")
            self.results.append(StageResult("cost", cost, None, None, False))
            return
        self.x = out.x
        # HiGHS's own gap of its incumbent (the result's mip_gap when every level is proven)
        self.results.append(StageResult("cost", cost, out.bound, out.gap,
                                        out.status == "optimal"))
        if out.status == "feasible":
            self.limited = True
            self.messages.append(f"cost stage: {out.message}")
