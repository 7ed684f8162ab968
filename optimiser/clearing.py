"""Solve a snapshot and turn the solver's columns back into the spec's result.

Lexicographic primacy is one MIP per priority level (minimise that level's unmet MWh, then
hold it as a row within a relative 1e-6) and a final cost MIP; each stage starts from the
previous incumbent, which stays feasible because it satisfies every row added so far.
Reported quantities (unmet, objective, costs) are recomputed from the rounded awards, so the
JSON is self-consistent and checkable without the solver.
"""

from __future__ import annotations

import time

import numpy as np

from .model import MatrixModel, build_matrix
from .problem import Problem, prepare
from .reasons import competition_reasons
from .result import Award, ClearingOptions, ClearingResult, Price, Rejection, Stage, Unmet
from .snapshot import Snapshot, load_snapshot
from .solver import make_backend

STAGE_REL_TOL = 1e-6
STAGE_ABS_TOL = 1e-7  # HiGHS's primal feasibility tolerance; needed when a stage reaches 0
_EPS = 1e-6


def clear(snapshot: Snapshot | dict, options: ClearingOptions | None = None) -> ClearingResult:
    opts = options or ClearingOptions()
    snap = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    t0 = time.perf_counter()
    prob = prepare(snap)
    t_prep = time.perf_counter()
    mm = build_matrix(prob)
    t_matrix = time.perf_counter()
    try:
        backend = make_backend(mm, opts)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - solver failed to load the model: report, never raise
        return ClearingResult(status="error", message=f"model load failed: {e}")
    t_built = time.perf_counter()
    deadline = t_built + opts.time_limit
    stats = {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows,
             "nonzeros": len(mm.value), "prepare_s": t_prep - t0,
             "matrix_s": t_matrix - t_prep, "load_s": t_built - t_matrix}

    limited = False
    messages: list[str] = []
    # the empty clearing (nothing awarded, every need unmet) is always feasible: start there so
    # a time limit can never leave us without a solution
    x = np.zeros(mm.ncols)
    x[mm.blocks["u"]] = prob.u_mw
    stage_times: list[float] = []
    solved = False
    if snap.rules.primacy == "lexicographic":
        todo = [(pr, c) for pr, c in mm.stage_cost.items() if c.any()]
        for k, (pr, cost) in enumerate(todo):
            cols = np.flatnonzero(cost)
            if time.perf_counter() >= deadline:
                limited = True
                messages.append(f"time limit reached before priority {pr} stage")
                break
            backend.set_cost(cost)
            backend.set_start(x)  # after the cost change, which drops HiGHS's solution
            t_stage = time.perf_counter()
            # share what is left between this stage, the later ones and the cost stage, so a
            # hard stage cannot starve the cost stage
            out = backend.solve((deadline - time.perf_counter()) / (len(todo) - k + 1))
            stage_times.append(round(time.perf_counter() - t_stage, 3))
            if out.status in ("infeasible", "error"):
                return _failed(out.status, f"priority {pr} stage: {out.message}", t_built - t0,
                               time.perf_counter() - t_built, stats)
            if out.status == "feasible":
                limited = True
                messages.append(f"priority {pr} stage: {out.message} (gap {out.gap})")
            x, solved = out.x, True
            val = float(cost[cols] @ x[cols])
            backend.add_row(cols, cost[cols], val * (1 + STAGE_REL_TOL) + STAGE_ABS_TOL)
    final_gap: float | None = None
    if time.perf_counter() < deadline or not solved:
        backend.set_cost(mm.col_cost)
        backend.set_start(x)
        t_stage = time.perf_counter()
        out = backend.solve(deadline - time.perf_counter())
        stage_times.append(round(time.perf_counter() - t_stage, 3))
        if out.status in ("infeasible", "error"):
            if not solved:
                return _failed(out.status, out.message, t_built - t0,
                               time.perf_counter() - t_built, stats)
            messages.append(f"cost stage: {out.message}; keeping the last stage's solution")
            limited = True
        else:
            x = out.x
            final_gap = out.gap
            if out.status == "feasible":
                limited = True
                messages.append(f"cost stage: {out.message}")
    else:
        limited = True
        messages.append("time limit reached before the cost stage")
    t_solved = time.perf_counter()
    duals = None
    if mm.nrows:
        try:
            duals = backend.lp_duals(x, max(deadline - time.perf_counter(), 5.0))
        except Exception as e:  # noqa: BLE001 - pricing failure must not lose the clearing
            messages.append(f"marginal-cost LP failed: {e}")
    t_duals = time.perf_counter()
    res = extract(prob, mm, x, duals)
    res.status = "feasible" if limited else "optimal"
    res.mip_gap = final_gap
    res.message = "; ".join(messages) or None
    t_end = time.perf_counter()
    stats.update(solve_only_s=t_solved - t_built, duals_s=t_duals - t_solved,
                 extract_s=t_end - t_duals, stage_s=stage_times)
    res.stats = stats
    res.timing = {"build_s": round(t_built - t0, 4), "solve_s": round(t_end - t_built, 4)}
    return res


def _failed(status: str, message: str | None, build_s: float, solve_s: float,
            stats: dict) -> ClearingResult:
    return ClearingResult(status=status, message=message or status, stats=stats,
                          timing={"build_s": round(build_s, 4), "solve_s": round(solve_s, 4)})


def _clean(x: np.ndarray, prob: Problem) -> np.ndarray:
    """Snap award values to 0 / bounds within 1e-6 and drop solver noise."""
    v = np.clip(x, 0.0, prob.x_ub)
    v[v < _EPS] = 0.0
    near_ub = np.abs(v - prob.x_ub) < _EPS
    v[near_ub] = prob.x_ub[near_ub]
    near_min = (prob.x_min > 0) & (v > 0) & (np.abs(v - prob.x_min) < _EPS)
    v[near_min] = prob.x_min[near_min]
    return np.round(v, 9)


def extract(prob: Problem, mm: MatrixModel, x: np.ndarray | None,
            duals: np.ndarray | None) -> ClearingResult:
    snap = prob.snapshot
    dh = prob.dh
    xs = mm.blocks["x"]
    xval = _clean(x[xs], prob) if (x is not None and prob.nx) else np.zeros(prob.nx)
    on = np.flatnonzero(xval > 0)
    xb, xt = prob.x_bid, prob.x_t
    xa = prob.bid_asset[xb]

    # unmet recomputed from awards: u = max(0, mw - sum rel * x)
    covered = np.zeros(prob.nu)
    if prob.nx:
        np.add.at(covered, prob.x_cov[on], prob.asset_rel[xa[on]] * xval[on])
    unmet = np.maximum(prob.u_mw - covered, 0.0)
    unmet[unmet < _EPS] = 0.0
    unmet = np.round(unmet, 9)

    # prices per need-period with awards
    ap = np.array([b.availability_price for b in snap.bids], dtype=float)
    clearing = np.full(prob.nu, -np.inf)
    if len(on):
        np.maximum.at(clearing, prob.x_cov[on], ap[xb[on]])
    marginal = None
    if duals is not None:
        cov = mm.row_blocks["coverage"]
        marginal = np.abs(duals[cov]) / dh
    pay = ap[xb[on]] if snap.rules.pricing == "pay_as_bid" else clearing[prob.x_cov[on]]

    bid_ids = [b.id for b in snap.bids]
    need_ids = [n.id for n in snap.needs]
    awards = [Award(bid_ids[b], int(t), float(m), float(p))
              for b, t, m, p in zip(xb[on].tolist(), xt[on].tolist(), xval[on].tolist(),
                                    pay.tolist())]
    un = np.flatnonzero(unmet > 0)
    unmet_rows = [Unmet(need_ids[n], int(t), float(m)) for n, t, m in
                  zip(prob.u_need[un].tolist(), prob.u_t[un].tolist(), unmet[un].tolist())]
    withaward = np.flatnonzero(np.isfinite(clearing))
    prices = [Price(need_ids[n], int(t), float(c),
                    None if marginal is None else round(float(marginal[i]), 9))
              for i, n, t, c in zip(withaward.tolist(), prob.u_need[withaward].tolist(),
                                    prob.u_t[withaward].tolist(), clearing[withaward].tolist())]

    # costs recomputed from awards
    need_eu = np.array([n.expected_utilisation for n in snap.needs], dtype=float)
    up = np.array([b.utilisation_price for b in snap.bids], dtype=float)
    ef = np.array([a.emission_t_per_mwh for a in snap.assets], dtype=float)
    pen = np.array([n.unmet_penalty for n in snap.needs], dtype=float)
    mwh = xval[on] * dh
    bo = xb[on]
    eu = need_eu[prob.bid_need[bo]] if len(bo) else np.zeros(0)
    cost = {
        "availability": float(mwh @ ap[bo]),
        "utilisation_expected": float(mwh @ (eu * up[bo])),
        "carbon": float(mwh @ (snap.rules.carbon_price * ef[xa[on]] * eu)) if len(bo) else 0.0,
        "unmet_penalty": float((unmet * dh) @ pen[prob.u_need]) if prob.nu else 0.0,
    }
    cost = {k: round(v, 6) for k, v in cost.items()}
    objective = round(sum(cost.values()), 6)

    stages = []
    prio_u = prob.need_priority[prob.u_need] if prob.nu else np.zeros(0, dtype=np.int64)
    for pr in sorted(set(int(p) for p in prob.need_priority)):
        stages.append(Stage(pr, round(float(unmet[prio_u == pr].sum() * dh), 9)))

    rej = dict(prob.ineligible)
    rej.update(competition_reasons(prob, xval, marginal))
    rejected = [Rejection(bid_ids[b], tuple(rej[b])) for b in sorted(rej)]
    return ClearingResult(status="optimal", objective=objective, cost=cost, awards=awards,
                          unmet=unmet_rows, rejected=rejected, prices=prices, stages=stages)
