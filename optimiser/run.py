"""What a clearing method hands back to `clear`: the same record from both methods.

`monolithic.py` (one HiGHS model) and `lexicographic.py` (the price decomposition) each solve
the stages their way and return a `SolveRun`; `clearing.py` then does the one post-solve tail
(merit-order floor, pricing LP, extraction, status, gap, timing) for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .holds import Hold
from .tolerances import NUM_EPS


def relative_gap(value: float, bound: float | None) -> float | None:
    """`(value - bound) / |value|` (0 if the bound is above), None when the bound is unknown."""
    if bound is None or not np.isfinite(bound):
        return None
    return max(value - bound, 0.0) / max(abs(value), NUM_EPS)


@dataclass
class StageResult:
    """One stage solved: a priority level (`priority 1`, ...) or `cost`."""

    name: str
    cost: np.ndarray            # the stage's objective over the model's columns
    bound: float | None         # proven lower bound under the holds before it (None: unknown)
    gap: float | None           # of the solution carried out of it against `bound`
    proven: bool                # within the caller's mip_rel_gap (or nothing to solve)
    priority: int | None = None  # the level's priority; None for the cost stage


@dataclass
class SolveRun:
    """The solution a method carried out of its stages, and what is known about it.

    `duals(x, deadline)` solves the pricing LP for `x` on the method's own model (its holds
    included) and returns the row duals, or None if not solved in time.
    """

    x: np.ndarray
    t_built: float              # perf_counter when the model was ready (end of build)
    price_deadline: float       # the pricing LP stops here
    duals: Callable[[np.ndarray, float], np.ndarray | None]
    limited: bool = False       # some stage stopped short of proving its gap, or never ran
    finished: bool = False      # the cost stage ran
    messages: list[str] = field(default_factory=list)
    stages: list[StageResult] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)  # every hold added, rows and zero holds
    stats: dict[str, Any] = field(default_factory=dict)  # method-specific, for `result.stats`

    def mip_gap(self) -> float | None:
        """The result's honest gap: the cost stage's, or a level's when a level was not proven
        and its gap is the larger; None when any of those is unknown or the cost stage never
        ran (see docs/market-formulation.md, Status)."""
        if not self.finished:
            return None
        gaps = [s.gap for s in self.stages if s.name == "cost" or not s.proven]
        if any(g is None for g in gaps) or not gaps:
            return None
        return max(gaps)

    def proven_priority(self) -> int:
        """The last priority level proven before the first stage that was not (0 if none):
        the levels whose solution the stages proved, from the top."""
        last = 0
        for s in self.stages:
            if not s.proven or s.priority is None:
                break
            last = s.priority
        return last

    def gap_of(self, x: np.ndarray, within_holds: bool) -> float | None:
        """The gap of another solution `x` against the stages' proven bounds.

        The first stage's bound holds for any solution; a later stage's only for solutions
        within the holds before it (`within_holds`), else the gap is unknown (None). Every
        stage counts, proven or not: `x` is not what the stages proved."""
        if not self.finished or not self.stages:
            return None
        gaps = []
        for i, s in enumerate(self.stages):
            if i and not within_holds:
                return None
            gaps.append(relative_gap(float(s.cost @ x), s.bound))
        return None if any(g is None for g in gaps) else max(gaps)


class SolveFailed(Exception):
    """A stage ended infeasible or in a solver error: the clearing's status and message."""

    def __init__(self, status: str, message: str | None):
        super().__init__(message)
        self.status, self.message = status, message
