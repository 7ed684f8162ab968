"""The explanation: each advised bid in words and numbers, and why every other need is out.

A reason after the solve is a counterfactual checked against the advice returned: "in
period t, offering any more MW to this need would break <family>, the advised bids fixed".
Capacity, direction, stacking and the run limit are read off the advised bids; the energy
limit is tested with a small LP per period and direction that re-plans the recharging, so
`energy_limit` means no MW fits whatever the recharge plan. A need that does fit somewhere
is `not_worth_it` when what fits is provably worth less than the threshold (by its room,
by the solver's bound, or because it is no more than the watt rounding of the advice
frees), and `within_mip_gap` otherwise. Less than 0.1 kW of room counts as none, and less
than a penny as worth nothing, whatever the threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import highspy
import numpy as np

from ..tolerances import NUM_EPS
from . import reasons as R
from .problem import DIR, AdviceProblem, Reason
from .result import AdvisedBid, Expected, LevelView, Window, money

MW_STEP = 1e-6          # advised MW are whole watts
MW_ROOM = 1e-4          # less room than 0.1 kW counts as none (far above solver noise)
PENNY_GBP = 0.01        # an addition worth less than a penny is worth nothing
DIRS = ("up", "down")


def round_mw(x: np.ndarray) -> np.ndarray:
    """Down to the watt (never up: rounding down keeps every worst-case row feasible)."""
    return np.floor(np.asarray(x) / MW_STEP + 1e-3) * MW_STEP


def ranges(ts) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for t in sorted(int(x) for x in ts):
        if out and t == out[-1][1] + 1:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def fmt_periods(ts) -> str:
    rs = ranges(ts)
    words = [f"{a}" if a == b else f"{a}-{b}" for a, b in rs]
    return ("period " if len(ts) == 1 else "periods ") + ", ".join(words)


def _gbp(x: float) -> str:
    return f"£{x:,.2f}"


class Outcome:
    """The advised offers, per period and direction, and what they leave free."""

    def __init__(self, prob: AdviceProblem, x: np.ndarray):
        self.prob = prob
        T = prob.T
        self.x = x
        self.used = np.zeros((2, T))
        xd = prob.cand_dir[prob.x_cand] if prob.nx else np.zeros(0, np.int64)
        on = x > 0
        np.add.at(self.used, (xd[on], prob.x_t[on]), x[on])
        self.committed = (self.used > 0).any(axis=0)
        self.by_period: dict[int, list[int]] = {}     # t -> candidates offered in t
        for c, t in zip(prob.x_cand[on], prob.x_t[on], strict=True):
            self.by_period.setdefault(int(t), []).append(int(c))
        self.chosen = np.zeros(prob.nc, dtype=bool)
        self.chosen[prob.x_cand[on]] = True
        pidx = {p: i for i, p in enumerate(prob.products)}
        self.incompatible: dict[int, set[int]] = {}
        for p, q in prob.request.incompatible_products:
            if p in pidx and q in pidx:
                self.incompatible.setdefault(pidx[p], set()).add(pidx[q])
                self.incompatible.setdefault(pidx[q], set()).add(pidx[p])
        self._room: dict[tuple[int, int], float] = {}

    def energy_room(self, d: int, t: int) -> float:
        """Most MW that could be added in direction d in period t, the advised offers
        fixed and t committed, under the energy limit alone (an LP)."""
        key = (d, t)
        if key not in self._room:
            self._room[key] = _energy_room_lp(self.prob, self.used, self.committed, d, t)
        return self._room[key]


def _energy_room_lp(prob: AdviceProblem, used: np.ndarray, committed: np.ndarray, d: int,
                    t: int) -> float:
    """max delta: the energy band of define_energy, with the advised MW and commitments as
    constants, period t committed, and delta more MW in direction d in t."""
    a = prob.request.asset
    T, h, E, e0 = prob.T, prob.dh, a.energy_mwh, a.initial_energy_mwh
    free = prob.available & ~committed
    free[t] = False
    rc = np.where(free, a.recharge_rate, 0.0) * h
    rd = np.where(free, a.up_mw, 0.0) * h
    # columns: L[start], L[0..T-1], H[start], H[0..T-1], delta
    n = 2 * (T + 1) + 1
    L, H, dl = 0, T + 1, 2 * (T + 1)
    col_lb = np.zeros(n)
    col_ub = np.full(n, E)
    col_ub[dl] = prob.cap[d]
    if e0 is not None:
        col_ub[L], col_lb[H] = e0, e0
    cost = np.zeros(n)
    cost[dl] = -1.0
    starts, idx, val, hi = [0], [], [], []
    for tau in range(T):
        # L[tau] - L[tau-1] (+ h delta) <= rc - h U ;  H[tau-1] - H[tau] (+ h delta) <= rd - h D
        for first, second, rhs, dd in ((L + 1 + tau, L + tau, rc[tau] - h * used[0, tau], 0),
                                       (H + tau, H + 1 + tau, rd[tau] - h * used[1, tau], 1)):
            idx += [first, second]
            val += [1.0, -1.0]
            if tau == t and d == dd:
                idx.append(dl)
                val.append(h)
            starts.append(len(idx))
            hi.append(rhs)
    for k in range(T + 1):  # L[k] <= H[k]
        idx += [L + k, H + k]
        val += [1.0, -1.0]
        starts.append(len(idx))
        hi.append(0.0)
    m = len(hi)
    hs = highspy.Highs()
    hs.setOptionValue("output_flag", False)
    hs.setOptionValue("time_limit", 5.0)
    hs.passModel(n, m, len(idx), int(highspy.MatrixFormat.kRowwise),
                 int(highspy.ObjSense.kMinimize), 0.0, cost, col_lb, col_ub,
                 np.full(m, -highspy.kHighsInf), np.array(hi), np.array(starts, dtype=np.int32),
                 np.array(idx, dtype=np.int32), np.array(val), np.zeros(n, dtype=np.int32))
    hs.run()
    if hs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return 0.0  # committing t alone already breaks the band: nothing more fits
    return float(hs.getSolution().col_value[dl])


# --------------------------------------------------------------------------- not advised


def blocked_reasons(prob: AdviceProblem, out: Outcome, c: int, dual_gain: float | None,
                    gap: float | None, slack: float = 0.0) -> list[Reason]:
    """Reasons for candidate c, which the advice leaves out (see the module docstring).

    Parameters:
        dual_gain: proven upper bound on what any change could add to the advice's value
            (solver bound minus the advice's value), None if unknown.
        gap: the solver's relative gap, for the text of `within_mip_gap`.
        slack: MW-periods that rounding the advised MW down to the watt gave up.
    """
    req = prob.request
    a = req.asset
    need = req.needs[prob.cand[c]]
    d = DIR[need.direction]
    cols = np.flatnonzero(prob.x_cand == c)
    per: dict[str, list[int]] = {}
    who: dict[str, set[str]] = {}
    room_total = 0.0
    room_periods: list[int] = []
    R_run = a.max_run_periods
    T = prob.T

    def add(code: str, t: int, needs=()) -> None:
        per.setdefault(code, []).append(t)
        who.setdefault(code, set()).update(needs)

    for col in cols:
        t = int(prob.x_t[col])
        blocked = False
        others = out.by_period.get(t, [])
        if out.used[1 - d, t] > 0:
            add(R.DIRECTION_CONFLICT, t, [req.needs[prob.cand[o]].id for o in others
                                          if prob.cand_dir[o] != d])
            blocked = True
        free = prob.cap[d] - out.used[d, t]
        if free < MW_ROOM:
            add(R.CAPACITY_USED, t, [req.needs[prob.cand[o]].id for o in others
                                     if prob.cand_dir[o] == d])
            blocked = True
        bad = out.incompatible.get(int(prob.cand_product[c]), set())
        clash = [req.needs[prob.cand[o]].id for o in others if prob.cand_product[o] in bad]
        if clash:
            add(R.STACKING_CONFLICT, t, clash)
            blocked = True
        if R_run is not None and not out.committed[t]:
            run = out.committed.copy()
            run[t] = True
            lo_t, hi_t = t, t
            while lo_t > 0 and run[lo_t - 1]:
                lo_t -= 1
            while hi_t < T - 1 and run[hi_t + 1]:
                hi_t += 1
            if hi_t - lo_t + 1 > R_run:
                add(R.RUN_LIMIT, t)
                blocked = True
        room = min(free, float(prob.x_ub[col]))
        if a.energy_mwh is not None:
            e_room = out.energy_room(d, t)
            if e_room < MW_ROOM:
                add(R.ENERGY_LIMIT, t)
                blocked = True
            room = min(room, e_room)
        if not blocked:
            room_total += max(room, 0.0)
            room_periods.append(t)

    dirname = need.direction
    texts = {
        R.DIRECTION_CONFLICT: lambda ts, ns: (
            f"in {fmt_periods(ts)} the asset is advised to move "
            f"{DIRS[1 - d]} ({', '.join(sorted(ns))}); it moves one way per period"),
        R.CAPACITY_USED: lambda ts, ns: (
            f"in {fmt_periods(ts)} the advised bids into {', '.join(sorted(ns))} use all "
            f"{prob.cap[d]:g} MW of {dirname} capability"),
        R.STACKING_CONFLICT: lambda ts, ns: (
            f"in {fmt_periods(ts)} the advised bid into {', '.join(sorted(ns))} is of a product "
            f"that may not be stacked with {need.product}"),
        R.RUN_LIMIT: lambda ts, ns: (
            f"committing {fmt_periods(ts)} too would make a run longer than the asset's "
            f"{R_run} periods"),
        R.ENERGY_LIMIT: lambda ts, ns: (
            f"in {fmt_periods(ts)} the energy the advised bids keep in reserve "
            f"({a.energy_mwh:g} MWh store) leaves no room, however the recharging is planned"),
    }
    reasons = [Reason(code, texts[code](ts, who[code]), tuple(sorted(set(ts))),
                      tuple(sorted(who[code]))) for code, ts in per.items()]
    if room_periods:
        best_v = max(prob.q_value[prob.q_cand == c]) if (prob.q_cand == c).any() else 0.0
        worth = best_v * room_total
        G = max(prob.min_expected_gbp, PENNY_GBP)
        where = fmt_periods(room_periods)
        if worth < G - NUM_EPS:
            reasons.append(Reason(R.NOT_WORTH_IT,
                                  f"beside the advised bids at most {room_total * prob.dh:.4f} "
                                  f"MWh fit ({where}), expected to earn at most {_gbp(worth)}, "
                                  f"below the {_gbp(G)} threshold", tuple(room_periods)))
        elif room_total <= slack + NUM_EPS:
            reasons.append(Reason(R.NOT_WORTH_IT,
                                  f"beside the advised bids at most {room_total * prob.dh:.6f} "
                                  f"MWh fit ({where}), no more than rounding their MW down to "
                                  f"the watt frees: too little to bid", tuple(room_periods)))
        elif dual_gain is not None and dual_gain < G - NUM_EPS:
            reasons.append(Reason(R.NOT_WORTH_IT,
                                  f"some MW fit beside the advised bids ({where}), but the "
                                  f"solver's bound proves they would add less than "
                                  f"{_gbp(G)}, the threshold", tuple(room_periods)))
        else:
            g = "an unknown gap" if gap is None else f"a gap of {gap:.2%}"
            reasons.append(Reason(R.WITHIN_MIP_GAP,
                                  f"the solver stopped at {g}; up to {_gbp(worth)} of "
                                  f"{need.id} may still fit ({where})", tuple(room_periods)))
    return reasons


# --------------------------------------------------------------------------- advised


def _end(ts: str, minutes: float) -> str:
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")) + timedelta(minutes=minutes)
    return t.isoformat().replace("+00:00", "Z")


def windows(prob: AdviceProblem, mw: np.ndarray) -> tuple[Window, ...]:
    """Runs of consecutive periods with the same MW: the compact form of a bid."""
    req = prob.request
    out: list[Window] = []
    for t in np.flatnonzero(mw > 0):
        t = int(t)
        if out and out[-1].last_period == t - 1 and abs(out[-1].mw - mw[t]) < NUM_EPS:
            w = out[-1]
            out[-1] = Window(w.first_period, t, w.start,
                             _end(req.periods[t], req.period_minutes), w.mw)
        else:
            out.append(Window(t, t, req.periods[t], _end(req.periods[t], req.period_minutes),
                              float(mw[t])))
    return tuple(out)


def expected_parts(prob: AdviceProblem, est, price: float, p_win: float, mwh: float
                   ) -> tuple[float, float, float]:
    """(availability, utilisation, cost) GBP expected for `mwh` MW-hours offered."""
    a = prob.request.asset
    r, eu = a.reliability, est.utilisation
    avail = p_win * price * mwh
    util = p_win * r * eu * est.utilisation_price * mwh
    cost = p_win * (a.availability_cost + r * eu * a.utilisation_cost) * mwh
    return avail, util, cost


def advised_bid(prob: AdviceProblem, c: int, mw: np.ndarray, level: int) -> AdvisedBid:
    """The explanation of one advised bid: MW per period (watts), price, chance, pounds."""
    req = prob.request
    a = req.asset
    i = int(prob.cand[c])
    need = req.needs[i]
    est = prob.estimates[i]
    lv = est.levels[level]
    mwh = float(mw.sum()) * prob.dh

    def expected(x) -> Expected:
        """Each part rounded to the penny once; the total is their sum (settlement's rule)."""
        av, ut, co = (money(v) for v in expected_parts(prob, est, x.price, x.win_probability,
                                                       mwh))
        return Expected(av, ut, co, av + ut - co)
    exp = expected(lv)
    offered = set(prob.q_level[prob.q_cand == c].tolist())
    views = tuple(LevelView(price=money(x.price), win_probability=x.win_probability,
                            expected_total=expected(x).total, label=x.label,
                            offered=k in offered, chosen=k == level)
                  for k, x in enumerate(est.levels))
    wins = windows(prob, mw)
    when = "; ".join(f"{w.mw:g} MW {w.start[11:16]}-{w.end[11:16]}Z "
                     f"({fmt_periods(range(w.first_period, w.last_period + 1))})"
                     for w in wins[:4])
    if len(wins) > 4:
        when += f" and {len(wins) - 4} more windows"
    text = (f"Bid {need.direction} into {need.id} ({need.product}, zone {need.zone}): {when}, "
            f"at up to {_gbp(lv.price)}/MW/h availability and "
            f"{_gbp(est.utilisation_price)}/MWh utilisation. Chance of winning "
            f"{lv.win_probability:.0%}; expected £{exp.total:,} (£{exp.availability:,} "
            f"availability, £{exp.utilisation:,} utilisation, £{exp.cost:,} costs).")
    return AdvisedBid(
        need=need.id, product=need.product, zone=need.zone, direction=need.direction,
        mw=tuple(float(x) for x in mw), windows=wins, mwh=round(mwh, 6),
        availability_price=money(lv.price), utilisation_price=money(est.utilisation_price),
        win_probability=lv.win_probability, break_even_price=money(max(0.0, est.break_even)),
        expected_utilisation=est.utilisation,
        expected=exp,
        if_won_total=(money(float(exp.total) / lv.win_probability) if lv.win_probability > 0
                      else money(0)),
        emissions_t=lv.win_probability * a.reliability * est.utilisation * mwh
        * a.emission_t_per_mwh,
        levels=views, basis={k: b.to_dict() for k, b in est.basis.items()}, text=text)
