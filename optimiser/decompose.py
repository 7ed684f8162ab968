"""Price decomposition of a clearing stage: how a 10,000-asset market clears to 0.1% in seconds.

Why not one branch-and-bound: at 10,000 assets HiGHS spends ~3 s in presolve, ~4 s on the
root LP and 10-20 s in a single cut round, and it had not proven 0.13% after 100 s. The
market has a structure HiGHS does not exploit: every row except the coverage of GB-wide needs
lives inside one zone (a CMZ's needs and the assets bidding into them) or one asset, so once
GB-wide coverage has a price the model falls apart into thousands of small independent MIPs.

One stage (a lexicographic level or the cost objective), under the rows held so far:

1. Components of the model without the *linking* rows (coverage of `GB` needs, and any hold
   row that would join components). When no linking row matters, for instance the priority-1
   stage of a market whose GB-wide needs are priority 2, every component is solved exactly
   and that is the stage's optimum.
2. Otherwise the LP relaxation of the whole model gives duals for the linking rows; pricing
   them (Lagrangian relaxation) leaves the components independent, each solved as its own
   small MIP (tiny ones batched), in a thread pool: highspy releases the GIL while it solves.
   The sum of the components' proven bounds plus the priced constants is a lower bound on the
   stage optimum, never weaker than the LP's, because each component is solved as a MIP.
3. A first primal: the components break price ties toward the LP's support (a perturbation
   whose largest effect on the bound is subtracted from it), their integer decisions are
   fixed and one LP over the continuous awards restores GB-wide coverage (under a tight hold
   from an earlier level, the supply-aware mix of blocks.py first).
4. Gap = (primal - bound) / primal, proven. If it is above the target and time is left,
   column generation (colgen.py) prices the next round: a restricted master LP over the
   components' solutions found so far. Its MIP, one solution per component, is the primal
   that combines the rounds; then a RINS sub-MIP, the descent (descent.py) and a closing
   branch-and-bound with the time left.

Pure numpy + highspy over a `MatrixModel`, read through its `rows.RowView`; holds are kept
there as extra rows so the components always see the model the stage is solved under.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import highspy
import numpy as np

from .blocks import Blocks, label, quiet_highs, set_time_limit
from .colgen import SMOOTH, ColumnGeneration
from .descent import Descent
from .eligibility import GB
from .model import MatrixModel
from .problem import Problem
from .rows import RowView
from .tolerances import MIP_ABS_GAP, NUM_EPS, PRIMAL_FEAS_TOL

BATCH_COLS = 300        # components below this many columns are solved together in batches
COMPONENT_GAP = 1e-4    # per-component relative gap: its bound loss is summed over components
PERTURB_SHARE = 1e-4    # tie-break perturbation: at most this share of the LP objective
PERTURB_MIN_OBJ = 1e-3  # ... of at least this objective (an LP at 0 still breaks its ties)
# least time left for the closing branch-and-bound to be worth it: its presolve and a root
# cut round cannot be interrupted (~1 s and up to ~5 s per 100,000 columns)
POLISH_MIN_S = 1.0
POLISH_S_PER_COL = 5e-5
# RINS sub-MIP (3c below): run when at most this share of the integer decisions is left free
# (5,000 assets, priority-2 level: 1.9% free, 1,177.9 to 1,175.8 MWh in 0.4 s; the cost stage
# under that level's tight hold leaves 20% free, and 13 s of it found nothing), for at most
# this share of the time left
RINS_MAX_FREE = 0.05
RINS_SHARE = 0.3
CG_ROUNDS = 30          # priced rounds with column generation (colgen.py), while time allows
MASTER_MIP_SHARE = 0.2  # of a stage's time after its LP, kept for the master MIP
MASTER_MIP_CAP = 0.8    # the most of the time left the master MIP may take (it finds its
# best late: 5,000 assets, cost stage, 11-12 s of the 19 s left)


@dataclass
class StageOutcome:
    x: np.ndarray
    value: float
    bound: float | None
    limited: bool
    message: str | None
    rounds: int = 0
    components: int = 0
    moves: int = 0

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        return max(self.value - self.bound, 0.0) / max(abs(self.value), NUM_EPS)


def link_rows(prob: Problem, mm: MatrixModel) -> np.ndarray:
    """Coverage rows of GB-wide needs: the rows that tie zones together."""
    gb = np.array([n.zone == GB for n in prob.snapshot.needs], dtype=bool)
    cov = mm.row_blocks.get("coverage")
    if cov is None or not prob.nu or not gb.any():
        return np.zeros(0, dtype=np.int64)
    return cov.start + np.flatnonzero(gb[prob.u_need])


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


class Decomposer(RowView):
    """The model of one clearing with its holds (a `RowView`), its LP relaxation and its
    components; `solve_stage` is one stage of the price decomposition."""

    def __init__(self, mm: MatrixModel, link: np.ndarray, workers: int | None = None,
                 batch_cols: int = BATCH_COLS):
        super().__init__(mm)
        self.link0 = np.asarray(link, dtype=np.int64)
        self.workers = workers or default_workers()
        self.batch_cols = batch_cols
        self._lp: highspy.Highs | None = None  # the LP relaxation, kept warm across stages
        self.lp_s = 0.0

    # -- the model: rows and bounds change in the LP too ----------------------------------
    def add_row(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        super().add_row(cols, vals, hi)
        if self._lp is not None:
            self._lp.addRow(-highspy.kHighsInf, float(hi), len(cols), np.asarray(cols, np.int32),
                            np.asarray(vals, float))

    def set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        super().set_bounds(cols, lo, hi)
        if self._lp is not None and len(cols):
            self._lp.changeColsBounds(len(cols), np.asarray(cols, np.int32),
                                      np.asarray(lo, float), np.asarray(hi, float))

    # -- the LP relaxation -------------------------------------------------------------------
    def lp_model(self) -> highspy.Highs:
        """The LP relaxation of the model as it stands (built on first use, then kept warm:
        rows and bounds changed here are changed in it too)."""
        if self._lp is None:
            mm = self.mm
            h = quiet_highs()
            h.passModel(mm.ncols, self.nrows, len(self.value), int(highspy.MatrixFormat.kRowwise),
                        int(highspy.ObjSense.kMinimize), 0.0, mm.col_cost, self.lb, self.ub,
                        self.row_lo, self.row_hi, self.start.astype(np.int32),
                        self.index.astype(np.int32), self.value,
                        np.zeros(mm.ncols, dtype=np.int32))
            self._lp = h
        return self._lp

    def _run_lp(self, deadline: float, presolve: bool = False) -> bool:
        """Presolve costs more than it saves on the cost LP (10,000 assets: 5.7 s with it,
        2.9 s without, and every re-solve then starts from the kept basis) but it is what
        makes a level's unmet-only LP, which is highly degenerate, tractable."""
        h = self.lp_model()
        h.setOptionValue("presolve", "on" if presolve else "off")
        set_time_limit(h, deadline)
        t = time.perf_counter()
        h.run()
        self.lp_s += time.perf_counter() - t
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def relaxation(self, cost: np.ndarray, deadline: float, presolve: bool = False):
        """(value, x, row duals) of the LP relaxation, or None if not solved in time."""
        h = self.lp_model()
        h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
        if not self._run_lp(deadline, presolve):
            return None
        sol = h.getSolution()
        if not sol.dual_valid:
            return None
        return (h.getInfo().objective_function_value, np.array(sol.col_value),
                np.array(sol.row_dual))

    def fix_and_solve(self, cost: np.ndarray, xint: np.ndarray, deadline: float
                      ) -> np.ndarray | None:
        """The best continuous completion of `xint`'s integer decisions (an LP), or None."""
        h = self.lp_model()
        h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
        ints = self.ints
        if len(ints):
            v = np.clip(np.round(xint[ints]), self.lb[ints], self.ub[ints])
            h.changeColsBounds(len(ints), ints, v, v)
        try:
            ok = self._run_lp(deadline)
            x = np.array(h.getSolution().col_value) if ok else None
        finally:
            if len(ints):
                h.changeColsBounds(len(ints), ints, self.lb[ints], self.ub[ints])
        if x is None:
            return None
        x[ints] = np.round(x[ints])
        return x if self.feasible(x) else None

    def components(self, link: np.ndarray) -> Blocks:
        """The model without rows `link`, split into independent blocks."""
        return Blocks(self, link, self.batch_cols, self.workers)

    # -- one stage ------------------------------------------------------------------------
    def has_link(self) -> bool:
        """Whether the model as it stands (fixed columns excluded) needs pricing at all."""
        return bool(len(self.active_link()))

    def solve_stage(self, cost: np.ndarray, gap: float, deadline: float,
                    starts: list[np.ndarray], descent_cost: np.ndarray | None = None,
                    lp_presolve: bool = False) -> StageOutcome:
        """Minimise `cost` under every row and hold, from feasible `starts`.

        `descent_cost`: the objective the descent lowers, if not `cost` (a level descends on
        the priority-weighted objective so that its solution also serves the later stages)."""
        cost = np.asarray(cost, float)
        best = min(starts, key=lambda s: float(cost @ s))
        val = float(cost @ best)
        # 1. without linking rows that matter, the components are the whole answer
        link = self.active_link()
        comps = self.components(link)
        if not len(link):
            out = comps.solve(cost, None, deadline, gap * 0.1)
            if out is None:
                return StageOutcome(best, val, None, True, "components not solved in time")
            bound, x, complete = out
            if complete and self.feasible(x):
                v = float(cost @ x)
                if v <= val:
                    best, val = x, v
            return StageOutcome(best, val, bound, not complete, None,
                                components=comps.count)
        # 2. LP relaxation and its duals
        rel = self.relaxation(cost, deadline, presolve=lp_presolve)
        if rel is None:
            return StageOutcome(best, val, None, True, "LP relaxation not solved in time",
                                components=comps.count)
        lp_val, xlp, duals = rel
        bound = lp_val
        start_val = val
        lam = self.prices(link, duals)
        pert, pert_loss = self._perturbation(cost, xlp, lp_val)
        rounds = 0
        priced: list[np.ndarray] = []
        step = 0.5
        limited = False
        # column generation (colgen.py) sets the prices after the first round (a subgradient
        # step if its master LP is not solved in time). Its master MIP minimises the stage's
        # own objective: on a level's priority-weighted objective (measured at 10,000
        # assets) HiGHS found nothing in the time a level-only master takes to reach 2,264
        cg = ColumnGeneration(self, comps, link, cost)
        cg.add(best)  # source 0: the incumbent, a feasible start for the master MIP
        cg.set_rest(best)
        best_lam = lam
        lb_best = -np.inf
        fix_s = 0.5
        t_loop = time.perf_counter()
        mip_until = deadline - MASTER_MIP_SHARE * (deadline - t_loop)
        while not self._done(val, bound, gap):
            if time.perf_counter() >= deadline or rounds >= CG_ROUNDS:
                limited = True
                break
            t_round = time.perf_counter()
            out = comps.solve(cost + pert, (link, lam), deadline, COMPONENT_GAP)
            if out is None:
                limited = True
                break
            lbound, xsub, complete = out
            priced.append(xsub)
            rounds += 1
            cg.add(xsub)
            cg.set_rest(xsub)
            if complete:
                bound = max(bound, lbound - pert_loss)
                if lbound > lb_best:
                    lb_best, best_lam = lbound, lam
                if self._done(val, bound, gap):
                    break
                if rounds == 1:  # later rounds' choices reach a primal through the master
                    t_fix = time.perf_counter()
                    x = self.fix_and_solve(cost, xsub, deadline)
                    fix_s = time.perf_counter() - t_fix
                    if x is None and time.perf_counter() < deadline:
                        # a hold from an earlier level is tight and some components' choices
                        # supply less of the GB-wide needs than it allows: take those that
                        # fit in what the best solution supplies beyond each need
                        x = comps.mix(xsub, best, link, cost)
                        if self.feasible(x) and float(cost @ x) < val:
                            best, val = x, float(cost @ x)
                        x = self.fix_and_solve(cost, x, deadline)
                    if x is not None and float(cost @ x) < val:
                        best, val = x, float(cost @ x)
                    if self._done(val, bound, gap):
                        break
            # the next prices, if another round fits in the time left
            t_next = time.perf_counter() + (time.perf_counter() - t_round)
            if not complete or t_next > mip_until:
                limited = not self._done(val, bound, gap)
                break
            m = cg.master_lp(mip_until)
            if m is not None:
                mval, mlam = m
                if mval - bound <= 0.5 * gap * max(abs(val), NUM_EPS):
                    break  # the bound is as good as these columns can prove
                lam = SMOOTH * best_lam + (1 - SMOOTH) * mlam
                continue
            g = self._subgradient(link, xsub)
            norm = float(g @ g)
            if norm <= NUM_EPS:
                break
            lam = self.clip_prices(link, lam + step * max(val - lbound, 0.0) / norm * g)
            step *= 0.5
        # 3a. the master over every column found, one per component (a MIP): a primal that
        # combines the rounds' choices where each alone misses the GB-wide needs
        if rounds and not self._done(val, bound, gap) and time.perf_counter() < deadline:
            # the master's solution is feasible as it is; the LP over the continuous awards
            # with its integer choices fixed can only lower it, if time is left for it
            # (about twice the first round's, measured)
            t_m = time.perf_counter()
            x = cg.master_mip(priced[-1], 0, gap * 0.5,
                              t_m + min(deadline - t_m - max(0.5, 2 * fix_s),
                                        MASTER_MIP_CAP * (deadline - t_m)))
            if x is not None and self.feasible(x) and float(cost @ x) < val:
                best, val = x, float(cost @ x)
            if x is not None and time.perf_counter() < deadline:
                y = self.fix_and_solve(cost, x, deadline)
                if y is not None and float(cost @ y) < val:
                    best, val = y, float(cost @ y)
        # 3b. the starts' continuous parts re-optimised under this objective, only when
        # pricing found nothing better: it costs an LP (1.5 s at 10,000 assets) that a
        # priced solution almost always beats (the start comes from another objective)
        if val >= start_val and not self._done(val, bound, gap):
            for st in starts:
                if time.perf_counter() >= deadline:
                    break
                x = self.fix_and_solve(cost, st, deadline)
                if x is not None and float(cost @ x) < val:
                    best, val = x, float(cost @ x)
        # 3c. RINS: the integer decisions on which the best solution and every priced one
        # agree are fixed, and HiGHS solves what is left (a small MIP) from the best: where
        # the priced choices could not all be kept, it finds which of them can
        if (priced and not self._done(val, bound, gap)
                and time.perf_counter() < deadline):
            ints = self.ints
            agree = np.ones(len(ints), dtype=bool)
            for xs in priced:
                agree &= np.abs(np.round(xs[ints]) - np.round(best[ints])) < 0.5
            free = int((~agree).sum())
            if 0 < free <= RINS_MAX_FREE * len(ints):
                t_r = time.perf_counter()
                out = self.polish(cost, best, gap * 0.1, t_r + (deadline - t_r) * RINS_SHARE,
                                  fixed=ints[agree])
                if out is not None and out[1] < val:
                    best, val = out[0], out[1]
        # 4. block coordinate descent from the best solution, if still short of the gap
        moves = 0
        if (not self._done(val, bound, gap)
                and time.perf_counter() < deadline):
            dcost = cost if descent_cost is None else descent_cost
            x, moves = Descent(self, comps, link).run(dcost, best, deadline)
            v = float(cost @ x)
            if moves and (v <= val or descent_cost is not None):
                best, val = x, v
            limited = not self._done(val, bound, gap)
        # 5. what time is left: one branch-and-bound over the whole model from the best
        # solution (small markets close here; its bound is kept if it is the stronger)
        if (not self._done(val, bound, gap)
                and deadline - time.perf_counter()
                > POLISH_MIN_S + POLISH_S_PER_COL * self.mm.ncols):
            # stopped early by the length of one root cut round, which HiGHS does not
            # interrupt (measured up to ~5 s per 100,000 columns)
            out = self.polish(cost, best, gap, deadline - POLISH_S_PER_COL * self.mm.ncols)
            if out is not None:
                x, v, b = out
                if v < val:
                    best, val = x, v
                if b is not None:
                    bound = max(bound, b)
            limited = not self._done(val, bound, gap)
        return StageOutcome(best, val, bound, limited, None, rounds, comps.count, moves)

    def polish(self, cost: np.ndarray, x: np.ndarray, gap: float, deadline: float,
               fixed: np.ndarray | None = None):
        """(solution, value, proven bound) of HiGHS's MIP over the model as it stands,
        stopped at the deadline; None if it found nothing usable. `fixed`: columns held at
        x's values (a sub-MIP: its bound is then not the stage's)."""
        mm = self.mm
        h = quiet_highs()
        h.setOptionValue("mip_rel_gap", gap)
        set_time_limit(h, deadline)
        lb, ub = self.lb, self.ub
        if fixed is not None:
            lb, ub = lb.copy(), ub.copy()
            lb[fixed] = ub[fixed] = x[fixed]
        h.passModel(mm.ncols, self.nrows, len(self.value), int(highspy.MatrixFormat.kRowwise),
                    int(highspy.ObjSense.kMinimize), 0.0, cost, lb, ub,
                    self.row_lo, self.row_hi, self.start.astype(np.int32),
                    self.index.astype(np.int32), self.value, mm.integer.astype(np.int32))
        if fixed is None:
            # over the whole model its RINS/RENS sub-MIPs ignore the interrupt: they overran
            # a 30 s budget by 3 s. And then no start solution: HiGHS 1.15.1 given one with
            # RENS off declares it optimal at the root (5,000 assets, priority-2 level:
            # "optimal" 5,972.9 from the start, the optimum being 1,173.7), a false bound
            h.setOptionValue("mip_heuristic_run_rins", False)
            h.setOptionValue("mip_heuristic_run_rens", False)
        else:  # a small sub-MIP: its sub-MIPs are short, and it starts from x
            h.setSolution(mm.ncols, np.arange(mm.ncols, dtype=np.int32), x)

        def poll(e) -> None:  # HiGHS checks its time_limit only between some phases
            e.interrupt(time.perf_counter() >= deadline)

        h.cbMipInterrupt += poll
        h.cbSimplexInterrupt += poll
        h.run()
        info = h.getInfo()
        bound = float(info.mip_dual_bound)
        bound = bound if np.isfinite(bound) and fixed is None else None
        if info.primal_solution_status != 2:
            return None
        sol = np.array(h.getSolution().col_value)
        sol[self.ints] = np.round(sol[self.ints])
        if not self.feasible(sol):
            return (x, float(cost @ x), bound)
        return sol, float(cost @ sol), bound

    @staticmethod
    def _done(val: float, bound: float | None, gap: float) -> bool:
        return bound is not None and val - bound <= max(gap * abs(val), MIP_ABS_GAP)

    def active_link(self, moving: np.ndarray | None = None) -> np.ndarray:
        """The rows to price: GB-wide coverage rows that still tie columns which can move, and
        hold rows that would otherwise join components (a hold of a part spanning zones).
        `moving`: the columns that can move (default: `moving()`)."""
        if moving is None:
            moving = self.moving()
        link = self.link0
        if len(link):
            ent, row_of = self.entries(link)
            mov = np.bincount(row_of, weights=moving[self.index[ent]].astype(float),
                              minlength=len(link))
            # a coverage row whose only moving column is its own unmet column links nothing
            link = link[mov >= 2]
        holds = np.arange(self.mm.nrows, self.nrows)
        if not len(holds):
            return link
        comps = label(self, np.concatenate([link, holds]), moving)
        size = np.bincount(comps, minlength=len(comps))
        ent, row_of = self.entries(holds)
        cols = self.index[ent]
        # joining lone columns (the unmet columns of GB-wide needs) into one block is
        # harmless; joining components that hold decisions is what must not happen
        mv = moving[cols] & (size[comps[cols]] > 1)
        lab = comps[cols[mv]]
        r = row_of[mv]
        lo = np.full(len(holds), np.iinfo(np.int64).max)
        hi = np.full(len(holds), -1)
        np.minimum.at(lo, r, lab)
        np.maximum.at(hi, r, lab)
        spanning = holds[(hi >= 0) & (lo != hi)]
        return np.unique(np.concatenate([link, spanning])).astype(np.int64)

    def prices(self, link: np.ndarray, duals: np.ndarray) -> np.ndarray:
        """Prices of the linking rows from a solution's row duals, with their bounds' sign."""
        return self.clip_prices(link, duals[link])

    def _subgradient(self, link: np.ndarray, x: np.ndarray) -> np.ndarray:
        act = self.activity(x)[link]
        lo, hi = self.row_lo[link], self.row_hi[link]
        return np.where(np.isfinite(lo), lo - act, hi - act)

    def _perturbation(self, cost: np.ndarray, xlp: np.ndarray, lp_val: float
                      ) -> tuple[np.ndarray, float]:
        """Costs nudged toward the LP's support, and the most it can lower the bound.

        Priced components are full of ties (every award the LP uses at a fraction has a
        reduced cost of 0), and a MIP breaks them arbitrarily: mostly to 0, which leaves the
        GB-wide needs short. A nudge of -eps on columns the LP uses and +eps on the others
        makes the components pick the LP's support. For any x, true = perturbed - pert @ x,
        so the bound loses at most max(pert @ x) = sum of eps * ub over the +eps columns."""
        mm = self.mm
        pert = np.zeros(mm.ncols)
        cont = ~mm.integer
        on = xlp > PRIMAL_FEAS_TOL
        up = cont & ~on & (self.ub > self.lb)
        span = float(self.ub[up].sum()) + float(self.ub[cont & on].sum())
        if span <= 0:
            return pert, 0.0
        eps = PERTURB_SHARE * max(abs(lp_val), PERTURB_MIN_OBJ) / span
        pert[cont & on] = -eps
        pert[up] = eps
        loss = float(np.maximum(pert * self.ub, pert * self.lb).sum())
        return pert, loss
