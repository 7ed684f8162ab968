"""The merit-order start: a feasible clearing found without a solver, and the floor it sets.

Why: a clearing stopped by its time limit must never publish less than it could have had
without any optimisation. The siloed clearing (`siloed.py`: each MO's needs filled in merit
order of cost per MW, conflicts between markets dropped) is such a clearing, found in linear
time; made a full column vector (`merit_order_start`) it is the monolithic stages' MIP start
and, for both methods, the floor `clear` compares an unproven result against
(`improves_on`): if the solver ended with nothing better, the result is this start.
"""

from __future__ import annotations

import numpy as np

from .extract import Summary
from .model import MatrixModel, complete, feasible, violated_rows
from .problem import Problem
from .siloed import clear_siloed
from .snapshot import Snapshot
from .tolerances import MW_EPS, NUM_EPS, STAGE_REL_TOL


def siloed_start(snap: Snapshot, prob: Problem, mm: MatrixModel) -> np.ndarray:
    """Awards and unmet of the siloed clearing (today's separate markets, conflicts dropped)
    as a column vector; the binaries follow from the awards (`MatrixModel.x_link`). Checked
    against every row and repaired (offending bids withdrawn), but not guaranteed feasible:
    `merit_order_start` checks."""
    sil = clear_siloed(snap, prob)
    bidx = {b.id: i for i, b in enumerate(snap.bids)}
    award = np.zeros((len(snap.bids), prob.T))
    for b, t, m in sil.awards:
        award[bidx[b], t] = m
    xs = np.minimum(award[prob.x_bid, prob.x_t], prob.x_ub) if prob.nx else np.zeros(0)
    # the siloed markets may cut an all-or-nothing block in conflict resolution and accept two
    # bids of one exclusive group in different markets: withdraw such bids
    B = len(snap.bids)
    short = np.zeros(B, dtype=bool)
    short[prob.x_bid[xs < prob.x_ub - NUM_EPS]] = True
    accepted = np.zeros(B, dtype=bool)
    accepted[prob.x_bid[xs > 0]] = True
    drop = accepted & prob.bid_aon & short
    seen: set[int] = set()
    for b in np.flatnonzero(accepted & ~drop & (prob.bid_group >= 0)).tolist():
        g = int(prob.bid_group[b])
        if g in seen:
            drop[b] = True
        seen.add(g)
    xs[drop[prob.x_bid]] = 0.0
    for _ in range(3):
        v = complete(prob, mm, xs)
        bad = violated_rows(mm, v)
        if not len(bad):
            break
        # withdraw every bid with an award in a violated row (a siloed tolerance slip)
        xcols = mm.index[np.concatenate([np.arange(mm.start[r], mm.start[r + 1]) for r in bad])]
        xb = mm.blocks["x"]
        xcols = xcols[(xcols >= xb.start) & (xcols < xb.stop)] - xb.start
        xs[np.isin(prob.x_bid, prob.x_bid[xcols])] = 0.0
    return v


def merit_order_start(snap: Snapshot, prob: Problem, mm: MatrixModel) -> np.ndarray | None:
    """The siloed clearing as a feasible column vector, or None if it is not feasible (then
    the empty clearing, `model.empty_clearing`, is the only start known)."""
    v = siloed_start(snap, prob, mm)
    return v if feasible(mm, v) else None


def improves_on(result: Summary, start: Summary, lexicographic: bool) -> bool:
    """Whether the clearing `start` is strictly better than `result`, by what the spec ranks:
    under lexicographic primacy the unmet MWh of each priority level in turn, then the
    objective; under weighted primacy the objective. Values are the published ones (from
    cleaned awards); a difference within the stage tolerance (relative STAGE_REL_TOL, plus
    MW_EPS) is no difference, so solver round-off never swaps a result for the start."""
    if lexicographic:
        for a, b in zip(result.stages, start.stages, strict=True):
            tol = STAGE_REL_TOL * max(a.unmet_mwh, b.unmet_mwh) + MW_EPS
            if b.unmet_mwh < a.unmet_mwh - tol:
                return True
            if b.unmet_mwh > a.unmet_mwh + tol:
                return False
    tol = STAGE_REL_TOL * max(abs(result.objective), abs(start.objective)) + MW_EPS
    return start.objective < result.objective - tol
