"""GB day types for baselines: working days versus non-working days.

Demand on a Saturday, a Sunday or a bank holiday looks nothing like a Tuesday's, so the
like-day baselines (BL01, X of Y) only ever average days of the same type.  Bank
holidays differ between the UK nations, hence the ``region`` parameter; England and
Wales share one list.  The ``holidays`` package supplies the statutory list (including
one-off days such as the 2022 Platinum Jubilee and the 2023 Coronation); callers can add
extra non-working days (e.g. a site's own shutdown) without touching that table.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays as _holidays
import numpy as np

WORKING = 0
NON_WORKING = 1

# region name -> holidays subdivision code of the United Kingdom
REGIONS = {
    "england_wales": "ENG",
    "scotland": "SCT",
    "northern_ireland": "NIR",
}

__all__ = [
    "NON_WORKING",
    "REGIONS",
    "WORKING",
    "GBCalendar",
    "bank_holidays",
    "day_types",
    "is_bank_holiday",
    "is_working_day",
]


@lru_cache(maxsize=64)
def _holiday_days(region: str, year: int) -> frozenset[date]:
    try:
        subdiv = REGIONS[region]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; choose from {sorted(REGIONS)}") from None
    return frozenset(_holidays.country_holidays("GB", subdiv=subdiv, years=year).keys())


def bank_holidays(year: int, region: str = "england_wales") -> list[date]:
    """Sorted bank holidays of ``year`` in ``region``."""
    return sorted(_holiday_days(region, year))


def is_bank_holiday(d: date, region: str = "england_wales") -> bool:
    return d in _holiday_days(region, d.year)


def is_working_day(d: date, region: str = "england_wales") -> bool:
    """Monday to Friday and not a bank holiday."""
    return d.weekday() < 5 and not is_bank_holiday(d, region)


class GBCalendar:
    """Day-type lookup for one region, with optional extra non-working days."""

    def __init__(self, region: str = "england_wales", extra_non_working: Iterable[date] = ()):
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; choose from {sorted(REGIONS)}")
        self.region = region
        self.extra_non_working = frozenset(extra_non_working)

    def holidays_between(self, first: date, last: date) -> np.ndarray:
        days = set()
        for y in range(first.year, last.year + 1):
            days |= _holiday_days(self.region, y)
        days |= self.extra_non_working
        return np.array(sorted(days), dtype="datetime64[D]")

    def day_types(self, days) -> np.ndarray:
        """WORKING (0) or NON_WORKING (1) for each date in ``days`` (vectorised)."""
        d = np.asarray(days, dtype="datetime64[D]")
        if d.size == 0:
            return np.zeros(0, dtype=np.int8)
        # 1970-01-01 was a Thursday: weekday = (days + 3) % 7, Monday = 0.
        weekday = (d.astype(np.int64) + 3) % 7
        first = d.min().astype(object)
        last = d.max().astype(object)
        hol = np.isin(d, self.holidays_between(first, last))
        return np.where((weekday >= 5) | hol, NON_WORKING, WORKING).astype(np.int8)


def day_types(days, region: str = "england_wales") -> np.ndarray:
    """Vectorised day types with the statutory calendar of ``region``."""
    return GBCalendar(region).day_types(days)
