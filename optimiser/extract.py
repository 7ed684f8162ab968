"""Turn a solution's columns back into the spec's result.

Reported quantities (unmet, objective, costs, stages) are recomputed from the cleaned awards
(`summarise`), so the JSON is self-consistent and checkable without the solver; `clear` also
ranks an unproven result against the merit-order start by these published values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .costs import award_costs
from .model import MatrixModel
from .problem import Problem
from .rejections import competition_reasons
from .result import Award, ClearingResult, Price, Rejection, Stage, Unmet
from .tolerances import MW_EPS


def clean(x: np.ndarray, prob: Problem) -> np.ndarray:
    """Snap award values to 0 / bounds / min MW within MW_EPS and drop solver noise."""
    v = np.clip(x, 0.0, prob.x_ub)
    v[v < MW_EPS] = 0.0
    near_ub = np.abs(v - prob.x_ub) < MW_EPS
    v[near_ub] = prob.x_ub[near_ub]
    near_min = (prob.x_min > 0) & (v > 0) & (np.abs(v - prob.x_min) < MW_EPS)
    v[near_min] = prob.x_min[near_min]
    return np.round(v, 9)


@dataclass
class Summary:
    """What a solution publishes, before prices and reasons."""

    xval: np.ndarray            # cleaned award per x column
    on: np.ndarray              # x columns with an award
    unmet: np.ndarray           # MW per u column, recomputed from the awards
    cost: dict[str, float]      # GBP by term, rounded to 6 decimals
    objective: float
    stages: list[Stage]         # unmet MWh per priority, ascending


def summarise(prob: Problem, mm: MatrixModel, x: np.ndarray | None) -> Summary:
    """The cleaned awards of `x` (None: nothing awarded) and what they publish."""
    snap = prob.snapshot
    dh = prob.dh
    xval = clean(x[mm.blocks["x"]], prob) if (x is not None and prob.nx) else np.zeros(prob.nx)
    on = np.flatnonzero(xval > 0)
    # unmet recomputed from awards: u = max(0, mw - sum rel * x); chance-constrained rows
    # by their exact bound, not the linearisation the solver saw (chance.ChanceCover)
    covered = np.zeros(prob.nu)
    if prob.nx:
        np.add.at(covered, prob.x_cov[on], prob.cover_coef[on] * xval[on])
    if prob.chance is not None:
        covered = prob.chance.cover(xval, covered)
    unmet = np.maximum(prob.u_mw - covered, 0.0)
    unmet[unmet < MW_EPS] = 0.0
    unmet = np.round(unmet, 9)
    # costs recomputed from awards
    pen = np.array([n.unmet_penalty for n in snap.needs], dtype=float)
    bo = prob.x_bid[on]
    cost = award_costs(xval[on] * dh, {k: v[bo] for k, v in prob.bid_terms.items()})
    cost["unmet_penalty"] = float((unmet * dh) @ pen[prob.u_need]) if prob.nu else 0.0
    cost = {k: round(v, 6) for k, v in cost.items()}
    prio_u = prob.need_priority[prob.u_need] if prob.nu else np.zeros(0, dtype=np.int64)
    stages = [Stage(pr, round(float(unmet[prio_u == pr].sum() * dh), 9))
              for pr in sorted({int(p) for p in prob.need_priority})]
    return Summary(xval, on, unmet, cost, round(sum(cost.values()), 6), stages)


def extract(prob: Problem, mm: MatrixModel, x: np.ndarray | None, duals: np.ndarray | None,
            proven: bool = True, summary: Summary | None = None) -> ClearingResult:
    """The result of solution `x`; `duals` (row duals of the pricing LP, or None) give the
    marginal costs. `proven`: whether `x` is proven optimal, which decides how far the
    reasons may read the marginal costs (`rejections.py`). `summary`: `summarise(prob, mm,
    x)` if the caller has it. Status, gap and message are the caller's to set."""
    snap = prob.snapshot
    s = summarise(prob, mm, x) if summary is None else summary
    xval, on, unmet = s.xval, s.on, s.unmet
    xb, xt = prob.x_bid, prob.x_t

    # prices per need-period with awards
    ap = prob.bid_terms["availability"]
    clearing = np.full(prob.nu, -np.inf)
    if len(on):
        np.maximum.at(clearing, prob.x_cov[on], ap[xb[on]])
    marginal = None
    if duals is not None:
        cov = mm.row_blocks["coverage"]
        marginal = np.abs(duals[cov]) / prob.dh
    pay = ap[xb[on]] if snap.rules.pricing == "pay_as_bid" else clearing[prob.x_cov[on]]

    bid_ids = [b.id for b in snap.bids]
    need_ids = [n.id for n in snap.needs]
    awards = [Award(bid_ids[b], int(t), float(m), float(p))
              for b, t, m, p in zip(xb[on].tolist(), xt[on].tolist(), xval[on].tolist(),
                                    pay.tolist(), strict=True)]
    un = np.flatnonzero(unmet > 0)
    unmet_rows = [Unmet(need_ids[n], int(t), float(m)) for n, t, m in
                  zip(prob.u_need[un].tolist(), prob.u_t[un].tolist(), unmet[un].tolist(),
                      strict=True)]
    withaward = np.flatnonzero(np.isfinite(clearing))
    prices = [Price(need_ids[n], int(t), float(c),
                    None if marginal is None else round(float(marginal[i]), 9))
              for i, n, t, c in zip(withaward.tolist(), prob.u_need[withaward].tolist(),
                                    prob.u_t[withaward].tolist(), clearing[withaward].tolist(),
                                    strict=True)]

    rej = dict(prob.ineligible)
    rej.update(competition_reasons(prob, xval, marginal, unmet, proven))
    rejected = [Rejection(bid_ids[b], tuple(rej[b])) for b in sorted(rej)]
    return ClearingResult(status="optimal", objective=s.objective, cost=s.cost, awards=awards,
                          unmet=unmet_rows, rejected=rejected, prices=prices, stages=s.stages)
