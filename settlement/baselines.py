"""Baselines: what a metering point would have done had it not been instructed.

Every method is a small named class with its parameters as fields, so a product's
baseline is data (``make_baseline({"method": "BL01", "adjustment": "symmetric"})``) and a
settlement can be reproduced from the product's recorded spec.  Sources and worked
examples are in ``docs/settlement.md``.

All methods answer the same question, vectorised over many *targets* at once: for each
(point, settlement day) being verified, the baseline kWh of every period of that day,
shape ``(n_targets, 50)`` with NaN past the day's last period.  History is compared by
local clock slot (see :func:`settlement.periods.clock_slots`) so clock-change days line
up with ordinary ones; on the 50-period day both 01:00 half hours read the averaged
slot, and the 46-period day contributes nothing to the two slots it lacks.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import ClassVar

import numpy as np
import pandas as pd

from .calendar import NON_WORKING, WORKING
from .meter import MeterGrid
from .periods import HALF_HOUR_NS, LONDON, MAX_PERIODS, clock_slots, to_settlement_periods, utc_ns

__all__ = [
    "BASELINE_STATUSES",
    "BL01",
    "METHODS",
    "AssetCapacity",
    "BaselineContext",
    "BaselineMethod",
    "BaselineResult",
    "Nominated",
    "ProductBaselines",
    "ReferenceProfile",
    "Targets",
    "XofY",
    "Zero",
    "make_baseline",
]

SLOTS = 48
# Per-target baseline status, most to least serious; the verification shows it per period.
BASELINE_STATUSES = ("ok", "partial_window", "missing_window", "no_history")


@dataclass
class BaselineContext:
    """Everything history-based methods need, computed once per verification run.

    ``instructed``: sorted keys ``p * T + t`` of every instructed (point, half hour), so
    an adjustment window never reads a reading taken under an instruction.
    """

    grid: MeterGrid
    measure: str  # import / export / net
    day_types: np.ndarray  # (D,) WORKING / NON_WORKING
    event_days: np.ndarray  # (P, D) bool: days excluded from like-day history
    instructed: np.ndarray | None = None
    _values: np.ndarray | None = field(default=None, repr=False)
    _slot_t: tuple | None = field(default=None, repr=False)
    _coverage: np.ndarray | None = field(default=None, repr=False)

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            self._values = self.grid.measure(self.measure)
        return self._values

    def period_slot_table(self) -> np.ndarray:
        """(D, 50) clock slot of each period of each day, -1 past the day's end."""
        n = self.grid.n_periods
        out = np.full((len(n), MAX_PERIODS), -1, dtype=np.int64)
        for k in (46, 48, 50):  # three shapes of day, not a per-day loop over data
            rows = n == k
            out[rows, :k] = clock_slots(k)
        return out

    def slot_t(self) -> tuple[np.ndarray, np.ndarray]:
        """(D, 48) timeline index of each clock slot of each day (-1: the day lacks it),
        and (D, 48) of its second occurrence (-1 except the 50-period day's 01:00, 01:30)."""
        if self._slot_t is None:
            g = self.grid
            D = len(g.days)
            first = np.full((D, SLOTS), -1, dtype=np.int64)
            second = np.full((D, SLOTS), -1, dtype=np.int64)
            for k in (46, 48, 50):  # three shapes of day, not a loop over data
                rows = np.nonzero(g.n_periods == k)[0]
                if rows.size == 0:
                    continue
                s = clock_slots(k)
                t = g.offsets[rows][:, None] + np.arange(k)[None, :]
                _, first_pos = np.unique(s, return_index=True)
                first[np.ix_(rows, s[first_pos])] = t[:, first_pos]
                if k == 50:  # the repeated 01:00 and 01:30 (periods 5 and 6)
                    second[rows, 2] = t[:, 4]
                    second[rows, 3] = t[:, 5]
            self._slot_t = (first, second)
        return self._slot_t

    def by_slot(self, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        """kWh by local clock slot of point ``p[i]`` on day ``d[i, k]``: shape d.shape + (48,).

        NaN where the day lacks the slot (46-period day); the 50-period day's repeated
        01:00 and 01:30 are the mean of their two readings.  Gathers only the days asked
        for: no (points x days x 48) copy of the history is made.
        """
        first, second = self.slot_t()
        v = self.values
        pp = p.reshape(p.shape + (1,) * (d.ndim - p.ndim + 1))
        out = v[pp, first[d]]
        odd = self.grid.n_periods[d] != SLOTS
        if odd.any():  # clock-change days among those asked for: a handful of rows
            idx = np.nonzero(odd)
            f, sd = first[d[idx]], second[d[idx]]
            rows = np.broadcast_to(pp, (*d.shape, 1))[idx]
            vals = v[rows, np.maximum(f, 0)]
            vals[f < 0] = np.nan
            rep = sd >= 0
            if rep.any():
                two = v[np.broadcast_to(rows, sd.shape)[rep], sd[rep]]
                vals[rep] = _nanmean(np.stack([vals[rep], two]), axis=0)
            out[idx] = vals
        return out

    def coverage(self) -> np.ndarray:
        """(P, D) share of each day's periods with a usable reading."""
        if self._coverage is None:
            g = self.grid
            if getattr(g, "complete", False):
                self._coverage = np.ones((len(g.points), len(g.days)))
            else:
                c = np.empty((len(g.points), len(g.days)))
                for lo in range(0, len(g.points), 4096):  # bounded temporaries
                    ok = ~np.isnan(self.values[lo:lo + 4096])
                    c[lo:lo + 4096] = np.add.reduceat(ok, g.offsets[:-1], axis=1)
                self._coverage = c / g.n_periods[None, :]
        return self._coverage


@dataclass
class Targets:
    """Point-days to baseline.  ``first_t`` is the timeline index of the start of the
    first instruction touching that day (for the in-day adjustment; it may lie on an
    earlier day when the instruction runs past midnight), ``rank_slots`` the instructed
    clock slots (for highest/lowest day selection); both optional."""

    p: np.ndarray
    d: np.ndarray
    first_t: np.ndarray | None = None
    rank_slots: np.ndarray | None = None  # (n, 48) bool

    def __len__(self) -> int:
        return len(self.p)

    def subset(self, rows: np.ndarray) -> Targets:
        return Targets(self.p[rows], self.d[rows],
                       None if self.first_t is None else self.first_t[rows],
                       None if self.rank_slots is None else self.rank_slots[rows])


@dataclass
class BaselineResult:
    """``status`` per target (see :data:`BASELINE_STATUSES`): ``missing_window`` and
    ``no_history`` come with a NaN baseline (the day cannot be verified);
    ``partial_window`` is an adjustment from fewer readings than the window holds,
    allowed by the method's ``min_window_periods``."""

    kwh: np.ndarray  # (n, 50)
    days_used: np.ndarray  # (n,) history days averaged, -1 if not history based
    adjustment_kwh: np.ndarray  # (n,) in-day adjustment applied (0 if none)
    fallback: np.ndarray  # (n,) bool: the configured fallback method was used
    status: np.ndarray | None = None  # (n,) str
    window_readings: np.ndarray | None = None  # (n,) readings in the adjustment window, -1: none

    def __post_init__(self):
        n = self.kwh.shape[0]
        if self.status is None:
            self.status = np.full(n, "ok", dtype=object)
        if self.window_readings is None:
            self.window_readings = np.full(n, -1, dtype=np.int64)


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN, NaN (without a warning) where nothing is left."""
    ok = ~np.isnan(a)
    s = np.where(ok, a, 0.0).sum(axis=axis)
    c = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def _to_periods(ctx: BaselineContext, d: np.ndarray, by_slot: np.ndarray) -> np.ndarray:
    """Map (n, 48) clock-slot values onto the (n, 50) periods of each target day."""
    pst = ctx.period_slot_table()[d]
    out = np.take_along_axis(by_slot, np.maximum(pst, 0), axis=1)
    out[pst < 0] = np.nan
    return out


class BaselineMethod:
    """Base class: subclasses set ``name`` and implement :meth:`compute`."""

    name: ClassVar[str] = "?"

    def compute(self, ctx: BaselineContext, targets: Targets) -> BaselineResult:
        raise NotImplementedError

    def spec(self) -> dict:
        """Parameters as plain data, for recording with a settlement run."""
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        d["method"] = self.name
        return d

    @staticmethod
    def _plain(kwh: np.ndarray) -> BaselineResult:
        n = kwh.shape[0]
        return BaselineResult(kwh, np.full(n, -1), np.zeros(n), np.zeros(n, dtype=bool))


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
        H[~ok] = np.nan
        nsel = ok.sum(axis=1)
        k = np.minimum(X, nsel)
        if self.selector != "all":
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


@dataclass
class Nominated(BaselineMethod):
    """A profile the FSP declared before a deadline, else a fallback method.

    ``nominations``: rows (mpan, start UTC, kwh, submitted_at UTC).  A nomination counts
    if submitted at or before ``deadline_time`` local time ``deadline_days_before`` days
    before its settlement day; the latest such one per period wins.  A target day with
    any period lacking a timely nomination uses ``fallback`` for the whole day, so an
    FSP cannot mix nominated and historical periods to its advantage.
    """

    nominations: pd.DataFrame = field(repr=False, default=None)
    fallback: BaselineMethod = field(default_factory=lambda: BL01())
    deadline_days_before: int = 1
    deadline_time: time = time(12, 0)
    name: ClassVar[str] = "Nominated"

    def spec(self):
        return {"method": self.name, "fallback": self.fallback.spec(),
                "deadline_days_before": self.deadline_days_before,
                "deadline_time": self.deadline_time.isoformat()}

    def deadlines(self, days) -> pd.DatetimeIndex:
        """UTC deadline for nominations of each settlement day in ``days``.

        The deadline is ``deadline_time`` local time ``deadline_days_before`` days before.
        On the autumn clock change that wall time can happen twice (01:00-02:00): the
        deadline is its FIRST occurrence (BST), the earlier and stricter instant.  In the
        spring it can not happen at all: the deadline is the first instant after the gap
        (02:00 BST).  It is never NaT, so no nomination is rejected for a clock change.
        """
        d = np.asarray(days, dtype="datetime64[D]") - np.timedelta64(self.deadline_days_before, "D")
        local = pd.DatetimeIndex(d.astype("datetime64[ns]")) + pd.Timedelta(
            hours=self.deadline_time.hour, minutes=self.deadline_time.minute,
            seconds=self.deadline_time.second)
        return local.tz_localize(LONDON, ambiguous=np.ones(len(local), dtype=bool),
                                 nonexistent="shift_forward").tz_convert("UTC")

    def timely(self) -> pd.DataFrame:
        """Nominations that met their deadline, latest per (mpan, start)."""
        nom = self.nominations
        if nom is None or nom.empty:
            return pd.DataFrame(columns=["mpan", "start", "kwh"])
        d, _ = to_settlement_periods(pd.DatetimeIndex(utc_ns(nom["start"], "start"), tz="UTC"))
        deadline = self.deadlines(d).asi8
        sub = utc_ns(nom["submitted_at"], "submitted_at")
        ok = nom[sub <= deadline].assign(_sub=sub[sub <= deadline]).sort_values("_sub", kind="stable")
        return ok.drop_duplicates(["mpan", "start"], keep="last")[["mpan", "start", "kwh"]]

    def compute(self, ctx, targets):
        g = ctx.grid
        nom = self.timely()
        vals = np.full(g.import_kwh.shape, np.nan)
        if len(nom):
            pi = g.points.get_indexer(nom["mpan"])
            ns = utc_ns(nom["start"], "start")
            t = (ns - g.starts_ns[0]) // HALF_HOUR_NS
            sel = (pi >= 0) & (t >= 0) & (t < g.offsets[-1])
            vals[pi[sel], t[sel]] = nom["kwh"].to_numpy(np.float64)[sel]
        n = len(targets)
        j = np.arange(MAX_PERIODS)[None, :]
        npd = g.n_periods[targets.d][:, None]
        tt = np.minimum(g.offsets[targets.d][:, None] + j, g.offsets[-1] - 1)
        per = np.where(j < npd, vals[targets.p[:, None], tt], np.nan)
        complete = ~np.isnan(np.where(j < npd, per, 0.0)).any(axis=1)
        res = BaselineResult(per, np.full(n, -1), np.zeros(n), ~complete)
        if (~complete).any():
            fb = ~complete
            r = self.fallback.compute(ctx, targets.subset(fb))
            res.kwh[fb] = r.kwh
            res.days_used[fb] = r.days_used
            res.adjustment_kwh[fb] = r.adjustment_kwh
            res.status[fb] = r.status
            res.window_readings[fb] = r.window_readings
        return res


@dataclass
class ReferenceProfile(BaselineMethod):
    """A fixed per-device profile (kWh per half hour by clock slot) x device count.

    For domestic portfolios where each home is too noisy to baseline on its own
    history.  ``profile_kwh`` is 48 values, or a dict {"working": .., "non_working": ..};
    ``devices`` maps metering point -> number of devices behind it.
    """

    profile_kwh: object = None
    devices: Mapping[str, float] = field(default_factory=dict)
    name: ClassVar[str] = "ReferenceProfile"

    @classmethod
    def from_kw(cls, profile_kw, devices):
        """Build from average kW per half hour (kWh = kW x 0.5 h)."""
        if isinstance(profile_kw, Mapping):
            return cls({k: np.asarray(v, float) * 0.5 for k, v in profile_kw.items()}, devices)
        return cls(np.asarray(profile_kw, float) * 0.5, devices)

    def spec(self):
        return {"method": self.name, "devices": len(self.devices)}

    def compute(self, ctx, targets):
        prof = self.profile_kwh
        if isinstance(prof, Mapping):
            table = np.stack([np.asarray(prof["working"], float), np.asarray(prof["non_working"], float)])
        else:
            table = np.stack([np.asarray(prof, float)] * 2)
        if table.shape[1] != SLOTS:
            raise ValueError("a reference profile has 48 half-hour values")
        dt = ctx.day_types[targets.d]
        by_slot = table[np.where(dt == WORKING, 0, 1)]
        count = pd.Series(self.devices, dtype=float).reindex(ctx.grid.points[targets.p]).to_numpy()
        return self._plain(_to_periods(ctx, targets.d, by_slot * count[:, None]))


@dataclass
class Zero(BaselineMethod):
    """Baseline zero: delivery is the metered flow itself (e.g. a generator's export
    when instructed to turn up from standstill)."""

    name: ClassVar[str] = "Zero"

    def compute(self, ctx, targets):
        n = len(targets)
        return self._plain(_to_periods(ctx, targets.d, np.zeros((n, SLOTS))))


@dataclass
class AssetCapacity(BaselineMethod):
    """Baseline = the asset's registered capacity (kW x 0.5 h per period), e.g. for a
    generator curtailed from full output or a load switched off from full demand."""

    capacity_kw: Mapping[str, float] = field(default_factory=dict)
    name: ClassVar[str] = "AssetCapacity"

    def spec(self):
        return {"method": self.name, "points": len(self.capacity_kw)}

    def compute(self, ctx, targets):
        cap = pd.Series(self.capacity_kw, dtype=float).reindex(ctx.grid.points[targets.p]).to_numpy()
        return self._plain(_to_periods(ctx, targets.d, np.repeat((cap * 0.5)[:, None], SLOTS, 1)))


METHODS: dict[str, type[BaselineMethod]] = {
    c.name: c for c in (BL01, XofY, Nominated, ReferenceProfile, Zero, AssetCapacity)}


def make_baseline(spec: str | Mapping | BaselineMethod) -> BaselineMethod:
    """A method from its name or {"method": name, **params}."""
    if isinstance(spec, BaselineMethod):
        return spec
    if isinstance(spec, str):
        spec = {"method": spec}
    spec = dict(spec)
    name = spec.pop("method")
    try:
        cls = METHODS[name]
    except KeyError:
        raise ValueError(f"unknown baseline method {name!r}; known: {sorted(METHODS)}") from None
    if "fallback" in spec:
        spec["fallback"] = make_baseline(spec["fallback"])
    return cls(**spec)


class ProductBaselines:
    """Which baseline each product uses: {product: method or spec}, plus a default."""

    def __init__(self, mapping: Mapping[str, object], default: object | None = None):
        self.mapping = {k: make_baseline(v) for k, v in mapping.items()}
        self.default = make_baseline(default) if default is not None else None

    def for_product(self, product: str) -> BaselineMethod:
        if product in self.mapping:
            return self.mapping[product]
        if self.default is None:
            raise KeyError(f"no baseline configured for product {product!r}")
        return self.default
