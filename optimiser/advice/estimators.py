"""Pure estimators over the platform's history: chance of winning, utilisation, price levels.

Each estimator is a small closed formula (docs/advice.md gives them with the reasoning), so
an FSP can check a number by hand. Thin history never breaks them: every estimate is
smoothed toward a prior with the weight of `prior_weight` observations, and a group with
too few observations falls back to a coarser one (product x direction, then product).

The defaults are calibrated on the real data in `../shared/data`:
- NGED's 2023-25 flexibility trade results: accepted Secure and Dynamic bids offered 75% or
  more of the tendered ceiling in 90% of cases (10th percentile of offered / ceiling is 0.75
  for Secure, 0.80 for Dynamic), so the prior spreads competitors' prices over 75-100% of
  the cap (`prior_low_share`); 72% of trade opportunities drew no response at all, which
  the `bidders` history turns into the chance of being alone.
- UKPN's 2025 dispatches: Scheduled Availability called about 2% of the MWh made available
  (median over zones 4%), hence `default_utilisation` 0.04 when a need states none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .request import AdviceNeed, AdviceRequest, HistoryGroup

PENNY = 0.01


@dataclass(frozen=True)
class EstimatorSettings:
    prior_weight: float = 3.0       # pseudo-observations given to the prior
    min_observations: int = 5       # a history group with fewer falls back to a coarser one
    prior_low_share: float = 0.75   # competitors' prices spread over [share x cap, cap]
    default_utilisation: float = 0.04
    price_levels: int = 5           # candidate price levels per need
    grid_points: int = 41           # prices scanned between break-even and cap


# --------------------------------------------------------------------------- history chain


def fallback_chain(product: str, zone: str, direction: str) -> tuple[tuple, ...]:
    """Group keys from the most specific to the coarsest: product x zone x direction,
    product x direction, product."""
    return ((product, zone, direction), (product, None, direction), (product, None, None))


@dataclass(frozen=True)
class Basis:
    """Which history group an estimate came from and how many observations it had."""

    group: str | None
    observations: int

    def to_dict(self) -> dict:
        return {"group": self.group, "observations": self.observations}


def pick_group(groups: dict[tuple, HistoryGroup], chain: tuple[tuple, ...], attr: str,
               min_obs: int) -> tuple[HistoryGroup | None, Basis]:
    """The first group along `chain` with at least `min_obs` values of `attr`; failing
    that, the first with any; failing that, none (the prior alone).

    For prices `attr` is "prices" (accepted and rejected together).
    """
    def count(g: HistoryGroup) -> int:
        if attr == "prices":
            return len(g.accepted_prices) + len(g.rejected_prices)
        return len(getattr(g, attr))
    found = [groups[k] for k in chain if k in groups and count(groups[k]) > 0]
    for g in found:
        if count(g) >= min_obs:
            return g, Basis(g.label, count(g))
    if found:
        return found[0], Basis(found[0].label, count(found[0]))
    return None, Basis(None, 0)


# --------------------------------------------------------------------------- win curve


@dataclass(frozen=True)
class WinCurve:
    """P(win | availability price) for one need, from like needs' past outcomes.

    For a bid at price b (GBP/MW/h), with effective price e = (b + carbon adder) / r:

        P(b) = 0                               if b > cap
        P(b) = q0 + (1 - q0) * S(e)            otherwise
        q0   = n0 / (n_b + m)                  share of past needs nobody bid on
        S(e) = (A(e) + m S0(e)) / (A(e) + R(e) + m)
        A(e) = #accepted prices >= e,  R(e) = #rejected prices <= e
        S0(e) = mean over contested past needs of (1 - F(e))^k   (k their bidders; k = 1
                when the history has no counts), F uniform on [rho C, C]

    A(e) and R(e) are the past bids that tell something about e: an accepted bid at or
    above e means a bid at e would have won too, a rejected one at or below e that it
    would have lost. S is non-increasing in e, and so is P in b.
    """

    cap: float | None          # the need's max_availability_price (None: no cap)
    scale: float               # C of the prior: the cap, or the highest price seen
    accepted: np.ndarray       # sorted
    rejected: np.ndarray       # sorted
    contested_k: np.ndarray    # bidder counts of contested past needs (>= 1)
    q0: float
    prior_weight: float
    low_share: float

    def prior(self, e: np.ndarray) -> np.ndarray:
        lo = self.low_share * self.scale
        width = max((1.0 - self.low_share) * self.scale, 1e-12)
        f = np.clip((np.asarray(e, float) - lo) / width, 0.0, 1.0)
        return np.mean((1.0 - f)[..., None] ** self.contested_k[None, :], axis=-1)

    def contested(self, e: np.ndarray) -> np.ndarray:
        e = np.atleast_1d(np.asarray(e, float))
        a = len(self.accepted) - np.searchsorted(self.accepted, e, side="left")
        r = np.searchsorted(self.rejected, e, side="right")
        m = self.prior_weight
        return (a + m * self.prior(e)) / (a + r + m)

    def __call__(self, price: np.ndarray, adder: float = 0.0, reliability: float = 1.0
                 ) -> np.ndarray:
        b = np.atleast_1d(np.asarray(price, float))
        p = self.q0 + (1.0 - self.q0) * self.contested((b + adder) / reliability)
        if self.cap is not None:
            p = np.where(b > self.cap + 1e-9, 0.0, p)
        return p


def win_curve(group: HistoryGroup | None, bidders_group: HistoryGroup | None,
              cap: float | None, settings: EstimatorSettings) -> WinCurve | None:
    """The need's win curve; None when there is no price reference at all (no cap and no
    past prices), because then no price level can be proposed."""
    acc = np.sort(np.asarray(group.accepted_prices if group else (), float))
    rej = np.sort(np.asarray(group.rejected_prices if group else (), float))
    if cap is not None:
        scale = cap
    elif len(acc) or len(rej):
        scale = float(max(acc.max() if len(acc) else 0.0, rej.max() if len(rej) else 0.0))
    else:
        return None
    bidders = np.asarray(bidders_group.bidders if bidders_group else (), dtype=np.int64)
    n0 = int((bidders == 0).sum())
    q0 = n0 / (len(bidders) + settings.prior_weight) if len(bidders) else 0.0
    k = bidders[bidders >= 1]
    if len(k) == 0:
        k = np.ones(1, dtype=np.int64)
    return WinCurve(cap=cap, scale=max(scale, 0.0), accepted=acc, rejected=rej,
                    contested_k=k.astype(float), q0=q0, prior_weight=settings.prior_weight,
                    low_share=settings.prior_low_share)


# --------------------------------------------------------------------------- utilisation


def expected_utilisation(group: HistoryGroup | None, stated: float | None,
                         settings: EstimatorSettings) -> float:
    """Share of contracted MWh expected to be called:

        eu = (sum of past shares + m * prior) / (n + m)

    with the prior the need's own `expected_utilisation` (the MO's estimate), or
    `default_utilisation` when it states none."""
    prior = settings.default_utilisation if stated is None else stated
    obs = np.asarray(group.utilisation if group else (), float)
    m = settings.prior_weight
    return float((obs.sum() + m * prior) / (len(obs) + m))


def utilisation_price(group: HistoryGroup | None, cap: float | None, cost: float) -> float:
    """The utilisation price to offer (GBP/MWh): the median accepted utilisation price of
    like needs, else the cap; never below the asset's utilisation cost nor above the cap.
    With neither history nor cap the cost itself: no utilisation margin is counted on."""
    obs = group.accepted_utilisation_prices if group else ()
    if obs:
        u = float(np.median(obs))
    elif cap is not None:
        u = cap
    else:
        u = cost
    u = max(u, cost)
    if cap is not None:
        u = min(u, cap)
    return u


# --------------------------------------------------------------------------- price levels


@dataclass(frozen=True)
class PriceLevel:
    price: float               # availability GBP/MW/h, whole pennies
    win_probability: float
    value_per_mwh: float       # expected net GBP per MW-hour offered (margin x P)
    label: str                 # best | p90 | p75 | p50 | cap


@dataclass(frozen=True)
class NeedEstimate:
    """Everything the model and the explanation need about one need's economics."""

    curve: WinCurve | None
    utilisation: float                 # expected share called (eu)
    utilisation_price: float           # GBP/MWh offered
    break_even: float                  # availability price at which the margin is 0
    adder: float                       # carbon adder the clearing puts on this bid (GBP/MW/h)
    levels: tuple[PriceLevel, ...]
    basis: dict[str, Basis]


def _round_down(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x) / PENNY + 1e-9) * PENNY


def price_levels(curve: WinCurve, lo: float, hi: float, margin0: float, adder: float,
                 rel: float, settings: EstimatorSettings) -> tuple[PriceLevel, ...]:
    """Up to `price_levels` candidate prices in [lo, hi], whole pennies, each with its win
    probability and expected value per MW-hour, v(b) = P(b) * (b + margin0).

    Scanned: an even grid, the cap, and the prices where the curve steps or bends (past
    accepted prices, a penny under past rejected ones, the prior's knee). Kept, in order:
    the best (highest v), the best with P >= 0.9, >= 0.75, >= 0.5, and the cap.
    """
    lo_c = math.ceil(lo / PENNY - 1e-9) * PENNY
    hi_c = math.floor(hi / PENNY + 1e-9) * PENNY
    if hi_c < lo_c - 1e-12:
        return ()
    # where the curve steps or bends, in bid prices: at a past accepted price (a bid there
    # still counts it), a penny under a past rejected price (one there counts against),
    # and the prior's knee
    brk = np.concatenate([curve.accepted * rel - adder, curve.rejected * rel - adder - PENNY / 2,
                          [curve.low_share * curve.scale * rel - adder]])
    grid = np.concatenate([np.linspace(lo_c, hi_c, settings.grid_points), [hi_c],
                           brk[(brk >= lo_c) & (brk <= hi_c)]])
    grid = np.unique(np.clip(_round_down(grid), lo_c, hi_c).round(2))
    p = curve(grid, adder, rel)
    v = p * (grid + margin0)
    picks: list[tuple[int, str]] = []
    # P never rises with the price and the grid ascends, so "P >= x" is a prefix of it;
    # argmax takes the first maximum: the lowest price on a tie
    for label, floor in (("best", -1.0), ("p90", 0.9), ("p75", 0.75), ("p50", 0.5)):
        j = int((p >= floor).sum())
        if j:
            picks.append((int(np.argmax(v[:j])), label))
    picks.append((len(grid) - 1, "cap" if curve.cap is not None else "highest_seen"))
    out: dict[int, str] = {}
    for i, label in picks:
        if i not in out and len(out) < settings.price_levels:
            out[i] = label
    return tuple(PriceLevel(price=float(grid[i]), win_probability=float(p[i]),
                            value_per_mwh=float(v[i]), label=out[i]) for i in sorted(out))


def estimate_need(req: AdviceRequest, need: AdviceNeed, groups: dict[tuple, HistoryGroup],
                  settings: EstimatorSettings, cache: dict | None = None) -> NeedEstimate:
    """Win curve, utilisation and price levels of one need for the request's asset.

    `cache` (any dict, one per request) shares the win curves and utilisation prices of
    needs that draw on the same history groups and caps.
    """
    cache = {} if cache is None else cache
    a = req.asset
    chain = fallback_chain(need.product, need.zone, need.direction)
    g_price, b_price = pick_group(groups, chain, "prices", settings.min_observations)
    g_bid, b_bid = pick_group(groups, chain, "bidders", settings.min_observations)
    g_util, b_util = pick_group(groups, chain, "utilisation", settings.min_observations)
    g_up, b_up = pick_group(groups, chain, "accepted_utilisation_prices",
                            settings.min_observations)
    key = ("curve", id(g_price), id(g_bid), need.max_availability_price)
    if key not in cache:
        cache[key] = win_curve(g_price, g_bid, need.max_availability_price, settings)
    curve = cache[key]
    eu = expected_utilisation(g_util, need.expected_utilisation, settings)
    key = ("u", id(g_up), need.utilisation_price_cap)
    if key not in cache:
        cache[key] = utilisation_price(g_up, need.utilisation_price_cap, a.utilisation_cost)
    u = cache[key]
    r = a.reliability
    util_margin = r * eu * (u - a.utilisation_cost)
    break_even = a.availability_cost - util_margin
    adder = req.carbon_price * a.emission_t_per_mwh * eu
    levels: tuple[PriceLevel, ...] = ()
    if curve is not None:
        hi = curve.cap if curve.cap is not None else curve.scale
        levels = price_levels(curve, max(0.0, break_even), hi, util_margin - a.availability_cost,
                              adder, r, settings)
    basis = {"prices": b_price, "bidders": b_bid, "utilisation": b_util,
             "utilisation_prices": b_up}
    return NeedEstimate(curve=curve, utilisation=eu, utilisation_price=u, break_even=break_even,
                        adder=adder, levels=levels, basis=basis)
