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

from .extract import Summary, clean
from .model import MatrixModel, complete, feasible, violated_rows
from .problem import Problem
from .siloed import clear_siloed
from .snapshot import Snapshot
from .tolerances import MIP_FEAS_TOL, MW_EPS, NUM_EPS, STAGE_REL_TOL

RESTORE_ROUNDS = 5  # clashes withdrawn, then checked again, at most this many times


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


def restore_lower(prob: Problem, mm: MatrixModel, x: np.ndarray, start: np.ndarray,
                  low: np.ndarray) -> np.ndarray | None:
    """`x` with `start`'s awards on the award columns `low` (the awards to lower-priority
    needs) instead of its own, minus every bid of `low` that then clashes with the rest
    (a row broken: capacity, direction, stacking, exclusive group), checked again up to
    RESTORE_ROUNDS times. The awards outside `low` are `x`'s, so the unmet of the levels they
    serve is unchanged. A full column vector feasible for every row of the model (to
    MIP_FEAS_TOL), or None if the clashes could not be cleared.

    Parameters:
        x, start: full column vectors (solutions).
        low: column indexes, all in the model's `x` block.
    """
    xb = mm.blocks["x"]
    aw = x[xb].copy()
    aw[low - xb.start] = np.clip(start[low], 0.0, None)
    is_low = np.zeros(prob.nx, dtype=bool)
    is_low[low - xb.start] = True
    for _ in range(RESTORE_ROUNDS):
        aw = clean(aw, prob)  # solver noise: snap to 0 / bounds / min MW
        v = complete(prob, mm, aw)
        bad = violated_rows(mm, v, MIP_FEAS_TOL)
        if not len(bad):
            return v
        cols = mm.index[np.concatenate([np.arange(mm.start[r], mm.start[r + 1]) for r in bad])]
        inx = (cols >= xb.start) & (cols < xb.stop)
        ix = cols[inx] - xb.start
        binc = cols[~inx]  # binaries in the row: the awards they drive
        link = mm.x_link
        via = np.zeros(prob.nx, dtype=bool)
        for k in ("y", "z", "s", "w"):
            via |= np.isin(link[k], binc)
        ix = np.concatenate([ix, np.flatnonzero(via)])
        ix = ix[is_low[ix]]
        if not len(ix):
            return None
        aw[np.isin(prob.x_bid, prob.x_bid[ix]) & is_low] = 0.0
    return None


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
