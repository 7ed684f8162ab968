"""Problem preparation: the snapshot turned into numpy arrays and sparse index sets.

Everything here is vectorised over bids x periods so that a 30,000-bid, 48-period market is
prepared in well under a second; the model layer then only concatenates arrays. Eligibility
is decided here too, because the index sets (which `x[b,t]` exist at all) depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .costs import cost_terms, unit_cost
from .eligibility import DOWN, UP, can_move, capability, zone_serves
from .reasons import (
    ALL_OR_NOTHING_UNAVAILABLE,
    ASSET_NOT_FOUND,
    AVAILABILITY_PRICE_ABOVE_CAP,
    DIRECTION_NOT_SUPPORTED,
    NEED_NOT_FOUND,
    NO_DELIVERABLE_PERIODS,
    UTILISATION_PRICE_ABOVE_CAP,
    ZONE_MISMATCH,
)
from .snapshot import Snapshot


@dataclass
class Problem:
    """Arrays describing one clearing; `x*` arrays have one entry per possible award."""

    snapshot: Snapshot
    T: int
    dh: float
    # bids (B)
    bid_need: np.ndarray        # need index, -1 if unknown
    bid_asset: np.ndarray       # asset index, -1 if unknown
    bid_dir: np.ndarray         # 0 up, 1 down (of its need; 0 if unknown)
    bid_product: np.ndarray     # product code of its need (-1 if unknown)
    bid_cost: np.ndarray        # GBP per MW per hour, utilisation and carbon expected
    bid_terms: dict[str, np.ndarray]  # bid_cost by term (costs.cost_terms)
    bid_aon: np.ndarray         # bool
    bid_group: np.ndarray       # exclusive group code, -1 if none
    bid_mw: np.ndarray          # (B, T)
    ineligible: dict[int, list[str]]
    # needs (N)
    need_mw: np.ndarray         # (N, T)
    need_priority: np.ndarray
    # assets (A)
    asset_cap: np.ndarray       # (A, 2) capability up, down
    asset_rel: np.ndarray
    # awards x (one per deliverable bid-period)
    x_bid: np.ndarray
    x_t: np.ndarray
    x_ub: np.ndarray
    x_min: np.ndarray           # min(min_mw, ub): least award when on
    # unmet u (one per need-period with mw > 0); coverage rows share this indexing
    u_need: np.ndarray
    u_t: np.ndarray
    u_mw: np.ndarray
    x_cov: np.ndarray           # coverage row (== u index) of each x
    products: list[str]
    groups: list[str]
    # coverage coefficient per x column: None is the asset's reliability (version 1, and the
    # expected-value rule); the chance-constrained clearing sets its own (chance.py)
    x_rel: np.ndarray | None = None
    # the exact coverage of chance-constrained rows (chance.ChanceCover), read by `summarise`
    chance: Any = None

    @property
    def cover_coef(self) -> np.ndarray:
        """Coverage coefficient of each x column (spec rule 5: the asset's reliability)."""
        if self.x_rel is not None:
            return self.x_rel
        return self.asset_rel[self.bid_asset[self.x_bid]]

    @property
    def nx(self) -> int:
        return len(self.x_bid)

    @property
    def nu(self) -> int:
        return len(self.u_need)


def _codes(values: list, table: dict) -> np.ndarray:
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


def prepare(snap: Snapshot) -> Problem:
    T = snap.n_periods
    A, N, B = len(snap.assets), len(snap.needs), len(snap.bids)
    dh = snap.dh
    aidx = {a.id: i for i, a in enumerate(snap.assets)}
    nidx = {n.id: i for i, n in enumerate(snap.needs)}

    asset_zone = np.array([a.zone for a in snap.assets], dtype=object)
    need_zone = np.array([n.zone for n in snap.needs], dtype=object)
    products: dict[str, int] = {}
    need_product = _codes([n.product for n in snap.needs], products)
    for p, q in snap.rules.incompatible_products:
        products.setdefault(p, len(products))
        products.setdefault(q, len(products))

    asset_cap = np.array([[capability(a.up_mw, a.down_mw, d) for d in (UP, DOWN)]
                          for a in snap.assets], dtype=float).reshape(A, 2)
    asset_rel = np.array([a.reliability for a in snap.assets], dtype=float)
    asset_ef = np.array([a.emission_t_per_mwh for a in snap.assets], dtype=float)
    asset_avail = np.ones((A, T), dtype=bool)
    for i, a in enumerate(snap.assets):
        if a.unavailable_periods:
            asset_avail[i, list(a.unavailable_periods)] = False

    need_mw = np.array([n.mw for n in snap.needs], dtype=float).reshape(N, T)
    need_dir = np.array([n.direction == "down" for n in snap.needs], dtype=np.int64)
    need_priority = np.array([n.priority for n in snap.needs], dtype=np.int64)
    inf = np.inf
    need_acap = np.array([inf if n.max_availability_price is None else n.max_availability_price
                          for n in snap.needs], dtype=float)
    need_ucap = np.array([inf if n.utilisation_price_cap is None else n.utilisation_price_cap
                          for n in snap.needs], dtype=float)
    need_eu = np.array([n.expected_utilisation for n in snap.needs], dtype=float)

    bid_need = np.array([nidx.get(b.need, -1) for b in snap.bids], dtype=np.int64)
    bid_asset = np.array([aidx.get(b.asset, -1) for b in snap.bids], dtype=np.int64)
    bid_mw = np.array([b.mw for b in snap.bids], dtype=float).reshape(B, T)
    bid_ap = np.array([b.availability_price for b in snap.bids], dtype=float)
    bid_up = np.array([b.utilisation_price for b in snap.bids], dtype=float)
    bid_min = np.array([b.min_mw for b in snap.bids], dtype=float)
    bid_aon = np.array([b.all_or_nothing for b in snap.bids], dtype=bool)
    groups: dict[str, int] = {}
    bid_group = np.array([-1 if b.exclusive_group is None
                          else groups.setdefault(b.exclusive_group, len(groups))
                          for b in snap.bids], dtype=np.int64)

    has_n, has_a = bid_need >= 0, bid_asset >= 0
    bn = np.where(has_n, bid_need, 0)
    ba = np.where(has_a, bid_asset, 0)
    both = has_n & has_a
    if N and A:
        bid_dir = np.where(has_n, need_dir[bn], 0)
        bid_product = np.where(has_n, need_product[bn], -1)
        zone_bad = both & ~zone_serves(need_zone[bn], asset_zone[ba])
        cap = np.where(both, asset_cap[ba, bid_dir], 0.0)
        dir_bad = both & ~can_move(cap)
        ap_bad = has_n & (bid_ap > need_acap[bn])
        up_bad = has_n & (bid_up > need_ucap[bn])
        eu = np.where(has_n, need_eu[bn], 0.0)
        ef = np.where(has_a, asset_ef[ba], 0.0)
        block = (bid_mw > 0) & (need_mw[bn] > 0)
        deliver = block & asset_avail[ba]
    else:
        bid_dir = np.zeros(B, dtype=np.int64)
        bid_product = np.where(has_n, need_product[bn] if N else -1, -1)
        zone_bad = dir_bad = np.zeros(B, dtype=bool)
        ap_bad = has_n & (bid_ap > (need_acap[bn] if N else inf))
        up_bad = has_n & (bid_up > (need_ucap[bn] if N else inf))
        cap = eu = ef = np.zeros(B)
        block = deliver = np.zeros((B, T), dtype=bool)
    bid_terms = cost_terms(bid_ap, bid_up, eu, ef, snap.rules.carbon_price)
    bid_cost = unit_cost(bid_terms)

    eligible = both & ~zone_bad & ~dir_bad & ~ap_bad & ~up_bad
    aon_bad = eligible & bid_aon & (block & ~deliver).any(axis=1)
    no_periods = eligible & ~aon_bad & ~deliver.any(axis=1)
    ineligible: dict[int, list[str]] = {}
    for code, mask in ((NEED_NOT_FOUND, ~has_n), (ASSET_NOT_FOUND, ~has_a),
                       (ZONE_MISMATCH, zone_bad), (DIRECTION_NOT_SUPPORTED, dir_bad),
                       (AVAILABILITY_PRICE_ABOVE_CAP, ap_bad),
                       (UTILISATION_PRICE_ABOVE_CAP, up_bad),
                       (ALL_OR_NOTHING_UNAVAILABLE, aon_bad), (NO_DELIVERABLE_PERIODS, no_periods)):
        for b in np.flatnonzero(mask):
            ineligible.setdefault(int(b), []).append(code)
    usable = eligible & ~aon_bad & ~no_periods

    xb, xt = np.nonzero(deliver & usable[:, None])
    x_ub = np.minimum(bid_mw[xb, xt], cap[xb])
    x_min = np.minimum(bid_min[xb], x_ub)

    un, ut = np.nonzero(need_mw > 0)
    cov_id = np.full((N, T), -1, dtype=np.int64)
    cov_id[un, ut] = np.arange(len(un))
    x_cov = cov_id[bid_need[xb], xt] if len(xb) else np.zeros(0, dtype=np.int64)

    return Problem(
        snapshot=snap, T=T, dh=dh, bid_need=bid_need, bid_asset=bid_asset, bid_dir=bid_dir,
        bid_product=bid_product, bid_cost=bid_cost, bid_terms=bid_terms, bid_aon=bid_aon,
        bid_group=bid_group, bid_mw=bid_mw, ineligible=ineligible, need_mw=need_mw,
        need_priority=need_priority,
        asset_cap=asset_cap, asset_rel=asset_rel, x_bid=xb, x_t=xt, x_ub=x_ub, x_min=x_min,
        u_need=un, u_t=ut, u_mw=need_mw[un, ut], x_cov=x_cov,
        products=list(products), groups=list(groups),
    )
