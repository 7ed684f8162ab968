from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement import (
    SettlementPeriodError,
    from_settlement_period,
    from_settlement_periods,
    period_starts,
    periods_in_day,
    to_settlement_period,
    to_settlement_periods,
)
from settlement.periods import clock_slots

UTC = UTC
DATA = Path(__file__).parent / "data"


def test_clock_change_days_2024():
    assert periods_in_day(date(2024, 3, 31)) == 46
    assert periods_in_day(date(2024, 10, 27)) == 50
    assert periods_in_day(date(2024, 6, 1)) == 48
    assert periods_in_day(date(2024, 3, 30)) == 48 and periods_in_day(date(2024, 4, 1)) == 48


def test_period_starts_spring_and_autumn():
    spring = period_starts(date(2024, 3, 31))
    assert len(spring) == 46
    assert spring[0] == datetime(2024, 3, 31, 0, 0, tzinfo=UTC)  # 00:00 GMT
    # 01:00 UTC is 02:00 BST: period 3; the day ends at BST midnight = 23:00 UTC
    assert spring[2] == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert spring[-1] == datetime(2024, 3, 31, 22, 30, tzinfo=UTC)
    autumn = period_starts(date(2024, 10, 27))
    assert len(autumn) == 50
    assert autumn[0] == datetime(2024, 10, 26, 23, 0, tzinfo=UTC)  # 00:00 BST
    # periods 3,4 are 01:00/01:30 BST (00:00/00:30 UTC); 5,6 are 01:00/01:30 GMT
    assert autumn[4] == datetime(2024, 10, 27, 1, 0, tzinfo=UTC)
    assert autumn[-1] == datetime(2024, 10, 27, 23, 30, tzinfo=UTC)


def test_summer_day_starts_at_2300_utc():
    assert to_settlement_period(datetime(2024, 7, 1, 23, 0, tzinfo=UTC)) == (date(2024, 7, 2), 1)
    assert to_settlement_period(datetime(2024, 7, 1, 22, 30, tzinfo=UTC)) == (date(2024, 7, 1), 48)
    assert to_settlement_period(datetime(2024, 1, 1, 17, 0, tzinfo=UTC)) == (date(2024, 1, 1), 35)


def test_errors():
    with pytest.raises(SettlementPeriodError):
        to_settlement_period(datetime(2024, 1, 1, 12, 0))  # naive
    with pytest.raises(SettlementPeriodError):
        to_settlement_period(datetime(2024, 1, 1, 12, 15, tzinfo=UTC))
    with pytest.raises(SettlementPeriodError):
        to_settlement_period(datetime(2024, 1, 1, 12, 0, 1, tzinfo=UTC))
    with pytest.raises(SettlementPeriodError):
        from_settlement_period(date(2024, 3, 31), 47)
    with pytest.raises(SettlementPeriodError):
        from_settlement_period(date(2024, 6, 1), 49)
    with pytest.raises(SettlementPeriodError):
        from_settlement_period(date(2024, 6, 1), 0)
    assert from_settlement_period(date(2024, 10, 27), 50) == datetime(2024, 10, 27, 23, 30, tzinfo=UTC)
    assert issubclass(SettlementPeriodError, ValueError)
    with pytest.raises(SettlementPeriodError):
        to_settlement_periods(pd.DatetimeIndex(["2024-01-01 00:00"]))  # naive
    with pytest.raises(SettlementPeriodError):
        to_settlement_periods(pd.DatetimeIndex(["2024-01-01 00:10"], tz="UTC"))
    with pytest.raises(SettlementPeriodError):
        from_settlement_periods([np.datetime64("2024-03-31")], [47])


def test_non_utc_aware_input_accepted():
    bst = timezone(timedelta(hours=1))
    assert to_settlement_period(datetime(2024, 7, 2, 0, 0, tzinfo=bst)) == (date(2024, 7, 2), 1)


def test_real_elexon_days_match():
    """Period counts of real Elexon settlement days (incl. 2017/2018 clock changes)."""
    df = pd.read_csv(DATA / "elexon_settlement_periods_sample.csv")
    counts = df.groupby("Settlement Date")["Settlement Period"].max()
    assert set(counts.values) == {46, 48, 50}
    for s, n in counts.items():
        d = datetime.strptime(s, "%d/%m/%Y").date()
        assert periods_in_day(d) == n, s
        # every (date, period) in the file converts to a UTC start and back
        periods = df.loc[df["Settlement Date"] == s, "Settlement Period"].to_numpy()
        starts = from_settlement_periods(np.full(len(periods), np.datetime64(d)), periods)
        dd, pp = to_settlement_periods(starts)
        assert (pp == periods).all() and (dd == np.datetime64(d)).all()


def test_vectorised_matches_scalar_across_a_year():
    idx = pd.date_range("2024-01-01", "2025-01-01", freq="30min", tz="UTC", inclusive="left")
    dates, periods = to_settlement_periods(idx)
    for k in range(0, len(idx), 997):
        assert to_settlement_period(idx[k].to_pydatetime()) == (dates[k].astype(object), periods[k])
    back = from_settlement_periods(dates, periods)
    assert back.equals(idx)
    per_day = pd.Series(periods).groupby(dates).max()
    assert per_day.value_counts().to_dict() == {48: 366 - 2, 46: 1, 50: 1}  # 2024 is a leap year


def test_clock_slots():
    assert list(clock_slots(46)[:3]) == [0, 1, 4]
    assert list(clock_slots(50)[:7]) == [0, 1, 2, 3, 2, 3, 4]
    assert clock_slots(50)[36] == 34 and clock_slots(46)[32] == 34  # 17:00 local


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=(2040 - 1990) * 365 * 48))
def test_roundtrip_instant(k):
    ts = datetime(1990, 1, 1, tzinfo=UTC) + k * timedelta(minutes=30)
    d, p = to_settlement_period(ts)
    assert 1 <= p <= periods_in_day(d)
    assert from_settlement_period(d, p) == ts


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)), st.integers(1, 50))
def test_roundtrip_period(d, p):
    n = periods_in_day(d)
    assert n in (46, 48, 50)
    if p > n:
        with pytest.raises(SettlementPeriodError):
            from_settlement_period(d, p)
    else:
        assert to_settlement_period(from_settlement_period(d, p)) == (d, p)
