"""A product's operations rules, kept as data on the product (``products.operations_rules``).

Keys (all optional; the defaults follow the product's notice so the seeded ENA and NESO
products behave sensibly without an admin having to fill anything in):

- ``declaration_deadline``: when availability declarations for a period lock.
  ``week_ahead`` (12:00 Europe/London seven days before the period's local day; NGED-style
  Sustain), ``day_ahead`` (12:00 Europe/London the day before; Secure) or ``notice``
  (the period start minus the product's notice). Default: by ``notice_minutes``.
- ``ack_minutes``: how long an FSP has to accept or reject an instruction (default 60).
- ``undeclared_available``: whether an asset with no declaration counts as available up
  to its capability (default true, as the dispatch spec assumes).
- ``batch_time``: local (Europe/London) time of the day-ahead dispatch batch for products
  whose requests are scheduled rather than dispatched at once (default ``13:00``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DAY_AHEAD_MINUTES = 1440


@dataclass(frozen=True)
class OpsRules:
    declaration_deadline: str
    ack_minutes: int
    undeclared_available: bool
    batch_time: dt.time
    notice_minutes: int

    @property
    def scheduled(self) -> bool:
        """Requests of a day-ahead product wait for the batch; shorter ones run at once."""
        return self.notice_minutes >= DAY_AHEAD_MINUTES

    def lock_at(self, period_start: dt.datetime) -> dt.datetime:
        """The moment declarations for ``period_start`` lock."""
        if self.declaration_deadline == "notice":
            return period_start - dt.timedelta(minutes=self.notice_minutes)
        days = 7 if self.declaration_deadline == "week_ahead" else 1
        local_day = period_start.astimezone(LONDON).date() - dt.timedelta(days=days)
        return dt.datetime.combine(local_day, dt.time(12, 0), LONDON).astimezone(dt.UTC)

    def batch_at(self, period_start: dt.datetime) -> dt.datetime:
        """When the day-ahead batch that dispatches ``period_start`` runs."""
        local_day = period_start.astimezone(LONDON).date() - dt.timedelta(days=1)
        return dt.datetime.combine(local_day, self.batch_time, LONDON).astimezone(dt.UTC)


def rules_for(product: Any) -> OpsRules:
    data = {k: v for k, v in (getattr(product, "operations_rules", None) or {}).items()
            if v is not None}
    notice = int(product.notice_minutes)
    default_deadline = ("week_ahead" if notice >= 7 * DAY_AHEAD_MINUTES
                        else "day_ahead" if notice >= DAY_AHEAD_MINUTES else "notice")
    hh, mm = str(data.get("batch_time", "13:00")).split(":")
    return OpsRules(
        declaration_deadline=str(data.get("declaration_deadline", default_deadline)),
        ack_minutes=int(data.get("ack_minutes", 60)),
        undeclared_available=bool(data.get("undeclared_available", True)),
        batch_time=dt.time(int(hh), int(mm)),
        notice_minutes=notice,
    )
