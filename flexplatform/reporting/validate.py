"""Row checks for meter readings, vectorised over one batch of columns.

Every format (JSON, CSV, Parquet) arrives here as Arrow columns ``mpan``, ``start``,
``import_kwh``, ``export_kwh`` with the batch's first row number, so the rules and their
messages are the same whichever way readings come in. Clean batches pass through Arrow
casts and numpy masks without a Python loop per row; only a batch with a bad cell is
bisected to find it (a cast fails whole), which costs O(bad rows x log batch).

Issue codes reuse the settlement engine's words where the rule is the engine's own
(``misaligned``, ``missing_value``, ``negative``, ``implausible`` with its
``DEFAULT_MAX_KWH``, ``conflict``), so a stored reading is one ``MeterData.validate``
accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flexplatform.errors import field_error
from flexplatform.registration.mpan import mpan_problem
from flexplatform.reporting import partitions
from settlement.meter import DEFAULT_MAX_KWH

HALF_HOUR_US = 30 * 60 * 1_000_000
COLUMNS = ("mpan", "start", "import_kwh", "export_kwh")
# Meter point flows as bits: which of import (1) and export (2) it measures.
IMPORT, EXPORT = 1, 2
_FIRST_S = int(partitions.month_starts()[0])


@dataclass
class Problems:
    """All problems of one upload: the first ``cap`` in row order, and the full count."""

    cap: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def add(self, mask: np.ndarray, rows: np.ndarray, field_name: str, issue: str,
            message: Callable[[int], str], pointer: Callable[[int, str], list[Any]]) -> None:
        hits = np.flatnonzero(mask)
        self.count += len(hits)
        room = self.cap - len(self.errors)
        for i in hits[:max(room, 0)]:
            r = int(rows[i])
            self.errors.append(field_error(pointer(r, field_name), message(int(i)), row=r,
                                           issue=issue))

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.errors, key=lambda e: (e.get("row", 0), e["field"]))[: self.cap]


@dataclass
class Checked:
    """The rows of a batch that passed every check, as plain arrays."""

    rows: np.ndarray  # int64 row numbers
    meter_ids: np.ndarray  # int32
    start_s: np.ndarray  # int64 UTC epoch seconds of the period start
    import_kwh: np.ndarray  # float64
    export_kwh: np.ndarray  # float64


@dataclass
class MeterAccess:
    """What a submitter may write to, resolved MPAN by MPAN and cached for the upload.

    ``lookup(mpans)`` returns ``{mpan: (meter id, measures bits)}`` for the meter points
    among ``mpans`` the submitter may submit for; anything absent is unknown to it (not
    registered, or another FSP's: the message does not say which, that is private).
    """

    lookup: Callable[[list[str]], dict[str, tuple[int, int]]]
    found: dict[str, tuple[int, int]] = field(default_factory=dict)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)  # mpan -> (issue, why)

    def resolve(self, mpans: list[str]) -> None:
        new = [m for m in mpans if m not in self.found and m not in self.refused]
        well_formed = []
        for m in new:
            problem = mpan_problem(m)
            if problem:
                self.refused[m] = ("invalid_mpan", f"invalid MPAN '{m}': {problem}")
            else:
                well_formed.append(m)
        if well_formed:
            self.found.update(self.lookup(well_formed))
        for m in well_formed:
            if m not in self.found:
                self.refused[m] = ("unknown_mpan",
                                   f"MPAN {m} is not a meter point you may submit readings for")


def _trimmed(col: pa.Array) -> pa.Array:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.utf8_trim_whitespace(col)
        return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
    return col


def _cast_each(col: pa.Array, typ: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast ``col``; the cells that do not cast become null and are flagged."""
    try:
        return pc.cast(col, typ), np.zeros(len(col), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(col) == 1:
            return pa.nulls(1, typ), np.ones(1, dtype=bool)
    mid = len(col) // 2
    a, bad_a = _cast_each(col.slice(0, mid), typ)
    b, bad_b = _cast_each(col.slice(mid), typ)
    return pa.concat_arrays([a, b]), np.concatenate([bad_a, bad_b])


def _numbers(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, null mask, unparseable mask); values are NaN where null or unparseable."""
    col = _trimmed(col)
    if pa.types.is_null(col.type):
        col = col.cast(pa.float64())
    vals, bad = _cast_each(col, pa.float64())
    null = np.asarray(col.is_null(), dtype=bool)
    out = vals.to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
    return out, null, bad


def _instants(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(UTC epoch microseconds, missing, naive, unparseable) for a start column."""
    n = len(col)
    col = _trimmed(col)
    missing = np.asarray(col.is_null(), dtype=bool)
    none = np.zeros(n, dtype=bool)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:  # Parquet timestamps without a zone: naive throughout
            return np.zeros(n, np.int64), missing, ~missing, none
        us = pc.cast(col, pa.timestamp("us", "UTC"))
        return us.to_numpy(zero_copy_only=False).astype("int64"), missing, none, none
    if pa.types.is_null(col.type):
        return np.zeros(n, np.int64), missing, none, none
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return np.zeros(n, np.int64), missing, none, ~missing
    parsed, bad = _cast_each(col, pa.timestamp("us", "UTC"))
    naive = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(bad):  # only the cells that failed: naive or not a time at all
        try:
            pc.cast(col.slice(int(i), 1), pa.timestamp("us"))
            naive[i] = True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    us = parsed.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return us.astype(np.int64), missing, naive, bad & ~naive


def check(batch: dict[str, pa.Array], rows: np.ndarray, access: MeterAccess,
          problems: Problems, now: dt.datetime,
          pointer: Callable[[int, str], list[Any]]) -> Checked:
    """Check one batch (``rows``: each row's number); problems are added to ``problems``,
    the good rows returned."""
    n = len(rows)
    bad = np.zeros(n, dtype=bool)

    def rule(mask: np.ndarray, name: str, issue: str, message: Callable[[int], str]) -> None:
        nonlocal bad
        if mask.any():
            problems.add(mask, rows, name, issue, message, pointer)
            bad |= mask

    def raw(name: str, i: int) -> Any:
        return batch[name][i].as_py()

    # --- meter point -------------------------------------------------------------------
    mpans = _trimmed(batch["mpan"])
    if not (pa.types.is_string(mpans.type) or pa.types.is_large_string(mpans.type)):
        mpans = _trimmed(pc.cast(mpans, pa.string()))
    missing_mpan = np.asarray(mpans.is_null(), dtype=bool)
    rule(missing_mpan, "mpan", "invalid_mpan", lambda i: "MPAN is missing")
    uniq = pc.unique(mpans.drop_null())
    names = uniq.to_pylist()
    access.resolve(names)
    ids_u = np.array([access.found.get(m, (-1, 3))[0] for m in names] + [-1], np.int64)
    bits_u = np.array([access.found.get(m, (-1, 3))[1] for m in names] + [3], np.int64)
    kind_u = np.array([access.refused.get(m, ("",))[0] for m in names] + [""], object)
    pos = pc.index_in(mpans, value_set=uniq).fill_null(len(names))
    pos = pos.to_numpy(zero_copy_only=False).astype(np.int64)
    meter_ids, bits = ids_u[pos], bits_u[pos]
    for issue in ("invalid_mpan", "unknown_mpan"):
        hit = kind_u == issue
        if hit.any():
            rule(hit[pos], "mpan", issue, lambda i: access.refused[names[pos[i]]][1])

    # --- period start ------------------------------------------------------------------
    us, missing, naive, unparsed = _instants(batch["start"])
    rule(missing, "start", "invalid_timestamp", lambda i: "start is missing")
    rule(unparsed, "start", "invalid_timestamp",
         lambda i: f"'{raw('start', i)}' is not an ISO 8601 timestamp with a UTC offset")
    rule(naive, "start", "naive_timestamp",
         lambda i: f"'{raw('start', i)}' has no UTC offset: give the instant, e.g. "
                   "2026-01-01T00:00:00Z")
    parsed = ~(missing | naive | unparsed)
    rule(parsed & (us % HALF_HOUR_US != 0), "start", "misaligned",
         lambda i: f"{_iso(us[i])} is not the start of a settlement period (a UTC half hour)")
    start_s = us // 1_000_000
    latest = int(now.timestamp()) - 30 * 60
    rule(parsed & ((start_s < _FIRST_S) | (start_s > latest)), "start", "out_of_range",
         lambda i: f"period {_iso(us[i])} has not ended yet" if start_s[i] > latest
         else f"period {_iso(us[i])} is before {partitions.FIRST_YEAR}")

    # --- values ------------------------------------------------------------------------
    values = {}
    for name, bit in (("import_kwh", IMPORT), ("export_kwh", EXPORT)):
        v, null, unparsable = _numbers(batch[name])
        measured = (bits & bit) != 0
        flow = name.split("_")[0]
        rule(unparsable, name, "invalid_number", lambda i, c=name: f"'{raw(c, i)}' is not a number")
        rule(null & measured, name, "missing_value",
             lambda i, f=flow: f"{f} kWh is missing for a meter point that measures {f}")
        ok = ~(null | unparsable)
        rule(ok & np.isnan(v), name, "missing_value", lambda i: "NaN is not a reading")
        rule(ok & np.isinf(v), name, "implausible", lambda i: "an infinite reading")
        finite = ok & np.isfinite(v)
        rule(finite & (v < 0), name, "negative",
             lambda i, f=flow, a=v: f"{f} kWh {a[i]} is negative (import and export are "
                                    "separate non-negative columns)")
        rule(finite & (v > DEFAULT_MAX_KWH), name, "implausible",
             lambda i, a=v: f"{a[i]} kWh in half an hour is above {DEFAULT_MAX_KWH:,.0f}")
        rule(finite & (v != 0) & ~measured & (meter_ids >= 0), name, "not_measured",
             lambda i, f=flow: f"the meter point does not measure {f}")
        values[name] = np.where(null, 0.0, v) + 0.0  # + 0.0: no negative zero stored

    keep = ~bad
    return Checked(rows=rows[keep], meter_ids=meter_ids[keep].astype(np.int32),
                   start_s=start_s[keep], import_kwh=values["import_kwh"][keep],
                   export_kwh=values["export_kwh"][keep])


def _iso(us: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))
            ).isoformat().replace("+00:00", "Z")
