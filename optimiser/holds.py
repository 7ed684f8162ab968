"""Holding a lexicographic stage's value, shared by both methods (monolithic.py, lexicographic.py).

After the stage of a priority level, its unmet MWh is held (within STAGE_REL_TOL) while the
later stages run. How: per independent part of the market (`stage_parts`), one row each, or
the part's unmet columns fixed at 0 when it has nothing unmet; and the priority-weighted
objective (`weighted_cost`) that stands in for the levels left when a solve needs one MIP.
"""

from __future__ import annotations

import numpy as np

from .model import MatrixModel
from .problem import Problem
from .tolerances import NUM_EPS, STAGE_ABS_TOL, STAGE_REL_TOL

PROXY_WEIGHT = 100.0  # priority-weighted objective: each level weighs 100x the one below it

Hold = tuple[np.ndarray, np.ndarray, float]  # columns, coefficients, upper bound of the sum


def weighted_cost(mm: MatrixModel, levels: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Cost plus each level's unmet MWh at a weight far above every cost (PROXY_WEIGHT times
    the dearest column per MWh, and PROXY_WEIGHT times the next level's): its optimum is,
    short of ties, the lexicographic one.

    Parameters:
        mm: the model (its `col_cost` is the cost).
        levels: (priority, stage objective) of the levels to weigh, highest priority first.
    """
    unit = max(float(c.max()) for _, c in levels)  # dh: stage costs are MWh
    weight = PROXY_WEIGHT * max(float(np.abs(mm.col_cost).max(initial=0.0)) / unit, 1.0)
    cost = mm.col_cost.copy()
    for _, c in reversed(levels):
        cost += weight * c
        weight *= PROXY_WEIGHT
    return cost


def hold_rows(mm: MatrixModel, part: np.ndarray | None, cost: np.ndarray, x: np.ndarray,
              per_column_tol: float = 0.0) -> tuple[list[Hold], np.ndarray]:
    """The rows that hold a stage's value of `x` (within the relative tolerance), part by
    part, and the columns of parts held at 0 (fixed at 0 as bounds: no row needed).

    Per part, `sum cost[c] * x[c] <= v_part * (1 + STAGE_REL_TOL) + STAGE_ABS_TOL + slack`,
    with `slack = per_column_tol * sum |cost[c]|`.

    The stage's objective is a sum over independent parts (only bids of this or higher levels
    matter to it, and they link needs through assets and groups), so its optimum is the sum of
    the parts' optima and holding the sum at the optimum is holding every part at its own.
    Per part, the sum of the rows' right-hand sides is the spec's hold, up to the absolute
    HiGHS tolerance per row; and a part-local row keeps the decomposition's components apart.
    `per_column_tol` widens a row by that much per unit of coefficient: a value read off a
    solution that is feasible only within the solver's tolerance is otherwise slightly below
    what exact arithmetic allows, and HiGHS's presolve then calls the held model infeasible.

    Parameters:
        mm: the model.
        part: independent part of each `u` column (`stage_parts`), or None for one row.
        cost: the stage's objective.
        x: the solution whose value is held.
        per_column_tol: slack per unit of coefficient (see above).
    """
    u = mm.blocks["u"]
    cols_all = np.flatnonzero(cost)
    if part is None or len(part) != u.stop - u.start:
        groups = [cols_all]
    else:
        pc = part[cols_all - u.start]
        order = np.argsort(pc, kind="stable")
        cuts = np.flatnonzero(np.diff(pc[order])) + 1
        groups = np.split(cols_all[order], cuts)
    rows, zero = [], []
    for cols in groups:
        val = float(cost[cols] @ x[cols])
        if val <= STAGE_ABS_TOL:
            zero.append(cols)
        else:
            slack = STAGE_ABS_TOL + per_column_tol * float(np.abs(cost[cols]).sum())
            rows.append((cols, cost[cols], val * (1 + STAGE_REL_TOL) + slack))
    return rows, (np.concatenate(zero) if zero else np.zeros(0, dtype=np.int64))


def holds_ok(holds: list[Hold], x: np.ndarray) -> bool:
    """Whether `x` satisfies every hold (to NUM_EPS)."""
    return all(float(v @ x[c]) <= hi + NUM_EPS for c, v, hi in holds)


def stage_parts(prob: Problem, pr: int) -> np.ndarray:
    """Independent part of each u column for the priority-`pr` stage (-1 for other levels).

    Only bids of needs of priority <= pr can matter to that stage (any other award can be
    withdrawn at no loss to it), so two needs are in one part when such bids link them through
    an asset (capacity, direction, stacking are per asset) or an exclusive group.
    """
    nu = prob.nu
    N = len(prob.need_priority)
    A = len(prob.asset_rel)
    part = np.full(nu, -1, dtype=np.int64)
    if not nu:
        return part
    bids = np.unique(prob.x_bid)
    bids = bids[prob.need_priority[prob.bid_need[bids]] <= pr]
    parent = np.arange(N + A + len(prob.groups))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for b in bids.tolist():
        n, a, g = int(prob.bid_need[b]), N + int(prob.bid_asset[b]), int(prob.bid_group[b])
        rn, ra = find(n), find(a)
        if rn != ra:
            parent[ra] = rn
        if g >= 0:
            rg, rn = find(N + A + g), find(n)
            if rg != rn:
                parent[rg] = rn
    sel = np.flatnonzero(prob.need_priority[prob.u_need] == pr)
    part[sel] = [find(int(n)) for n in prob.u_need[sel]]
    return part
