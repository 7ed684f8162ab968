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
MIP_ABS_GAP = 1e-6    # HiGHS's default mip_abs_gap
PROXY_WEIGHT = 100.0  # priority-weighted start: each level weighs 100x the one below it
PROXY_GAP_FACTOR = 0.1  # ... to a tenth of the caller's mip_rel_gap
PROXY_SHARE = 0.4     # ... and may use this share of the solve time
# kept back from the solves for the pricing LP and extraction: a share of time_limit, at most
# a fixed part plus a part growing with the model
USE_SILOED_START = True
RESERVE_SHARE = 0.1
RESERVE_S = 0.1
RESERVE_S_PER_COL = 5e-6
_EPS = 1e-6
METHODS = ("auto", "monolithic", "decomposed")
# `auto`: decomposed from this many model columns; below, one branch-and-bound is as quick
# (measured on the bench market: lexicographic 1,000 assets 12 s monolithic vs 19 s; weighted
# 11 s vs 5.5 s)
DECOMPOSE_MIN_COLS = 50_000
DECOMPOSE_MIN_COLS_WEIGHTED = 20_000


def clear(snapshot: Snapshot | dict, options: ClearingOptions | None = None) -> ClearingResult:
    opts = options or ClearingOptions()
    snap = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    t0 = time.perf_counter()
    prob = prepare(snap)
    t_prep = time.perf_counter()
    mm = build_matrix(prob)
    t_matrix = time.perf_counter()
    if opts.method not in METHODS:
        raise ValueError(f"unknown method {opts.method!r} (use one of {', '.join(METHODS)})")
    if _decomposed(opts, mm, snap.rules.primacy):
        return _clear_decomposed(snap, prob, mm, opts, t0, t_prep, t_matrix)
    try:
        backend = make_backend(mm, opts)
    except ValueError:
        raise
    except Exception as e:
        return ClearingResult(status="error", message=f"model load failed: {e}")
    t_built = time.perf_counter()
    # the whole call (build, stages, pricing LP, extraction) fits in time_limit: solves stop
    # at solve_deadline, the pricing LP at price_deadline, the rest is for extraction
    deadline = t0 + opts.time_limit
    reserve = min(RESERVE_SHARE * opts.time_limit, RESERVE_S + RESERVE_S_PER_COL * mm.ncols)
    solve_deadline = deadline - reserve
    price_deadline = deadline - reserve / 2
    stats = {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows,
             "nonzeros": len(mm.value), "prepare_s": t_prep - t0,
             "matrix_s": t_matrix - t_prep, "load_s": t_built - t_matrix}
    state = _Solve(backend, mm, opts, solve_deadline)
    state.prob = prob
    state.parts = {pr: stage_parts(prob, pr) for pr in mm.stage_cost}
    if prob.nx:
        xprio = prob.need_priority[prob.bid_need[prob.x_bid]]
        x0 = mm.blocks["x"].start
        state.lower = {pr: x0 + np.flatnonzero(xprio > pr) for pr in mm.stage_cost}
    siloed = None
    if mm.nints and USE_SILOED_START:
        siloed = siloed_start(snap, prob, mm)
    # the empty clearing (nothing awarded, every need unmet) is always feasible: start there so
    # a time limit can never leave us without a solution
    x = np.zeros(mm.ncols)
    x[mm.blocks["u"]] = prob.u_mw
    if siloed is not None and _feasible(mm, siloed):
        x = siloed  # a better start than the empty clearing, as feasible
    state.x = x
    try:
        if snap.rules.primacy == "lexicographic":
            state.lexicographic()
        final_gap = state.cost_stage()
    except _Failed as f:
        return _failed(f.status, f.message, t_built - t0, time.perf_counter() - t_built, stats)
    x, limited, messages, stage_times = state.x, state.limited, state.messages, state.times
    t_solved = time.perf_counter()
    duals = None
    if mm.nrows:
        try:
            duals = backend.lp_duals(x, price_deadline)
            if duals is None:
                messages.append("marginal-cost LP not solved (time limit or solver status)")
        except Exception as e:
            messages.append(f"marginal-cost LP failed: {e}")
    t_duals = time.perf_counter()
    res = extract(prob, mm, x, duals)
    res.status = "feasible" if limited else "optimal"
    res.mip_gap = final_gap
    res.message = "; ".join(messages) or None
    t_end = time.perf_counter()
    stats.update(solve_only_s=t_solved - t_built, duals_s=t_duals - t_solved,
                 extract_s=t_end - t_duals, stage_s=stage_times, proxy_s=state.proxy_s,
                 skipped_stages=state.skipped)
    res.stats = stats
    res.timing = {"build_s": round(t_built - t0, 4), "solve_s": round(t_end - t_built, 4)}
    return res


def _decomposed(opts: ClearingOptions, mm: MatrixModel, primacy: str) -> bool:
    if opts.method == "decomposed":
        return True
    least = DECOMPOSE_MIN_COLS if primacy == "lexicographic" else DECOMPOSE_MIN_COLS_WEIGHTED
    return (opts.method == "auto" and opts.backend == "highs" and bool(mm.nints)
            and mm.ncols >= least)


def _clear_decomposed(snap: Snapshot, prob: Problem, mm: MatrixModel, opts: ClearingOptions,
                      t0: float, t_prep: float, t_matrix: float) -> ClearingResult:
    """`clear` by the price decomposition (lexicographic.py): the same result contract."""
    from .lexicographic import pricing_duals, solve_decomposed

    deadline = t0 + opts.time_limit
    # kept back: the pricing LP (integers fixed, warm on the kept LP) and the extraction
    reserve = min(0.15 * opts.time_limit, 0.3 + 6e-6 * mm.ncols)
    solve_deadline = deadline - reserve
    price_deadline = deadline - min(reserve / 2, 0.05 + 2.5e-6 * mm.ncols)
    stats = {"variables": mm.ncols, "integers": mm.nints, "rows": mm.nrows,
             "nonzeros": len(mm.value), "prepare_s": t_prep - t0,
             "matrix_s": t_matrix - t_prep, "method": "decomposed"}
    # the empty clearing is the start: the stages find better ones at once (a siloed start
    # costs a second at 10,000 assets and the first stage would discard it)
    x = np.zeros(mm.ncols)
    x[mm.blocks["u"]] = prob.u_mw
    t_built = time.perf_counter()
    stats["start_s"] = t_built - t_matrix
    try:
        run = solve_decomposed(prob, mm, x, float(opts.mip_rel_gap), solve_deadline,
                               snap.rules.primacy == "lexicographic", opts.workers)
    except Exception as e:
        return _failed("error", f"decomposed solve failed: {e}", t_built - t0,
                       time.perf_counter() - t_built, stats)
    t_solved = time.perf_counter()
    messages = list(run.messages)
    duals = None
    if mm.nrows:
        try:
            duals = pricing_duals(run, run.x, price_deadline)
            if duals is None:
                messages.append("marginal-cost LP not solved (time limit or solver status)")
        except Exception as e:
            messages.append(f"marginal-cost LP failed: {e}")
    t_duals = time.perf_counter()
    res = extract(prob, mm, run.x, duals)
    res.status = "feasible" if run.limited else "optimal"
    res.mip_gap = run.gap
    res.message = "; ".join(messages) or None
    t_end = time.perf_counter()
    stats.update(solve_only_s=t_solved - t_built, duals_s=t_duals - t_solved,
                 extract_s=t_end - t_duals, stage_s=run.times, stages=run.stages,
                 lp_s=round(run.dec.lp_s, 3) if run.dec else 0.0)
    res.stats = stats
    res.timing = {"build_s": round(t_built - t0, 4), "solve_s": round(t_end - t_built, 4)}
    return res


class _Failed(Exception):
    def __init__(self, status: str, message: str | None):
        super().__init__(message)
        self.status, self.message = status, message


class _Solve:
    """The sequence of solves of one clearing, sharing one deadline.

    `x` is always a solution feasible for every row added so far (the carried solution).
    """

    def __init__(self, backend, mm: MatrixModel, opts: ClearingOptions, deadline: float):
        self.be, self.mm, self.opts, self.deadline = backend, mm, opts, deadline
        self.x: np.ndarray = np.zeros(mm.ncols)
        self.limited = False
        self.messages: list[str] = []
        self.times: list[float] = []
        self.holds: list[tuple[np.ndarray, np.ndarray, float]] = []  # cols, coefs, hi
        self.parts: dict[int, np.ndarray] = {}  # priority -> part of each u column (-1: other)
        self.proxy_s: list[float] = []  # weighted-start solve times
        self.skipped: list[int] = []
        self.wcost: np.ndarray | None = None  # priority-weighted objective of all levels
        self.lower: dict[int, np.ndarray] = {}  # priority -> award columns of lower levels
        self.prob: Problem | None = None

    def _run(self, cost: np.ndarray, until: float, gap: float | None = None):
        self.be.set_cost(cost)
        self.be.set_start(self.x)  # after the cost change, which drops HiGHS's solution
        t = time.perf_counter()
        out = self.be.solve(until, gap)
        return out, round(time.perf_counter() - t, 3)

    def _holds_ok(self, x: np.ndarray) -> bool:
        return all(float(v @ x[c]) <= hi + 1e-9 for c, v, hi in self.holds)

    def lexicographic(self) -> None:
        mm = self.mm
        todo = [(pr, c) for pr, c in mm.stage_cost.items() if c.any()]
        if not todo:
            return
        self.wcost = self._weighted_cost(todo)
        self._weighted_start(todo)
        for k, (pr, cost) in enumerate(todo):
            cols = np.flatnonzero(cost)
            nxt = todo[k + 1][1] if k + 1 < len(todo) else mm.col_cost
            if float(cost[cols] @ self.x[cols]) <= STAGE_ABS_TOL:
                # nothing of this priority left unmet: optimal without a solve
                self._hold(pr, cost)
                self.skipped.append(pr)
                continue
            now = time.perf_counter()
            if now >= self.deadline:
                self.limited = True
                self.messages.append(f"time limit reached before priority {pr} stage")
                return
            # share what is left between this stage, the later ones and the cost stage, so a
            # hard stage cannot starve the cost stage. Awards to lower levels cannot help this
            # stage (withdrawing them is always feasible), so they are fixed at 0 during it:
            # the same optimum and bound, and the top stage splits into small parts
            low = self.lower.get(pr)
            if low is not None and len(low) and hasattr(self.be, "set_bounds"):
                self.be.set_bounds(low, np.zeros(len(low)), np.zeros(len(low)))
            try:
                out, dt = self._run(cost, now + (self.deadline - now) / (len(todo) - k + 1))
            finally:
                if low is not None and len(low) and hasattr(self.be, "set_bounds"):
                    self.be.set_bounds(low, mm.col_lb[low], mm.col_ub[low])
            self.times.append(dt)
            if out.status == "infeasible" or (out.status == "error" and not out.limited):
                raise _Failed(out.status, f"priority {pr} stage: {out.message}")
            if out.status == "error":  # stopped before any solution: keep the carried one
                self.limited = True
                self.messages.append(f"priority {pr} stage: {out.message}")
                self._hold(pr, cost)
                return
            if out.status == "feasible":
                # stopped by the time limit: nothing is proven, so carry whichever of HiGHS's
                # incumbent and the start is better by the priority-weighted objective (an
                # unmet-only incumbent typically withdraws every lower-priority award)
                self.limited = True
                self.messages.append(f"priority {pr} stage: {out.message} (gap {out.gap})")
                cands = [out.x, self._restore_lower(out.x, self.x, pr)]
                if self.wcost is None:
                    self.x = out.x
                else:
                    best = min(cands, key=lambda c: float(self.wcost @ c))
                    if float(self.wcost @ best) <= float(self.wcost @ self.x):
                        self.x = best
            else:
                start = self.x
                self.x = self._pick(cost, out, nxt)
                if self.x is not start:
                    rep = self._restore_lower(self.x, start, pr)
                    if float(nxt @ rep) <= float(nxt @ self.x):
                        self.x = rep
                if self.x is not start and k + 1 < len(todo):
                    # the weighted solution was beaten beyond the gap on this level: HiGHS's
                    # incumbent of an unmet-only objective is poor for the later levels, so
                    # solve the weighted objective of the levels left under the new hold
                    self._hold(pr, cost)
                    self._weighted_start(todo[k + 1:])
                    continue
            self._hold(pr, cost)

    def _restore_lower(self, x: np.ndarray, start: np.ndarray, pr: int) -> np.ndarray:
        """`x` (a stage's incumbent, lower-level awards withdrawn) with the start's awards to
        lower levels put back, minus those that clash (capacity, direction, stacking, groups)
        with x's awards: the same value on this and higher levels, usually far better on the
        lower ones. `x` itself if that does not give a solution feasible for every hold."""
        prob, low = self.prob, self.lower.get(pr)
        if prob is None or low is None or not len(low):
            return x
        xb = self.mm.blocks["x"]
        aw = x[xb].copy()
        aw[low - xb.start] = np.clip(start[low], 0.0, None)
        is_low = np.zeros(prob.nx, dtype=bool)
        is_low[low - xb.start] = True
        for _ in range(5):
            aw = _clean(aw, prob)  # solver noise: snap to 0 / bounds / min MW
            v = _complete(prob, self.mm, aw)
            bad = _violated_rows(self.mm, v, 1e-6)
            if not len(bad):
                return v if self._holds_ok(v) else x
            cols = self.mm.index[np.concatenate([np.arange(self.mm.start[r],
                                                           self.mm.start[r + 1]) for r in bad])]
            inx = (cols >= xb.start) & (cols < xb.stop)
            ix = cols[inx] - xb.start
            binc = cols[~inx]  # binaries in the row: the awards they drive
            link = self.mm.x_link
            via = np.zeros(prob.nx, dtype=bool)
            for k in ("y", "z", "s", "w"):
                via |= np.isin(link[k], binc)
            ix = np.concatenate([ix, np.flatnonzero(via)])
            ix = ix[is_low[ix]]
            if not len(ix):
                return x
            aw[np.isin(prob.x_bid, prob.x_bid[ix]) & is_low] = 0.0
        return x

    def _weighted_cost(self, todo: list[tuple[int, np.ndarray]]) -> np.ndarray:
        return weighted_cost(self.mm, todo)

    def _weighted_start(self, todo: list[tuple[int, np.ndarray]]) -> None:
        """A priority-weighted solve of the levels in `todo` and the cost, subject to the holds
        so far: one MIP whose optimum is (nearly always) the lexicographic one, so each later
        stage starts from a near-optimal incumbent and mostly has to prove it."""
        now = time.perf_counter()
        if now >= self.deadline or PROXY_SHARE <= 0:
            return
        cost = self._weighted_cost(todo)
        # the weights inflate the objective, so the caller's relative gap would let its cost
        # part stray far: solve it tighter
        out, dt = self._run(cost, now + (self.deadline - now) * PROXY_SHARE,
                            float(self.opts.mip_rel_gap) * PROXY_GAP_FACTOR)
        self.proxy_s.append(dt)
        if out.status == "infeasible":
            raise _Failed("infeasible", f"priority-weighted start: {out.message}")
        if out.x is not None and self._holds_ok(out.x):
            if float(cost @ out.x) <= float(cost @ self.x):
                self.x = out.x
        elif not out.limited:
            self.messages.append(f"priority-weighted start: {out.message}")

    def _pick(self, cost: np.ndarray, out, nxt: np.ndarray) -> np.ndarray:
        """The solution to carry after an optimal stage: of the solver's incumbent and the
        stage's start, each proven within the gap of this stage's bound, the better one for
        the next objective (the start is usually the priority-weighted solution, which is
        near-optimal for every later stage too)."""
        if out.bound is None:
            return out.x
        g = float(self.opts.mip_rel_gap)
        ok = []
        for cand in (out.x, self.x):
            v = float(cost @ cand)
            if v - out.bound <= max(g * abs(v), MIP_ABS_GAP) and self._holds_ok(cand):
                ok.append(cand)
        if not ok:
            return out.x
        return min(ok, key=lambda c: float(nxt @ c))

    def _hold(self, pr: int, cost: np.ndarray) -> None:
        """Hold this stage's value of the carried solution, part by part (`hold_rows`)."""
        rows, zero = hold_rows(self.mm, self.parts.get(pr), cost, self.x)
        for cols, vals, hi in rows:
            self.be.add_row(cols, vals, hi)
            self.holds.append((cols, vals, hi))
        if len(zero):
            self.x = self.x.copy()
            self.x[zero] = 0.0
            self.be.fix_zero(zero, cost[zero], STAGE_ABS_TOL)
            self.holds.append((zero, cost[zero], STAGE_ABS_TOL))

    def cost_stage(self) -> float | None:
        now = time.perf_counter()
        if now >= self.deadline:
            self.limited = True
            self.messages.append("time limit reached before the cost stage")
            return None
        out, dt = self._run(self.mm.col_cost, self.deadline)
        self.times.append(dt)
        if out.status == "infeasible" or (out.status == "error" and not out.limited):
            if not self.holds:
                raise _Failed(out.status, out.message)
            self.messages.append(f"cost stage: {out.message}; keeping the last stage's solution")
            self.limited = True
            return None
        if out.status == "error":
            self.limited = True
            self.messages.append(f"cost stage: {out.message}; keeping the last stage's solution")
            return None
        self.x = out.x
        if out.status == "feasible":
            self.limited = True
            self.messages.append(f"cost stage: {out.message}")
        return out.gap


def weighted_cost(mm: MatrixModel, levels: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Cost plus each level's unmet MWh at a weight far above every cost (PROXY_WEIGHT times
    the dearest column per MWh, and PROXY_WEIGHT times the next level's): its optimum is,
    short of ties, the lexicographic one."""
    unit = max(float(c.max()) for _, c in levels)  # dh: stage costs are MWh
    weight = PROXY_WEIGHT * max(float(np.abs(mm.col_cost).max(initial=0.0)) / unit, 1.0)
    cost = mm.col_cost.copy()
    for _, c in reversed(levels):
        cost += weight * c
        weight *= PROXY_WEIGHT
    return cost


def hold_rows(mm: MatrixModel, part: np.ndarray | None, cost: np.ndarray, x: np.ndarray,
              per_column_tol: float = 0.0
              ) -> tuple[list[tuple[np.ndarray, np.ndarray, float]], np.ndarray]:
    """The rows that hold a stage's value of `x` (within the relative tolerance), part by
    part, and the columns of parts held at 0 (fixed at 0 as bounds: no row needed).

    The stage's objective is a sum over independent parts (only bids of this or higher levels
    matter to it, and they link needs through assets and groups), so its optimum is the sum of
    the parts' optima and holding the sum at the optimum is holding every part at its own.
    Per part, the sum of the rows' right-hand sides is the spec's hold, up to the absolute
    HiGHS tolerance per row; and a part-local row keeps the decomposition's components apart.
    `per_column_tol` widens a row by that much per unit of coefficient: a value read off a
    solution that is feasible only within the solver's tolerance is otherwise slightly below
    what exact arithmetic allows, and HiGHS's presolve then calls the held model infeasible.
    """
    u = mm.blocks["u"]
    cols_all = np.flatnonzero(cost)
    if part is None or len(part) != u.stop - u.start:
        groups = [cols_all]
    else:
        pc = part[cols_all - u.start]
        order = np.argsort(pc, kind="stable")
        cuts = np.flatnonzero(np.diff(pc[order])) + 1
        groups = np.split(cols_all[order], cuts)
    rows, zero = [], []
    for cols in groups:
        val = float(cost[cols] @ x[cols])
        if val <= STAGE_ABS_TOL:
            zero.append(cols)
        else:
            slack = STAGE_ABS_TOL + per_column_tol * float(np.abs(cost[cols]).sum())
            rows.append((cols, cost[cols], val * (1 + STAGE_REL_TOL) + slack))
    return rows, (np.concatenate(zero) if zero else np.zeros(0, dtype=np.int64))


def _violated_rows(mm: MatrixModel, v: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    rows = np.repeat(np.arange(mm.nrows), np.diff(mm.start))
    act = np.bincount(rows, weights=mm.value * v[mm.index], minlength=mm.nrows)
    return np.flatnonzero((act < mm.row_lo - tol) | (act > mm.row_hi + tol))


def _feasible(mm: MatrixModel, v: np.ndarray, tol: float = 1e-7) -> bool:
    """v within the column bounds and row bounds (HiGHS's feasibility tolerance)."""
    if np.any(v < mm.col_lb - tol) or np.any(v > mm.col_ub + tol):
        return False
    return not len(_violated_rows(mm, v, tol))


def siloed_start(snap: Snapshot, prob: Problem, mm: MatrixModel) -> np.ndarray:
    """Awards and unmet of the siloed clearing (today's separate markets, conflicts dropped)
    as a MIP start: a feasible clearing found in linear time, so the first solve never starts
    from less. The binaries follow from the awards (`MatrixModel.x_link`)."""
    from .siloed import clear_siloed

    sil = clear_siloed(snap)
    bidx = {b.id: i for i, b in enumerate(snap.bids)}
    award = np.zeros((len(snap.bids), prob.T))
    for b, t, m in sil.awards:
        award[bidx[b], t] = m
    xs = np.minimum(award[prob.x_bid, prob.x_t], prob.x_ub) if prob.nx else np.zeros(0)
    # the siloed markets may cut an all-or-nothing block in conflict resolution and accept two
    # bids of one exclusive group in different markets: withdraw such bids
    B = len(snap.bids)
    short = np.zeros(B, dtype=bool)
    short[prob.x_bid[xs < prob.x_ub - 1e-9]] = True
    accepted = np.zeros(B, dtype=bool)
    accepted[prob.x_bid[xs > 0]] = True
    drop = accepted & prob.bid_aon & short
    seen: set[int] = set()
    for b in np.flatnonzero(accepted & ~drop & (prob.bid_group >= 0)).tolist():
        g = int(prob.bid_group[b])
        if g in seen:
            drop[b] = True
        seen.add(g)
    xs[drop[prob.x_bid]] = 0.0
    for _ in range(3):
        v = _complete(prob, mm, xs)
        bad = _violated_rows(mm, v)
        if not len(bad):
            break
        # withdraw every bid with an award in a violated row (a siloed tolerance slip)
        xcols = mm.index[np.concatenate([np.arange(mm.start[r], mm.start[r + 1]) for r in bad])]
        xb = mm.blocks["x"]
        xcols = xcols[(xcols >= xb.start) & (xcols < xb.stop)] - xb.start
        xs[np.isin(prob.x_bid, prob.x_bid[xcols])] = 0.0
    return v


def _complete(prob: Problem, mm: MatrixModel, xs: np.ndarray) -> np.ndarray:
    """A full column vector from awards: unmet what they leave, binaries they imply."""
    covered = np.zeros(prob.nu)
    if prob.nx:
        np.add.at(covered, prob.x_cov, prob.asset_rel[prob.bid_asset[prob.x_bid]] * xs)
    v = np.zeros(mm.ncols)
    v[mm.blocks["x"]] = xs
    v[mm.blocks["u"]] = np.maximum(prob.u_mw - covered, 0.0)
    on = xs > 0
    link = mm.x_link
    for k in ("y", "z", "s"):
        c = link[k]
        v[c[on & (c >= 0)]] = 1.0
    w = link["w"]
    v[w[w >= 0]] = 1.0
    v[w[on & (w >= 0) & (link["dir"] == 1)]] = 0.0
    return v


def stage_parts(prob: Problem, pr: int) -> np.ndarray:
    """Independent part of each u column for the priority-`pr` stage (-1 for other levels).

    Only bids of needs of priority <= pr can matter to that stage (any other award can be
    withdrawn at no loss to it), so two needs are in one part when such bids link them through
    an asset (capacity, direction, stacking are per asset) or an exclusive group.
    """
    nu = prob.nu
    N = len(prob.need_priority)
    A = len(prob.asset_rel)
    part = np.full(nu, -1, dtype=np.int64)
    if not nu:
        return part
    bids = np.unique(prob.x_bid)
    bids = bids[prob.need_priority[prob.bid_need[bids]] <= pr]
    parent = np.arange(N + A + len(prob.groups))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for b in bids.tolist():
        n, a, g = int(prob.bid_need[b]), N + int(prob.bid_asset[b]), int(prob.bid_group[b])
        rn, ra = find(n), find(a)
        if rn != ra:
            parent[ra] = rn
        if g >= 0:
            rg, rn = find(N + A + g), find(n)
            if rg != rn:
                parent[rg] = rn
    sel = np.flatnonzero(prob.need_priority[prob.u_need] == pr)
    part[sel] = [find(int(n)) for n in prob.u_need[sel]]
    return part


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
                                    pay.tolist(), strict=False)]
    un = np.flatnonzero(unmet > 0)
    unmet_rows = [Unmet(need_ids[n], int(t), float(m)) for n, t, m in
                  zip(prob.u_need[un].tolist(), prob.u_t[un].tolist(), unmet[un].tolist(), strict=False)]
    withaward = np.flatnonzero(np.isfinite(clearing))
    prices = [Price(need_ids[n], int(t), float(c),
                    None if marginal is None else round(float(marginal[i]), 9))
              for i, n, t, c in zip(withaward.tolist(), prob.u_need[withaward].tolist(),
                                    prob.u_t[withaward].tolist(), clearing[withaward].tolist(), strict=False)]

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
    for pr in sorted({int(p) for p in prob.need_priority}):
        stages.append(Stage(pr, round(float(unmet[prio_u == pr].sum() * dh), 9)))

    rej = dict(prob.ineligible)
    rej.update(competition_reasons(prob, xval, marginal))
    rejected = [Rejection(bid_ids[b], tuple(rej[b])) for b in sorted(rej)]
    return ClearingResult(status="optimal", objective=objective, cost=cost, awards=awards,
                          unmet=unmet_rows, rejected=rejected, prices=prices, stages=stages)
