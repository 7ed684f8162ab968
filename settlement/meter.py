"""Half-hourly meter data: validation that reports, versions that never overwrite.

A reading is (metering point, period start UTC, kWh import, kWh export, version).
Settlement money depends on these numbers, so nothing is ever silently dropped or
replaced: every row stays in :class:`MeterData` with a ``status`` saying whether it
counts, and :class:`ValidationReport` lists each problem row with its original row label.
A correction is a new row with a higher ``version``; the latest version of a
(point, period) wins when reading, older ones stay as ``superseded`` for audit.

The checks are vectorised over integer keys (point code x half-hour index) so that a
month of 10,000 points (14.4 M rows) validates in seconds.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .periods import HALF_HOUR_NS, LONDON, SettlementPeriodError, day_table

__all__ = ["DEFAULT_MAX_KWH", "STATUSES", "MeterData", "MeterGrid", "ValidationReport"]

# Status of each row.  Only "ok" rows are read by the engine.
STATUSES = ["ok", "superseded", "duplicate", "conflict", "negative", "implausible",
            "missing_value", "misaligned"]
_S = {name: i for i, name in enumerate(STATUSES)}
# 100 MW for half an hour: far beyond any distribution-connected flexible asset.
DEFAULT_MAX_KWH = 50_000.0
_REQUIRED = ("mpan", "start", "import_kwh", "export_kwh")


@dataclass(frozen=True)
class ValidationReport:
    """What validation found.  ``issues`` has one row per problem reading, with
    ``row`` = the label of that row in the frame given; ``gaps`` has one row per
    (point, period) with no usable reading inside the window."""

    issues: pd.DataFrame
    gaps: pd.DataFrame
    superseded: int
    rows: int

    @property
    def ok(self) -> bool:
        return self.issues.empty and self.gaps.empty

    def counts(self) -> dict[str, int]:
        c = self.issues["issue"].value_counts().to_dict() if len(self.issues) else {}
        c = {k: int(v) for k, v in c.items()}
        c["gap"] = len(self.gaps)
        c["superseded"] = self.superseded
        return c


@dataclass(frozen=True)
class MeterGrid:
    """Dense readings: ``import_kwh[p, t]`` for point p and half hour t of the window.

    ``t`` counts elapsed half hours from the first day's local midnight, so clock-change
    days simply have 46 or 50 entries; ``offsets[d]`` is the first t of day d.  NaN
    means no usable reading.
    """

    points: pd.Index
    days: np.ndarray  # datetime64[D], one per settlement day
    starts_ns: np.ndarray  # UTC ns of each day's start, plus one end bound
    import_kwh: np.ndarray
    export_kwh: np.ndarray
    offsets: np.ndarray = field(init=False)

    def __post_init__(self):
        n = (self.starts_ns[1:] - self.starts_ns[:-1]) // HALF_HOUR_NS
        object.__setattr__(self, "offsets", np.concatenate([[0], np.cumsum(n)]).astype(np.int64))

    @property
    def n_periods(self) -> np.ndarray:
        return np.diff(self.offsets)

    def measure(self, name: str) -> np.ndarray:
        """'import', 'export' or 'net' (import - export) kWh, shape (points, T)."""
        if name == "import":
            return self.import_kwh
        if name == "export":
            return self.export_kwh
        if name == "net":
            return self.import_kwh - self.export_kwh
        raise ValueError(f"measure must be import, export or net, not {name!r}")

    def day_index(self, dates) -> np.ndarray:
        d = np.asarray(dates, dtype="datetime64[D]")
        i = (d - self.days[0]).astype(np.int64)
        if ((i < 0) | (i >= len(self.days))).any():
            raise KeyError("date outside the grid's window")
        return i

    def point_index(self, mpans) -> np.ndarray:
        i = self.points.get_indexer(pd.Index(mpans))
        if (i < 0).any():
            missing = pd.Index(mpans)[i < 0][:5].tolist()
            raise KeyError(f"metering points not in grid: {missing}")
        return i

    def timeline_index(self, ns: np.ndarray) -> np.ndarray:
        """Half-hour index t of UTC ns instants (must be period starts in the window)."""
        t = (np.asarray(ns, dtype=np.int64) - self.starts_ns[0]) // HALF_HOUR_NS
        if ((t < 0) | (t >= self.offsets[-1])).any():
            raise KeyError("instant outside the grid's window")
        return t


def _codes(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(np.int64), pd.Index(col.cat.categories)
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.int64), pd.Index(uniques)


class MeterData:
    """All readings ever received, each with a version and a status."""

    def __init__(self, frame: pd.DataFrame, *, window: tuple[date, date],
                 max_kwh: float | Mapping[str, float] = DEFAULT_MAX_KWH):
        self.frame = frame
        self.window = window
        self.max_kwh = max_kwh

    # ------------------------------------------------------------------ build
    @classmethod
    def validate(cls, frame: pd.DataFrame, *, window: tuple[date, date] | None = None,
                 max_kwh: float | Mapping[str, float] = DEFAULT_MAX_KWH
                 ) -> tuple[MeterData, ValidationReport]:
        """Check readings and return them with a status column plus a report.

        ``window`` = (first, last) settlement dates for the gap check; default is the
        settlement days the data touch.  ``max_kwh`` is the implausibility limit per
        half hour, one number or per metering point.
        """
        missing = [c for c in _REQUIRED if c not in frame.columns]
        if missing:
            raise ValueError(f"meter frame lacks columns {missing}")
        start = frame["start"]
        if not isinstance(start.dtype, pd.DatetimeTZDtype):
            raise SettlementPeriodError("'start' must be timezone-aware (UTC) timestamps")
        n = len(frame)
        ns = start.dt.tz_convert("UTC").dt.as_unit("ns").array.asi8
        imp = frame["import_kwh"].to_numpy(np.float64)
        exp = frame["export_kwh"].to_numpy(np.float64)
        ver = (frame["version"].to_numpy(np.int64) if "version" in frame.columns
               else np.ones(n, dtype=np.int64))
        codes, points = _codes(frame["mpan"])

        if window is None:
            if n == 0:
                raise ValueError("empty meter frame and no window")
            lo = pd.Timestamp(ns.min(), tz="UTC").tz_convert(LONDON).date()
            hi = pd.Timestamp(ns.max(), tz="UTC").tz_convert(LONDON).date()
            window = (lo, hi)
        # Day table covering the data and the window, for alignment and gap checks.
        lo = min(window[0], pd.Timestamp(ns.min(), tz="UTC").tz_convert(LONDON).date()) if n else window[0]
        hi = max(window[1], pd.Timestamp(ns.max(), tz="UTC").tz_convert(LONDON).date()) if n else window[1]
        _, starts = day_table(lo - timedelta(days=1), hi + timedelta(days=1))
        t0 = starts[0]

        status = np.zeros(n, dtype=np.int8)
        nat = ns == np.iinfo(np.int64).min
        misaligned = nat | ((ns - t0) % HALF_HOUR_NS != 0)
        status[misaligned] = _S["misaligned"]
        missing_val = ~misaligned & (np.isnan(imp) | np.isnan(exp))
        status[missing_val] = _S["missing_value"]

        t = np.where(misaligned, -1, (ns - t0) // HALF_HOUR_NS)
        key = codes * (int(t.max(initial=0)) + 2) + (t + 1)
        keyed = ~misaligned
        # Fast path: data arrive sorted by point then time with one version each.
        if n > 1 and keyed.all() and bool(np.all(key[1:] > key[:-1])):
            multi = np.zeros(n, dtype=bool)
        else:
            k = np.where(keyed, key, -1)
            order = np.lexsort((ver, k))
            ks = k[order]
            same_next = np.zeros(n, dtype=bool)
            same_next[:-1] = ks[1:] == ks[:-1]
            in_group = same_next.copy()
            in_group[1:] |= same_next[:-1]
            multi = np.zeros(n, dtype=bool)
            multi[order] = in_group & (ks >= 0)
        if multi.any():
            sub = pd.DataFrame({"k": key[multi], "v": ver[multi], "i": imp[multi],
                                "e": exp[multi], "pos": np.nonzero(multi)[0],
                                "bad": status[multi] != 0})
            vmax = sub.groupby("k")["v"].transform("max")
            sup = sub["v"] < vmax
            status[sub.loc[sup, "pos"].to_numpy()] = _S["superseded"]
            top = sub[~sup]
            g = top.groupby("k")
            size = g["v"].transform("size")
            same = ((g["i"].transform("nunique", dropna=False) == 1)
                    & (g["e"].transform("nunique", dropna=False) == 1))
            conflict = (size > 1) & ~same
            status[top.loc[conflict, "pos"].to_numpy()] = _S["conflict"]
            dup = (size > 1) & same & g.cumcount().gt(0)
            status[top.loc[dup, "pos"].to_numpy()] = _S["duplicate"]

        ok = status == 0
        neg = ok & ((imp < 0) | (exp < 0))
        status[neg] = _S["negative"]
        if isinstance(max_kwh, Mapping):
            lim = pd.Series(max_kwh, dtype=np.float64).reindex(points).fillna(DEFAULT_MAX_KWH).to_numpy()[codes]
        else:
            lim = float(max_kwh)
        impl = (status == 0) & ((imp > lim) | (exp > lim))
        status[impl] = _S["implausible"]

        out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed
        out["version"] = ver
        out["status"] = pd.Categorical.from_codes(status, categories=STATUSES)
        data = cls(out, window=window, max_kwh=max_kwh)
        bad = np.nonzero((status != 0) & (status != _S["superseded"]))[0]
        issues = pd.DataFrame({
            "row": frame.index[bad],
            "mpan": np.asarray(frame["mpan"].iloc[bad], dtype=object),
            "start": start.array[bad],
            "version": ver[bad],
            "issue": np.asarray(STATUSES, dtype=object)[status[bad]],
            "import_kwh": imp[bad], "export_kwh": exp[bad],
        })
        gaps = data._gaps(codes, points, t, status == 0, starts)
        report = ValidationReport(issues=issues, gaps=gaps,
                                  superseded=int((status == _S["superseded"]).sum()), rows=n)
        return data, report

    def _gaps(self, codes, points, t, ok, starts) -> pd.DataFrame:
        first, last = self.window
        t_lo = int((day_table(first, first)[1][0] - starts[0]) // HALF_HOUR_NS)
        t_hi = int((day_table(last, last)[1][1] - starts[0]) // HALF_HOUR_NS)
        width = t_hi - t_lo
        present = np.zeros((len(points), width), dtype=bool)
        sel = ok & (t >= t_lo) & (t < t_hi)
        present[codes[sel], t[sel] - t_lo] = True
        p, tt = np.nonzero(~present)
        gap_ns = starts[0] + (tt + t_lo).astype(np.int64) * HALF_HOUR_NS
        return pd.DataFrame({"mpan": points.to_numpy()[p],
                             "start": pd.DatetimeIndex(gap_ns, tz="UTC")})

    # ------------------------------------------------------------------ read
    def latest(self) -> pd.DataFrame:
        """Usable readings: latest version of each (point, period), status ok."""
        return self.frame[self.frame["status"] == "ok"]

    def correct(self, corrections: pd.DataFrame) -> tuple[MeterData, ValidationReport]:
        """Append corrected readings as new versions and revalidate.

        Each correction gets version = 1 + the highest version already held for its
        (point, period), unless it carries its own ``version``.  The old rows stay.
        """
        corr = corrections.copy()
        if "version" not in corr.columns:
            old = self.frame[["mpan", "start", "version"]]
            vmax = old.groupby(["mpan", "start"], observed=True)["version"].max()
            key = pd.MultiIndex.from_frame(corr[["mpan", "start"]])
            corr["version"] = vmax.reindex(key).fillna(0).to_numpy(np.int64) + 1
        base = self.frame.drop(columns=["status"])
        allrows = pd.concat([base, corr[base.columns.intersection(corr.columns)]],
                            ignore_index=True)
        for col in ("mpan",):
            if isinstance(base[col].dtype, pd.CategoricalDtype):
                allrows[col] = allrows[col].astype(str)
        return MeterData.validate(allrows, window=self.window, max_kwh=self.max_kwh)

    def to_grid(self, first: date | None = None, last: date | None = None,
                points=None) -> MeterGrid:
        """Dense (point x half hour) arrays of usable readings for days first..last."""
        first = first or self.window[0]
        last = last or self.window[1]
        days, starts = day_table(first, last)
        good = self.latest()
        codes, pts = _codes(good["mpan"])
        if points is not None:
            want = pd.Index(points)
            remap = want.get_indexer(pts)
            codes = remap[codes]
            pts = want
        ns = good["start"].dt.tz_convert("UTC").dt.as_unit("ns").array.asi8
        t = (ns - starts[0]) // HALF_HOUR_NS
        T = int((starts[-1] - starts[0]) // HALF_HOUR_NS)
        sel = (t >= 0) & (t < T) & (codes >= 0)
        imp = np.full((len(pts), T), np.nan)
        exp = np.full((len(pts), T), np.nan)
        imp[codes[sel], t[sel]] = good["import_kwh"].to_numpy(np.float64)[sel]
        exp[codes[sel], t[sel]] = good["export_kwh"].to_numpy(np.float64)[sel]
        return MeterGrid(points=pts, days=days, starts_ns=starts, import_kwh=imp, export_kwh=exp)
