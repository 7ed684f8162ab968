"""Carbon intensities in, in the Carbon Intensity API's own JSON (NESO, CC BY 4.0).

Three response shapes are read, exactly as ``api.carbonintensity.org.uk`` returns them:

* national (``/intensity``, ``/intensity/{from}/{to}``, ``/intensity/date/...``):
  ``{"data": [{"from", "to", "intensity": {"forecast", "actual", "index"}}]}``;
* regional by time (``/regional``, ``/regional/intensity/{from}/{to}``):
  ``{"data": [{"from", "to", "regions": [{"regionid", "shortname", "intensity":
  {"forecast", "index"}, "generationmix": [...]}]}]}``;
* regional by region (``/regional/regionid/{id}``, ``.../{from}/{to}/regionid/{id}``):
  ``{"data": [{"regionid", "shortname", "data": [{"from", "to", "intensity", ...}]}]}``
  (``data`` may be one object rather than a list).

Only the DNO regions 1-14 and the national series (region 0) are kept: the API's 15-18
are England, Scotland, Wales and GB aggregates, which the report never needs (the
national series comes from ``/intensity``, which also has the estimated outturn).
A negative intensity is a known artefact of the regional feed (one London value of -1 in
the 2018 sample): it is stored as missing and reported, never used.
Imports are all or nothing: a malformed entry fails the whole file with its JSON pointer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.errors import InvalidInput, field_error
from flexplatform.transparency.models import DNO_REGIONS, NATIONAL, CarbonIntensity

HALF_HOUR = dt.timedelta(minutes=30)
MAX_ERRORS = 50
MAX_ENTRIES = 2_000_000


@dataclass
class Parsed:
    # (region_id, period_start) -> {"forecast": x, "actual": y} (only keys the file gave)
    values: dict[tuple[int, dt.datetime], dict[str, float | None]] = field(default_factory=dict)
    skipped_regions: set[int] = field(default_factory=set)
    artefacts: list[str] = field(default_factory=list)  # pointers of negative values
    errors: list[dict[str, Any]] = field(default_factory=list)
    shape: str = ""

    def fail(self, pointer: list[Any], message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(field_error(pointer, message))


def _time(p: Parsed, v: Any, loc: list[Any]) -> dt.datetime | None:
    if not isinstance(v, str):
        p.fail(loc, "an ISO 8601 UTC time such as 2023-01-23T00:00Z")
        return None
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        p.fail(loc, f"'{v[:40]}' is not an ISO 8601 time")
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)  # the API always means UTC
    t = t.astimezone(dt.UTC)
    if t.minute % 30 or t.second or t.microsecond:
        p.fail(loc, "must start a half-hour (:00 or :30)")
        return None
    return t


def _number(p: Parsed, v: Any, loc: list[Any]) -> tuple[bool, float | None]:
    """(ok, value): null is a valid 'no figure'; negative is the artefact, kept missing."""
    if v is None:
        return True, None
    if isinstance(v, bool) or not isinstance(v, int | float):
        p.fail(loc, "gCO2/kWh as a number or null")
        return False, None
    if v != v or abs(v) > 5000:  # NaN, infinities and absurd magnitudes
        p.fail(loc, "must be a finite intensity within 5000 gCO2/kWh")
        return False, None
    if v < 0:
        p.artefacts.append("/" + "/".join(str(x) for x in loc))
        return True, None
    return True, float(v)


def _period(p: Parsed, entry: Any, loc: list[Any]) -> dt.datetime | None:
    if not isinstance(entry, dict):
        p.fail(loc, "an object with from, to and intensity")
        return None
    start = _time(p, entry.get("from"), [*loc, "from"])
    end = _time(p, entry.get("to"), [*loc, "to"])
    if start is not None and end is not None and end - start != HALF_HOUR:
        p.fail([*loc, "to"], "must be 30 minutes after from")
        return None
    return start


def _intensity(p: Parsed, region: int, start: dt.datetime | None, obj: Any,
               loc: list[Any]) -> None:
    if not isinstance(obj, dict):
        p.fail(loc, "an object with forecast (and actual for the national series)")
        return
    vals: dict[str, float | None] = {}
    for key in ("forecast", "actual"):
        if key in obj:
            ok, v = _number(p, obj[key], [*loc, key])
            if ok:
                vals[key] = v
    if "forecast" not in obj and "actual" not in obj:
        p.fail(loc, "needs forecast or actual")
    if start is not None and vals:
        if (region, start) in p.values:
            p.fail(loc, f"duplicate half-hour {start:%Y-%m-%dT%H:%MZ} for region {region}")
        p.values[(region, start)] = vals


def _region_id(p: Parsed, reg: dict[str, Any], loc: list[Any]) -> int | None:
    rid = reg.get("regionid")
    if isinstance(rid, bool) or not isinstance(rid, int) or not 1 <= rid <= 18:
        p.fail([*loc, "regionid"], "the API's region id, 1 to 18")
        return None
    if rid not in DNO_REGIONS:
        p.skipped_regions.add(rid)
        return None
    return rid


def parse(doc: Any) -> Parsed:
    """Read one API response; raises InvalidInput naming every bad field (up to 50)."""
    p = Parsed()
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InvalidInput("not a Carbon Intensity API response",
                           errors=[field_error(["data"], "a non-empty list, as the API returns")])
    if sum(len(e.get("regions") or e.get("data") or [1]) if isinstance(e, dict) else 1
           for e in data) > MAX_ENTRIES:
        raise InvalidInput("file too large", errors=[field_error(["data"], "too many entries")])
    first = data[0] if isinstance(data[0], dict) else {}
    if "regions" in first:
        p.shape = "regional"
        for i, e in enumerate(data):
            start = _period(p, e, ["data", i])
            regions = e.get("regions") if isinstance(e, dict) else None
            if not isinstance(regions, list):
                p.fail(["data", i, "regions"], "a list of regions")
                continue
            for j, reg in enumerate(regions):
                loc = ["data", i, "regions", j]
                if not isinstance(reg, dict):
                    p.fail(loc, "an object with regionid and intensity")
                    continue
                rid = _region_id(p, reg, loc)
                if rid is not None:
                    _intensity(p, rid, start, reg.get("intensity"), [*loc, "intensity"])
    elif "regionid" in first:
        p.shape = "regional-by-region"
        for i, reg in enumerate(data):
            loc = ["data", i]
            if not isinstance(reg, dict):
                p.fail(loc, "an object with regionid and data")
                continue
            rid = _region_id(p, reg, loc)
            rows = reg.get("data")
            if not isinstance(rows, list):
                p.fail([*loc, "data"], "a list of half-hours")
                continue
            for k, e in enumerate(rows):
                start = _period(p, e, [*loc, "data", k])
                if rid is not None and isinstance(e, dict):
                    _intensity(p, rid, start, e.get("intensity"), [*loc, "data", k, "intensity"])
    else:
        p.shape = "national"
        for i, e in enumerate(data):
            start = _period(p, e, ["data", i])
            if isinstance(e, dict):
                _intensity(p, NATIONAL, start, e.get("intensity"), ["data", i, "intensity"])
    if p.errors:
        raise InvalidInput(f"{len(p.errors)} problem(s) in the carbon intensity file; "
                           "nothing was imported", errors=p.errors)
    return p


@dataclass
class ImportResult:
    shape: str
    inserted: int
    updated: int
    regions: list[int]
    first_period: str | None
    last_period: str | None
    skipped_regions: list[int]
    negative_values_ignored: int


def import_document(session: Session, doc: Any, source: str) -> ImportResult:
    """Upsert the file's half-hours (the caller commits). A re-import replaces the figures
    the file carries and keeps the others: a regional file never erases a national
    actual, and a later forecast run replaces the earlier one."""
    p = parse(doc)
    keys = sorted(p.values)
    inserted = updated = 0
    by_region: dict[int, list[dt.datetime]] = {}
    for rid, t in keys:
        by_region.setdefault(rid, []).append(t)
    for rid, times in by_region.items():
        existing: dict[dt.datetime, CarbonIntensity] = {}
        for chunk in range(0, len(times), 500):
            part = times[chunk:chunk + 500]
            for row in session.scalars(select(CarbonIntensity).where(
                    CarbonIntensity.region_id == rid, CarbonIntensity.period_start.in_(part))):
                existing[row.period_start] = row
        for t in times:
            vals = p.values[(rid, t)]
            row = existing.get(t)
            if row is None:
                session.add(CarbonIntensity(region_id=rid, period_start=t, source=source[:200],
                                            forecast=vals.get("forecast"),
                                            actual=vals.get("actual")))
                inserted += 1
            else:
                for k, v in vals.items():
                    setattr(row, k, v)
                row.source = source[:200]
                updated += 1
    session.flush()
    return ImportResult(
        shape=p.shape, inserted=inserted, updated=updated, regions=sorted(by_region),
        first_period=(keys and min(t for _, t in keys).isoformat()) or None,
        last_period=(keys and max(t for _, t in keys).isoformat()) or None,
        skipped_regions=sorted(p.skipped_regions), negative_values_ignored=len(p.artefacts))


def intensities(session: Session, start: dt.datetime, end: dt.datetime,
                regions: set[int] | None = None) -> dict[tuple[int, dt.datetime], float]:
    """(region, half-hour) -> best gCO2/kWh in [start, end), actual before forecast."""
    q = select(CarbonIntensity).where(CarbonIntensity.period_start >= start,
                                      CarbonIntensity.period_start < end)
    if regions is not None:
        q = q.where(CarbonIntensity.region_id.in_(sorted(regions | {NATIONAL})))
    out = {}
    for row in session.scalars(q):
        if row.value is not None:
            out[(row.region_id, row.period_start)] = row.value
    return out
