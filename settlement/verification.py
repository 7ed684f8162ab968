"""Verification: how much of each instructed change was delivered, period by period.

For each instructed period: delivered = baseline - metered for a turn-down (less
import, or less export) and metered - baseline for a turn-up (more export, or more
import).  The paid part is delivered capped to [0, ordered]; the shortfall is the
deficiency.  These are the columns of USEF's FlexSettlement per-ISP statement
(baseline, ordered, actual, delivered, deficiency), here per settlement period, in MW
average over the half hour (MWh = MW x 0.5).

Missing meter data or a missing baseline never counts as delivery: the period is
marked and its paid volume is zero, so the FSP is never paid for what nobody measured.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .baselines import BaselineContext, BaselineMethod, ProductBaselines, Targets
from .calendar import GBCalendar
from .meter import MeterGrid
from .periods import HALF_HOUR_NS, MAX_PERIODS, SettlementPeriodError

__all__ = ["DIRECTIONS", "INSTRUCTION_COLUMNS", "Verification", "verify"]

DIRECTIONS = {"turn_down": 1.0, "turn_up": -1.0}
INSTRUCTION_COLUMNS = ["instruction_id", "mpan", "start", "end", "mw", "direction",
                       "product", "contract_id", "fsp", "mo"]
KWH_PER_MW_PERIOD = 500.0  # 1 MW for half an hour


@dataclass
class Verification:
    """``periods``: one row per instructed period (the USEF-style statement);
    ``instructions``: one row per instruction with its performance ratio;
    ``contracts``: performance ratio per contract over the instructions given."""

    periods: pd.DataFrame
    instructions: pd.DataFrame
    contracts: pd.DataFrame


def _ns(col) -> np.ndarray:
    idx = pd.DatetimeIndex(col)
    if idx.tz is None:
        raise SettlementPeriodError("instruction times must be timezone-aware")
    return idx.tz_convert("UTC").as_unit("ns").asi8


def verify(grid: MeterGrid, instructions: pd.DataFrame,
           baselines: ProductBaselines | BaselineMethod,
           calendar: GBCalendar | None = None, timings: dict | None = None) -> Verification:
    """Verify every instructed period against its product's baseline.

    ``instructions`` needs the columns of :data:`INSTRUCTION_COLUMNS` (``start``/``end``
    UTC period boundaries, ``end`` exclusive; ``mw`` > 0 the instructed change) and may
    carry ``measure`` (import / export / net; default import).  Every point-day with an
    instruction is an event day, excluded from all like-day histories.  If ``timings``
    is given, seconds spent computing baselines are added under ``"baselines"``.
    """
    missing = [c for c in INSTRUCTION_COLUMNS if c not in instructions.columns]
    if missing:
        raise ValueError(f"instructions lack columns {missing}")
    if isinstance(baselines, BaselineMethod):
        baselines = ProductBaselines({}, default=baselines)
    calendar = calendar or GBCalendar()
    ins = instructions.reset_index(drop=True)
    n_ins = len(ins)
    s_ns, e_ns = _ns(ins["start"]), _ns(ins["end"])
    if ((s_ns - grid.starts_ns[0]) % HALF_HOUR_NS).any() or ((e_ns - s_ns) % HALF_HOUR_NS).any():
        raise SettlementPeriodError("instructions must start and end on period boundaries")
    n_per = (e_ns - s_ns) // HALF_HOUR_NS
    if (n_per <= 0).any():
        raise ValueError("an instruction must cover at least one period")
    direction = ins["direction"].to_numpy(dtype=object)
    bad_dir = ~np.isin(direction, list(DIRECTIONS))
    if bad_dir.any():
        raise ValueError(f"direction must be turn_down or turn_up, not {direction[bad_dir][0]!r}")
    mw = ins["mw"].to_numpy(np.float64)
    if (mw <= 0).any() or np.isnan(mw).any():
        raise ValueError("instructed mw must be positive")
    measure = (ins["measure"].to_numpy(dtype=object) if "measure" in ins.columns
               else np.full(n_ins, "import", dtype=object))

    # --- expand instructions to periods (vectorised)
    row_ins = np.repeat(np.arange(n_ins), n_per)
    within = np.arange(len(row_ins)) - np.repeat(np.cumsum(n_per) - n_per, n_per)
    t = grid.timeline_index(s_ns)[row_ins] + within
    if (t >= grid.offsets[-1]).any():
        raise KeyError("instruction runs past the grid's window")
    p_ins = grid.point_index(ins["mpan"])
    p = p_ins[row_ins]
    d = np.searchsorted(grid.offsets, t, side="right") - 1
    j = t - grid.offsets[d]
    P, D = grid.import_kwh.shape[0], len(grid.days)
    event_days = np.zeros((P, D), dtype=bool)
    event_days[p, d] = True
    # first instructed period of each point-day, across all products (in-day window)
    first_t_pd = np.full(P * D, np.iinfo(np.int64).max)
    np.minimum.at(first_t_pd, p * D + d, t)
    day_types = calendar.day_types(grid.days)

    # --- baselines, grouped by (product, measure): few groups, each vectorised
    baseline = np.full(len(t), np.nan)
    metered = np.full(len(t), np.nan)
    row_product = ins["product"].to_numpy(dtype=object)[row_ins]
    row_measure = measure[row_ins]
    contexts: dict[str, BaselineContext] = {}
    groups = pd.DataFrame({"product": row_product, "measure": row_measure}).groupby(
        ["product", "measure"], sort=True).indices
    slot_table = None
    for (product, meas), rows in groups.items():
        if meas not in contexts:
            contexts[meas] = BaselineContext(grid, meas, day_types, event_days)
        ctx = contexts[meas]
        if slot_table is None:
            slot_table = ctx.period_slot_table()
        method = baselines.for_product(product)
        key = p[rows] * D + d[rows]
        uk, inv = np.unique(key, return_inverse=True)
        tp, td = uk // D, uk % D
        rank = np.zeros((len(uk), 48), dtype=bool)
        rank[inv, slot_table[d[rows], j[rows]]] = True
        t0 = time.perf_counter()
        res = method.compute(ctx, Targets(tp, td, first_t_pd[uk], rank))
        if timings is not None:
            timings["baselines"] = timings.get("baselines", 0.0) + time.perf_counter() - t0
        baseline[rows] = res.kwh[inv, j[rows]]
        metered[rows] = ctx.values[p[rows], t[rows]]

    sign = np.vectorize(DIRECTIONS.get, otypes=[float])(direction)[row_ins] if n_ins else np.zeros(0)
    delivered = sign * (baseline - metered) / KWH_PER_MW_PERIOD  # MW
    ordered = mw[row_ins]
    status = np.where(np.isnan(metered), "missing_meter",
                      np.where(np.isnan(baseline), "missing_baseline", "ok"))
    paid = np.clip(np.nan_to_num(delivered, nan=0.0), 0.0, ordered)
    deficiency = ordered - paid

    starts = pd.DatetimeIndex(grid.starts_ns[0] + t * HALF_HOUR_NS, tz="UTC")
    meta = ins[["instruction_id", "contract_id", "fsp", "mo", "product", "mpan", "direction"]]
    periods = meta.iloc[row_ins].reset_index(drop=True)
    periods["measure"] = row_measure
    periods["start"] = starts
    periods["settlement_date"] = grid.days[d]
    periods["period"] = j + 1
    periods["baseline_mw"] = baseline / KWH_PER_MW_PERIOD
    periods["ordered_mw"] = ordered
    periods["actual_mw"] = metered / KWH_PER_MW_PERIOD
    periods["delivered_mw"] = delivered
    periods["paid_mw"] = paid
    periods["deficiency_mw"] = deficiency
    periods["status"] = status

    # --- per instruction
    ordered_mwh = mw * n_per * 0.5
    paid_mwh = np.bincount(row_ins, paid * 0.5, minlength=n_ins)
    delivered_mwh = np.bincount(row_ins, np.nan_to_num(delivered) * 0.5, minlength=n_ins)
    missing_n = np.bincount(row_ins, status != "ok", minlength=n_ins).astype(np.int64)
    first_day = grid.days[d[np.cumsum(n_per) - n_per]] if n_ins else np.array([], "datetime64[D]")
    per_ins = meta.copy()
    per_ins["settlement_date"] = first_day
    per_ins["periods"] = n_per
    per_ins["ordered_mwh"] = ordered_mwh
    per_ins["delivered_mwh"] = delivered_mwh
    per_ins["paid_mwh"] = paid_mwh
    per_ins["deficiency_mwh"] = ordered_mwh - paid_mwh
    per_ins["ratio"] = paid_mwh / ordered_mwh
    per_ins["missing_periods"] = missing_n
    per_ins["status"] = np.where(missing_n > 0, "missing_data", "ok")

    # --- per contract
    c = per_ins.groupby(["contract_id", "fsp", "mo"], sort=True, observed=True)[
        ["ordered_mwh", "paid_mwh"]].sum().reset_index()
    c["ratio"] = c["paid_mwh"] / c["ordered_mwh"]
    c["instructions"] = per_ins.groupby(["contract_id", "fsp", "mo"], sort=True,
                                        observed=True).size().to_numpy()
    assert MAX_PERIODS == 50
    return Verification(periods=periods, instructions=per_ins, contracts=c)
