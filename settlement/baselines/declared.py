"""Baselines that are not like-day averages: a nominated profile (with a deadline and a
fallback), a reference profile x devices, zero, and the asset's capacity."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import ClassVar

import numpy as np
import pandas as pd

from ..calendar import WORKING
from ..periods import HALF_HOUR_NS, LONDON, MAX_PERIODS, to_settlement_periods, utc_ns
from .core import SLOTS, BaselineMethod, BaselineResult, _to_periods
from .likeday import BL01

__all__ = ["AssetCapacity", "Nominated", "ReferenceProfile", "Zero"]

@dataclass
class Nominated(BaselineMethod):
    """A profile the FSP declared before a deadline, else a fallback method.

    ``nominations``: rows (mpan, start UTC, kwh, submitted_at UTC).  A nomination counts
    if submitted at or before ``deadline_time`` local time ``deadline_days_before`` days
    before its settlement day; the latest such one per period wins.  A target day with
    any period lacking a timely nomination uses ``fallback`` for the whole day, so an
    FSP cannot mix nominated and historical periods to its advantage.
    """

    nominations: pd.DataFrame = field(repr=False, default=None)
    fallback: BaselineMethod = field(default_factory=lambda: BL01())
    deadline_days_before: int = 1
    deadline_time: time = time(12, 0)
    name: ClassVar[str] = "Nominated"

    def spec(self):
        return {"method": self.name, "fallback": self.fallback.spec(),
                "deadline_days_before": self.deadline_days_before,
                "deadline_time": self.deadline_time.isoformat()}

    def deadlines(self, days) -> pd.DatetimeIndex:
        """UTC deadline for nominations of each settlement day in ``days``.

        The deadline is ``deadline_time`` local time ``deadline_days_before`` days before.
        On the autumn clock change that wall time can happen twice (01:00-02:00): the
        deadline is its FIRST occurrence (BST), the earlier and stricter instant.  In the
        spring it can not happen at all: the deadline is the first instant after the gap
        (02:00 BST).  It is never NaT, so no nomination is rejected for a clock change.
        """
        d = np.asarray(days, dtype="datetime64[D]") - np.timedelta64(self.deadline_days_before, "D")
        local = pd.DatetimeIndex(d.astype("datetime64[ns]")) + pd.Timedelta(
            hours=self.deadline_time.hour, minutes=self.deadline_time.minute,
            seconds=self.deadline_time.second)
        return local.tz_localize(LONDON, ambiguous=np.ones(len(local), dtype=bool),
                                 nonexistent="shift_forward").tz_convert("UTC")

    def timely(self) -> pd.DataFrame:
        """Nominations that met their deadline, latest per (mpan, start)."""
        nom = self.nominations
        if nom is None or nom.empty:
            return pd.DataFrame(columns=["mpan", "start", "kwh"])
        d, _ = to_settlement_periods(pd.DatetimeIndex(utc_ns(nom["start"], "start"), tz="UTC"))
        deadline = self.deadlines(d).asi8
        sub = utc_ns(nom["submitted_at"], "submitted_at")
        ok = nom[sub <= deadline].assign(_sub=sub[sub <= deadline]).sort_values("_sub", kind="stable")
        return ok.drop_duplicates(["mpan", "start"], keep="last")[["mpan", "start", "kwh"]]

    def compute(self, ctx, targets):
        g = ctx.grid
        nom = self.timely()
        vals = np.full(g.import_kwh.shape, np.nan)
        if len(nom):
            pi = g.points.get_indexer(nom["mpan"])
            ns = utc_ns(nom["start"], "start")
            t = (ns - g.starts_ns[0]) // HALF_HOUR_NS
            sel = (pi >= 0) & (t >= 0) & (t < g.offsets[-1])
            vals[pi[sel], t[sel]] = nom["kwh"].to_numpy(np.float64)[sel]
        n = len(targets)
        j = np.arange(MAX_PERIODS)[None, :]
        npd = g.n_periods[targets.d][:, None]
        tt = np.minimum(g.offsets[targets.d][:, None] + j, g.offsets[-1] - 1)
        per = np.where(j < npd, vals[targets.p[:, None], tt], np.nan)
        complete = ~np.isnan(np.where(j < npd, per, 0.0)).any(axis=1)
        res = BaselineResult(per, np.full(n, -1), np.zeros(n), ~complete)
        if (~complete).any():
            fb = ~complete
            r = self.fallback.compute(ctx, targets.subset(fb))
            res.kwh[fb] = r.kwh
            res.days_used[fb] = r.days_used
            res.adjustment_kwh[fb] = r.adjustment_kwh
            res.status[fb] = r.status
            res.window_readings[fb] = r.window_readings
        return res


@dataclass
class ReferenceProfile(BaselineMethod):
    """A fixed per-device profile (kWh per half hour by clock slot) x device count.

    For domestic portfolios where each home is too noisy to baseline on its own
    history.  ``profile_kwh`` is 48 values, or a dict {"working": .., "non_working": ..};
    ``devices`` maps metering point -> number of devices behind it.
    """

    profile_kwh: object = None
    devices: Mapping[str, float] = field(default_factory=dict)
    name: ClassVar[str] = "ReferenceProfile"

    @classmethod
    def from_kw(cls, profile_kw, devices):
        """Build from average kW per half hour (kWh = kW x 0.5 h)."""
        if isinstance(profile_kw, Mapping):
            return cls({k: np.asarray(v, float) * 0.5 for k, v in profile_kw.items()}, devices)
        return cls(np.asarray(profile_kw, float) * 0.5, devices)

    def spec(self):
        return {"method": self.name, "devices": len(self.devices)}

    def compute(self, ctx, targets):
        prof = self.profile_kwh
        if isinstance(prof, Mapping):
            table = np.stack([np.asarray(prof["working"], float), np.asarray(prof["non_working"], float)])
        else:
            table = np.stack([np.asarray(prof, float)] * 2)
        if table.shape[1] != SLOTS:
            raise ValueError("a reference profile has 48 half-hour values")
        dt = ctx.day_types[targets.d]
        by_slot = table[np.where(dt == WORKING, 0, 1)]
        count = pd.Series(self.devices, dtype=float).reindex(ctx.grid.points[targets.p]).to_numpy()
        return self._plain(_to_periods(ctx, targets.d, by_slot * count[:, None]))


@dataclass
class Zero(BaselineMethod):
    """Baseline zero: delivery is the metered flow itself (e.g. a generator's export
    when instructed to turn up from standstill)."""

    name: ClassVar[str] = "Zero"

    def compute(self, ctx, targets):
        n = len(targets)
        return self._plain(_to_periods(ctx, targets.d, np.zeros((n, SLOTS))))


@dataclass
class AssetCapacity(BaselineMethod):
    """Baseline = the asset's registered capacity (kW x 0.5 h per period), e.g. for a
    generator curtailed from full output or a load switched off from full demand."""

    capacity_kw: Mapping[str, float] = field(default_factory=dict)
    name: ClassVar[str] = "AssetCapacity"

    def spec(self):
        return {"method": self.name, "points": len(self.capacity_kw)}

    def compute(self, ctx, targets):
        cap = pd.Series(self.capacity_kw, dtype=float).reindex(ctx.grid.points[targets.p]).to_numpy()
        return self._plain(_to_periods(ctx, targets.d, np.repeat((cap * 0.5)[:, None], SLOTS, 1)))
