"""Version-2 clearing: confidence levels (chance.py) and the delivery report per need-period.

`clear` hands a version-2 snapshot here. Without any confidence level it is the expected-
value clearing of version 1 with the delivery report added. With levels, the linearised
chance constraint (`chance.define_chance_coverage`) is solved for a ratio `rho` per row and
`rho` is raised to the awards' own ratio until every chance row holds exactly:

1. `rho_0`: the ratio of `n` equal awards, `n` the number of candidate awards the row's MW
   would take at their mean size and reliability (an optimistic guess: real awards differ
   in size, so their ratio is larger).
2. Clear with the coefficients of `rho_k`; read the awards' ratio per row; every row whose
   ratio is at most `rho_k` holds exactly (the linear row implies the exact one).
3. Rows that do not hold, and rows that over-protect by more than SLACK_MW, get `rho_{k+1}`
   = their awards' ratio (plus OVERSHOOT, so that unchanged awards hold next time); clear
   again until every row holds and none is slack (at most ITERATIONS clearings: the fixed
   point is usually reached in 3 to 5), at a gap of ITERATION_GAP while rho moves and once
   more at the caller's gap when it has settled. Of the clearings made, the best by the
   spec's ranking of what they publish wins (`start.improves_on`: unmet per priority, then
   cost), and what they publish is exact: unmet on a chance row is `mw` minus the bound at
   the awards (`extract.summarise` reads `ChanceCover`), never the solver's linearisation.
4. If that best was solved at the loose gap only, it is solved once more with its `rho` at
   the caller's gap, from its awards, and that clearing is the result unless strictly worse
   (then the status is `feasible`: the platform's finality rule then re-runs or holds it).

The delivery report (`delivery`, result version 2) states per need-period the expected
delivered MW, its 5th percentile and the probability that the covered MW are met, under the
delivery model of docs/probabilistic.md (each asset delivers its award with probability its
reliability, independently), estimated from DELIVERY_DRAWS seeded draws: the same snapshot
always reports the same figures; the 5th percentile's sampling error is about +-0.5
percentile points.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .chance import ChanceCover, chance_cover, define_chance_coverage
from .clearing import clear_problem
from .problem import Problem, prepare
from .result import ClearingOptions, ClearingResult
from .snapshot import Snapshot
from .start import improves_on

ITERATIONS = 6
SHORT_MW = 1e-6   # a chance row holds when the exact bound is within this of the linear one
SLACK_MW = 1e-3   # ... and is tightened again while it over-protects by more than this
SLACK_REL = 0.01  # ... and its rho is more than this share above its awards' ratio
OVERSHOOT = 1e-3  # rho is set this much above the awards' ratio, so the next clearing holds
ITERATION_GAP = 1e-2  # mip_rel_gap of the clearings while rho moves (the last: the caller's)
TIGHTEN = 0.5     # share of the way a slack row's rho moves down to its awards' ratio
DELIVERY_DRAWS = 2000
DELIVERY_SEED = 13
BLOCK_CELLS = 2_000_000  # draws x awards held in memory at once
MIN_ITERATION_S = 0.5


def clear_v2(snap: Snapshot, opts: ClearingOptions) -> ClearingResult:
    """Clear a version-2 snapshot (module docstring); the result carries `delivery`."""
    t0 = time.perf_counter()
    prob = prepare(snap)
    cc = chance_cover(prob)
    prob.chance = cc
    rows = cc.rows
    if not len(rows):
        res = clear_problem(prob, opts, t0)
        return _with_delivery(res, prob, cc)
    cols = _columns(prob)
    rho = initial_rho(prob, cc)
    markov = initial_markov(prob, cc, rho)
    deadline = t0 + opts.time_limit
    best: tuple[ClearingResult, np.ndarray] | None = None
    trace = []
    lexicographic = snap.rules.primacy == "lexicographic"
    final_gap = float(opts.mip_rel_gap)
    loose = max(final_gap, ITERATION_GAP)
    final = False  # from here on at the caller's gap
    best_short = best_tight = False
    last: np.ndarray | None = None
    best_rho, best_markov = rho.copy(), markov.copy()
    for k in range(ITERATIONS):
        left = deadline - time.perf_counter()
        if best is not None and left < MIN_ITERATION_S:
            break
        share = left if k == ITERATIONS - 1 else left / 2
        gap = final_gap if final or k == ITERATIONS - 1 else loose
        prob.x_rel = define_chance_coverage(prob, cc, rho, markov)
        res = clear_problem(prob, replace(opts, time_limit=max(share, MIN_ITERATION_S),
                                          mip_rel_gap=gap),
                            time.perf_counter(), last)
        if res.status in ("error", "infeasible"):
            if best is None:
                return res
            break
        xval = last = _awards(prob, res, cols)
        ratio = cc.ratio(xval)[rows]
        has = ~np.isnan(ratio)
        want = np.where(has, np.nan_to_num(ratio) * (1.0 + OVERSHOOT), rho[rows])
        # MW by which the exact bound falls below the linear row (short) or the linear row
        # over-protects (slack), at these awards
        scale = cc.row_kappa[rows] * cc.norms(xval)[1][rows]
        sg = ~markov[rows]  # rows linearised by the sub-Gaussian bound (Markov's is exact)
        short = has & sg & ((np.nan_to_num(ratio) - rho[rows]) * scale > SHORT_MW)
        slack = has & sg & ((rho[rows] - want) * scale > SLACK_MW) \
            & (rho[rows] > want * (1 + SLACK_REL))
        # the bound that is larger at these awards linearises the row next time
        mode = np.where(has, cc.markov(xval)[rows] > cc.sub_gaussian(xval)[rows],
                        markov[rows])
        switched = mode != markov[rows]
        trace.append({"iteration": k, "gap": gap, "status": res.status,
                      "objective": res.objective, "rows_short": int(short.sum()),
                      "rows_slack": int(slack.sum()), "solve_s": res.timing.get("solve_s")})
        if best is None or improves_on(best[0], res, lexicographic):
            best, best_short, best_tight = (res, xval), bool(short.any()), gap == final_gap
            best_rho, best_markov = rho.copy(), markov.copy()
        if not short.any() and not slack.any() and not switched.any():
            if gap == final_gap:
                break
            final = True  # settled at the loose gap: once more at the caller's
            continue
        # raise short rows at once; tighten slack ones half-way (a full step takes so many
        # assets out that the row falls short again: it oscillates)
        rho[rows[short]] = want[short]
        half = slack & ~short
        rho[rows[half]] -= TIGHTEN * (rho[rows[half]] - want[half])
        markov[rows] = mode
    if best is not None and not best_tight and deadline - time.perf_counter() >= MIN_ITERATION_S:
        # the best was solved at the loose gap only: once more at the caller's, from it
        prob.x_rel = define_chance_coverage(prob, cc, best_rho, best_markov)
        res = clear_problem(prob, replace(opts, time_limit=deadline - time.perf_counter()),
                            time.perf_counter(), best[1])
        if res.status not in ("error", "infeasible"):
            xval = _awards(prob, res, cols)
            ratio = cc.ratio(xval)[rows]
            scale = cc.row_kappa[rows] * cc.norms(xval)[1][rows]
            short = ~np.isnan(ratio) & ~best_markov[rows] & (
                (np.nan_to_num(ratio) - best_rho[rows]) * scale > SHORT_MW)
            trace.append({"iteration": len(trace), "gap": final_gap, "status": res.status,
                          "objective": res.objective, "rows_short": int(short.sum()),
                          "rows_slack": None, "solve_s": res.timing.get("solve_s")})
            if not improves_on(res, best[0], lexicographic):
                best, best_short, best_tight = (res, xval), bool(short.any()), True
    res, xval = best
    res.stats["chance"] = {"iterations": trace, "held": not best_short,
                           "bound": snap.rules.confidence_bound}
    notes = []
    if best_short:
        notes.append(f"chance constraint: rho not settled in {len(trace)} clearing(s); unmet "
                     "is reported by the exact bound at the awards")
    if not best_tight and res.status == "optimal" and (
            res.mip_gap is None or res.mip_gap > final_gap):
        res.status = "feasible"
        notes.append(f"chance constraint: the best clearing was solved to gap {loose:g} only")
    for note in notes:
        res.message = note if not res.message else f"{res.message}; {note}"
    res.timing = {"build_s": res.timing.get("build_s", 0.0),
                  "solve_s": round(time.perf_counter() - t0 - res.timing.get("build_s", 0.0),
                                   4)}
    return _with_delivery(res, prob, cc, xval)


def initial_rho(prob: Problem, cc: ChanceCover) -> np.ndarray:
    """rho_0 per row: the ratio of the `n` candidate awards the row would take if all were of
    the candidates' mean size s, reliability m and deviation sigma, so that `n m s - kappa
    sigma s sqrt(n) = mw`; scaled by how unequal the candidates are (their own ratio times
    the square root of their number: 1 if equal). Between 1/sqrt(candidates) and 1."""
    nu = prob.nu
    if not prob.nx:
        return np.ones(nu)
    cov, ub = prob.x_cov, prob.x_ub
    cnt = np.maximum(np.bincount(cov, minlength=nu).astype(float), 1.0)
    s = np.bincount(cov, weights=ub, minlength=nu) / cnt
    m = np.bincount(cov, weights=cc.x_mean, minlength=nu) / cnt
    sd = np.bincount(cov, weights=cc.x_sd, minlength=nu) / cnt
    v = cc.x_sd * ub
    l1 = np.bincount(cov, weights=v, minlength=nu)
    l2 = np.sqrt(np.bincount(cov, weights=v * v, minlength=nu))
    with np.errstate(invalid="ignore", divide="ignore"):
        ks = cc.row_kappa * sd
        root = (ks + np.sqrt(ks * ks + 4.0 * m * prob.u_mw / np.where(s > 0, s, 1.0))) \
            / np.where(m > 0, 2.0 * m, 1.0)
        n = np.clip(root * root, 1.0, cnt)
        unequal = np.where(l1 > 0, l2 / np.where(l1 > 0, l1, 1.0) * np.sqrt(cnt), 1.0)
    return np.clip(unequal / np.sqrt(n), 1.0 / np.sqrt(cnt), 1.0)


def initial_markov(prob: Problem, cc: ChanceCover, rho: np.ndarray) -> np.ndarray:
    """Per row: whether the Markov bound's coefficients are larger than the sub-Gaussian's
    at `rho`, on average over the row's candidate awards (the first clearing's choice)."""
    nu = prob.nu
    if not prob.nx:
        return np.zeros(nu, dtype=bool)
    sg = np.bincount(prob.x_cov, weights=define_chance_coverage(prob, cc, rho) * prob.x_ub,
                     minlength=nu)
    mk = np.bincount(prob.x_cov, weights=define_chance_coverage(
        prob, cc, rho, np.ones(nu, dtype=bool)) * prob.x_ub, minlength=nu)
    return (mk > sg) & (cc.row_kappa > 0)


def _columns(prob: Problem) -> dict[tuple[int, int], int]:
    return {(b, t): i for i, (b, t) in enumerate(zip(prob.x_bid.tolist(), prob.x_t.tolist(),
                                                     strict=True))}


def _awards(prob: Problem, res: ClearingResult, cols: dict[tuple[int, int], int]
            ) -> np.ndarray:
    bidx = {b.id: i for i, b in enumerate(prob.snapshot.bids)}
    x = np.zeros(prob.nx)
    for a in res.awards:
        x[cols[(bidx[a.bid], a.period)]] = a.mw
    return x


def _with_delivery(res: ClearingResult, prob: Problem, cc: ChanceCover,
                   xval: np.ndarray | None = None) -> ClearingResult:
    if res.status in ("error", "infeasible"):
        res.delivery = []
        return res
    if xval is None:
        xval = _awards(prob, res, _columns(prob))
    res.delivery = delivery_report(prob, cc, xval, res)
    return res


def delivery_report(prob: Problem, cc: ChanceCover, xval: np.ndarray,
                    res: ClearingResult) -> list[dict]:
    """One row per need-period with MW asked: the published `delivery` (module docstring)."""
    snap = prob.snapshot
    nu = prob.nu
    need_ids = [n.id for n in snap.needs]
    unmet = np.zeros(nu)
    upos = {(n, t): i for i, (n, t) in enumerate(zip(prob.u_need.tolist(), prob.u_t.tolist(),
                                                     strict=True))}
    nidx = {n: i for i, n in enumerate(need_ids)}
    for u in res.unmet:
        unmet[upos[(nidx[u.need], u.period)]] = u.mw
    target = np.maximum(prob.u_mw - unmet, 0.0)
    expected = cc.expected(xval)
    guaranteed = cc.guaranteed(xval)
    p05, p_met = simulate(cc, cc.pair_mw(xval), target, nu)
    out = []
    for i in range(nu):
        lv = cc.row_level[i]
        chance = not np.isnan(lv)
        out.append({
            "need": need_ids[int(prob.u_need[i])], "period": int(prob.u_t[i]),
            "mw": float(prob.u_mw[i]), "unmet_mw": float(unmet[i]),
            "confidence": float(lv) if chance else None,
            "expected_mw": round(float(expected[i]), 6), "p05_mw": round(float(p05[i]), 6),
            "guaranteed_mw": round(float(guaranteed[i]), 6) if chance else None,
            "p_met": round(float(p_met[i]), 4),
        })
    return out


def simulate(cc: ChanceCover, pair_mw: np.ndarray, target: np.ndarray, nu: int,
             draws: int = DELIVERY_DRAWS, seed: int = DELIVERY_SEED
             ) -> tuple[np.ndarray, np.ndarray]:
    """(5th percentile of delivered MW, P(delivered >= target)) per row, from `draws`
    seeded Bernoulli draws per (row, asset) pair with an award."""
    p05 = np.zeros(nu)
    p_met = (target <= 1e-9).astype(float)
    on = np.flatnonzero(pair_mw > 0)
    if not len(on):
        return p05, p_met
    order = on[np.argsort(cc.pair_row[on], kind="stable")]
    prow = cc.pair_row[order]
    rng = np.random.default_rng(seed)
    block = max(1, BLOCK_CELLS // draws)
    starts = np.flatnonzero(np.r_[True, prow[1:] != prow[:-1]])
    i = 0
    while i < len(starts):
        # whole rows, at most `block` pairs (at least one row)
        j = i + 1
        while j < len(starts) and starts[j] - starts[i] < block:
            j += 1
        a, b = starts[i], (starts[j] if j < len(starts) else len(order))
        sel = order[a:b]
        d = (rng.random((draws, len(sel))) < cc.pair_mean[sel]) * pair_mw[sel]
        rs = starts[i:j] - a
        per_row = np.add.reduceat(d, rs, axis=1)
        r = prow[starts[i:j]]
        p05[r] = np.quantile(per_row, 0.05, axis=0)
        p_met[r] = (per_row >= target[r] - 1e-9).mean(axis=0)
        i = j
    return p05, p_met
