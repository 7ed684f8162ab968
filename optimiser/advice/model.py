"""The advice MILP: which needs to bid into, at which price level, with how many MW.

Built as sparse arrays, one `define_<family>` function per constraint family (PyPSA style),
each with its formula in the docstring and named rows (`capacity[up,17]`), then handed to
HiGHS in one `passModel` with the names. Notation, with h the period length in hours:

    X[n,t] >= 0   MW offered to need n in period t (one column per deliverable period)
    Q[n,k] >= 0   MW-periods offered to need n at price level k (its volume at that price)
    z[n,k]        1 if need n is bid at level k
    w[d,t]        1 if the asset is committed in direction d (up, down) in period t
    s[p,t]        1 if product p is offered in period t (products in an incompatible pair)
    o[n,t]        1 if need n is offered in period t (products incompatible with themselves)
    L[t], H[t]    the safe band of stored energy after period t (MWh; see define_energy)

Objective: maximise sum over n, k of v[n,k] Q[n,k], with v[n,k] = h P_k (b_k - a_cost +
r eu (u - u_cost)) the expected net GBP per MW-period at level k (estimators.py).

Every constraint on MW counts the *worst case*, every bid winning and being called in
full, because an FSP may not be awarded more than its asset can deliver: the win
probabilities only weigh the objective, never the feasibility.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from ..tolerances import NUM_EPS
from ..triplets import Triplets
from .problem import AdviceProblem

INF = np.inf
DIRS = ("up", "down")


def _label(x: str) -> str:
    return "_".join(str(x).split())


@dataclass
class AdviceModel:
    col_lb: np.ndarray
    col_ub: np.ndarray
    col_cost: np.ndarray               # minimised: minus the expected value
    integer: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    start: np.ndarray                  # CSR, row-wise
    index: np.ndarray
    value: np.ndarray
    col_names: list[str]
    row_names: list[str]
    blocks: dict[str, slice]           # column blocks
    families: dict[str, list[slice]]   # constraint family -> its row ranges
    w_col: np.ndarray                  # (2, T) column of w[d,t], -1 if none

    @property
    def ncols(self) -> int:
        return len(self.col_lb)

    @property
    def nrows(self) -> int:
        return len(self.row_lo)

    @property
    def nints(self) -> int:
        return int(self.integer.sum())

    def violated(self, x: np.ndarray, tol: float = 1e-6) -> list[str]:
        """Names of the rows a candidate point violates (tests and debugging)."""
        row = np.repeat(np.arange(self.nrows), np.diff(self.start))
        act = np.bincount(row, weights=self.value * x[self.index], minlength=self.nrows)
        bad = (act < self.row_lo - tol) | (act > self.row_hi + tol)
        return [self.row_names[i] for i in np.flatnonzero(bad)]

    def to_highs(self, output: bool = False) -> highspy.Highs:
        """A HiGHS instance holding the model, names included (so that its log and
        `writeModel` speak of `capacity[up,17]`, not of row 4711)."""
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.ncols, self.nrows
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = self.col_cost, self.col_lb, self.col_ub
        lp.row_lower_, lp.row_upper_ = self.row_lo, self.row_hi
        a = lp.a_matrix_
        a.format_ = highspy.MatrixFormat.kRowwise
        a.num_col_, a.num_row_ = self.ncols, self.nrows
        a.start_, a.index_, a.value_ = self.start, self.index, self.value
        vt = highspy.HighsVarType
        lp.integrality_ = [vt.kInteger if i else vt.kContinuous for i in self.integer]
        lp.col_names_, lp.row_names_ = self.col_names, self.row_names
        h = highspy.Highs()
        h.setOptionValue("output_flag", bool(output))
        h.passModel(lp)
        return h


class _Builder(Triplets):
    """Columns and rows as coordinate triplets plus names; `finish` makes the CSR arrays."""

    def __init__(self, prob: AdviceProblem) -> None:
        super().__init__()
        self.prob = prob
        self.col_names: list[str] = []
        self.blocks: dict[str, slice] = {}
        self.row_names: list[str] = []
        self.families: dict[str, list[slice]] = {}
        self.w_col = np.full((2, prob.T), -1, dtype=np.int64)
        self.need_label = [_label(prob.request.needs[i].id) for i in prob.cand]

    def add_cols(self, name: str, lb, ub, cost, integer: bool, labels: list[str]) -> int:
        n = len(labels)
        first = self.ncols
        self.cols.append((np.broadcast_to(np.asarray(lb, float), (n,)),
                          np.broadcast_to(np.asarray(ub, float), (n,)),
                          np.broadcast_to(np.asarray(cost, float), (n,)), integer))
        self.col_names += [f"{name}[{s}]" if s != "" else name for s in labels]
        self.blocks[name] = slice(first, first + n)
        self.ncols += n
        return first

    def add_rows(self, family: str, lo, hi, terms: list[tuple], labels: list[str]) -> None:
        """terms: (local row, column, coefficient) arrays; labels name the rows."""
        n = len(labels)
        if n == 0:
            return
        sl = self.put_rows(lo, hi, terms, n)
        self.row_names += [f"{family}[{s}]" for s in labels]
        self.families.setdefault(family, []).append(sl)

    def finish(self) -> AdviceModel:
        return AdviceModel(**self.arrays(np.int32), col_names=self.col_names,
                           row_names=self.row_names, blocks=self.blocks,
                           families=self.families, w_col=self.w_col)

    # column accessors
    def x(self) -> int:
        return self.blocks["x"].start

    def q(self) -> int:
        return self.blocks["q"].start

    def z(self) -> int:
        return self.blocks["z"].start


# --------------------------------------------------------------------------- variables


def define_variables(b: _Builder) -> None:
    """Columns: X[n,t] in [0, cap_d], Q[n,k] in [0, M_n], z[n,k], w[d,t] binary, and the
    energy band when the asset has an energy limit (its bounds: see define_energy).

    cap_d is the capability in n's direction, M_n = cap_d x (number of n's periods); the
    objective coefficient of Q[n,k] is -v[n,k] (HiGHS minimises). The bounds are the
    capability only, so that each limit on X is the work of one family.
    """
    p = b.prob
    T = p.T
    lab = b.need_label
    b.add_cols("x", 0.0, p.x_cap, 0.0, False,
               [f"{lab[c]},{t}" for c, t in zip(p.x_cand, p.x_t, strict=True)])
    qlab = [f"{lab[c]},{k}" for c, k in zip(p.q_cand, p.q_level, strict=True)]
    b.add_cols("q", 0.0, p.cand_volume[p.q_cand], -p.q_value, False, qlab)
    b.add_cols("z", 0.0, 1.0, 0.0, True, qlab)
    dt = np.unique(p.cand_dir[p.x_cand] * T + p.x_t) if p.nx else np.zeros(0, np.int64)
    w0 = b.add_cols("w", 0.0, 1.0, 0.0, True, [f"{DIRS[k // T]},{k % T}" for k in dt])
    b.w_col[dt // T, dt % T] = w0 + np.arange(len(dt))
    a = p.request.asset
    if a.energy_mwh is not None:
        E, e0 = a.energy_mwh, a.initial_energy_mwh
        tl = ["start"] + [str(t) for t in range(T)]
        lo_start, hi_start = (E, 0.0) if e0 is None else (e0, e0)
        b.add_cols("floor", 0.0, np.r_[lo_start, np.full(T, E)], 0.0, False, tl)
        b.add_cols("ceiling", np.r_[hi_start, np.zeros(T)], E, 0.0, False, tl)


# --------------------------------------------------------------------------- families


def define_price_level(b: _Builder) -> None:
    """One price per need: sum_k z[n,k] <= 1.  Rows `price_level[n]`."""
    p = b.prob
    if not p.nq:
        return
    b.add_rows("price_level", -INF, 1.0, [(p.q_cand, b.z() + np.arange(p.nq), 1.0)],
               b.need_label)


def define_level_link(b: _Builder) -> None:
    """Price x MW, linearised: the volume offered is booked at the chosen level only.

        level_volume[n]:  sum_k Q[n,k] - sum_t X[n,t] = 0
        level_link[n,k]:  Q[n,k] - M_n z[n,k] <= 0
    """
    p = b.prob
    if not p.nc:
        return
    b.add_rows("level_volume", 0.0, 0.0,
               [(p.q_cand, b.q() + np.arange(p.nq), 1.0),
                (p.x_cand, b.x() + np.arange(p.nx), -1.0)], b.need_label)
    r = np.arange(p.nq)
    b.add_rows("level_link", -INF, 0.0,
               [(r, b.q() + r, 1.0), (r, b.z() + r, -p.cand_volume[p.q_cand])],
               [f"{b.need_label[c]},{k}" for c, k in zip(p.q_cand, p.q_level, strict=True)])


def define_minimum_value(b: _Builder) -> None:
    """A bid made is worth making: sum_k v[n,k] Q[n,k] - G sum_k z[n,k] >= 0, with G the
    least expected GBP per bid (`AdviceOptions.min_expected_gbp`).  Rows `minimum_value[n]`.
    """
    p = b.prob
    G = p.min_expected_gbp
    if G <= 0 or not p.nc:
        return
    b.add_rows("minimum_value", 0.0, INF,
               [(p.q_cand, b.q() + np.arange(p.nq), p.q_value),
                (p.q_cand, b.z() + np.arange(p.nq), -G)], b.need_label)


def define_need_cap(b: _Builder) -> None:
    """Reliability-derated deliverable MW within the need: r X[n,t] <= mw[n,t].

    The clearing counts r X against the need's coverage, so more is never awarded.
    Rows `need_cap[n,t]`.
    """
    p = b.prob
    if not p.nx:
        return
    r = np.arange(p.nx)
    b.add_rows("need_cap", -INF, p.x_mw, [(r, b.x() + r, p.request.asset.reliability)],
               [f"{b.need_label[c]},{t}" for c, t in zip(p.x_cand, p.x_t, strict=True)])


def define_capacity(b: _Builder) -> None:
    """Worst case, every bid wins: sum_{n in d} X[n,t] <= cap_d w[d,t] for each direction
    d and period t (rows only where the offers could exceed cap_d).  Rows `capacity[d,t]`.

    Carrying w (the asset is committed that way then) is the same set of integer points as
    the plain bound with define_commitment, and a tighter relaxation: w >= sum X / cap.
    """
    p = b.prob
    if not p.nx:
        return
    T = p.T
    key = p.cand_dir[p.x_cand] * T + p.x_t
    uk, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=p.x_cap)
    cap = p.cap[uk // T]
    need = total > cap + NUM_EPS
    row = np.full(len(uk), -1, dtype=np.int64)
    row[need] = np.arange(int(need.sum()))
    sel = row[inv] >= 0
    kn = uk[need]
    b.add_rows("capacity", -INF, 0.0,
               [(row[inv][sel], b.x() + np.flatnonzero(sel), 1.0),
                (np.arange(len(kn)), b.w_col[kn // T, kn % T], -cap[need])],
               [f"{DIRS[k // T]},{k % T}" for k in kn])


def define_commitment(b: _Builder) -> None:
    """An offer commits the asset in its direction: X[n,t] - cap_d w[d,t] <= 0.

    Rows `commitment[n,t]`; direction, run and energy rows read w.
    """
    p = b.prob
    if not p.nx:
        return
    r = np.arange(p.nx)
    w = b.w_col[p.cand_dir[p.x_cand], p.x_t]
    b.add_rows("commitment", -INF, 0.0, [(r, b.x() + r, 1.0), (r, w, -p.x_cap)],
               [f"{b.need_label[c]},{t}" for c, t in zip(p.x_cand, p.x_t, strict=True)])


def define_direction(b: _Builder) -> None:
    """One direction per period: w[up,t] + w[down,t] <= 1.  Rows `direction[t]`."""
    ts = np.flatnonzero((b.w_col[0] >= 0) & (b.w_col[1] >= 0))
    n = len(ts)
    b.add_rows("direction", -INF, 1.0,
               [(np.arange(n), b.w_col[0, ts], 1.0), (np.arange(n), b.w_col[1, ts], 1.0)],
               [str(t) for t in ts])


def define_stacking(b: _Builder) -> None:
    """Incompatible products never offered in the same period (worst case: both win).

    Pair p != q:  sum_{n of p, d} X[n,t] - cap_d s[p,t] <= 0   rows `stacking[p,d,t]`
                  s[p,t] + s[q,t] <= 1              rows `stacking_pair[p,q,t]`
    Pair p == p:  X[n,t] - cap_d o[n,t] <= 0        rows `stacking_same_link[n,t]`
                  sum_{n of p} o[n,t] <= 1          rows `stacking_same[p,t]`
    Only where both sides can be offered in t.
    """
    p = b.prob
    if not p.pairs or not p.nx:
        return
    T, P = p.T, len(p.products)
    xp = p.cand_product[p.x_cand]
    kp = p.x_t * P + xp                              # (t, product) of each offer
    present = np.zeros((T, P), dtype=bool)
    present[p.x_t, xp] = True
    s_keys: set[int] = set()
    pair_rows: list[tuple[int, int, int]] = []
    self_products = set()
    for pi, qi in p.pairs:
        if pi == qi:
            self_products.add(pi)
            continue
        for t in np.flatnonzero(present[:, pi] & present[:, qi]):
            s_keys |= {int(t) * P + pi, int(t) * P + qi}
            pair_rows.append((pi, qi, int(t)))
    if s_keys:
        sk = np.array(sorted(s_keys), dtype=np.int64)
        s0 = b.add_cols("s", 0.0, 1.0, 0.0, True,
                        [f"{_label(p.products[k % P])},{k // P}" for k in sk])
        pos = np.searchsorted(sk, kp)
        hit = np.flatnonzero((pos < len(sk)) & (sk[np.minimum(pos, len(sk) - 1)] == kp))
        # one row per product, direction and period: sum X <= cap_d s (tighter than a row
        # per offer, which lets two offers of p each take cap_d s)
        xd = p.cand_dir[p.x_cand[hit]]
        key = pos[hit] * 2 + xd
        uk, inv = np.unique(key, return_inverse=True)
        b.add_rows("stacking", -INF, 0.0,
                   [(inv, b.x() + hit, 1.0),
                    (np.arange(len(uk)), s0 + uk // 2, -p.cap[uk % 2])],
                   [f"{_label(p.products[sk[k // 2] % P])},{DIRS[k % 2]},{sk[k // 2] // P}"
                    for k in uk])
        m = len(pair_rows)
        b.add_rows("stacking_pair", -INF, 1.0,
                   [(np.arange(m), s0 + np.searchsorted(sk, [t * P + pi for pi, _, t in pair_rows]),
                     1.0),
                    (np.arange(m), s0 + np.searchsorted(sk, [t * P + qi for _, qi, t in pair_rows]),
                     1.0)],
                   [f"{_label(p.products[pi])},{_label(p.products[qi])},{t}"
                    for pi, qi, t in pair_rows])
    if self_products:
        cand = np.isin(xp, list(self_products))
        _, inv, cnt = np.unique(kp[cand], return_inverse=True, return_counts=True)
        multi = np.flatnonzero(cand)[cnt[inv] >= 2]
        if len(multi):
            o0 = b.add_cols("o", 0.0, 1.0, 0.0, True,
                            [f"{b.need_label[p.x_cand[i]]},{p.x_t[i]}" for i in multi])
            n = len(multi)
            b.add_rows("stacking_same_link", -INF, 0.0,
                       [(np.arange(n), b.x() + multi, 1.0),
                        (np.arange(n), o0 + np.arange(n), -p.x_cap[multi])],
                       [f"{b.need_label[p.x_cand[i]]},{p.x_t[i]}" for i in multi])
            gk, ginv = np.unique(kp[multi], return_inverse=True)
            b.add_rows("stacking_same", -INF, 1.0, [(ginv, o0 + np.arange(n), 1.0)],
                       [f"{_label(p.products[k % P])},{k // P}" for k in gk])


def define_energy(b: _Builder) -> None:
    """Stored energy can meet every call pattern of the advised bids (robust, adaptive).

    [L[t], H[t]] is the safe band after period t: from any energy level in it the asset
    can deliver every later commitment, whichever of them are called and how much, given
    that it may recharge (at R_c = `recharge_mw`, default down_mw) or release (at R_d =
    up_mw) in periods where it is available and not committed. With U[t], D[t] the MW
    offered up and down in t, f[t] = 1 - w[up,t] - w[down,t] (1: free) and h hours:

        energy_floor[t]:    L[t] <= L[t-1] - h U[t] + h R_c f[t]
        energy_ceiling[t]:  H[t] >= H[t-1] + h D[t] - h R_d f[t]
        energy_band[t]:     L[t] <= H[t]
        0 <= L, H <= E;  L[start] <= e0 <= H[start] when the start energy e0 is given

    An up call in t needs a level at least L[t] + h U[t] before it; a free period can
    lift the level by h R_c (or lower it by h R_d) before the next one. A band that is an
    interval is exact for one store, so nothing is assumed about which bids will be called.
    """
    p = b.prob
    a = p.request.asset
    if a.energy_mwh is None:
        return
    T, h = p.T, p.dh
    L, H = b.blocks["floor"].start, b.blocks["ceiling"].start
    t = np.arange(T)
    tl = [str(i) for i in t]
    xd = p.cand_dir[p.x_cand]
    up, dn = np.flatnonzero(xd == 0), np.flatnonzero(xd == 1)
    rc = np.where(p.available, a.recharge_rate, 0.0) * h
    rd = np.where(p.available, a.up_mw, 0.0) * h
    wterms = []
    for d in (0, 1):
        has = np.flatnonzero(b.w_col[d] >= 0)
        wterms.append((has, b.w_col[d, has]))
    b.add_rows("energy_floor", -INF, rc,
               [(t, L + 1 + t, 1.0), (t, L + t, -1.0), (p.x_t[up], b.x() + up, h)]
               + [(ts, cols, rc[ts]) for ts, cols in wterms], tl)
    b.add_rows("energy_ceiling", -INF, rd,
               [(t, H + 1 + t, -1.0), (t, H + t, 1.0), (p.x_t[dn], b.x() + dn, h)]
               + [(ts, cols, rd[ts]) for ts, cols in wterms], tl)
    r = np.arange(T + 1)
    b.add_rows("energy_band", -INF, 0.0, [(r, L + r, 1.0), (r, H + r, -1.0)],
               ["start", *tl])


def define_run(b: _Builder) -> None:
    """No run of more than R committed periods (R = max_run_periods): for every window of
    R + 1 consecutive periods, sum_{t in window} (w[up,t] + w[down,t]) <= R.
    Rows `run[t0]` (window t0..t0+R), only where R + 1 periods of it can be committed.
    """
    p = b.prob
    R = p.request.asset.max_run_periods
    if R is None or R >= p.T:
        return
    committed = ((b.w_col[0] >= 0) | (b.w_col[1] >= 0)).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(committed)])
    starts = [t0 for t0 in range(p.T - R) if csum[t0 + R + 1] - csum[t0] == R + 1]
    rows, cols = [], []
    for i, t0 in enumerate(starts):
        for d in (0, 1):
            cs = b.w_col[d, t0:t0 + R + 1]
            cs = cs[cs >= 0]
            rows.append(np.full(len(cs), i))
            cols.append(cs)
    if not starts:
        return
    b.add_rows("run", -INF, float(R), [(np.concatenate(rows), np.concatenate(cols), 1.0)],
               [str(t0) for t0 in starts])


def build_model(prob: AdviceProblem) -> AdviceModel:
    """The MILP of a prepared problem: the variables, then every family in FAMILY_ORDER."""
    b = _Builder(prob)
    define_variables(b)
    g = globals()
    for name in FAMILY_ORDER:
        g[f"define_{name}"](b)
    return b.finish()


# families looked up by name at build time, so that a test can take one out and check that
# the hand-made case for it then fails
FAMILY_ORDER = ("price_level", "level_link", "minimum_value", "need_cap", "capacity",
                "commitment", "direction", "stacking", "energy", "run")
