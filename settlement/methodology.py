"""Baseline methodology as versioned data: what a product stores, the platform manages.

A :class:`Methodology` is ``kind`` + ``params`` + ``version``: the product's baseline rule
in plain JSON, which the platform keeps per product under change management (a new
version, never an edit) and records with every settlement run.  ``from_dict`` checks
every field and raises one :class:`~settlement.schema.DataError` listing them all;
``to_dict`` gives the normalised form (defaults filled in, decimals as strings), so two
equal methodologies have equal dicts.  :func:`lookback` says how much history a
methodology reads, so the platform loads readings only as far back as that.

Per-meter data is not methodology: device counts (ReferenceProfile) and capacities
(AssetCapacity) come with the meters, nominations with the FSP's submissions
(:meth:`Methodology.method`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal

import pandas as pd

from .baselines import (
    ADJUSTMENTS,
    BL01,
    SELECTORS,
    SLOTS,
    AssetCapacity,
    BaselineMethod,
    Nominated,
    ReferenceProfile,
    XofY,
    Zero,
)
from .schema import DataError, Fields

__all__ = ["KINDS", "Methodology", "history_start", "lookback"]

KINDS = ("BL01", "XofY", "Nominated", "ReferenceProfile", "Zero", "AssetCapacity")


def _like_days(f: Fields, kind: str) -> dict:
    """Parameters shared by the like-day methods (BL01, XofY), with their checks."""
    p = {"y": f.integer("y", 10, lo=1, hi=60),
         "non_working_y": f.integer("non_working_y", None, lo=1, hi=60),
         "lookback_days": f.integer("lookback_days", 60, lo=1, hi=366),
         "min_days": f.integer("min_days", 1, lo=1, hi=60),
         "min_coverage": f.decimal("min_coverage", "1", lo=0, hi=1, places=6)}
    if kind == "XofY":
        p["x"] = f.integer("x", None, lo=1, hi=60)
        p["non_working_x"] = f.integer("non_working_x", None, lo=1, hi=60)
        p["selector"] = f.choice("selector", SELECTORS, "all")
        if p["selector"] == "all":  # all Y days: X is Y by definition
            p["x"], p["non_working_x"] = p["y"], p["non_working_y"]
        elif p["x"] is None and f.data.get("x") is None:
            f.error("x", f"is required with selector {p['selector']!r}")
    y, nwy, lb = p["y"], p["non_working_y"], p["lookback_days"]
    if y and lb and y > lb:
        f.error("y", f"{y} like days cannot be found within lookback_days = {lb}")
    if nwy and lb and nwy > lb:
        f.error("non_working_y", f"{nwy} like days cannot be found within lookback_days = {lb}")
    if p["min_days"] and y and p["min_days"] > min(y, nwy or y):
        f.error("min_days", "cannot exceed the number of like days (y, non_working_y)")
    if kind == "XofY":
        for x, yy, name in ((p.get("x"), y, "x"), (p.get("non_working_x"), nwy or y, "non_working_x")):
            if x is not None and yy is not None and x > yy:
                f.error(name, f"X = {x} cannot exceed Y = {yy}")
    return p


def _profile(f: Fields):
    raw = f.value("profile_kwh")
    if raw is None:
        return None

    def one(values, path):
        if not isinstance(values, list) or len(values) != SLOTS:
            f.errors.append((path, f"must be a list of {SLOTS} half-hourly kWh values"))
            return None
        sub = Fields(dict(enumerate(values)), path, f.errors)
        vals = [sub.decimal(k, lo=0) for k in range(SLOTS)]
        return None if None in vals else [str(v) for v in vals]

    if isinstance(raw, Mapping):
        bad = set(raw) - {"working", "non_working"}
        for k in sorted(bad):
            f.error(f"profile_kwh.{k}", "is not a day type (working, non_working)")
        out = {k: one(raw.get(k), f.path(f"profile_kwh.{k}")) for k in ("working", "non_working")}
        return None if None in out.values() else out
    return one(raw, f.path("profile_kwh"))


def _params(kind: str, f: Fields) -> dict:
    if kind == "XofY":
        p = _like_days(f, kind)
    elif kind == "BL01":
        p = _like_days(f, kind)
        p["adjustment"] = f.choice("adjustment", ADJUSTMENTS, "symmetric")
        p["window_periods"] = f.integer("window_periods", 6, lo=1, hi=12)
        p["gap_periods"] = f.integer("gap_periods", 2, lo=0, hi=12)
        p["min_window_periods"] = f.integer("min_window_periods", None, lo=1, hi=12)
        w, mw = p["window_periods"], p["min_window_periods"]
        if w and mw and mw > w:
            f.error("min_window_periods", f"cannot exceed window_periods = {w}")
        if w and p["min_window_periods"] is None:
            p["min_window_periods"] = w
    elif kind == "Nominated":
        p = {"deadline_days_before": f.integer("deadline_days_before", 1, lo=0, hi=7),
             "deadline_time": f.clock_time("deadline_time", time(12, 0))}
        if p["deadline_time"] is not None:
            p["deadline_time"] = p["deadline_time"].isoformat(timespec="minutes")
        fb = f.value("fallback", {"kind": "BL01"})
        sub = Fields(fb, f.path("fallback"), f.errors)
        fkind = sub.choice("kind", [k for k in KINDS if k != "Nominated"])
        fparams = Fields(sub.value("params", {}), sub.path("params"), f.errors)
        sub.unknown()
        p["fallback"] = ({"kind": fkind, "params": _params(fkind, fparams)}
                         if fkind else None)
    elif kind == "ReferenceProfile":
        p = {"profile_kwh": _profile(f)}
    else:  # Zero, AssetCapacity: nothing but per-meter data
        p = {}
    f.unknown()
    return p


def _plain(v):
    """JSON-ready: decimals as strings, nested dicts too."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return str(v) if isinstance(v, Decimal) else v


@dataclass(frozen=True)
class Methodology:
    """A product's baseline methodology: ``kind`` (one of :data:`KINDS`), normalised
    ``params`` and the ``version`` the platform gave it."""

    kind: str
    version: int
    params: Mapping = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data) -> Methodology:
        """Validate ``{"kind", "version", "params"}``; raises :class:`DataError`
        listing every bad field (paths like ``params.y``)."""
        f = Fields(data)
        kind = f.choice("kind", KINDS)
        version = f.integer("version", lo=1)
        pf = Fields(f.value("params", {}), "params", f.errors)
        params = _params(kind, pf) if kind else {}
        f.unknown()
        if f.errors:
            raise DataError(f.errors, "baseline methodology")
        return cls(kind, version, {k: _plain(v) for k, v in params.items()})

    def to_dict(self) -> dict:
        return {"kind": self.kind, "version": self.version, "params": dict(self.params)}

    def method(self, meters: pd.DataFrame | None = None,
               nominations: pd.DataFrame | None = None) -> BaselineMethod:
        """The engine's baseline for this methodology.

        ``meters`` (mpan, devices, capacity_kw) gives per-meter data for ReferenceProfile
        and AssetCapacity; a meter without it has no baseline (its periods are marked
        ``missing_baseline``).  ``nominations`` (mpan, start, kwh, submitted_at) feed
        Nominated.
        """
        return _build(self.kind, dict(self.params), meters, nominations)


def _per_meter(meters, column) -> dict:
    if meters is None or column not in meters.columns:
        return {}
    s = meters.set_index("mpan")[column].dropna()
    return {k: float(v) for k, v in s.items()}


def _build(kind, p, meters, nominations) -> BaselineMethod:
    if kind in ("BL01", "XofY"):
        args = {k: v for k, v in p.items() if v is not None}
        args["min_coverage"] = float(Decimal(args["min_coverage"]))
        return (BL01 if kind == "BL01" else XofY)(**args)
    if kind == "Nominated":
        fb = p["fallback"]
        return Nominated(nominations, _build(fb["kind"], dict(fb["params"]), meters, None),
                         p["deadline_days_before"], time.fromisoformat(p["deadline_time"]))
    if kind == "ReferenceProfile":
        prof = p["profile_kwh"]
        prof = ({k: [float(Decimal(v)) for v in vals] for k, vals in prof.items()}
                if isinstance(prof, Mapping) else [float(Decimal(v)) for v in prof])
        return ReferenceProfile(prof, _per_meter(meters, "devices"))
    if kind == "AssetCapacity":
        return AssetCapacity(_per_meter(meters, "capacity_kw"))
    return Zero()


def lookback(m: Methodology) -> timedelta:
    """How far before the first settled day this methodology reads readings.

    Like-day methods read ``lookback_days`` of history (BL01's in-day window can reach
    back across midnight, at most one day, which that covers); Nominated reads what its
    fallback reads; ReferenceProfile, Zero and AssetCapacity read no history.
    """
    if m.kind in ("BL01", "XofY"):
        return timedelta(days=int(m.params["lookback_days"]))
    if m.kind == "Nominated":
        fb = m.params["fallback"]
        return lookback(Methodology(fb["kind"], m.version, fb["params"]))
    return timedelta(0)


def history_start(methodologies, first: date) -> date:
    """First settlement day to load readings from to settle days from ``first``."""
    days = [lookback(m) for m in methodologies]
    return first - max(days, default=timedelta(0))
