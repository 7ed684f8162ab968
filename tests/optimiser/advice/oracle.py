"""An independent reading of the advice semantics (docs/advice.md) for the tests.

- `check_advice`: do the advised bids respect every rule (worst case, every bid wins and
  is called in full)? The energy rule is checked with the closed-form backward recursion
  of the safe band, not with an LP.
- `brute_force`: the best expected value by enumeration of need subsets x price levels x
  on/off need-periods, each candidate an LP in the MW (plain highspy).
- `best_addition`: the most one need could add to an advice with the advised bids fixed.

Price levels and their values come from the public estimators (tested on their own).
"""

from __future__ import annotations

import itertools

import highspy
import numpy as np

from optimiser.advice import AdviceOptions, load_advice_request
from optimiser.advice.estimators import estimate_need


def band_ok(req, U, D, committed, tol=1e-7) -> bool:
    """Can the store meet every call pattern of offers U (up), D (down) per period?"""
    a = req.asset
    if a.energy_mwh is None:
        return True
    T, h, E = req.n_periods, req.dh, a.energy_mwh
    avail = np.ones(T, bool)
    avail[list(a.unavailable_periods)] = False
    free = avail & ~committed
    rc = np.where(free, a.recharge_rate, 0.0) * h
    rd = np.where(free, a.up_mw, 0.0) * h
    lo, hi = 0.0, E
    for t in range(T - 1, -1, -1):
        lo = max(0.0, lo + h * U[t] - rc[t])
        hi = min(E, hi - h * D[t] + rd[t])
        if lo > hi + tol:
            return False
    e0 = a.initial_energy_mwh
    return e0 is None or lo - tol <= e0 <= hi + tol


def eligible_levels(req, options: AdviceOptions) -> dict[int, list[float]]:
    """need index -> values (GBP per MW-period) of its offerable price levels."""
    a = req.asset
    groups = {g.key: g for g in req.history}
    avail = np.ones(req.n_periods, bool)
    avail[list(a.unavailable_periods)] = False
    out = {}
    for i, n in enumerate(req.needs):
        if n.zone != "GB" and n.zone != a.zone:
            continue
        if a.cap(n.direction) <= 0:
            continue
        techs = req.technologies_for(n.product)
        if techs and a.technology not in techs:
            continue
        if not any(m > 0 and avail[t] for t, m in enumerate(n.mw)):
            continue
        est = estimate_need(req, n, groups, options.estimators)
        if est.curve is None:
            continue
        if n.max_availability_price is not None and \
                n.max_availability_price < max(0.0, est.break_even) - 1e-9:
            continue
        if n.utilisation_price_cap is not None and n.utilisation_price_cap < a.utilisation_cost:
            continue
        vals = [req.dh * lv.value_per_mwh for lv in est.levels
                if lv.win_probability >= options.min_win_probability - 1e-9
                and lv.value_per_mwh > 1e-9]
        if vals:
            out[i] = vals
    return out


def incompatible(req, p: str, q: str) -> bool:
    return any({p, q} == {x, y} or (p == q == x == y) for x, y in req.incompatible_products)


def _lp_max(req, fixed: dict[tuple[int, int], float], free_cols: list[tuple[int, int]],
            value: dict[int, float], need_value_min: dict[int, float], committed) -> float | None:
    """max sum value[n] X[n,t] over free (n,t), fixed MW added to the totals; None if
    infeasible. Energy with the given committed periods."""
    a = req.asset
    T, h = req.n_periods, req.dh
    nx = len(free_cols)
    E = a.energy_mwh
    nb = 2 * (T + 1) if E is not None else 0
    n = nx + nb
    lb = np.zeros(n)
    ub = np.zeros(n)
    cost = np.zeros(n)
    for k, (i, _t) in enumerate(free_cols):
        ub[k] = a.cap(req.needs[i].direction)
        cost[k] = -value[i]
    rows: list[tuple[list[int], list[float], float, float]] = []
    for k, (i, t) in enumerate(free_cols):  # r X <= mw
        rows.append(([k], [a.reliability], -np.inf, req.needs[i].mw[t]))
    for d in ("up", "down"):
        for t in range(T):
            ks = [k for k, (i, tt) in enumerate(free_cols)
                  if tt == t and req.needs[i].direction == d]
            base = sum(v for (i, tt), v in fixed.items()
                       if tt == t and req.needs[i].direction == d)
            if ks:
                rows.append((ks, [1.0] * len(ks), -np.inf, a.cap(d) - base))
            elif base > a.cap(d) + 1e-7:
                return None
    for i, g in need_value_min.items():
        ks = [k for k, (j, _) in enumerate(free_cols) if j == i]
        base = sum(v for (j, _), v in fixed.items() if j == i) * value[i]
        rows.append((ks, [value[i]] * len(ks), g - base, np.inf))
    if E is not None:
        L, H = nx, nx + T + 1
        ub[L:L + T + 1] = E
        ub[H:H + T + 1] = E
        if a.initial_energy_mwh is not None:
            ub[L] = a.initial_energy_mwh
            lb[H] = a.initial_energy_mwh
        avail = np.ones(T, bool)
        avail[list(a.unavailable_periods)] = False
        free = avail & ~committed
        for t in range(T):
            rc = a.recharge_rate * h if free[t] else 0.0
            rd = a.up_mw * h if free[t] else 0.0
            for d, sign, col_t, col_p, rhs0 in (("up", 1, L + 1 + t, L + t, rc),
                                               ("down", -1, H + 1 + t, H + t, rd)):
                ks = [k for k, (i, tt) in enumerate(free_cols)
                      if tt == t and req.needs[i].direction == d]
                base = sum(v for (i, tt), v in fixed.items()
                           if tt == t and req.needs[i].direction == d)
                # up: L[t] - L[t-1] + h U <= rc ; down: H[t-1] - H[t] + h D <= rd
                idx = [col_t, col_p, *ks]
                val = [float(sign), float(-sign)] + [h] * len(ks)
                rows.append((idx, val, -np.inf, rhs0 - h * base))
        for k in range(T + 1):
            rows.append(([L + k, H + k], [1.0, -1.0], -np.inf, 0.0))
    hs = highspy.Highs()
    hs.setOptionValue("output_flag", False)
    start, index, vals, rlo, rhi = [0], [], [], [], []
    for idx, val, lo_, hi_ in rows:
        index += idx
        vals += val
        start.append(len(index))
        rlo.append(lo_)
        rhi.append(hi_)
    if n == 0:
        return 0.0 if all(lo_ <= 1e-9 for _, _, lo_, _ in rows) else None
    hs.passModel(n, len(rows), len(index), int(highspy.MatrixFormat.kRowwise),
                 int(highspy.ObjSense.kMinimize), 0.0, cost, lb, ub,
                 np.array(rlo, float), np.array(rhi, float), np.array(start, np.int32),
                 np.array(index, np.int32), np.array(vals, float), np.zeros(n, np.int32))
    hs.run()
    if hs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return -hs.getInfo().objective_function_value


def _pattern_ok(req, on: dict[int, set[int]], base_on: dict[int, set[int]] | None = None
                ) -> tuple[bool, np.ndarray]:
    """Direction, stacking and run rules for the on/off pattern (need -> periods)."""
    T = req.n_periods
    allon = {i: set(ts) for i, ts in (base_on or {}).items()}
    for i, ts in on.items():
        allon.setdefault(i, set()).update(ts)
    committed = np.zeros(T, bool)
    for t in range(T):
        here = [i for i, ts in allon.items() if t in ts]
        if len({req.needs[i].direction for i in here}) > 1:
            return False, committed
        for i, j in itertools.combinations(here, 2):
            if incompatible(req, req.needs[i].product, req.needs[j].product):
                return False, committed
        committed[t] = bool(here)
    R = req.asset.max_run_periods
    if R is not None:
        run = 0
        for t in range(T):
            run = run + 1 if committed[t] else 0
            if run > R:
                return False, committed
    return True, committed


def _periods_of(req, i: int) -> list[int]:
    a = req.asset
    return [t for t, m in enumerate(req.needs[i].mw)
            if m > 0 and t not in a.unavailable_periods]


def brute_force(doc, options: AdviceOptions) -> float:
    req = load_advice_request(doc)
    levels = eligible_levels(req, options)
    G = options.min_expected_gbp
    needs = sorted(levels)
    best = 0.0
    choices = [[None, *list(range(len(levels[i])))] for i in needs]
    for combo in itertools.product(*choices):
        chosen = {i: levels[i][k] for i, k in zip(needs, combo, strict=True) if k is not None}
        subsets = []
        for i in chosen:
            ts = _periods_of(req, i)
            subsets.append([set(s) for r in range(1, len(ts) + 1)
                            for s in itertools.combinations(ts, r)])
        for pat in itertools.product(*subsets):
            on = dict(zip(chosen, pat, strict=True))
            ok, committed = _pattern_ok(req, on)
            if not ok:
                continue
            cols = [(i, t) for i, ts in on.items() for t in sorted(ts)]
            v = _lp_max(req, {}, cols, chosen, dict.fromkeys(chosen, G), committed)
            if v is not None:
                best = max(best, v)
    return best


def advised_mw(req, result) -> dict[tuple[int, int], float]:
    idx = {n.id: i for i, n in enumerate(req.needs)}
    return {(idx[b.need], t): m for b in result.bids for t, m in enumerate(b.mw) if m > 0}


def best_addition(req, result, need_id: str, options: AdviceOptions) -> float:
    """The most value need `need_id` could add beside the advised bids (which stay fixed)."""
    levels = eligible_levels(req, options)
    i = next(k for k, n in enumerate(req.needs) if n.id == need_id)
    if i not in levels:
        return 0.0
    fixed = advised_mw(req, result)
    base_on: dict[int, set[int]] = {}
    for (j, t) in fixed:
        base_on.setdefault(j, set()).add(t)
    ts = _periods_of(req, i)
    best = 0.0
    for v in levels[i]:
        for r in range(1, len(ts) + 1):
            for s in itertools.combinations(ts, r):
                ok, committed = _pattern_ok(req, {i: set(s)}, base_on)
                if not ok:
                    continue
                values = dict.fromkeys(base_on, 0.0) | {i: v}
                got = _lp_max(req, fixed, [(i, t) for t in s], values,
                              {i: options.min_expected_gbp}, committed)
                if got is not None:
                    best = max(best, got)
    return best


def check_advice(req, result, options: AdviceOptions, tol=1e-6) -> list[str]:
    """Every rule the advised bids break, in words (empty: the advice is valid)."""
    a = req.asset
    T = req.n_periods
    idx = {n.id: i for i, n in enumerate(req.needs)}
    U, D = np.zeros(T), np.zeros(T)
    problems = []
    on: dict[int, set[int]] = {}
    for b in result.bids:
        i = idx[b.need]
        n = req.needs[i]
        if n.zone != "GB" and n.zone != a.zone:
            problems.append(f"{b.need}: zone")
        techs = req.technologies_for(n.product)
        if techs and a.technology not in techs:
            problems.append(f"{b.need}: technology")
        if n.max_availability_price is not None and \
                float(b.availability_price) > n.max_availability_price + tol:
            problems.append(f"{b.need}: price above cap")
        for t, m in enumerate(b.mw):
            if m <= 0:
                continue
            if t in a.unavailable_periods or n.mw[t] <= 0:
                problems.append(f"{b.need}: offered in period {t} it cannot serve")
            if a.reliability * m > n.mw[t] + tol:
                problems.append(f"{b.need}: derated MW above the need in {t}")
            (U if n.direction == "up" else D)[t] += m
            on.setdefault(i, set()).add(t)
        if b.expected.total < options.min_expected_gbp - 0.05 - tol:
            problems.append(f"{b.need}: expected below the threshold")
    for t in range(T):
        if U[t] > a.up_mw + tol or D[t] > a.down_mw + tol:
            problems.append(f"capacity in {t}")
    ok, committed = _pattern_ok(req, on)
    if not ok:
        problems.append("direction, stacking or run rule broken")
    if not band_ok(req, U, D, committed):
        problems.append("energy band infeasible")
    return problems
