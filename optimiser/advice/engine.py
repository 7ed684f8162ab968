"""`advise`: request in, explained advice out (prepare, build, solve with HiGHS, explain)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from .explain import Outcome, advised_bid, blocked_reasons, round_mw
from .model import AdviceModel, build_model
from .problem import AdviceProblem, prepare
from .request import AdviceRequest, load_advice_request
from .result import AdviceOptions, AdviceResult, Expected, NotAdvised, money


def _start(prob: AdviceProblem, mm: AdviceModel) -> np.ndarray:
    """Offer nothing: always feasible, so HiGHS has an incumbent from the first node and a
    time limit can only ever return a (possibly poor) advice, never none."""
    x = np.zeros(mm.ncols)
    if prob.request.asset.energy_mwh is not None:
        x[mm.blocks["floor"]] = 0.0                       # nothing to deliver
        x[mm.blocks["ceiling"]] = prob.request.asset.energy_mwh  # nothing to absorb
    return x


def solve(prob: AdviceProblem, mm: AdviceModel, options: AdviceOptions) -> dict[str, Any]:
    """Run HiGHS with the options' time limit, gap, threads and output; the status in the
    vocabulary of the clearing (optimal | feasible | infeasible | error)."""
    h = mm.to_highs(options.output)
    h.setOptionValue("time_limit", float(options.time_limit))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    if options.threads is not None:
        h.setOptionValue("threads", int(options.threads))
    x0 = _start(prob, mm)
    h.setSolution(mm.ncols, np.arange(mm.ncols, dtype=np.int32), x0)
    h.run()
    M = highspy.HighsModelStatus
    ms = h.getModelStatus()
    info = h.getInfo()
    has = info.primal_solution_status == 2
    name = h.modelStatusToString(ms)
    out: dict[str, Any] = {"x": np.array(h.getSolution().col_value) if has else None,
                           "objective": info.objective_function_value if has else None,
                           "gap": None, "bound": None, "message": None}
    if has and mm.nints:
        gap, bound = float(info.mip_gap), float(info.mip_dual_bound)
        out["gap"] = gap if np.isfinite(gap) else None
        out["bound"] = bound if np.isfinite(bound) else None
    if ms == M.kOptimal and has:
        out["status"] = "optimal"
    elif ms == M.kInfeasible:
        out["status"], out["message"] = "infeasible", "HiGHS: model infeasible"
    elif has and ms in (M.kTimeLimit, M.kInterrupt, M.kIterationLimit, M.kSolutionLimit):
        out["status"], out["message"] = "feasible", f"HiGHS stopped: {name}"
    else:
        out["status"], out["message"] = "error", f"HiGHS status: {name}"
    return out


def advise(request: dict | str | Path | AdviceRequest, options: AdviceOptions | None = None
           ) -> AdviceResult:
    """The best set of open needs for one asset to bid into, explained.

    Parameters:
        request: an advice-request-v1 document (dict, JSON text, path) or an AdviceRequest.
        options: solver controls and risk settings (defaults: AdviceOptions()).

    Raises:
        AdviceRequestError: the request is invalid (every problem listed).
    """
    opts = options or AdviceOptions()
    t0 = time.perf_counter()
    req = load_advice_request(request)
    prob = prepare(req, opts.estimators, opts.min_win_probability, opts.min_expected_gbp)
    mm = build_model(prob)
    t1 = time.perf_counter()
    if prob.nc:
        sol = solve(prob, mm, opts)
    else:
        sol = {"status": "optimal", "x": np.zeros(mm.ncols), "objective": 0.0, "gap": 0.0,
               "bound": 0.0, "message": None}
    t2 = time.perf_counter()

    bids, not_advised = [], []
    for i, rs in sorted(prob.pre_reasons.items()):
        not_advised.append(NotAdvised(req.needs[i].id, tuple(rs)))
    if sol["x"] is not None:
        raw = np.maximum(sol["x"][mm.blocks["x"]], 0.0)
        x = round_mw(raw)
        slack = float((raw - x).sum())
        zval = sol["x"][mm.blocks["z"]]
        qval = sol["x"][mm.blocks["q"]]
        out = Outcome(prob, x)
        value = 0.0
        advised: dict[int, Any] = {}
        for c in range(prob.nc):
            if not out.chosen[c]:
                continue
            qs = np.flatnonzero(prob.q_cand == c)
            on = qs[zval[qs] > 0.5]
            q = int(on[0]) if len(on) else int(qs[np.argmax(qval[qs])])
            mw = np.zeros(prob.T)
            cols = prob.x_cand == c
            mw[prob.x_t[cols]] = x[cols]
            b = advised_bid(prob, c, mw, int(prob.q_level[q]))
            advised[int(prob.cand[c])] = b
            value += prob.q_value[q] * float(mw.sum())
        gain = None if sol["bound"] is None else max(-sol["bound"] - value, 0.0)
        for c in range(prob.nc):
            if not out.chosen[c]:
                not_advised.append(NotAdvised(req.needs[int(prob.cand[c])].id,
                                              tuple(blocked_reasons(prob, out, c, gain,
                                                                    sol["gap"], slack))))
        bids = [advised[i] for i in sorted(advised)]
    order = {n.id: k for k, n in enumerate(req.needs)}
    not_advised.sort(key=lambda n: order[n.need])
    av, ut, co = (sum((b.expected.availability for b in bids), money(0)),
                  sum((b.expected.utilisation for b in bids), money(0)),
                  sum((b.expected.cost for b in bids), money(0)))
    t3 = time.perf_counter()
    return AdviceResult(
        status=sol["status"], bids=tuple(bids), not_advised=tuple(not_advised),
        expected=Expected(av, ut, co, av + ut - co), asset=req.asset.id,
        objective=None if sol["objective"] is None else -float(sol["objective"]) + 0.0,
        mip_gap=sol["gap"],
        message=sol["message"],
        timing={"build_s": round(t1 - t0, 4), "solve_s": round(t2 - t1, 4),
                "explain_s": round(t3 - t2, 4)},
        model={"columns": mm.ncols, "rows": mm.nrows, "integers": mm.nints,
               "nonzeros": len(mm.value), "candidates": prob.nc})
