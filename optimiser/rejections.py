"""Why each eligible bid without an award lost: the competition reasons of a clearing.

A bid is rejected when it has no award in any period (a bid awarded in some periods only is
accepted); the codes and their texts are `reasons.py`. Conflict reasons are facts about the
awards as they stand, whatever the solve proved. Whether a bid was *outcompeted* is a claim
about the optimum, and is only made when it holds:

- the clearing is proven optimal and the bid's cost per MW/h is above its need's marginal
  cost in every period it could serve (the pricing LP's duals: it was priced out), or
- every need-period the bid could serve is fully met by awards that each cost no more per MW
  of need covered (cost per MW/h divided by the asset's reliability) than the bid: it could
  only have displaced an offer at least as cheap.

In a proven-optimal clearing a loser that passes neither test is still one the proven optimum
does without: `indivisible_not_economic` when it is cheaper than the margin somewhere but its
min MW or all-or-nothing block kept it out, else `outcompeted` (a tie at the margin, or the
marginal costs unknown). In a clearing that is not proven optimal (stopped at its time
limit) neither the marginal costs nor the awards prove anything more, so every other loser is
`not_selected_unproven`.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem
from .reasons import (
    CAPACITY_USED,
    DIRECTION_CONFLICT,
    EXCLUSIVE_GROUP,
    INDIVISIBLE,
    NOT_SELECTED_UNPROVEN,
    OUTCOMPETED,
    PRIMACY,
    STACKING_CONFLICT,
)
from .tolerances import MW_EPS, NUM_EPS, PRICE_EPS


def competition_reasons(prob: Problem, xval: np.ndarray, marginal: np.ndarray | None,
                        unmet: np.ndarray, proven: bool = True) -> dict[int, list[str]]:
    """Reasons for every eligible bid with no award (see the module docstring).

    Conflict reasons are read from the other awards on the same asset and period; when the
    winning award serves a need of strictly higher priority, `primacy` is added.

    Parameters:
        prob: the prepared market.
        xval: cleaned award per x column.
        marginal: marginal cost per u column (GBP/MW/h), None if not computed.
        unmet: unmet MW per u column, recomputed from `xval`.
        proven: whether `xval` is proven optimal (status `optimal`).
    """
    snap = prob.snapshot
    T = prob.T
    A = len(snap.assets)
    B = len(snap.bids)
    awarded_bid = np.zeros(B, dtype=bool)
    on = xval > MW_EPS
    awarded_bid[prob.x_bid[on]] = True
    losers = np.unique(prob.x_bid[~awarded_bid[prob.x_bid]])
    if len(losers) == 0:
        return {}

    # usage per asset-period-direction, best priority awarded, products awarded
    xa = prob.bid_asset[prob.x_bid]
    xd = prob.bid_dir[prob.x_bid]
    used = np.zeros((A, T, 2))
    np.add.at(used, (xa[on], prob.x_t[on], xd[on]), xval[on])
    xprio = prob.need_priority[prob.bid_need[prob.x_bid]]
    best = np.full((A, T, 2), np.iinfo(np.int64).max)
    np.minimum.at(best, (xa[on], prob.x_t[on], xd[on]), xprio[on])
    prod_on: dict[tuple[int, int], dict[int, int]] = {}
    for a, t, p, pr in zip(xa[on], prob.x_t[on], prob.bid_product[prob.x_bid[on]], xprio[on],
                           strict=True):
        d = prod_on.setdefault((int(a), int(t)), {})
        d[int(p)] = min(d.get(int(p), 1 << 30), int(pr))
    pidx = {p: i for i, p in enumerate(prob.products)}
    incompatible: dict[int, set[int]] = {}
    for p, q in snap.rules.incompatible_products:
        incompatible.setdefault(pidx[p], set()).add(pidx[q])
        incompatible.setdefault(pidx[q], set()).add(pidx[p])
    group_winner = {}
    for b in np.flatnonzero(awarded_bid):
        g = prob.bid_group[b]
        if g >= 0:
            group_winner[int(g)] = b
    covered_cheaper = None if proven else _covered_cheaper(prob, on, unmet)

    order = np.argsort(prob.x_bid, kind="stable")
    starts = np.searchsorted(prob.x_bid[order], losers)
    ends = np.searchsorted(prob.x_bid[order], losers, side="right")
    out: dict[int, list[str]] = {}
    for b, s, e in zip(losers, starts, ends, strict=True):
        cols = order[s:e]
        b = int(b)
        a, d = prob.bid_asset[b], prob.bid_dir[b]
        prio = prob.need_priority[prob.bid_need[b]]
        p = int(prob.bid_product[b])
        cap = prob.asset_cap[a, d]
        reasons: list[str] = []
        higher = False
        g = prob.bid_group[b]
        if g >= 0 and int(g) in group_winner:
            reasons.append(EXCLUSIVE_GROUP)
        for c in cols:
            t = prob.x_t[c]
            if used[a, t, d] >= cap - MW_EPS and CAPACITY_USED not in reasons:
                reasons.append(CAPACITY_USED)
            if used[a, t, d] >= cap - MW_EPS and best[a, t, d] < prio:
                higher = True
            if used[a, t, 1 - d] > MW_EPS:
                if DIRECTION_CONFLICT not in reasons:
                    reasons.append(DIRECTION_CONFLICT)
                if best[a, t, 1 - d] < prio:
                    higher = True
            others = prod_on.get((int(a), int(t)), {})
            clash = [pr for q, pr in others.items() if q in incompatible.get(p, ())]
            if clash:
                if STACKING_CONFLICT not in reasons:
                    reasons.append(STACKING_CONFLICT)
                if min(clash) < prio:
                    higher = True
        if higher:
            reasons.append(PRIMACY)
        if not reasons:
            reasons.append(_unconflicted(prob, b, cols, marginal, covered_cheaper))
        out[b] = reasons
    return out


def _covered_cheaper(prob: Problem, on: np.ndarray, unmet: np.ndarray) -> np.ndarray:
    """Per x column: its need-period is fully met, and by awards each costing no more per MW
    of need covered than that column's bid."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = prob.cover_coef
        per_cover = np.where(rel > 0, prob.bid_cost[prob.x_bid] / rel, np.inf)
    dearest = np.full(prob.nu, -np.inf)
    np.maximum.at(dearest, prob.x_cov[on], per_cover[on])
    return (unmet[prob.x_cov] <= 0) & (dearest[prob.x_cov] <= per_cover + NUM_EPS)


def _unconflicted(prob: Problem, b: int, cols: np.ndarray, marginal: np.ndarray | None,
                  covered_cheaper: np.ndarray | None) -> str:
    """The one reason of a loser with no conflict (module docstring); `covered_cheaper` is
    None when the clearing is proven optimal."""
    if covered_cheaper is not None:
        return OUTCOMPETED if covered_cheaper[cols].all() else NOT_SELECTED_UNPROVEN
    if marginal is not None and np.all(prob.bid_cost[b] > marginal[prob.x_cov[cols]] + PRICE_EPS):
        return OUTCOMPETED
    if prob.bid_aon[b] or np.any(prob.x_min[cols] > MW_EPS) or marginal is None:
        return INDIVISIBLE if marginal is not None else OUTCOMPETED
    return OUTCOMPETED
