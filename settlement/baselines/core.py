"""What every baseline method shares: the context of a run, the targets, the result,
the base class, and clock-slot gathering (see the package docstring)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..meter import MeterGrid
from ..periods import MAX_PERIODS, clock_slots

__all__ = ["BASELINE_STATUSES", "SLOTS", "BaselineContext", "BaselineMethod", "BaselineResult",
           "Targets"]

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


def _day_mean(H: np.ndarray, ok: np.ndarray, n_ok: np.ndarray) -> np.ndarray:
    """Mean over the chosen days (``ok``) of (n, days, 48) values, per slot, ignoring
    NaN (a day's missing reading, or a slot the 46-period day lacks).  Sums first and
    falls back to the NaN-aware mean only for the rows that need it."""
    H[~ok] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = H.sum(axis=1) / n_ok[:, None]
    redo = np.isnan(out).any(axis=1)
    if redo.any():
        h = H[redo]
        h[~ok[redo]] = np.nan
        out[redo] = _nanmean(h, axis=1)
    return out


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


