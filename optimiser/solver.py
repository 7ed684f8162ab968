"""Solver backends over one MatrixModel: highspy directly, or pyomo's appsi_highs.

Both offer the few operations the clearing needs: swap the objective between lexicographic
stages, add a stage bound row (or fix columns at 0), solve until a wall-clock deadline, pass
the last incumbent as a start, and re-solve the LP with the integer decisions fixed to read
coverage duals.

Deadlines: HiGHS gets the remaining seconds as `time_limit` and, on the direct backend, an
interrupt callback that stops it once the deadline has passed (HiGHS checks its own time
limit only between some phases; the callback is polled more often).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from .blocks import set_time_limit
from .model import MatrixModel
from .result import ClearingOptions
from .tolerances import PYOMO_GAP_FLOOR

BACKENDS = ("highs", "pyomo")


@dataclass
class SolveOutcome:
    status: str                 # optimal | feasible | infeasible | error
    x: np.ndarray | None
    objective: float | None
    gap: float | None
    message: str | None = None
    bound: float | None = None  # proven lower bound of the objective (None if unknown)
    limited: bool = False       # stopped by the deadline (time limit or interrupt)


class HighsBackend:
    def __init__(self, mm: MatrixModel, options: ClearingOptions):
        self.mm = mm
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
        if options.threads is not None:
            h.setOptionValue("threads", int(options.threads))
        integrality = mm.integer.astype(np.int32)
        h.passModel(mm.ncols, mm.nrows, len(mm.value), int(highspy.MatrixFormat.kRowwise),
                    int(highspy.ObjSense.kMinimize), 0.0, mm.col_cost, mm.col_lb, mm.col_ub,
                    mm.row_lo, mm.row_hi, mm.start, mm.index, mm.value, integrality)
        self.h = h
        self.has_int = bool(mm.integer.any())
        self.deadline = float("inf")
        self.gap = float(options.mip_rel_gap)
        self.fixed_rows: list[tuple[np.ndarray, np.ndarray]] = []
        # the interrupt flag HiGHS reads is sticky across runs: clear it on every poll
        # before the deadline, set it after
        h.cbMipInterrupt += self._poll
        h.cbSimplexInterrupt += self._poll
        h.cbIpmInterrupt += self._poll

    def _poll(self, e) -> None:
        e.interrupt(time.perf_counter() >= self.deadline)

    def set_cost(self, cost: np.ndarray) -> None:
        idx = np.arange(self.mm.ncols, dtype=np.int32)
        self.h.changeColsCost(len(idx), idx, np.asarray(cost, dtype=float))

    def add_row(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        self.h.addRow(-highspy.kHighsInf, float(hi), len(cols), cols.astype(np.int32),
                      vals.astype(float))

    def fix_zero(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        """Hold `vals @ x[cols] <= hi` (hi ~ 0, columns >= 0) as bounds: every column at 0.

        The pricing LP gets the row back (`lp_duals`), so duals are those of the row form.
        """
        cols = cols.astype(np.int32)
        z = np.zeros(len(cols))
        self.h.changeColsBounds(len(cols), cols, z, z)
        self.fixed_rows.append((cols, vals.astype(float), float(hi)))

    def set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        cols = cols.astype(np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lo, float), np.asarray(hi, float))

    def set_start(self, x: np.ndarray) -> None:
        """A MIP start: a value for every column."""
        idx = np.arange(len(x), dtype=np.int32)
        self.h.setSolution(len(idx), idx, np.asarray(x, dtype=float))

    def solve(self, deadline: float, gap: float | None = None) -> SolveOutcome:
        """Run until optimal (within the gap) or the wall-clock `deadline` (perf_counter)."""
        h = self.h
        self.deadline = deadline
        set_time_limit(h, deadline)
        if gap is not None:
            h.setOptionValue("mip_rel_gap", float(gap))
        try:
            h.run()
        finally:
            self.deadline = float("inf")
            if gap is not None:
                h.setOptionValue("mip_rel_gap", float(self.gap))
        ms = h.getModelStatus()
        info = h.getInfo()
        has_sol = info.primal_solution_status == 2
        name = h.modelStatusToString(ms)
        M = highspy.HighsModelStatus
        x = np.array(h.getSolution().col_value) if has_sol else None
        obj = info.objective_function_value if has_sol else None
        gap = (float(info.mip_gap) if self.has_int else 0.0) if has_sol else None
        if gap is not None and not np.isfinite(gap):
            gap = None
        bound = None
        if has_sol:
            bound = float(info.mip_dual_bound) if self.has_int else obj
            if bound is not None and not np.isfinite(bound):
                bound = None
        if ms == M.kModelEmpty:  # nothing to decide: the empty clearing
            return SolveOutcome("optimal", np.zeros(self.mm.ncols), 0.0, 0.0, bound=0.0)
        if ms == M.kOptimal:
            return SolveOutcome("optimal", x, obj, gap, bound=bound)
        if ms in (M.kInfeasible,):
            return SolveOutcome("infeasible", None, None, None, "HiGHS: model infeasible")
        limited = ms in (M.kTimeLimit, M.kInterrupt)
        if ms in (M.kTimeLimit, M.kIterationLimit, M.kInterrupt, M.kSolutionLimit) and has_sol:
            return SolveOutcome("feasible", x, obj, gap, f"HiGHS stopped: {name}", bound,
                                limited)
        return SolveOutcome("error", None, None, None, f"HiGHS status: {name}",
                            limited=limited)

    def lp_duals(self, x: np.ndarray, deadline: float) -> np.ndarray | None:
        """Row duals of the LP with every integer column fixed at its value in x."""
        ints = np.flatnonzero(self.mm.integer).astype(np.int32)
        if len(ints):
            self.h.changeColsIntegrality(len(ints), ints, np.zeros(len(ints), dtype=np.uint8))
        self.deadline = deadline  # the interrupt callback polls it
        try:
            return fixed_integer_duals(self.h, self.mm, x, self.fixed_rows, deadline)
        finally:
            self.deadline = float("inf")


def fixed_integer_duals(h: highspy.Highs, mm: MatrixModel, x: np.ndarray,
                        zero_holds: list[tuple[np.ndarray, np.ndarray, float]],
                        deadline: float) -> np.ndarray | None:
    """Row duals of the model's LP (`h`, integrality already off) with every integer column
    fixed at its value in x and the holds kept as bounds put back in row form, so that the
    marginal costs are the same whichever method cleared: the spec's pricing LP."""
    ints = np.flatnonzero(mm.integer).astype(np.int32)
    if len(ints):
        v = np.round(x[ints])
        h.changeColsBounds(len(ints), ints, v, v)
    for cols, vals, hi in zero_holds:
        c32 = np.asarray(cols, np.int32)
        h.changeColsBounds(len(c32), c32, mm.col_lb[cols], mm.col_ub[cols])
        h.addRow(-highspy.kHighsInf, float(hi), len(c32), c32, np.asarray(vals, float))
    for _ in range(2):
        set_time_limit(h, deadline)
        h.run()
        if (h.getModelStatus() == highspy.HighsModelStatus.kOptimal
                or time.perf_counter() >= deadline):
            break
        h.clearSolver()  # a stale MIP/basis state can upset the LP: once from scratch
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    if not sol.dual_valid:
        return None
    return np.array(sol.row_dual)[:mm.nrows]


class PyomoBackend:
    """The formulation as a pyomo ConcreteModel, solved through appsi_highs."""

    def __init__(self, mm: MatrixModel, options: ClearingOptions):
        from pyomo.contrib.appsi.solvers import Highs

        from .pyomo_model import build_pyomo

        self.mm = mm
        self.m = build_pyomo(mm)
        self.opt = Highs()
        self.opt.config.stream_solver = False
        self.opt.config.load_solution = False
        self.gap = float(options.mip_rel_gap)
        self.opt.highs_options["mip_rel_gap"] = self.gap
        self.opt.highs_options["output_flag"] = False
        if options.threads is not None:
            self.opt.highs_options["threads"] = int(options.threads)
        self.has_int = bool(mm.integer.any())

    def set_cost(self, cost: np.ndarray) -> None:
        from .pyomo_model import set_objective

        set_objective(self.m, cost)

    def add_row(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        from .pyomo_model import add_row

        add_row(self.m, cols, vals, hi)

    def fix_zero(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        self.add_row(cols, vals, hi)  # pyomo: keep the row form (same optimum)

    def set_start(self, x: np.ndarray) -> None:
        for i, v in enumerate(x):
            self.m.v[i].set_value(float(v), skip_validation=True)
        self.opt.config.warmstart = True if hasattr(self.opt.config, "warmstart") else None

    def solve(self, deadline: float, gap: float | None = None) -> SolveOutcome:
        from pyomo.contrib.appsi.base import TerminationCondition as TC

        self.opt.config.time_limit = max(deadline - time.perf_counter(), 0.01)
        self.opt.highs_options["mip_rel_gap"] = float(self.gap if gap is None else gap)
        res = self.opt.solve(self.m)
        tc = res.termination_condition
        has_sol = res.best_feasible_objective is not None
        x = None
        if has_sol:
            res.solution_loader.load_vars()
            x = np.array([self.m.v[i].value or 0.0 for i in range(self.mm.ncols)])
        gap = bound = None
        if has_sol:
            bo, bf = res.best_objective_bound, res.best_feasible_objective
            if not self.has_int:
                gap, bound = 0.0, bf
            else:
                gap = abs(bf - bo) / max(abs(bf), PYOMO_GAP_FLOOR) if bo is not None else None
                bound = bo
        if tc == TC.optimal:
            return SolveOutcome("optimal", x, res.best_feasible_objective, gap, bound=bound)
        if tc == TC.infeasible:
            return SolveOutcome("infeasible", None, None, None, "HiGHS: model infeasible")
        limited = tc in (TC.maxTimeLimit, TC.interrupted)
        if has_sol and tc in (TC.maxTimeLimit, TC.maxIterations, TC.interrupted):
            return SolveOutcome("feasible", x, res.best_feasible_objective, gap,
                                f"HiGHS stopped: {tc.name}", bound, limited)
        return SolveOutcome("error", None, None, None, f"HiGHS status: {tc.name}",
                            limited=limited)

    def lp_duals(self, x: np.ndarray, deadline: float) -> np.ndarray | None:
        from pyomo.contrib.appsi.base import TerminationCondition as TC
        from pyomo.environ import Reals

        m = self.m
        for i in np.flatnonzero(self.mm.integer):
            m.v[int(i)].domain = Reals
            m.v[int(i)].fix(float(round(x[i])))
        self.opt.config.time_limit = max(deadline - time.perf_counter(), 0.01)
        res = self.opt.solve(m)
        if res.termination_condition != TC.optimal:
            return None
        duals = res.solution_loader.get_duals()
        return np.array([duals.get(m.c[r], 0.0) for r in range(self.mm.nrows)])


def make_backend(mm: MatrixModel, options: ClearingOptions):
    if options.backend == "highs":
        return HighsBackend(mm, options)
    if options.backend == "pyomo":
        return PyomoBackend(mm, options)
    raise ValueError(f"unknown backend {options.backend!r} (use one of {', '.join(BACKENDS)})")
