"""Like-day baselines: X of the Y most recent like days, and Elexon's BL01."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..calendar import NON_WORKING
from .core import (
    SLOTS,
    BaselineContext,
    BaselineMethod,
    BaselineResult,
    Targets,
    _day_mean,
    _nanmean,
    _to_periods,
)

__all__ = ["ADJUSTMENTS", "BL01", "SELECTORS", "XofY"]

SELECTORS = ("all", "middle", "highest", "lowest")


@dataclass
class XofY(BaselineMethod):
    """Mean of X of the Y most recent eligible like days.

    Eligible: same day type as the target, before it, within ``lookback_days``, not an
    event day of that point, and at least ``min_coverage`` of its periods metered.
    ``selector`` picks X of the Y by each day's mean over the instructed slots (whole
    day when none): all (X = Y), middle, highest or lowest.  Fewer than ``min_days``
    eligible days gives NaN (no baseline, the period cannot be verified).
    ``y_by_day_type``/``x_by_day_type`` override X and Y for non-working days.
    """

    x: int = 10
    y: int = 10
    selector: str = "all"
    lookback_days: int = 60
    min_days: int = 1
    min_coverage: float = 1.0
    non_working_x: int | None = None
    non_working_y: int | None = None
    name: ClassVar[str] = "XofY"

    def __post_init__(self):
        if self.selector not in SELECTORS:
            raise ValueError(f"selector must be one of {SELECTORS}")
        if self.selector == "all":
            self.x = self.y
            if self.non_working_y is not None:
                self.non_working_x = self.non_working_y
        for a, b in ((self.x, self.y), (self.non_working_x or self.x, self.non_working_y or self.y)):
            if not 1 <= a <= b:
                raise ValueError("need 1 <= X <= Y")

    def unadjusted(self, ctx: BaselineContext, t: Targets) -> tuple[np.ndarray, np.ndarray]:
        """(n, 48) slot baseline and (n,) number of days averaged."""
        n = len(t)
        if n == 0:
            return np.zeros((0, SLOTS)), np.zeros(0, dtype=np.int64)
        nw = ctx.day_types[t.d] == NON_WORKING
        Y = np.where(nw, self.non_working_y or self.y, self.y)
        X = np.where(nw, self.non_working_x or self.x, self.x)
        Ymax = int(Y.max())
        L = self.lookback_days
        cand = t.d[:, None] - np.arange(1, L + 1)[None, :]
        valid = cand >= 0
        cd = np.maximum(cand, 0)
        elig = (valid & (ctx.day_types[cd] == ctx.day_types[t.d][:, None])
                & ~ctx.event_days[t.p[:, None], cd])
        if self.min_coverage > 0:
            elig &= ctx.coverage()[t.p[:, None], cd] >= self.min_coverage
        chosen = elig & (np.cumsum(elig, axis=1) <= Y[:, None])
        pos = np.argsort(~chosen, axis=1, kind="stable")[:, :Ymax]
        ok = np.take_along_axis(chosen, pos, axis=1)
        hist_d = np.take_along_axis(cd, pos, axis=1)
        H = ctx.by_slot(t.p, hist_d)  # (n, Ymax, 48)
        nsel = ok.sum(axis=1)
        k = np.minimum(X, nsel)
        if self.selector == "all":
            base = _day_mean(H, ok, nsel)
        else:
            H[~ok] = np.nan
            if t.rank_slots is not None and t.rank_slots.any():
                m = np.where(t.rank_slots.any(axis=1)[:, None, None] & ~t.rank_slots[:, None, :],
                             np.nan, H)
            else:
                m = H
            metric = _nanmean(m, axis=2)
            metric = np.where(ok & ~np.isnan(metric), metric, np.inf)
            rank = np.argsort(np.argsort(metric, axis=1, kind="stable"), axis=1, kind="stable")
            lo = {"lowest": np.zeros_like(k), "highest": nsel - k,
                  "middle": (nsel - k) // 2}[self.selector]
            use = ok & (rank >= lo[:, None]) & (rank < (lo + k)[:, None])
            H[~use] = np.nan
            base = _nanmean(H, axis=1)
        short = nsel < self.min_days
        base[short] = np.nan
        return base, np.where(short, 0, k)

    def compute(self, ctx, targets):
        b, used = self.unadjusted(ctx, targets)
        r = self._plain(_to_periods(ctx, targets.d, b))
        r.days_used = used
        r.status[np.isnan(b).all(axis=1)] = "no_history"
        return r


ADJUSTMENTS = ("none", "symmetric", "positive_only", "negative_only")


@dataclass
class BL01(XofY):
    """Elexon BSC baselining methodology BL01 (P376), as NESO's DFS uses it.

    Unadjusted: mean of the same clock slot over the previous ``y`` like days (working
    or non-working) that were not event days.  In-day adjustment: mean of (metered -
    unadjusted) over the window of ``window_periods`` periods ending ``gap_periods``
    before the start of the event (defaults: 6 periods = 3 h, ending 1 h before).  The
    window is counted in elapsed half hours and runs back across midnight when the event
    starts early (an event at 02:00 reads 22:00-01:00); a window period on an earlier
    day is compared with that day's own unadjusted baseline.  Readings taken under an
    instruction, or missing, do not count: with fewer than ``min_window_periods`` usable
    window readings (default: all of them) the day has no baseline (status
    ``missing_window``, paid nothing until the readings arrive); with fewer than the
    whole window but enough, the status is ``partial_window``.  The adjustment is added
    to every period of the day per ``adjustment``: none, symmetric, positive_only (only
    ever raises the baseline) or negative_only (only ever lowers it, which blunts
    inflating pre-event demand).  A baseline is never below zero.
    """

    adjustment: str = "symmetric"
    window_periods: int = 6
    gap_periods: int = 2
    min_window_periods: int | None = None
    name: ClassVar[str] = "BL01"

    def __post_init__(self):
        super().__post_init__()
        if self.adjustment not in ADJUSTMENTS:
            raise ValueError(f"adjustment must be one of {ADJUSTMENTS}")
        if self.min_window_periods is None:
            self.min_window_periods = self.window_periods
        if not 1 <= self.min_window_periods <= self.window_periods:
            raise ValueError("need 1 <= min_window_periods <= window_periods")

    def compute(self, ctx, targets):
        b, used = self.unadjusted(ctx, targets)
        per = _to_periods(ctx, targets.d, b)
        n = len(targets)
        res = BaselineResult(per, used, np.zeros(n), np.zeros(n, dtype=bool))
        res.status[np.isnan(b).all(axis=1)] = "no_history"
        if self.adjustment == "none" or n == 0:
            return res
        if targets.first_t is None:
            raise ValueError("BL01 with an in-day adjustment needs each target's event start "
                             "(Targets.first_t)")
        g = ctx.grid
        W = self.window_periods
        wt = (targets.first_t - self.gap_periods - W)[:, None] + np.arange(W)[None, :]
        inside = wt >= 0  # before the grid's first half hour: not loaded, so missing
        tt = np.maximum(wt, 0)
        wd = np.searchsorted(g.offsets, tt, side="right") - 1
        slot = ctx.period_slot_table()[wd, tt - g.offsets[wd]]
        metered = np.where(inside, ctx.values[targets.p[:, None], tt], np.nan)
        if ctx.instructed is not None and ctx.instructed.size:
            key = targets.p[:, None] * int(g.offsets[-1]) + tt
            pos = np.minimum(np.searchsorted(ctx.instructed, key), ctx.instructed.size - 1)
            metered[ctx.instructed[pos] == key] = np.nan
        unadj = np.take_along_axis(b, slot, axis=1)
        earlier = inside & (wd != targets.d[:, None])
        if earlier.any():  # window periods on an earlier day: that day's own baseline
            pairs = targets.p[:, None] * len(g.days) + wd
            uk, inv = np.unique(pairs[earlier], return_inverse=True)
            ub, _ = self.unadjusted(ctx, Targets(uk // len(g.days), uk % len(g.days)))
            unadj[earlier] = ub[inv, slot[earlier]]
        diff = metered - unadj
        count = (~np.isnan(diff)).sum(axis=1)
        adj = np.nan_to_num(_nanmean(diff, axis=1), nan=0.0)
        if self.adjustment == "positive_only":
            adj = np.maximum(adj, 0.0)
        elif self.adjustment == "negative_only":
            adj = np.minimum(adj, 0.0)
        has = res.status == "ok"
        missing = has & (count < self.min_window_periods)
        res.status[missing] = "missing_window"
        res.status[has & ~missing & (count < W)] = "partial_window"
        adj[missing] = 0.0
        per = np.maximum(per + adj[:, None], 0.0)
        per[missing] = np.nan
        res.kwh, res.adjustment_kwh, res.window_readings = per, adj, count
        return res


