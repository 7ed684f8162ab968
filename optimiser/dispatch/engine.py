"""`solve`: snapshot in, result document out (dispatch-snapshot-v1 `Result`).

The result is computed from the solution's calls alone: shortfall is what the calls leave
unserved (never the solver's slack, which may carry noise), and the cost and objective are
recomputed from the calls and that shortfall, so the document is consistent with itself to
the last digit whatever the solver's tolerances.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..tolerances import MW_EPS, NUM_EPS
from .decomposed import solve_decomposed, worth_it
from .model import FAMILIES, Model, build, stage_costs
from .problem import Problem, prepare
from .reasons import not_dispatched
from .snapshot import parse
from .stages import Options, solve_model

DEFAULT_GAP = 1e-4
DEFAULT_TIME_LIMIT = 60.0


def start_vector(prob: Problem, mm: Model) -> np.ndarray:
    """Nothing called, every request-period short by its MW: always feasible."""
    x = np.zeros(mm.ncols)
    x[mm.blocks["s"]] = prob.s_mw
    return x


def lower_columns(prob: Problem, mm: Model) -> dict[int, np.ndarray]:
    """Per priority level, the y columns of requests of lower priority (fixed at 0 in that
    level's stage, see solve.py)."""
    yp = prob.r_prio[prob.y_r[mm.y_cand]]
    y0 = mm.blocks["y"].start
    return {lv: y0 + np.flatnonzero(yp > lv) for lv in sorted({int(p) for p in prob.r_prio})}


def solve(snapshot: dict, *, mip_rel_gap: float | None = None,
          time_limit: float | None = None) -> dict[str, Any]:
    """The dispatch of a snapshot, as the spec's result document.

    Raises:
        SnapshotError: the snapshot is invalid (every problem listed).
    """
    return dispatch(snapshot, mip_rel_gap=mip_rel_gap, time_limit=time_limit)[0]


def dispatch(snapshot: dict, *, mip_rel_gap: float | None = None,
             time_limit: float | None = None, options: Options | None = None,
             families: tuple[str, ...] = FAMILIES) -> tuple[dict[str, Any], dict[str, Any]]:
    """`solve` with its model statistics (size, parts, dropped calls) for benchmarks and
    logs; `families` leaves rules out (tests show each rule matters).

    Raises:
        SnapshotError: the snapshot is invalid (every problem listed).
    """
    t0 = time.perf_counter()
    snap = parse(snapshot)
    opts = options or Options()
    if mip_rel_gap is not None:
        opts = Options(**{**opts.__dict__, "mip_rel_gap": float(mip_rel_gap)})
    if time_limit is not None:
        opts = Options(**{**opts.__dict__, "time_limit": float(time_limit)})
    prob = prepare(snap)
    mm = build(prob, families)
    levels = stage_costs(prob, mm) if snap.primacy == "lexicographic" else {}
    t_built = time.perf_counter()
    method = opts.method
    if method == "auto":
        method = "decomposed" if worth_it(prob, mm) else "parts"
    run = solve_decomposed if method == "decomposed" else solve_model
    out = run(*((prob,) if method == "decomposed" else ()), mm, levels,
              lower_columns(prob, mm), start_vector(prob, mm), opts, t0 + opts.time_limit)
    res = result(prob, mm, out.x[mm.blocks["y"]])
    t_solved = time.perf_counter()  # solve_s includes reading the result and its reasons
    res["status"] = "optimal" if out.proven else "feasible"
    gap = None
    if out.finished and np.isfinite(out.bound):
        gap = max((out.obj - out.bound) / max(abs(out.obj), NUM_EPS), 0.0)
        if out.level_gaps:
            gap = max([gap, *out.level_gaps])
    res["mip_gap"] = gap
    if out.messages:
        res["message"] = "; ".join(out.messages[:5])
    res["timing"] = {"build_s": round(t_built - t0, 4), "solve_s": round(t_solved - t_built, 4)}
    stats = {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows,
             "parts": out.parts, "method": method, "log": out.log, **mm.stats}
    return res, stats


def result(prob: Problem, mm: Model, y_cols: np.ndarray) -> dict[str, Any]:
    """The result document's content from the calls (one value per built y column)."""
    T, dh = prob.T, prob.dh
    y_val = np.zeros(len(prob.y_c))
    v = np.where(y_cols > MW_EPS, y_cols, 0.0)
    y_val[mm.y_cand] = v
    Y = np.zeros((prob.C, T))
    np.add.at(Y, (prob.y_c, prob.y_t), y_val)
    cover = np.zeros((prob.R, T))
    np.add.at(cover, (prob.y_r, prob.y_t), prob.a_rel[prob.c_asset[prob.y_c]] * y_val)
    short = np.maximum(prob.r_mw - cover, 0.0)
    short[short <= MW_EPS] = 0.0
    snap = prob.snap
    price = np.array([c["utilisation_price"] for c in snap.contracts], float)
    em = prob.a_emission[prob.c_asset]
    util = float(dh * (Y.sum(axis=1) @ price)) if prob.C else 0.0
    carbon = float(dh * snap.carbon_price * (Y.sum(axis=1) @ em)) if prob.C else 0.0
    pen = float(dh * (short.sum(axis=1) @ prob.r_pen)) if prob.R else 0.0
    on = np.flatnonzero(y_val > 0)
    con, req, assets = snap.contracts, snap.requests, snap.assets
    instructions = [{"contract": con[c]["id"], "request": req[r]["id"],
                     "asset": assets[prob.c_asset[c]]["id"], "period": int(t), "mw": float(m)}
                    for c, r, t, m in zip(prob.y_c[on].tolist(), prob.y_r[on].tolist(),
                                          prob.y_t[on].tolist(), y_val[on].tolist(),
                                          strict=True)]
    sr, st = np.nonzero(short > 0)
    shortfall = [{"request": req[r]["id"], "period": int(t), "mw": float(short[r, t])}
                 for r, t in zip(sr.tolist(), st.tolist(), strict=True)]
    stages = []
    for lv in sorted({int(p) for p in prob.r_prio}):
        sel = prob.r_prio == lv
        stages.append({"priority": lv, "shortfall_mwh": float(dh * short[sel].sum())})
    return {
        "version": 1, "status": "optimal", "mip_gap": 0.0,
        "objective": util + carbon + pen,
        "cost": {"utilisation": util, "carbon": carbon, "shortfall_penalty": pen},
        "instructions": instructions, "shortfall": shortfall,
        "not_dispatched": not_dispatched(prob, Y, y_val, short),
        "stages": stages, "timing": {"build_s": 0.0, "solve_s": 0.0},
    }
