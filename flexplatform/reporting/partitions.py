"""Monthly partitions of ``meter_readings`` on Postgres, created on demand.

A partition holds one GB settlement month: from local midnight on the 1st to local
midnight on the 1st of the next month (Europe/London, so 23:00 UTC the evening before in
summer). "One meter, one month" then touches one partition, and a month can later be
detached or archived whole.

Partitions are created inside the caller's transaction (the upload that first needs a
month), as a plain table then ``ATTACH PARTITION``: attaching takes only a SHARE UPDATE
EXCLUSIVE lock on the parent, so reads and inserts into other months go on while the upload
runs, where ``CREATE TABLE .. PARTITION OF`` would hold ACCESS EXCLUSIVE on the whole table
until commit. An advisory lock plus a re-check makes concurrent creators safe: the second
waits for the first to commit, then finds the partition there. There is no default
partition (attaching would have to scan it), so every month is created before its rows
are written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from settlement.periods import day_start

PARENT = "meter_readings"
# Partition names: meter_readings_p2026_01 (settlement month January 2026).
PARTITION_NAME = re.compile(rf"^{PARENT}_p\d{{4}}_\d{{2}}$")
# Readings are accepted from FIRST_YEAR up to now; the month table covers that span.
FIRST_YEAR, LAST_YEAR = 2000, 2100
_LOCK_KEY = 7_201_338  # pg_advisory_xact_lock key for partition creation


def is_partition(name: str | None) -> bool:
    """True for a monthly child table (excluded when comparing models to migrations)."""
    return bool(name and PARTITION_NAME.match(name))


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: the partitions are made at run time, not by migrations."""
    return not (type_ == "table" and is_partition(name))


@lru_cache(maxsize=1)
def month_starts() -> np.ndarray:
    """UTC epoch seconds of every settlement month's start, FIRST_YEAR..LAST_YEAR."""
    starts = [day_start(dt.date(y, m, 1)).timestamp()
              for y in range(FIRST_YEAR, LAST_YEAR + 1) for m in range(1, 13)]
    return np.asarray(starts, dtype=np.int64)


def month_index(epoch_s: np.ndarray) -> np.ndarray:
    """Index into :func:`month_starts` of the settlement month holding each instant."""
    return np.searchsorted(month_starts(), epoch_s, side="right") - 1


def _name(index: int) -> str:
    year, month = divmod(int(index), 12)
    return f"{PARENT}_p{FIRST_YEAR + year:04d}_{month + 1:02d}"


def _bounds(index: int) -> tuple[dt.datetime, dt.datetime]:
    starts = month_starts()
    lo, hi = starts[index], starts[index + 1]
    return (dt.datetime.fromtimestamp(int(lo), dt.UTC), dt.datetime.fromtimestamp(int(hi), dt.UTC))


def ensure(session: Session, months: Iterable[int]) -> list[str]:
    """Create the partitions for these month indexes that do not exist yet; returns the
    names created. No-op on SQLite (a plain table)."""
    months = sorted({int(m) for m in months})
    if not months or session.get_bind().dialect.name != "postgresql":
        return []
    wanted = {_name(m): m for m in months}
    missing = _missing(session, wanted)
    if not missing:
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    created = []
    for name in _missing(session, wanted):  # again: another creator may have committed
        lo, hi = _bounds(wanted[name])
        session.execute(text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS '
                             "INCLUDING CONSTRAINTS)"))
        session.execute(text(f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" '
                             f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"))
        created.append(name)
    return created


def _missing(session: Session, wanted: dict[str, int]) -> list[str]:
    have = set(existing(session))
    return [n for n in wanted if n not in have]


def existing(session: Session) -> list[str]:
    """Names of the partitions that exist (Postgres), oldest first."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    return sorted(session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:p AS regclass)"), {"p": PARENT}))
