"""Solver backends over one MatrixModel: highspy directly, or pyomo's appsi_highs.

Both offer the few operations the clearing needs: swap the objective between lexicographic
stages, add a stage bound row, solve with a time limit, pass the last incumbent as a start,
and re-solve the LP with the integer decisions fixed to read coverage duals.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from .model import MatrixModel
from .result import ClearingOptions


@dataclass
class SolveOutcome:
    status: str                 # optimal | feasible | infeasible | error
    x: np.ndarray | None
    objective: float | None
    gap: float | None
    message: str | None = None


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

    def set_cost(self, cost: np.ndarray) -> None:
        idx = np.arange(self.mm.ncols, dtype=np.int32)
        self.h.changeColsCost(len(idx), idx, np.asarray(cost, dtype=float))

    def add_row(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        self.h.addRow(-highspy.kHighsInf, float(hi), len(cols), cols.astype(np.int32),
                      vals.astype(float))

    def set_start(self, x: np.ndarray) -> None:
        idx = np.arange(len(x), dtype=np.int32)
        self.h.setSolution(len(idx), idx, np.asarray(x, dtype=float))

    def solve(self, time_limit: float) -> SolveOutcome:
        h = self.h
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
        h.run()
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
        if ms == M.kModelEmpty:  # nothing to decide: the empty clearing
            return SolveOutcome("optimal", np.zeros(self.mm.ncols), 0.0, 0.0)
        if ms == M.kOptimal:
            return SolveOutcome("optimal", x, obj, gap)
        if ms in (M.kInfeasible,):
            return SolveOutcome("infeasible", None, None, None, "HiGHS: model infeasible")
        if ms in (M.kTimeLimit, M.kIterationLimit, M.kInterrupt, M.kSolutionLimit) and has_sol:
            return SolveOutcome("feasible", x, obj, gap, f"HiGHS stopped: {name}")
        return SolveOutcome("error", None, None, None, f"HiGHS status: {name}")

    def lp_duals(self, x: np.ndarray, time_limit: float) -> np.ndarray | None:
        """Row duals of the LP with every integer column fixed at its value in x."""
        h = self.h
        ints = np.flatnonzero(self.mm.integer).astype(np.int32)
        if len(ints):
            v = np.round(x[ints])
            h.changeColsBounds(len(ints), ints, v, v)
            h.changeColsIntegrality(len(ints), ints, np.zeros(len(ints), dtype=np.uint8))
        h.setOptionValue("time_limit", max(float(time_limit), 1.0))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        if not sol.dual_valid:
            return None
        return np.array(sol.row_dual)


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
        self.opt.highs_options["mip_rel_gap"] = float(options.mip_rel_gap)
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

    def set_start(self, x: np.ndarray) -> None:
        for i, v in enumerate(x):
            self.m.v[i].set_value(float(v), skip_validation=True)
        self.opt.config.warmstart = True if hasattr(self.opt.config, "warmstart") else None

    def solve(self, time_limit: float) -> SolveOutcome:
        from pyomo.contrib.appsi.base import TerminationCondition as TC

        self.opt.config.time_limit = max(float(time_limit), 0.01)
        res = self.opt.solve(self.m)
        tc = res.termination_condition
        has_sol = res.best_feasible_objective is not None
        x = None
        if has_sol:
            res.solution_loader.load_vars()
            x = np.array([self.m.v[i].value or 0.0 for i in range(self.mm.ncols)])
        gap = None
        if has_sol:
            if not self.has_int:
                gap = 0.0
            else:
                bo, bf = res.best_objective_bound, res.best_feasible_objective
                gap = abs(bf - bo) / max(abs(bf), 1e-10) if bo is not None else None
        if tc == TC.optimal:
            return SolveOutcome("optimal", x, res.best_feasible_objective, gap)
        if tc == TC.infeasible:
            return SolveOutcome("infeasible", None, None, None, "HiGHS: model infeasible")
        if has_sol and tc in (TC.maxTimeLimit, TC.maxIterations, TC.interrupted):
            return SolveOutcome("feasible", x, res.best_feasible_objective, gap,
                                f"HiGHS stopped: {tc.name}")
        return SolveOutcome("error", None, None, None, f"HiGHS status: {tc.name}")

    def lp_duals(self, x: np.ndarray, time_limit: float) -> np.ndarray | None:
        from pyomo.contrib.appsi.base import TerminationCondition as TC
        from pyomo.environ import Reals

        m = self.m
        for i in np.flatnonzero(self.mm.integer):
            m.v[int(i)].domain = Reals
            m.v[int(i)].fix(float(round(x[i])))
        self.opt.config.time_limit = max(float(time_limit), 1.0)
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
    raise ValueError(f"unknown backend {options.backend!r} (use 'highs' or 'pyomo')")
