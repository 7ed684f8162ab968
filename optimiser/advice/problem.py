"""Problem preparation: which needs the asset may bid into at all, and the model's arrays.

Eligibility (zone, direction, technology, availability, prices against costs, worth) is
decided here, before any model exists, because it fixes the index sets: a need that fails
gets its reasons now and no column. What remains is flattened into numpy arrays: one
offer column per candidate need x deliverable period, one level column per candidate need
x usable price level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..tolerances import NUM_EPS
from . import reasons as R
from .estimators import EstimatorSettings, NeedEstimate, estimate_need
from .request import AdviceRequest

GB = "GB"
DIR = {"up": 0, "down": 1}


@dataclass(frozen=True)
class Reason:
    """One true statement about why a need is not advised: a code, a sentence, and where
    it holds (periods, and the advised needs involved)."""

    code: str
    text: str
    periods: tuple[int, ...] = ()
    needs: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d: dict = {"code": self.code, "text": self.text}
        if self.periods:
            d["periods"] = list(self.periods)
        if self.needs:
            d["needs"] = list(self.needs)
        return d


@dataclass
class AdviceProblem:
    request: AdviceRequest
    settings: EstimatorSettings
    min_win_probability: float
    min_expected_gbp: float
    T: int
    dh: float
    cap: np.ndarray                       # (2,) capability up, down
    available: np.ndarray                 # (T,) bool
    estimates: dict[int, NeedEstimate]    # need index -> estimate (every need estimated)
    pre_reasons: dict[int, list[Reason]]  # need index -> reasons found before the solve
    # candidates (C): needs that get columns
    cand: np.ndarray                      # need index of each candidate
    cand_dir: np.ndarray                  # 0 up, 1 down
    cand_product: np.ndarray              # index into `products`
    cand_volume: np.ndarray               # M_n = sum of x_cap: a bound on sum_t X[n,t]
    # offer columns x (one per candidate x deliverable period)
    x_cand: np.ndarray
    x_t: np.ndarray
    x_ub: np.ndarray                      # min(capability, mw / reliability): the most useful
    x_cap: np.ndarray                     # capability in the need's direction: column bound
    x_mw: np.ndarray                      # the need's MW in that period
    # level columns q and z (one per candidate x usable level)
    q_cand: np.ndarray
    q_level: np.ndarray                   # index into estimates[...].levels
    q_value: np.ndarray                   # expected GBP per MW-period offered at that level
    products: list[str]
    pairs: list[tuple[int, int]] = field(default_factory=list)  # incompatible, p <= q

    @property
    def nc(self) -> int:
        return len(self.cand)

    @property
    def nx(self) -> int:
        return len(self.x_cand)

    @property
    def nq(self) -> int:
        return len(self.q_cand)


def _gbp(x: float) -> str:
    return f"£{x:,.2f}"


def _price_reasons(req: AdviceRequest, need, est: NeedEstimate) -> list[Reason]:
    a = req.asset
    out = []
    if est.curve is None:
        out.append(Reason(R.NO_PRICE_REFERENCE,
                          f"{need.id} states no availability price cap and like needs "
                          f"({need.product}) have no past prices to set a bid price from"))
        return out
    cap = need.max_availability_price
    if cap is not None and cap < max(0.0, est.break_even) - NUM_EPS:
        out.append(Reason(R.PRICE_CAP_BELOW_COST,
                          f"{need.id}'s availability cap {_gbp(cap)}/MW/h is below the "
                          f"{_gbp(est.break_even)}/MW/h the asset needs to cover its costs"))
    ucap = need.utilisation_price_cap
    if ucap is not None and ucap < a.utilisation_cost - NUM_EPS:
        out.append(Reason(R.PRICE_CAP_BELOW_COST,
                          f"{need.id}'s utilisation cap {_gbp(ucap)}/MWh is below the asset's "
                          f"utilisation cost {_gbp(a.utilisation_cost)}/MWh"))
    return out


def prepare(req: AdviceRequest, settings: EstimatorSettings, min_win_probability: float,
            min_expected_gbp: float) -> AdviceProblem:
    """Estimate every need, decide eligibility, flatten the candidates into arrays.

    Parameters:
        req: the validated request.
        settings: estimator settings (priors, fallbacks, number of price levels).
        min_win_probability: price levels with a lower chance of winning are not offered.
        min_expected_gbp: a bid expected to earn less is not worth making.
    """
    a = req.asset
    T, dh = req.n_periods, req.dh
    cap = np.array([a.up_mw, a.down_mw], dtype=float)
    available = np.ones(T, dtype=bool)
    if a.unavailable_periods:
        available[list(a.unavailable_periods)] = False
    groups = {g.key: g for g in req.history}
    cache: dict = {}
    estimates: dict[int, NeedEstimate] = {}
    pre: dict[int, list[Reason]] = {}
    products: dict[str, int] = {}
    cand, cand_dir, cand_product, cand_volume = [], [], [], []
    x_cand, x_t, x_ub, x_cap, x_mw = [], [], [], [], []
    q_cand, q_level, q_value = [], [], []
    r = a.reliability
    for i, n in enumerate(req.needs):
        reasons: list[Reason] = []
        d = DIR[n.direction]
        if n.zone != GB and n.zone != a.zone:
            reasons.append(Reason(R.ZONE_MISMATCH,
                                  f"{n.id} is for zone {n.zone}; the asset is in {a.zone}"))
        if cap[d] <= 0:
            reasons.append(Reason(R.DIRECTION_NOT_SUPPORTED,
                                  f"{n.id} needs {n.direction} MW; the asset has no "
                                  f"{n.direction} capability"))
        techs = req.technologies_for(n.product)
        if techs and a.technology not in techs:
            reasons.append(Reason(R.PRODUCT_NOT_QUALIFIED,
                                  f"{n.product} is open to {', '.join(techs)}; the asset is "
                                  f"{a.technology}"))
        mw = np.asarray(n.mw, dtype=float)
        asked = mw > 0
        deliver = asked & available
        if asked.any() and not deliver.any():
            reasons.append(Reason(R.ASSET_UNAVAILABLE,
                                  f"the asset is unavailable in every period {n.id} asks for",
                                  periods=tuple(int(t) for t in np.flatnonzero(asked))))
        est = estimate_need(req, n, groups, settings, cache)
        estimates[i] = est
        reasons += _price_reasons(req, n, est)
        if not asked.any():
            reasons.append(Reason(R.NOT_WORTH_IT, f"{n.id} asks for no MW in any period"))
        if reasons:
            pre[i] = reasons
            continue
        usable = [k for k, lv in enumerate(est.levels)
                  if lv.win_probability >= min_win_probability - NUM_EPS
                  and lv.value_per_mwh > NUM_EPS]
        ts = np.flatnonzero(deliver)
        ub = np.minimum(cap[d], mw[ts] / r)
        volume = float(ub.sum())  # most MW-periods useful to the need
        if not usable:
            if not est.levels:
                text = (f"no whole-penny price lies between the asset's break-even "
                        f"{_gbp(max(0.0, est.break_even))}/MW/h and the highest price seen")
            elif max(lv.win_probability for lv in est.levels) < min_win_probability:
                best = max(lv.win_probability for lv in est.levels)
                text = (f"the best chance of winning {n.id} at a price above break-even is "
                        f"{best:.0%}, below the {min_win_probability:.0%} asked for")
            else:
                text = f"no price for {n.id} has a positive expected value for this asset"
            pre[i] = [Reason(R.NOT_WORTH_IT, text)]
            continue
        best_v = max(est.levels[k].value_per_mwh for k in usable)
        alone = best_v * dh * volume
        if alone < min_expected_gbp - NUM_EPS:
            pre[i] = [Reason(R.NOT_WORTH_IT,
                             f"even alone at full volume a bid into {n.id} is expected to earn "
                             f"{_gbp(alone)}, below the {_gbp(min_expected_gbp)} threshold")]
            continue
        c = len(cand)
        cand.append(i)
        cand_dir.append(d)
        cand_product.append(products.setdefault(n.product, len(products)))
        cand_volume.append(float(cap[d]) * len(ts))
        x_cand.append(np.full(len(ts), c))
        x_t.append(ts)
        x_ub.append(ub)
        x_cap.append(np.full(len(ts), cap[d]))
        x_mw.append(mw[ts])
        for k in usable:
            q_cand.append(c)
            q_level.append(k)
            q_value.append(dh * est.levels[k].value_per_mwh)
    pairs = sorted({(min(products[p], products[q]), max(products[p], products[q]))
                    for p, q in req.incompatible_products if p in products and q in products})

    def cat(xs, dt):
        return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

    return AdviceProblem(
        request=req, settings=settings, min_win_probability=min_win_probability,
        min_expected_gbp=min_expected_gbp, T=T, dh=dh, cap=cap, available=available,
        estimates=estimates, pre_reasons=pre,
        cand=np.array(cand, dtype=np.int64), cand_dir=np.array(cand_dir, dtype=np.int64),
        cand_product=np.array(cand_product, dtype=np.int64),
        cand_volume=np.array(cand_volume, dtype=float),
        x_cand=cat(x_cand, np.int64), x_t=cat(x_t, np.int64), x_ub=cat(x_ub, float),
        x_cap=cat(x_cap, float),
        x_mw=cat(x_mw, float), q_cand=np.array(q_cand, dtype=np.int64),
        q_level=np.array(q_level, dtype=np.int64), q_value=np.array(q_value, dtype=float),
        products=list(products), pairs=pairs,
    )
