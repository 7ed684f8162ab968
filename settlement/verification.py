"""Verification: how much of each instructed change was delivered, period by period.

For each instructed period: delivered = baseline - metered for a turn-down (less
import, or less export) and metered - baseline for a turn-up (more export, or more
import).  The paid part is delivered capped to [0, ordered]; the shortfall is the
deficiency.  These are the columns of USEF's FlexSettlement per-ISP statement
(baseline, ordered, actual, delivered, deficiency), here per settlement period, in MW
average over the half hour (MWh = MW x 0.5).

Missing meter data or a missing baseline never counts as delivery: the period is
marked and its paid volume is zero, so the FSP is never paid for what nobody measured.

One meter has one response per half hour, so it is paid once, whatever the number of
instructions.  An instruction id given twice is refused (a silent merge would hide a
double send upstream).  Instructions that overlap on a (meter, period) must agree on
direction, measure and product (hence on the baseline), otherwise they contradict each
other and are refused; when they agree they SHARE that period: the paid volume is the
delivery capped at their combined order, split pro rata to each one's ordered MW.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .baselines import BaselineContext, BaselineMethod, ProductBaselines, Targets
from .calendar import GBCalendar
from .meter import MeterGrid
from .periods import HALF_HOUR_NS, NAT_NS, utc_ns

__all__ = ["DIRECTIONS", "INSTRUCTION_COLUMNS", "MEASURES", "PERIOD_STATUSES",
           "InstructionError", "Verification", "verify"]

DIRECTIONS = {"turn_down": 1.0, "turn_up": -1.0}
MEASURES = ("import", "export", "net")
INSTRUCTION_COLUMNS = ["instruction_id", "mpan", "start", "end", "mw", "direction",
                       "product", "contract_id", "fsp", "mo"]
KWH_PER_MW_PERIOD = 500.0  # 1 MW for half an hour
# Per instruction-period; all but ok and partial_window are paid nothing.
PERIOD_STATUSES = ("ok", "partial_window", "missing_meter", "missing_window", "missing_baseline")
_UNPAID = ("missing_meter", "missing_window", "missing_baseline")


class InstructionError(ValueError):
    """Instructions the engine refuses.  ``problems`` lists every one found as
    ``{"instruction_id", "field", "message"}``, for a 4xx answer naming each field."""

    def __init__(self, problems: list[dict]):
        self.problems = problems
        head = "; ".join(f"instruction {p['instruction_id']!r}: {p['field']}: {p['message']}"
                         for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} instruction problem(s): {head}{more}")


@dataclass
class Verification:
    """``periods``: one row per instructed period (the USEF-style statement);
    ``instructions``: one row per instruction with its performance ratio;
    ``contracts``: performance ratio per contract over the instructions given."""

    periods: pd.DataFrame
    instructions: pd.DataFrame
    contracts: pd.DataFrame


def _check(grid: MeterGrid, ins: pd.DataFrame) -> tuple:
    """Validate instructions, collecting every problem; returns the parsed arrays."""
    problems: list[dict] = []
    ids = ins["instruction_id"].to_numpy(dtype=object)

    def bad(mask, field, message):
        for i in np.nonzero(mask)[0][:1000]:
            problems.append({"instruction_id": ids[i], "field": field,
                             "message": message(i) if callable(message) else message})

    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    bad(dup, "instruction_id", "given more than once: each instruction is settled once; "
                               "send it once (or give the overlap its own id)")
    s_ns = utc_ns(ins["start"], "start", allow_nat=True)
    e_ns = utc_ns(ins["end"], "end", allow_nat=True)
    bad(s_ns == NAT_NS, "start", "missing (NaT)")
    bad(e_ns == NAT_NS, "end", "missing (NaT)")
    known = (s_ns != NAT_NS) & (e_ns != NAT_NS)
    g0 = int(grid.starts_ns[0])
    bad(known & ((s_ns - g0) % HALF_HOUR_NS != 0), "start", "not a settlement period start")
    bad(known & ((e_ns - g0) % HALF_HOUR_NS != 0), "end", "not a settlement period boundary")
    bad(known & (e_ns <= s_ns), "end", "must be after start (end is exclusive)")
    grid_end = g0 + int(grid.offsets[-1]) * HALF_HOUR_NS
    bad(known & ((s_ns < g0) | (e_ns > grid_end)), "start",
        "outside the meter data's window: load the readings it needs")
    direction = ins["direction"].to_numpy(dtype=object)
    bad(~np.isin(direction, list(DIRECTIONS)), "direction",
        lambda i: f"must be turn_down or turn_up, not {direction[i]!r}")
    mw = pd.to_numeric(ins["mw"], errors="coerce").to_numpy(np.float64)
    bad(~(mw > 0), "mw", lambda i: f"must be a positive number of MW, not {ins['mw'].iloc[i]!r}")
    measure = (ins["measure"].to_numpy(dtype=object) if "measure" in ins.columns
               else np.full(len(ins), "import", dtype=object))
    bad(~np.isin(measure, MEASURES), "measure",
        lambda i: f"must be import, export or net, not {measure[i]!r}")
    p = grid.points.get_indexer(pd.Index(ins["mpan"]))
    bad(p < 0, "mpan", lambda i: f"{ins['mpan'].iloc[i]!r} has no meter data in this run")
    if problems:
        raise InstructionError(problems)
    return s_ns, e_ns, direction, mw, measure, p


def _overlaps(key, row_ins, ids, direction, measure, product) -> tuple[np.ndarray, np.ndarray]:
    """Per expanded row: the number of instructions on its (meter, period) and the
    group id; refuses contradictory overlaps."""
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    n_on = cnt[inv]
    multi = n_on > 1
    if multi.any():
        rows = np.nonzero(multi)[0]
        f = pd.DataFrame({"g": inv[rows], "i": row_ins[rows]})
        for col, vals in (("direction", direction), ("measure", measure), ("product", product)):
            f[col] = vals[row_ins[rows]]
        n_kinds = f.groupby("g")[["direction", "measure", "product"]].nunique()
        clash = n_kinds[(n_kinds > 1).any(axis=1)].index
        if len(clash):
            problems = []
            for _g, grp in f[f["g"].isin(clash)].groupby("g", sort=True):
                these = sorted({ids[i] for i in grp["i"]}, key=str)
                fields = [c for c in ("direction", "measure", "product") if grp[c].nunique() > 1]
                for i in these[1:]:
                    problems.append({"instruction_id": i, "field": fields[0], "message":
                                     f"overlaps instruction {these[0]!r} on the same meter and "
                                     f"period with a different {', '.join(fields)}: one meter has "
                                     "one response per period; resolve the conflict first"})
            uniq = list({(p['instruction_id'], p['message']): p for p in problems}.values())
            raise InstructionError(uniq)
    return n_on, inv


def verify(grid: MeterGrid, instructions: pd.DataFrame,
           baselines: ProductBaselines | BaselineMethod,
           calendar: GBCalendar | None = None, timings: dict | None = None,
           past_events: pd.DataFrame | None = None) -> Verification:
    """Verify every instructed period against its product's baseline.

    ``instructions`` needs the columns of :data:`INSTRUCTION_COLUMNS` (``start``/``end``
    UTC period boundaries, ``end`` exclusive; ``mw`` > 0 the instructed change) and may
    carry ``measure`` (import / export / net; default import).  Every point-day with an
    instruction is an event day, excluded from all like-day histories, as is every
    (mpan, settlement_date) row of ``past_events`` (events settled earlier, still in the
    history; rows for meters or days outside the grid are irrelevant and ignored).
    Raises :class:`InstructionError` listing every bad, repeated or contradictory
    instruction.  If ``timings`` is given, seconds spent computing baselines are added
    under ``"baselines"``.
    """
    missing = [c for c in INSTRUCTION_COLUMNS if c not in instructions.columns]
    if missing:
        raise ValueError(f"instructions lack columns {missing}")
    if isinstance(baselines, BaselineMethod):
        baselines = ProductBaselines({}, default=baselines)
    calendar = calendar or GBCalendar()
    ins = instructions.reset_index(drop=True)
    n_ins = len(ins)
    s_ns, e_ns, direction, mw, measure, p_ins = _check(grid, ins)
    n_per = (e_ns - s_ns) // HALF_HOUR_NS
    ids = ins["instruction_id"].to_numpy(dtype=object)
    product = ins["product"].to_numpy(dtype=object)

    # --- expand instructions to periods (vectorised)
    row_ins = np.repeat(np.arange(n_ins), n_per)
    within = np.arange(len(row_ins)) - np.repeat(np.cumsum(n_per) - n_per, n_per)
    t_start = grid.timeline_index(s_ns) if n_ins else np.zeros(0, dtype=np.int64)
    t = t_start[row_ins] + within
    p = p_ins[row_ins]
    T = int(grid.offsets[-1])
    key = p * T + t
    n_on, group = _overlaps(key, row_ins, ids, direction, measure, product)
    d = np.searchsorted(grid.offsets, t, side="right") - 1
    j = t - grid.offsets[d]
    P, D = grid.import_kwh.shape[0], len(grid.days)
    event_days = np.zeros((P, D), dtype=bool)
    event_days[p, d] = True
    if past_events is not None and len(past_events):
        pe_p = grid.points.get_indexer(pd.Index(past_events["mpan"]))
        pe_d = (np.asarray(past_events["settlement_date"], dtype="datetime64[D]")
                - grid.days[0]).astype(np.int64)
        keep = (pe_p >= 0) & (pe_d >= 0) & (pe_d < D)
        event_days[pe_p[keep], pe_d[keep]] = True
    # Start of the first instruction touching each point-day (the in-day window is set
    # by when the event began, which is on the day before for one run past midnight).
    first_t_pd = np.full(P * D, np.iinfo(np.int64).max)
    np.minimum.at(first_t_pd, p * D + d, t_start[row_ins])
    day_types = calendar.day_types(grid.days)
    instructed = np.unique(key)

    # --- baselines, grouped by (product, measure): few groups, each vectorised
    rows_n = len(t)
    baseline = np.full(rows_n, np.nan)
    metered = np.full(rows_n, np.nan)
    b_status = np.full(rows_n, "ok", dtype=object)
    b_days = np.full(rows_n, -1, dtype=np.int64)
    b_adj = np.zeros(rows_n)
    b_window = np.full(rows_n, -1, dtype=np.int64)
    row_measure = measure[row_ins]
    contexts: dict[str, BaselineContext] = {}
    groups = pd.DataFrame({"product": product[row_ins], "measure": row_measure}).groupby(
        ["product", "measure"], sort=True).indices
    slot_table = None
    for (prod, meas), rows in groups.items():
        if meas not in contexts:
            contexts[meas] = BaselineContext(grid, meas, day_types, event_days, instructed)
        ctx = contexts[meas]
        if slot_table is None:
            slot_table = ctx.period_slot_table()
        method = baselines.for_product(prod)
        pd_key = p[rows] * D + d[rows]
        uk, inv = np.unique(pd_key, return_inverse=True)
        rank = np.zeros((len(uk), 48), dtype=bool)
        rank[inv, slot_table[d[rows], j[rows]]] = True
        t0 = time.perf_counter()
        res = method.compute(ctx, Targets(uk // D, uk % D, first_t_pd[uk], rank))
        if timings is not None:
            timings["baselines"] = timings.get("baselines", 0.0) + time.perf_counter() - t0
        baseline[rows] = res.kwh[inv, j[rows]]
        metered[rows] = ctx.values[p[rows], t[rows]]
        b_status[rows] = res.status[inv]
        b_days[rows] = res.days_used[inv]
        b_adj[rows] = res.adjustment_kwh[inv]
        b_window[rows] = res.window_readings[inv]

    sign = np.where(direction == "turn_down", 1.0, -1.0)[row_ins]
    delivered_meter = sign * (baseline - metered) / KWH_PER_MW_PERIOD  # MW, the meter's response
    ordered = mw[row_ins]
    status = np.where(np.isnan(metered), "missing_meter",
                      np.where(~np.isnan(baseline), np.where(b_status == "partial_window",
                                                             "partial_window", "ok"),
                               np.where(b_status == "missing_window", "missing_window",
                                        "missing_baseline"))).astype(object)
    # Shared periods: the combined order caps the meter's delivery, split pro rata.
    combined = np.bincount(group, ordered)[group] if rows_n else ordered
    share = ordered / combined
    paid = np.clip(np.nan_to_num(delivered_meter, nan=0.0), 0.0, combined) * share
    delivered = delivered_meter * share
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
    periods["performance"] = paid / ordered
    periods["status"] = status
    periods["shared_with"] = n_on - 1
    periods["reading_version"] = grid.version[p, t].astype(np.int64)
    periods["baseline_days"] = b_days
    periods["adjustment_kwh"] = b_adj
    periods["window_readings"] = b_window

    # --- per instruction
    ordered_mwh = mw * n_per * 0.5
    paid_mwh = np.bincount(row_ins, paid * 0.5, minlength=n_ins)
    delivered_mwh = np.bincount(row_ins, np.nan_to_num(delivered) * 0.5, minlength=n_ins)
    unpaid = np.isin(status, _UNPAID)
    missing_n = np.bincount(row_ins, unpaid, minlength=n_ins).astype(np.int64)
    partial_n = np.bincount(row_ins, status == "partial_window", minlength=n_ins).astype(np.int64)
    shared_n = np.bincount(row_ins, n_on > 1, minlength=n_ins).astype(np.int64)
    first_day = grid.days[d[np.cumsum(n_per) - n_per]] if n_ins else np.array([], "datetime64[D]")
    per_ins = meta.copy()
    per_ins["measure"] = measure
    per_ins["settlement_date"] = first_day
    per_ins["periods"] = n_per
    per_ins["ordered_mwh"] = ordered_mwh
    per_ins["delivered_mwh"] = delivered_mwh
    per_ins["paid_mwh"] = paid_mwh
    per_ins["deficiency_mwh"] = ordered_mwh - paid_mwh
    per_ins["ratio"] = paid_mwh / ordered_mwh
    per_ins["missing_periods"] = missing_n
    per_ins["partial_window_periods"] = partial_n
    per_ins["shared_periods"] = shared_n
    per_ins["status"] = np.where(missing_n > 0, "missing_data",
                                 np.where(partial_n > 0, "partial_window", "ok"))

    # --- per contract
    by = per_ins.groupby(["contract_id", "fsp", "mo"], sort=True, observed=True)
    c = by[["ordered_mwh", "paid_mwh"]].sum().reset_index()
    c["ratio"] = c["paid_mwh"] / c["ordered_mwh"]
    c["instructions"] = by.size().to_numpy()
    return Verification(periods=periods, instructions=per_ins, contracts=c)
