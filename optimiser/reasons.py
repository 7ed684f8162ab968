"""Rejection reason codes and their assignment after a solve.

These codes feed the rationale an MO must disclose, so they are a stable, documented list
(docs/market-formulation.md). A bid is rejected when it has no award in any period; a bid
awarded in some periods only is accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .problem import Problem

# ineligibility (decided before the solve)
NEED_NOT_FOUND = "need_not_found"
ASSET_NOT_FOUND = "asset_not_found"
ZONE_MISMATCH = "zone_mismatch"
DIRECTION_NOT_SUPPORTED = "direction_not_supported"
AVAILABILITY_PRICE_ABOVE_CAP = "availability_price_above_cap"
UTILISATION_PRICE_ABOVE_CAP = "utilisation_price_above_cap"
ALL_OR_NOTHING_UNAVAILABLE = "all_or_nothing_unavailable"
NO_DELIVERABLE_PERIODS = "no_deliverable_periods"
# competition (decided by the solve)
OUTCOMPETED = "outcompeted"
CAPACITY_USED = "capacity_used_by_other_awards"
STACKING_CONFLICT = "stacking_conflict"
DIRECTION_CONFLICT = "direction_conflict"
EXCLUSIVE_GROUP = "exclusive_group"
PRIMACY = "primacy"
INDIVISIBLE = "indivisible_not_economic"

REASONS = (
    NEED_NOT_FOUND, ASSET_NOT_FOUND, ZONE_MISMATCH, DIRECTION_NOT_SUPPORTED,
    AVAILABILITY_PRICE_ABOVE_CAP, UTILISATION_PRICE_ABOVE_CAP, ALL_OR_NOTHING_UNAVAILABLE,
    NO_DELIVERABLE_PERIODS, OUTCOMPETED, CAPACITY_USED, STACKING_CONFLICT, DIRECTION_CONFLICT,
    EXCLUSIVE_GROUP, PRIMACY, INDIVISIBLE,
)

_EPS = 1e-6


def competition_reasons(prob: Problem, xval: np.ndarray, marginal: np.ndarray | None,
                        ) -> dict[int, list[str]]:
    """Reasons for every eligible bid with no award.

    Conflict reasons are read from the other awards on the same asset and period; when the
    winning award serves a need of strictly higher priority, `primacy` is added. A bid with
    no conflict whose cost is above the marginal cost of its need in every period it could
    serve is `outcompeted`; a cheaper one lost because its min_mw / all-or-nothing block
    did not pay (`indivisible_not_economic`).
    """
    snap = prob.snapshot
    T = prob.T
    A = len(snap.assets)
    B = len(snap.bids)
    awarded_bid = np.zeros(B, dtype=bool)
    on = xval > _EPS
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
    for a, t, p, pr in zip(xa[on], prob.x_t[on], prob.bid_product[prob.x_bid[on]], xprio[on], strict=False):
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

    order = np.argsort(prob.x_bid, kind="stable")
    starts = np.searchsorted(prob.x_bid[order], losers)
    ends = np.searchsorted(prob.x_bid[order], losers, side="right")
    out: dict[int, list[str]] = {}
    for b, s, e in zip(losers, starts, ends, strict=False):
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
            if used[a, t, d] >= cap - _EPS and CAPACITY_USED not in reasons:
                reasons.append(CAPACITY_USED)
            if used[a, t, d] >= cap - _EPS and best[a, t, d] < prio:
                higher = True
            if used[a, t, 1 - d] > _EPS:
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
            if marginal is not None and np.all(
                    prob.bid_cost[b] > marginal[prob.x_cov[cols]] + 1e-6):
                reasons.append(OUTCOMPETED)
            elif prob.bid_aon[b] or np.any(prob.x_min[cols] > _EPS) or marginal is None:
                reasons.append(INDIVISIBLE if marginal is not None else OUTCOMPETED)
            else:
                reasons.append(OUTCOMPETED)
        out[b] = reasons
    return out
