"""Why a contract got no instruction for a request it could serve: the dispatch rationale.

Decided from the final dispatch, per period in which both the contract and the request are
positive; a pair's reasons are the union over those periods, in the fixed order of
`optimiser.reasons.DISPATCH`. In a period, the blocking rules are checked first:

- `unavailable`: the declared MW in the contract's direction is 0;
- `capacity_in_use`: what is left of the declaration after fixed instructions and every
  call (or of the contract after its other calls) is below the least call it could make
  there (`min(min_mw, U)`, at least MW_EPS);
- `energy_limit`: an up contract whose asset's energy is used up to less than that call;
- `run_limit`: the asset does not run in the period and running would break a window;
- `zone_conflict`, `stacking_conflict`, `direction_conflict`: rules 8, 6, 5 at that period.

A period with no blocking rule gives `not_needed` when the request had nothing left
unserved and nothing cheaper (per MW delivered, reliability counted) served it, else
`outcompeted` (cheaper contracts served it, or leaving it short cost less than calling it,
e.g. its minimum call would have cost more than the shortfall penalty).
"""

from __future__ import annotations

import numpy as np

from .. import reasons as R
from ..tolerances import MW_EPS, PRICE_EPS
from .problem import UP, Problem, incompatible_pairs

ORDER = {code: i for i, code in enumerate(R.DISPATCH_REASONS)}


def not_dispatched(prob: Problem, Y: np.ndarray, y_val: np.ndarray, short: np.ndarray
                   ) -> list[dict]:
    """Rows `{"contract", "request", "reasons"}` for every serving pair with both positive in
    some period and no instruction.

    Parameters:
        Y: (C, T) new MW per contract-period.
        y_val: MW per candidate call (the problem's y arrays; 0 where not built).
        short: (R, T) MW left unserved.
    """
    T, dh = prob.T, prob.dh
    called = np.zeros(len(prob.p_c), dtype=bool)
    np.logical_or.at(called, prob.y_p, y_val > MW_EPS)
    todo = np.flatnonzero(prob.p_pos & ~called)
    if not len(todo):
        return []
    A, P = prob.A, len(prob.products)
    ac, dc = prob.c_asset, prob.c_dir
    # what each asset carries, new and fixed
    new_ad = np.zeros((A, 2, T))
    np.add.at(new_ad, (ac, dc), Y)
    carry_dir = (new_ad + prob.fixed) > MW_EPS                       # (A, 2, T)
    on_c = (Y + prob.fixed_c) > MW_EPS                                # (C, T)
    carry_prod = np.zeros((A, T, P), dtype=bool)
    kc, kt = np.nonzero(on_c)
    carry_prod[ac[kc], kt, prob.c_prod[kc]] = True
    n_prod = np.zeros((A, T, P))
    np.add.at(n_prod, (ac[kc], kt, prob.c_prod[kc]), 1.0)
    running = carry_dir.any(axis=1)                                   # (A, T)
    energy_left = prob.a_energy - dh * (new_ad[:, UP, :] + prob.fixed[:, UP, :]).sum(axis=1)
    pairs, same = incompatible_pairs(prob)
    against = [set() for _ in prob.products]
    for i, j in pairs:
        against[i].add(j)
        against[j].add(i)
    eff = prob.c_unit / np.maximum(prob.a_rel[ac], 1e-12)  # cost per MW delivered
    served_min = np.full((prob.R, T), np.inf)  # cheapest effective cost serving r at t
    yon = y_val > MW_EPS
    if yon.any():
        np.minimum.at(served_min, (prob.y_r[yon], prob.y_t[yon]), eff[prob.y_c[yon]])
    rows = []
    con, req = prob.snap.contracts, prob.snap.requests
    for pi in todo.tolist():
        c, r = int(prob.p_c[pi]), int(prob.p_r[pi])
        a, d, pr = int(ac[c]), int(dc[c]), int(prob.c_prod[c])
        ts = np.flatnonzero((prob.c_mw[c] > 0) & (prob.r_mw[r] > 0))
        found: set[str] = set()
        for t in ts.tolist():
            least = min(prob.c_min[c], prob.c_U[c, t])
            need = max(least - MW_EPS, MW_EPS)  # room below this cannot take a call
            here: set[str] = set()
            av = prob.avail[a, d, t]
            if av <= MW_EPS:
                here.add(R.UNAVAILABLE)
            elif (av - prob.fixed[a, d, t] - new_ad[a, d, t] < need
                  or prob.c_mw[c, t] - Y[c, t] < need):
                here.add(R.CAPACITY_IN_USE)
            if d == UP and not np.isnan(energy_left[a]) and energy_left[a] < dh * need:
                here.add(R.ENERGY_LIMIT)
            if not running[a, t] and _breaks_run(prob, running[a], a, t):
                here.add(R.RUN_LIMIT)
            if prob.zone_block[a, d, t]:
                here.add(R.ZONE_CONFLICT)
            if any(carry_prod[a, t, q] for q in against[pr]) or (
                    pr in same and n_prod[a, t, pr] - float(on_c[c, t]) > 0):
                here.add(R.STACKING_CONFLICT)
            if carry_dir[a, 1 - d, t]:
                here.add(R.DIRECTION_CONFLICT)
            if not here:
                if short[r, t] <= MW_EPS and not served_min[r, t] < eff[c] - PRICE_EPS:
                    here.add(R.NOT_NEEDED)
                else:
                    here.add(R.OUTCOMPETED)
            found |= here
        rows.append({"contract": con[c]["id"], "request": req[r]["id"],
                     "reasons": sorted(found, key=ORDER.__getitem__)})
    return rows


def _breaks_run(prob: Problem, running: np.ndarray, a: int, t: int) -> bool:
    m = int(prob.a_maxrun[a])
    T = prob.T
    if m < 1 or m + 1 > T:
        return False
    on = running.copy()
    on[t] = True
    return any(on[j:j + m + 1].all() for j in range(max(0, t - m), min(t, T - m - 1) + 1))
