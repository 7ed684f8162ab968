"""GB settlement periods: half hours of the Europe/London settlement day.

The settlement day runs from local midnight to local midnight, so it holds 48 half
hours normally, 46 on the spring clock change (01:00 GMT -> 02:00 BST skips an hour)
and 50 on the autumn one (01:00-02:00 is lived twice).  Every function here takes or
returns UTC-aware instants: local time only ever appears as the *date* of a day, which
is unambiguous because UK clocks never change at midnight.

Scalar helpers serve APIs and validation; the vectorised ones serve the engine, which
must map millions of readings without a Python loop.  They work from a small table of
day-start instants (one per day spanned) and ``searchsorted``, not per-row tz maths.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

LONDON = ZoneInfo("Europe/London")
UTC = UTC
HALF_HOUR = timedelta(minutes=30)
HALF_HOUR_NS = 30 * 60 * 10**9
MAX_PERIODS = 50

__all__ = [
    "LONDON",
    "MAX_PERIODS",
    "NAT_NS",
    "SettlementPeriodError",
    "clock_slots",
    "day_start",
    "day_table",
    "from_settlement_period",
    "from_settlement_periods",
    "period_starts",
    "periods_in_day",
    "to_settlement_period",
    "to_settlement_periods",
    "utc_ns",
]


class SettlementPeriodError(ValueError):
    """An instant that is not a period start, or a period that does not exist."""


def _as_date(d) -> date:
    if d is pd.NaT or d is None:
        raise SettlementPeriodError("missing settlement date (NaT)")
    if isinstance(d, datetime):
        raise SettlementPeriodError("pass a settlement date (datetime.date), not a datetime")
    if isinstance(d, np.datetime64):
        d = pd.Timestamp(d).date()
    return d


@lru_cache(maxsize=4096)
def day_start(d: date) -> datetime:
    """UTC instant of local midnight starting settlement day ``d``."""
    d = _as_date(d)
    return datetime(d.year, d.month, d.day, tzinfo=LONDON).astimezone(UTC)


def periods_in_day(d: date) -> int:
    """46, 48 or 50: the elapsed half hours between two local midnights."""
    d = _as_date(d)
    n = (day_start(d + timedelta(days=1)) - day_start(d)) // HALF_HOUR
    return int(n)


def period_starts(d: date) -> list[datetime]:
    """UTC-aware start of each period 1..n of settlement day ``d``."""
    s = day_start(_as_date(d))
    return [s + i * HALF_HOUR for i in range(periods_in_day(d))]


def _check_aware(ts: datetime) -> datetime:
    if ts is pd.NaT:
        raise SettlementPeriodError("missing instant (NaT): a settlement period needs a start")
    if not isinstance(ts, datetime):
        raise SettlementPeriodError(f"expected a datetime, got {type(ts).__name__}")
    if ts.tzinfo is None or ts.tzinfo.utcoffset(ts) is None:
        raise SettlementPeriodError(f"naive datetime {ts!r}: settlement needs timezone-aware instants")
    return ts.astimezone(UTC)


def to_settlement_period(ts: datetime) -> tuple[date, int]:
    """(settlement date, period number) of a period-start instant."""
    u = _check_aware(ts)
    d = u.astimezone(LONDON).date()
    offset = u - day_start(d)
    if offset % HALF_HOUR:
        raise SettlementPeriodError(f"{ts.isoformat()} is not the start of a settlement period")
    return d, int(offset // HALF_HOUR) + 1


def from_settlement_period(d: date, period: int) -> datetime:
    """UTC-aware start of ``period`` of settlement day ``d``."""
    d = _as_date(d)
    n = periods_in_day(d)
    if isinstance(period, bool) or int(period) != period or not 1 <= period <= n:
        raise SettlementPeriodError(f"{d.isoformat()} has periods 1..{n}, not {period!r}")
    return day_start(d) + (int(period) - 1) * HALF_HOUR


# --------------------------------------------------------------------- vectorised
def day_table(first: date, last: date) -> tuple[np.ndarray, np.ndarray]:
    """Days first..last (datetime64[D]) and their UTC starts in ns, plus one end bound.

    Returns ``(days, starts_ns)`` with ``len(starts_ns) == len(days) + 1`` so that
    ``starts_ns[i+1] - starts_ns[i]`` is day i's length.
    """
    n = (last - first).days + 1
    if n <= 0:
        raise SettlementPeriodError("empty day range")
    days = np.arange(np.datetime64(first, "D"), np.datetime64(first, "D") + n + 1)
    # Local midnight of every day: a vectorised localisation of a handful of values.
    local = pd.DatetimeIndex(days.astype("datetime64[ns]")).tz_localize(LONDON)
    starts = local.tz_convert("UTC").asi8
    return days[:-1], starts.astype(np.int64)


NAT_NS = np.iinfo(np.int64).min


def utc_ns(values, name: str = "start", *, allow_nat: bool = False) -> np.ndarray:
    """int64 ns since the epoch (UTC) of a column of instants, with a specific error.

    One rule for every timestamp the engine reads (readings, instructions, nominations,
    availability): a column must be timezone-aware and in ONE time zone (any zone: it
    is converted to UTC).  Naive values, a mix of zones (an object column, typically
    hand-built or half-parsed), values that are not timestamps, and NaT (unless
    ``allow_nat``; NaT then stays :data:`NAT_NS`) raise :class:`SettlementPeriodError`
    naming the column, the problem and the first offending row.
    """
    labels = values.index if isinstance(values, pd.Series) else None
    arr = values.array if isinstance(values, pd.Series) else values

    def where(mask) -> str:
        k = int(np.argmax(mask))
        return f" (first at row {labels[k]!r})" if labels is not None else f" (first at position {k})"

    dtype = getattr(arr, "dtype", None)
    if isinstance(dtype, pd.DatetimeTZDtype):
        idx = pd.DatetimeIndex(arr)
    elif dtype is not None and dtype.kind == "M":
        raise SettlementPeriodError(
            f"column {name!r} holds naive timestamps: settlement needs timezone-aware instants "
            "(e.g. pd.to_datetime(col, utc=True))")
    else:
        obj = np.asarray(arr, dtype=object)
        if obj.size == 0:
            return np.zeros(0, dtype=np.int64)
        isnat = np.fromiter((v is None or v is pd.NaT or (isinstance(v, float) and v != v)
                             for v in obj), dtype=bool, count=obj.size)
        is_dt = np.fromiter((isinstance(v, datetime) for v in obj), dtype=bool,
                            count=obj.size) & ~isnat  # NaT is a datetime too
        if (~is_dt & ~isnat).any():
            bad = ~is_dt & ~isnat
            v = obj[int(np.argmax(bad))]
            raise SettlementPeriodError(
                f"column {name!r} must hold timestamps, not {type(v).__name__} {v!r}{where(bad)}")
        naive = np.fromiter((d and v.tzinfo is None for v, d in zip(obj, is_dt, strict=True)),
                            dtype=bool, count=obj.size)
        if naive.any():
            raise SettlementPeriodError(
                f"column {name!r} holds naive timestamps{where(naive)}: settlement needs "
                "timezone-aware instants")
        zones = sorted({str(v.tzinfo) for v, d in zip(obj, is_dt, strict=True) if d})
        if len(zones) > 1:
            raise SettlementPeriodError(
                f"column {name!r} mixes time zones ({', '.join(zones)}): give every instant in one "
                "zone (e.g. pd.to_datetime(col, utc=True))")
        idx = pd.DatetimeIndex(pd.to_datetime(pd.Series(obj, dtype=object), utc=True))
    ns = idx.tz_convert("UTC").as_unit("ns").asi8
    if not allow_nat:
        nat = ns == NAT_NS
        if nat.any():
            raise SettlementPeriodError(
                f"column {name!r} has {int(nat.sum())} missing (NaT) instants{where(nat)}")
    return ns


def _utc_ns(index) -> np.ndarray:
    """int64 ns since epoch of a tz-aware index/Series/array; refuses naive input."""
    return utc_ns(index, "timestamps", allow_nat=True)


def to_settlement_periods(index) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`to_settlement_period`: (datetime64[D] dates, int periods).

    Raises :class:`SettlementPeriodError` naming the first offending instant if any
    value is not a period start (NaT included).
    """
    ns = _utc_ns(index)
    if ns.size == 0:
        return np.array([], dtype="datetime64[D]"), np.array([], dtype=np.int64)
    if (ns == NAT_NS).any():
        raise SettlementPeriodError("NaT is not a settlement period start")
    lo = pd.Timestamp(ns.min(), tz="UTC").tz_convert(LONDON).date() - timedelta(days=1)
    hi = pd.Timestamp(ns.max(), tz="UTC").tz_convert(LONDON).date() + timedelta(days=1)
    days, starts = day_table(lo, hi)
    pos = np.searchsorted(starts, ns, side="right") - 1
    off = ns - starts[pos]
    bad = off % HALF_HOUR_NS != 0
    if bad.any():
        first_bad = pd.Timestamp(ns[np.argmax(bad)], tz="UTC")
        raise SettlementPeriodError(f"{first_bad.isoformat()} is not the start of a settlement period")
    return days[pos], off // HALF_HOUR_NS + 1


def from_settlement_periods(dates, periods) -> pd.DatetimeIndex:
    """Vectorised :func:`from_settlement_period`: UTC DatetimeIndex of period starts."""
    d = np.asarray(dates, dtype="datetime64[D]")
    p = np.asarray(periods, dtype=np.int64)
    if d.shape != p.shape:
        raise SettlementPeriodError("dates and periods differ in length")
    if d.size == 0:
        return pd.DatetimeIndex([], tz="UTC")
    first = pd.Timestamp(d.min()).date()
    last = pd.Timestamp(d.max()).date()
    days, starts = day_table(first, last)
    i = (d - days[0]).astype(np.int64)
    n = (starts[1:] - starts[:-1]) // HALF_HOUR_NS
    bad = (p < 1) | (p > n[i])
    if bad.any():
        k = int(np.argmax(bad))
        raise SettlementPeriodError(f"{d[k]} has periods 1..{n[i[k]]}, not {p[k]}")
    return pd.DatetimeIndex(starts[i] + (p - 1) * HALF_HOUR_NS, tz="UTC")


def clock_slots(n_periods: int) -> np.ndarray:
    """Local wall-clock half-hour slot (0..47) of each period of an n-period day.

    Baselines compare like with like by clock time, not by period number: 17:00 local is
    period 35 on a normal day but period 33 on the 46-period day and 37 on the 50-period
    day; all three are slot 34.  On the 50-period day the repeated 01:00 and 01:30 map to
    slots 2 and 3 twice; on the 46-period day slots 2 and 3 do not occur.
    """
    if n_periods == 48:
        return np.arange(48)
    if n_periods == 46:
        return np.concatenate([[0, 1], np.arange(4, 48)])
    if n_periods == 50:
        return np.concatenate([[0, 1, 2, 3, 2, 3], np.arange(4, 48)])
    raise SettlementPeriodError(f"a settlement day has 46, 48 or 50 periods, not {n_periods}")
