"""`clear`: a snapshot in, the spec's result out. Entry, choice of method, and the one tail.

1. Prepare the arrays (`problem.py`) and build the MILP (`model.py`).
2. Build the merit-order start (`start.py`): a feasible clearing without a solver (its time
   is solve time, `stats["start_s"]`).
3. Solve the stages by one of two methods, which both return a `run.SolveRun`:
   `monolithic.py` (one HiGHS branch-and-bound per stage, from the merit-order start) or
   `lexicographic.py` (the price decomposition, for large markets).
4. The tail, the same for both: if the run is not proven and the merit-order start is better
   (or is what the run carried), the result is that start; under lexicographic primacy, if
   the run's solution with the start's awards put back below the levels it proved is better,
   that is the result; either with the gap known for it. Then the pricing LP, the extraction
   (`extract.py`), status, gap, message, timing and stats.
"""

from __future__ import annotations

import time

import numpy as np

from .extract import Summary, extract, summarise
from .holds import holds_ok
from .lexicographic import solve_decomposed
from .model import MatrixModel, build_matrix, complete, feasible
from .monolithic import solve_monolithic
from .problem import Problem, prepare
from .result import ClearingOptions, ClearingResult
from .run import SolveFailed, SolveRun
from .snapshot import Snapshot, load_snapshot
from .solver import BACKENDS, make_backend
from .start import improves_on, merit_order_start, restore_lower

METHODS = ("auto", "monolithic", "decomposed")
# `auto`: decomposed from this many model columns; below, one branch-and-bound is as quick
# (measured on the bench market: lexicographic 1,000 assets 12 s monolithic vs 19 s; weighted
# 11 s vs 5.5 s)
DECOMPOSE_MIN_COLS = 50_000
DECOMPOSE_MIN_COLS_WEIGHTED = 20_000


def clear(snapshot: Snapshot | dict, options: ClearingOptions | None = None) -> ClearingResult:
    """Clear a market snapshot (market-snapshot-v1) within `options.time_limit` seconds.

    Returns a result whose status is `optimal` (every stage proven within mip_rel_gap),
    `feasible` (stopped by the time limit; `mip_gap` is the proven gap, None if unknown) or,
    when a solver fails, `error` / `infeasible` with a message.

    Raises:
        SnapshotError: the snapshot is invalid.
        ValueError: unknown `options.method` or `options.backend`.
    """
    opts = options or ClearingOptions()
    snap = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    if opts.method not in METHODS:
        raise ValueError(f"unknown method {opts.method!r} (use one of {', '.join(METHODS)})")
    if opts.backend not in BACKENDS:
        raise ValueError(f"unknown backend {opts.backend!r} (use one of {', '.join(BACKENDS)})")
    if snap.version >= 2:  # confidence levels and the delivery report (docs/probabilistic.md)
        from .probabilistic import clear_v2

        return clear_v2(snap, opts)
    t0 = time.perf_counter()
    return clear_problem(prepare(snap), opts, t0)


def clear_problem(prob: Problem, opts: ClearingOptions, t0: float,
                  start: np.ndarray | None = None) -> ClearingResult:
    """`clear` from prepared arrays (`prob`, whose coverage coefficients a caller may have
    set: `Problem.x_rel`), the call's clock started at `t0`. `start`: awards per x column
    of an earlier clearing of the same market (the chance iteration's last), used instead of
    the merit-order start where they are feasible."""
    snap = prob.snapshot
    t_prep = time.perf_counter()
    mm = build_matrix(prob)
    t_matrix = time.perf_counter()
    stats = {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows,
             "nonzeros": len(mm.value), "prepare_s": t_prep - t0,
             "matrix_s": t_matrix - t_prep}
    if _decomposed(opts, mm, snap.rules.primacy):
        stats["method"] = "decomposed"
        t_built = time.perf_counter()
        floor = _start(snap, prob, mm, start)
        stats["start_s"] = time.perf_counter() - t_built
        try:
            run = solve_decomposed(prob, mm, opts, t0, t_built)
        except SolveFailed as f:
            return _failed(f, t_built - t0, time.perf_counter() - t_built, stats)
    else:
        try:
            backend = make_backend(mm, opts)
        except Exception as e:
            return ClearingResult(status="error", message=f"model load failed: {e}")
        t_built = time.perf_counter()
        stats["load_s"] = t_built - t_matrix
        floor = _start(snap, prob, mm, start)
        stats["start_s"] = time.perf_counter() - t_built
        try:
            # an LP (no integer columns) starts from the empty clearing: its optimum is found
            # at once, and the floor still applies if it is not
            run = solve_monolithic(prob, mm, opts, backend, t0, t_built,
                                   floor if mm.nints else None)
        except SolveFailed as f:
            return _failed(f, t_built - t0, time.perf_counter() - t_built, stats)
    return _finish(prob, mm, run, floor, t0, stats)


def _start(snap: Snapshot, prob: Problem, mm: MatrixModel, start: np.ndarray | None
           ) -> np.ndarray | None:
    if start is not None:
        v = complete(prob, mm, start)
        if feasible(mm, v):
            return v
    return merit_order_start(snap, prob, mm)


def _decomposed(opts: ClearingOptions, mm: MatrixModel, primacy: str) -> bool:
    if opts.method == "decomposed":
        return True
    least = DECOMPOSE_MIN_COLS if primacy == "lexicographic" else DECOMPOSE_MIN_COLS_WEIGHTED
    return (opts.method == "auto" and opts.backend == "highs" and bool(mm.nints)
            and mm.ncols >= least)


def _finish(prob: Problem, mm: MatrixModel, run: SolveRun, floor: np.ndarray | None,
            t0: float, stats: dict) -> ClearingResult:
    """The post-solve tail of both methods: floor, pricing LP, extraction, status and gap."""
    t_solved = time.perf_counter()
    x, gap, messages = run.x, run.mip_gap(), list(run.messages)
    price = bool(mm.nrows)
    summary = None
    if run.limited and floor is not None:
        # not proven: never publish less than the merit-order start
        x, gap, summary, note = _floor(prob, mm, run, floor)
        if note:
            messages.append(note)
            if not holds_ok(run.holds, x):
                price = False
                messages.append("marginal costs not computed: the result is outside the holds "
                                "of the stages solved")
    duals = None
    if price:
        try:
            duals = run.duals(x, run.price_deadline)
            if duals is None:
                messages.append("marginal-cost LP not solved (time limit or solver status)")
        except Exception as e:
            messages.append(f"marginal-cost LP failed: {e}")
    t_duals = time.perf_counter()
    res = extract(prob, mm, x, duals, proven=not run.limited, summary=summary)
    res.status = "feasible" if run.limited else "optimal"
    res.mip_gap = gap
    res.message = "; ".join(messages) or None
    t_end = time.perf_counter()
    stats.update(solve_only_s=t_solved - run.t_built, duals_s=t_duals - t_solved,
                 extract_s=t_end - t_duals, from_start=x is not run.x, **run.stats)
    res.stats = stats
    res.timing = {"build_s": round(run.t_built - t0, 4), "solve_s": round(t_end - run.t_built, 4)}
    return res


def _floor(prob: Problem, mm: MatrixModel, run: SolveRun, floor: np.ndarray
           ) -> tuple[np.ndarray, float | None, Summary, str | None]:
    """The best of an unproven run's solution and what the merit-order start offers, by the
    spec's ranking (`start.improves_on`): the start itself, and under lexicographic primacy
    the run's solution with the start's awards to the levels below those proven put back
    where they fit (`start.restore_lower`). (x, gap, summary of x, message or None)."""
    x, summary = run.x, summarise(prob, mm, run.x)
    lexicographic = prob.snapshot.rules.primacy == "lexicographic"
    start = summarise(prob, mm, floor)
    note = None
    if np.array_equal(x, floor) or improves_on(summary, start, lexicographic):
        x, summary = floor, start
        note = ("the solver found nothing better than the merit-order start in its time "
                "limit: the result is that start")
    proven = run.proven_priority()
    if note is None and lexicographic and proven and prob.nx:
        xprio = prob.need_priority[prob.bid_need[prob.x_bid]]
        low = mm.blocks["x"].start + np.flatnonzero(xprio > proven)
        merged = restore_lower(prob, mm, x, floor, low) if len(low) else None
        if merged is not None:
            both = summarise(prob, mm, merged)
            if improves_on(summary, both, lexicographic):
                x, summary = merged, both
                note = (f"the solver proved priority {proven} and above only: the result "
                        "keeps its awards there and takes the merit-order start's below, "
                        "where they fit")
    if note is None:
        return run.x, run.mip_gap(), summary, None
    gap = run.gap_of(x, holds_ok(run.holds, x))
    return x, gap, summary, note + f" (gap {'unknown' if gap is None else f'{gap:.2e}'})"


def _failed(f: SolveFailed, build_s: float, solve_s: float, stats: dict) -> ClearingResult:
    return ClearingResult(status=f.status, message=f.message or f.status, stats=stats,
                          timing={"build_s": round(build_s, 4), "solve_s": round(solve_s, 4)})
