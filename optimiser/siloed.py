"""How separate markets clear today, for comparison with the central clearing.

Each MO runs its own market: its needs cleared alone, in merit order of cost per MW, knowing
nothing of the other MOs' awards. Markets close in order of gate closure (the optional
`gate_closure` field on needs, an extension the central clearing ignores; otherwise the order
in which each MO first appears in the snapshot). Afterwards, awards that over-commit an asset
already committed by an earlier market (capacity, both directions, incompatible products) are
conflicts: counted, and resolved by dropping the later award, which leaves its need unmet.
Costs use the same formula as the central objective, so the two are directly comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .costs import award_costs
from .problem import Problem, prepare
from .snapshot import Snapshot
from .tolerances import MW_EPS, NUM_EPS


@dataclass
class SiloedResult:
    objective: float
    cost: dict[str, float]
    unmet_mwh: float
    unmet_by_priority: dict[int, float]
    conflicts: int                  # awards (bid-period) dropped because of another market
    conflict_mw: float              # MW of those awards
    awards: list[tuple[str, int, float]] = field(default_factory=list)
    markets: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"objective": self.objective, "cost": self.cost, "unmet_mwh": self.unmet_mwh,
                "unmet_by_priority": self.unmet_by_priority, "conflicts": self.conflicts,
                "conflict_mw": self.conflict_mw, "markets": self.markets,
                "awards": [{"bid": b, "period": t, "mw": m} for b, t, m in self.awards]}


def _market_order(snap: Snapshot) -> list[str]:
    first: dict[str, tuple] = {}
    for i, n in enumerate(snap.needs):
        key = (n.gate_closure is None, n.gate_closure or "", i)
        if n.mo not in first or key < first[n.mo]:
            first[n.mo] = key
    return sorted(first, key=first.__getitem__)


def clear_siloed(snapshot: Snapshot, prob: Problem | None = None) -> SiloedResult:
    """Clear each MO's market alone, in gate-closure order (module docstring).

    Parameters:
        snapshot: the market.
        prob: `prepare(snapshot)`, if the caller has it already.
    """
    prob = prepare(snapshot) if prob is None else prob
    snap, T, dh = snapshot, prob.T, prob.dh
    A, B = len(snap.assets), len(snap.bids)
    nx = prob.nx
    ub = np.zeros((B, T))
    ub[prob.x_bid, prob.x_t] = prob.x_ub
    bmin = np.array([b.min_mw for b in snap.bids], dtype=float)
    rel = prob.asset_rel
    pidx = {p: i for i, p in enumerate(prob.products)}
    P = max(len(pidx), 1)
    incompatible = np.zeros((P, P), dtype=bool)
    for p, q in snap.rules.incompatible_products:
        incompatible[pidx[p], pidx[q]] = incompatible[pidx[q], pidx[p]] = True
    stacks = incompatible.any(axis=1).tolist()  # products with an incompatible one

    usable = np.unique(prob.x_bid) if nx else np.zeros(0, dtype=np.int64)
    mo_of_need = [n.mo for n in snap.needs]
    committed = np.zeros((A, 2, T))           # MW committed by earlier markets
    committed_prod = np.zeros((A, P, T), dtype=bool)
    residual_all = prob.need_mw.copy()
    award = np.zeros((B, T))
    conflicts, conflict_mw = 0, 0.0
    markets = _market_order(snap)
    for mo in markets:
        bids = [b for b in usable.tolist() if mo_of_need[prob.bid_need[b]] == mo]
        bids.sort(key=lambda b: (prob.bid_cost[b], b))
        used = np.zeros((A, 2, T))               # this market's own view
        used_prod = np.zeros((A, P, T), dtype=bool)
        group_taken: set[int] = set()
        residual = residual_all.copy()
        # needs with something left to fill: a bid of a need filled exactly to 0 everywhere
        # would be given nothing below, so it is skipped before any array work (most bids
        # of a market: the cheapest few fill each need)
        open_need = residual.any(axis=1).tolist()
        mine = np.zeros((B, T))
        for b in bids:
            g = int(prob.bid_group[b])
            if g >= 0 and g in group_taken:
                continue
            if not open_need[prob.bid_need[b]]:
                continue
            n, a, d, p = (int(prob.bid_need[b]), int(prob.bid_asset[b]), int(prob.bid_dir[b]),
                          int(prob.bid_product[b]))
            cap = prob.asset_cap[a, d]
            room = np.minimum(ub[b], cap - used[a, d]).clip(0)
            room[used[a, 1 - d] > NUM_EPS] = 0.0
            if stacks[p]:
                room[(used_prod[a] & incompatible[p][:, None]).any(axis=0)] = 0.0
            want = residual[n] / max(rel[a], NUM_EPS)
            if prob.bid_aon[b]:
                block = ub[b] > 0
                if (not (residual[n][block] > NUM_EPS).any()
                        or (room[block] < ub[b][block] - NUM_EPS).any()):
                    continue
                x = np.where(block, ub[b], 0.0)
            else:
                x = np.minimum(room, want)
                m = np.minimum(bmin[b], ub[b])
                low = (x > NUM_EPS) & (x < m)
                x[low] = np.where(room[low] >= m[low], m[low], 0.0)
                x[x <= NUM_EPS] = 0.0
            if not x.any():
                continue
            mine[b] = x
            used[a, d] += x
            used_prod[a, p] |= x > 0
            residual[n] = np.maximum(residual[n] - rel[a] * x, 0.0)
            open_need[n] = bool(residual[n].any())
            if g >= 0:
                group_taken.add(g)
        # cross-market conflicts: drop this market's awards clashing with earlier markets
        for b in np.flatnonzero(mine.any(axis=1)).tolist():
            a, d, p = int(prob.bid_asset[b]), int(prob.bid_dir[b]), int(prob.bid_product[b])
            x = mine[b]
            on = x > 0
            clash = on & ((committed[a, d] + x > prob.asset_cap[a, d] + MW_EPS)
                          | (committed[a, 1 - d] > NUM_EPS)
                          | (committed_prod[a] & incompatible[p][:, None]).any(axis=0))
            if clash.any():
                conflicts += int(clash.sum())
                conflict_mw += float(x[clash].sum())
                x = np.where(clash, 0.0, x)
            award[b] = x
        # commit the surviving awards of this market
        for b in np.flatnonzero(mine.any(axis=1)).tolist():
            a, d, p = int(prob.bid_asset[b]), int(prob.bid_dir[b]), int(prob.bid_product[b])
            committed[a, d] += award[b]
            committed_prod[a, p] |= award[b] > 0
            n = int(prob.bid_need[b])
            residual_all[n] = np.maximum(residual_all[n] - rel[a] * award[b], 0.0)

    # costs with the central objective's formula
    covered = np.zeros_like(prob.need_mw)
    bn = prob.bid_need
    ok = bn >= 0
    np.add.at(covered, bn[ok], award[ok] * rel[prob.bid_asset[ok]][:, None])
    unmet = np.maximum(prob.need_mw - covered, 0.0)
    pen = np.array([n.unmet_penalty for n in snap.needs], dtype=float)
    mwh = award.sum(axis=1) * dh
    cost = {k: round(v, 6) for k, v in award_costs(mwh, prob.bid_terms).items()}
    cost["unmet_penalty"] = round(float((unmet.sum(axis=1) * dh) @ pen), 6)
    by_prio: dict[int, float] = {}
    for i, n in enumerate(snap.needs):
        by_prio[n.priority] = by_prio.get(n.priority, 0.0) + float(unmet[i].sum() * dh)
    ab, at = np.nonzero(award)
    awards = [(snap.bids[b].id, t, m) for b, t, m in zip(ab.tolist(), at.tolist(),
                                                        award[ab, at].tolist(), strict=True)]
    return SiloedResult(objective=round(sum(cost.values()), 6), cost=cost,
                        unmet_mwh=round(float(unmet.sum() * dh), 6),
                        unmet_by_priority={k: round(v, 6) for k, v in sorted(by_prio.items())},
                        conflicts=conflicts, conflict_mw=round(conflict_mw, 6), awards=awards,
                        markets=markets)
