"""The clearing formulation as a pyomo model, built from the same sparse arrays.

One indexed `Var` over all columns and one indexed `Constraint` over all rows, each row a
`LinearExpression` assembled from a CSR slice (no expression arithmetic), so pyomo build cost
is as low as pyomo allows. Used as the reference/alternative backend; see the bench for why
the direct HiGHS path is the default at scale.
"""

from __future__ import annotations

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.environ import (
    Binary,
    ConcreteModel,
    Constraint,
    ConstraintList,
    NonNegativeReals,
    Objective,
    Reals,
    Var,
    minimize,
)

from .model import MatrixModel


def _linear(v, cols, vals) -> LinearExpression:
    return LinearExpression([MonomialTermExpression((float(a), v[int(c)]))
                             for c, a in zip(cols, vals, strict=False)])


def build_pyomo(mm: MatrixModel) -> ConcreteModel:
    m = ConcreteModel("flex_clearing")
    lb, ub, integer = mm.col_lb.tolist(), mm.col_ub.tolist(), mm.integer.tolist()

    def _dom(_m, i):
        return Binary if integer[i] else (NonNegativeReals if lb[i] >= 0 else Reals)

    m.v = Var(range(mm.ncols), domain=_dom, bounds=lambda _m, i: (lb[i], ub[i]))
    start, index, value = mm.start, mm.index, mm.value
    lo = [None if not np.isfinite(x) else float(x) for x in mm.row_lo]
    hi = [None if not np.isfinite(x) else float(x) for x in mm.row_hi]

    def _row(_m, r):
        s, e = start[r], start[r + 1]
        return (lo[r], _linear(_m.v, index[s:e], value[s:e]), hi[r])

    m.c = Constraint(range(mm.nrows), rule=_row)
    m.stage = ConstraintList()
    set_objective(m, mm.col_cost)
    return m


def set_objective(m: ConcreteModel, cost: np.ndarray) -> None:
    if hasattr(m, "obj"):
        m.del_component(m.obj)
    nz = np.flatnonzero(cost)
    m.obj = Objective(expr=_linear(m.v, nz, cost[nz]), sense=minimize)


def add_row(m: ConcreteModel, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
    m.stage.add(_linear(m.v, cols, vals) <= float(hi))
