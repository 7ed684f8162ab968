"""Chance-constrained coverage: the formulation (docs/probabilistic.md, Formulation).

A need-period whose product has a confidence level `l` (snapshot version 2, `rules.
confidence`) is covered when `P(delivered MW >= mw - u) >= l`. Delivered MW is `sum_a Y_a
X_a`, where `X_a` is asset a's award to that need-period and `Y_a` in [0, 1] its delivered
share, independent across assets, with mean `m_a` (its reliability, the mean of its Beta
posterior, `reliability.py`).

Why this bound: every `Y_a` in [0, 1] with mean m is sub-Gaussian with the variance proxy of
a Bernoulli(m) (its moment generating function is at most the Bernoulli's, by convexity of
exp), and the best such proxy is known in closed form (Kearns and Saul 1998; Berend and
Kontorovich 2013): `sigma(m)^2 = (1 - 2m) / (2 ln((1 - m) / m))` (1/4 at m = 1/2, 0 at 0
and 1). Then `P(sum_a Y_a X_a <= sum_a m_a X_a - t) <= exp(-t^2 / (2 ||sigma X||^2))`, and

    sum_a m_a X_a - kappa * ||sigma o X||_2 + u >= mw,   kappa = sqrt(2 ln(1 / (1 - l)))

guarantees the level for ANY delivery distributions with those means (a safe
approximation: distribution-free, and exact arithmetic, not a sample). `confidence_bound:
"normal"` uses the central-limit approximation instead (`kappa = Phi^-1(l)`, `sigma(m)^2 =
m (1 - m)`, the Bernoulli variance): cheaper, exact only for many assets, not guaranteed.

For a few large awards every concentration bound is loose (one asset of m = 0.95 at 90 %
counts 11 % of its MW). There the Markov bound on the shortfall `S = sum X (1 - Y) >= 0`
is better: `P(S >= E S / (1 - l)) <= 1 - l`, so `sum X_a (1 - (1 - m_a) / (1 - l))` MW are
delivered at level l, again for any delivery distributions (50 % of that asset's MW). Both
bounds hold, so the larger at the awards does: a row is linearised by the one that is
larger at the last awards (`probabilistic.clear_v2`), and the published cover is their
maximum (`ChanceCover.guaranteed`).

HiGHS has no second-order cones, so the norm is linearised (`define_chance_coverage`): for
awards `v = sigma o X >= 0`, `||v||_2 = rho(v) ||v||_1` with `rho(v) = ||v||_2 / ||v||_1` in
(0, 1]; with `rho` fixed per row the row is linear with one coefficient per award, the same
row as the expected-value rule (the decomposition, the merit-order start, holds and pricing
all work unchanged), exact where the awards' ratio is the assumed `rho` and safe where it is
at most that. `probabilistic.clear_v2` iterates `rho` to that point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .problem import Problem

BOUNDS = ("sub_gaussian", "normal")


def sub_gaussian_sd(m: np.ndarray) -> np.ndarray:
    """sigma(m): the optimal sub-Gaussian proxy of Bernoulli(m) (module docstring)."""
    m = np.clip(np.asarray(m, dtype=float), 0.0, 1.0)
    out = np.zeros_like(m)
    mid = np.abs(m - 0.5) < 1e-9
    inner = (m > 0.0) & (m < 1.0) & ~mid
    mi = m[inner]
    out[inner] = np.sqrt((1.0 - 2.0 * mi) / (2.0 * np.log((1.0 - mi) / mi)))
    out[mid] = 0.5
    return out


def kappa(level: float, bound: str) -> float:
    """The multiplier of the deviation term for a confidence level (module docstring)."""
    if bound == "normal":
        return NormalDist().inv_cdf(level)
    return math.sqrt(2.0 * math.log(1.0 / (1.0 - level)))


def deviation_sd(m: np.ndarray, bound: str) -> np.ndarray:
    if bound == "normal":
        m = np.clip(np.asarray(m, dtype=float), 0.0, 1.0)
        return np.sqrt(m * (1.0 - m))
    return sub_gaussian_sd(m)


@dataclass
class ChanceCover:
    """The chance-constrained rows of a clearing and their exact coverage.

    Awards of one asset to one need-period are one delivery (the same asset delivers or not),
    so the norm runs over (row, asset) pairs: `pair` of each x column, and per pair its row,
    mean and sd.
    """

    row_kappa: np.ndarray       # per coverage row (u index): kappa, 0 = expected value
    row_level: np.ndarray       # per coverage row: confidence level, nan = expected value
    x_mean: np.ndarray          # per x column: m of its asset
    x_sd: np.ndarray            # per x column: sigma of its asset
    x_pair: np.ndarray          # per x column: (row, asset) pair index
    pair_row: np.ndarray
    pair_mean: np.ndarray
    pair_sd: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        """Coverage rows with a confidence level."""
        return np.flatnonzero(self.row_kappa > 0)

    def pair_mw(self, xval: np.ndarray) -> np.ndarray:
        return np.bincount(self.x_pair, weights=xval, minlength=len(self.pair_row))

    def norms(self, xval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(||sigma X||_2, ||sigma X||_1) per coverage row."""
        v = self.pair_sd * self.pair_mw(xval)
        nu = len(self.row_kappa)
        l2 = np.sqrt(np.bincount(self.pair_row, weights=v * v, minlength=nu))
        l1 = np.bincount(self.pair_row, weights=v, minlength=nu)
        return l2, l1

    def expected(self, xval: np.ndarray) -> np.ndarray:
        return np.bincount(self.pair_row, weights=self.pair_mean * self.pair_mw(xval),
                           minlength=len(self.row_kappa))

    def sub_gaussian(self, xval: np.ndarray) -> np.ndarray:
        """Per row: `sum m X - kappa ||sigma X||` (its expected delivery on expected-value
        rows)."""
        return self.expected(xval) - self.row_kappa * self.norms(xval)[0]

    def markov(self, xval: np.ndarray) -> np.ndarray:
        """Per row: `sum X (1 - (1 - m) / (1 - l))` (the Markov bound, module docstring)."""
        eps = np.where(np.isnan(self.row_level), 1.0, 1.0 - np.nan_to_num(self.row_level))
        per = self.pair_mw(xval) * (1.0 - (1.0 - self.pair_mean) / eps[self.pair_row])
        return np.bincount(self.pair_row, weights=per, minlength=len(self.row_kappa))

    def guaranteed(self, xval: np.ndarray) -> np.ndarray:
        """Per row: the MW delivered at the row's level, the larger of the two bounds at
        these awards (each holds, so the larger does); expected delivery on expected-value
        rows."""
        g = self.sub_gaussian(xval)
        rows = self.rows
        g[rows] = np.maximum(g[rows], self.markov(xval)[rows])
        return g

    def ratio(self, xval: np.ndarray) -> np.ndarray:
        """rho = ||sigma X||_2 / ||sigma X||_1 per row; nan where nothing deviates."""
        l2, l1 = self.norms(xval)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(l1 > 0, l2 / np.where(l1 > 0, l1, 1.0), np.nan)

    def cover(self, xval: np.ndarray, covered: np.ndarray) -> np.ndarray:
        """`covered` (linear, per row) with the chance rows' exact guaranteed MW."""
        rows = self.rows
        if not len(rows):
            return covered
        out = covered.copy()
        out[rows] = self.guaranteed(xval)[rows]
        return out


def chance_cover(prob: Problem) -> ChanceCover:
    """The chance rows of `prob` from its snapshot's `rules.confidence` and reliabilities."""
    snap = prob.snapshot
    rules = snap.rules
    bound = rules.confidence_bound
    need_level = np.array([np.nan if rules.level(n.product) is None else rules.level(n.product)
                           for n in snap.needs], dtype=float)
    row_level = need_level[prob.u_need] if prob.nu else np.zeros(0)
    row_kappa = np.array([0.0 if np.isnan(lv) else kappa(float(lv), bound)
                          for lv in row_level.tolist()], dtype=float)
    xa = prob.bid_asset[prob.x_bid]
    m = prob.asset_rel[xa] if prob.nx else np.zeros(0)
    sd = deviation_sd(m, bound)
    A = max(len(snap.assets), 1)
    key = prob.x_cov * A + xa
    uk, inv = np.unique(key, return_inverse=True) if prob.nx else (np.zeros(0, np.int64),
                                                                  np.zeros(0, np.int64))
    first = np.zeros(len(uk), dtype=np.int64)
    first[inv[::-1]] = np.arange(prob.nx)[::-1]
    return ChanceCover(row_kappa=row_kappa, row_level=row_level, x_mean=m, x_sd=sd,
                       x_pair=inv.astype(np.int64), pair_row=(uk // A).astype(np.int64),
                       pair_mean=m[first], pair_sd=sd[first])


def define_chance_coverage(prob: Problem, cc: ChanceCover, rho: np.ndarray,
                           markov: np.ndarray | None = None) -> np.ndarray:
    """Coverage coefficients of the linearised chance constraint, one per award column.

    For a coverage row r (need n, period t) with level l, and each award x of asset a to it:

        sum_{x in r} (m_a - kappa_r * rho_r * sigma_a) * x + u[n,t] >= mw[n,t]

    which is `sum m X - kappa rho ||sigma X||_1 + u >= mw`: the chance constraint (module
    docstring) exactly when `rho_r = ||sigma X||_2 / ||sigma X||_1` at the awards, and
    implied by it wherever the awards' ratio is at most `rho_r`. Rows without a level keep
    `m_a` (the expected-value rule, spec rule 5). Coefficients can be negative: an asset
    whose deviation outweighs its mean lowers the MW the row can count on.

    Rows flagged in `markov` (per coverage row) take the Markov bound instead, exact and
    linear as it stands: coefficient `1 - (1 - m_a) / (1 - l)`.

    The rows keep their name and place (`coverage`); only the coefficients change.
    """
    k = cc.row_kappa[prob.x_cov] if prob.nx else np.zeros(0)
    coef = cc.x_mean - k * rho[prob.x_cov] * cc.x_sd
    if markov is not None and prob.nx:
        on = markov[prob.x_cov]
        eps = 1.0 - np.nan_to_num(cc.row_level[prob.x_cov], nan=0.0)
        coef = np.where(on, 1.0 - (1.0 - cc.x_mean) / np.where(on, eps, 1.0), coef)
    return coef
