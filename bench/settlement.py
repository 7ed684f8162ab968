"""Benchmark of the settlement engine at platform scale.

Default: 10,000 metering points x 30 days x 48 periods (14.4 M readings) of synthetic
but realistic half-hourly load (domestic double peak, commercial daytime plateau,
flat industrial; weekday/weekend shapes; per-point scale and noise; seeded), with
instructions on 10 % of asset-days in the evening peak and a varied response.
Stages: validation, grid, baselines (BL01 with symmetric in-day adjustment),
verification, payments (+ statements).  Prints seconds, peak RSS and readings/s per
stage, and the ratio of the heaviest stage to a pure-numpy floor doing the same core
arithmetic with no bookkeeping.

    .venv/bin/python bench/settlement.py [--points 10000] [--days 30] [--start 2024-11-01]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settlement import (
    BL01,
    GBCalendar,
    MeterData,
    PaymentRules,
    PenaltyTerms,
    ProductBaselines,
    availability_lines,
    build_statements,
    penalty_lines,
    utilisation_lines,
    verify,
)
from settlement.periods import HALF_HOUR_NS, day_table


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synth_readings(points: int, first: date, days: int, seed: int):
    """(frame, meta) of readings for points x days; instructions applied later."""
    rng = np.random.default_rng(seed)
    day_list, starts = day_table(first, first + timedelta(days=days - 1))
    n_per = ((starts[1:] - starts[:-1]) // HALF_HOUR_NS).astype(np.int64)
    T = int(n_per.sum())
    ns = starts[0] + np.arange(T, dtype=np.int64) * HALF_HOUR_NS
    local_hour = pd.DatetimeIndex(ns, tz="UTC").tz_convert("Europe/London")
    slot = np.asarray(local_hour.hour * 2 + local_hour.minute // 30)
    weekend = np.asarray(local_hour.day_of_week >= 5)
    h = np.arange(48) / 2.0
    domestic = 0.25 + 0.35 * np.exp(-((h - 8) ** 2) / 3) + 0.65 * np.exp(-((h - 18) ** 2) / 4)
    commercial = 0.3 + 0.9 / (1 + np.exp(-(h - 8) * 2)) / (1 + np.exp((h - 18) * 2))
    industrial = np.full(48, 0.9) + 0.1 * np.sin(h / 24 * 2 * np.pi)
    shapes = np.stack([domestic, commercial, industrial])
    wk_factor = np.array([1.1, 0.45, 0.8])
    cls = rng.integers(0, 3, points)
    scale = rng.lognormal(mean=np.log([1.0, 40.0, 400.0])[cls], sigma=0.5)  # kWh/half-hour peak
    load = np.empty((points, T), dtype=np.float64)
    for c in range(3):  # three classes, each vectorised over its points and all periods
        rows = np.nonzero(cls == c)[0]
        prof = shapes[c][slot] * np.where(weekend, wk_factor[c], 1.0)
        load[rows] = scale[rows, None] * prof[None, :]
    load *= rng.lognormal(0.0, 0.08, size=load.shape)
    return load, ns, day_list, n_per, cls, scale, rng


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 1))
    ap.add_argument("--seed", type=int, default=20240401)
    ap.add_argument("--share", type=float, default=0.10, help="share of asset-days instructed")
    a = ap.parse_args(argv)
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}

    t0 = time.perf_counter()
    load, ns, day_list, n_per, _cls, scale, rng = synth_readings(a.points, a.start, a.days, a.seed)
    P, T = load.shape
    D = len(day_list)
    offsets = np.concatenate([[0], np.cumsum(n_per)])
    # Instructions on `share` of asset-days, after the first week so BL01 has history,
    # 2-8 periods starting 16:00-19:00 local, MW = 30-80 % of typical load there.
    eligible_days = np.arange(min(7, D - 1), D)
    n_ins = round(a.share * P * D)
    pd_pairs = rng.choice(P * len(eligible_days), size=n_ins, replace=False)
    ip = pd_pairs // len(eligible_days)
    idd = eligible_days[pd_pairs % len(eligible_days)]
    length = rng.integers(2, 9, n_ins)
    start_j = 32 + rng.integers(0, 7, n_ins)  # period number - 1 on a 48-period day
    start_j = np.minimum(start_j, n_per[idd] - length)
    t_start = offsets[idd] + start_j
    typical = scale[ip] * 0.7
    mw = np.round(typical * rng.uniform(0.3, 0.8, n_ins) / 500.0, 4)  # kWh/period -> MW
    mw = np.maximum(mw, 0.0001)
    response = rng.choice([0.0, 0.4, 0.7, 1.0, 1.2], size=n_ins, p=[0.05, 0.1, 0.2, 0.5, 0.15])
    rows = np.repeat(np.arange(n_ins), length)
    tt = t_start[rows] + (np.arange(rows.size) - np.repeat(np.cumsum(length) - length, length))
    load[ip[rows], tt] = np.maximum(load[ip[rows], tt] - mw[rows] * 500.0 * response[rows], 0.0)

    mpans = pd.Index([f"{1000000000000 + 7919 * i:013d}" for i in range(P)])
    frame = pd.DataFrame({
        "mpan": pd.Categorical.from_codes(np.repeat(np.arange(P), T), categories=mpans),
        "start": pd.DatetimeIndex(np.tile(ns, P), tz="UTC"),
        "import_kwh": np.round(load.ravel(), 3),
        "export_kwh": np.zeros(P * T),
    })
    del load
    n_contracts = max(1, P // 20)
    contract_of_point = np.arange(P) % n_contracts
    cids = np.array([f"C{c:05d}" for c in range(n_contracts)], dtype=object)
    fsp_of_contract = np.array([f"FSP{c % 20:02d}" for c in range(n_contracts)], dtype=object)
    mo_of_contract = np.array([f"MO{c % 5}" for c in range(n_contracts)], dtype=object)
    ins = pd.DataFrame({
        "instruction_id": np.arange(n_ins),
        "mpan": mpans.to_numpy()[ip],
        "start": pd.DatetimeIndex(ns[t_start], tz="UTC"),
        "end": pd.DatetimeIndex(ns[t_start] + length * HALF_HOUR_NS, tz="UTC"),
        "mw": mw,
        "direction": "turn_down",
        "product": "sustain",
        "contract_id": cids[contract_of_point[ip]],
        "fsp": fsp_of_contract[contract_of_point[ip]],
        "mo": mo_of_contract[contract_of_point[ip]],
    })
    cmw = np.bincount(contract_of_point, scale * 0.4 / 500.0, minlength=n_contracts)
    contracts = pd.DataFrame({
        "contract_id": cids, "fsp": fsp_of_contract, "mo": mo_of_contract, "product": "sustain",
        "contracted_mw": np.round(cmw, 3),
        "availability_price": [Decimal("4.50")] * n_contracts,
        "utilisation_price": [Decimal(str(200 + c % 300)) for c in range(n_contracts)],
    })
    # Availability: a 16:00-20:00 local window per contract per working day.
    cal = GBCalendar()
    working = np.nonzero(cal.day_types(day_list) == 0)[0]
    wc = np.repeat(np.arange(n_contracts), len(working))
    wd = np.tile(working, n_contracts)
    w_start = ns[offsets[wd] + np.minimum(32, n_per[wd] - 8)]
    windows = pd.DataFrame({"contract_id": cids[wc], "start": pd.DatetimeIndex(w_start, tz="UTC"),
                            "end": pd.DatetimeIndex(w_start + 8 * HALF_HOUR_NS, tz="UTC")})
    drow = np.repeat(np.arange(len(wc)), 8)
    dns = w_start[drow] + np.tile(np.arange(8), len(wc)) * HALF_HOUR_NS
    avail = cmw[wc[drow]] * rng.choice([0.0, 0.5, 1.0], size=drow.size, p=[0.05, 0.1, 0.85])
    declarations = pd.DataFrame({"contract_id": cids[wc[drow]],
                                 "start": pd.DatetimeIndex(dns, tz="UTC"), "available_mw": avail})
    timings["generate (not counted)"] = time.perf_counter() - t0
    peaks["generate (not counted)"] = peak_mb()

    t = time.perf_counter()
    data, report = MeterData.validate(frame, window=(day_list[0].astype(object), day_list[-1].astype(object)))
    timings["validation"] = time.perf_counter() - t
    peaks["validation"] = peak_mb()

    t = time.perf_counter()
    grid = data.to_grid()
    timings["grid"] = time.perf_counter() - t
    peaks["grid"] = peak_mb()

    t = time.perf_counter()
    inner: dict[str, float] = {}
    baselines = ProductBaselines({"sustain": BL01(adjustment="symmetric")})
    ver = verify(grid, ins, baselines, cal, timings=inner)
    total = time.perf_counter() - t
    timings["baselines (BL01 + adj)"] = inner["baselines"]
    peaks["baselines (BL01 + adj)"] = peak_mb()
    timings["verification"] = total - inner["baselines"]
    peaks["verification"] = peak_mb()

    t = time.perf_counter()
    rules = PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("50"), apply_below_ratio=0.5))
    lines = [availability_lines(contracts, windows, declarations, rules),
             utilisation_lines(ver.instructions, contracts, rules),
             penalty_lines(ver.instructions, rules)]
    st = build_statements(*lines)
    timings["payments + statements"] = time.perf_counter() - t
    peaks["payments + statements"] = peak_mb()
    st.check()

    readings = len(frame)
    counted = {k: v for k, v in timings.items() if "not counted" not in k}
    print(f"settlement bench: {P:,} points x {D} days ({a.start} ..), {readings:,} readings, "
          f"{n_ins:,} instructions, {len(ver.periods):,} instructed periods, "
          f"{len(st.lines):,} invoice lines, {len(st.totals)} statements")
    print(f"validation report: {report.counts()}")
    print(f"{'stage':<26}{'rows':>14}{'seconds':>10}{'peak MB':>10}{'readings/s':>14}")
    stage_rows = {"generate (not counted)": readings, "validation": readings, "grid": readings,
                  "baselines (BL01 + adj)": len(ver.instructions),
                  "verification": len(ver.periods), "payments + statements": len(st.lines)}
    for k, v in timings.items():
        print(f"{k:<26}{stage_rows[k]:>14,}{v:>10.2f}{peaks[k]:>10.0f}{readings / v:>14,.0f}")
    tot = sum(counted.values())
    print(f"{'TOTAL (counted stages)':<26}{readings:>14,}{tot:>10.2f}{peak_mb():>10.0f}{readings / tot:>14,.0f}")
    print(f"net payable: {sum(st.totals['net'])} GBP; mean instruction ratio "
          f"{ver.instructions['ratio'].mean():.3f}")

    heaviest = max(counted, key=counted.get)
    floor = numpy_floor(heaviest, frame, grid, ins)
    if floor is not None:
        print(f"heaviest stage: {heaviest}: {counted[heaviest]:.2f} s vs pure-numpy floor "
              f"{floor:.2f} s -> ratio {counted[heaviest] / floor:.1f}x")
    ok = tot < 20 and peak_mb() < 4096
    print(f"target (< 20 s, < 4096 MB): {'met' if ok else 'NOT met'}")
    return 0


def numpy_floor(stage: str, frame: pd.DataFrame, grid, ins: pd.DataFrame) -> float | None:
    """The same core arithmetic as ``stage`` on bare arrays, no bookkeeping or reports."""
    if stage == "validation":
        codes = frame["mpan"].cat.codes.to_numpy(np.int64)
        ns = frame["start"].array.asi8
        imp = frame["import_kwh"].to_numpy()
        exp = frame["export_kwh"].to_numpy()
        t = time.perf_counter()
        t0 = ns.min()
        tt = (ns - t0) // HALF_HOUR_NS
        aligned = (ns - t0) % HALF_HOUR_NS == 0
        key = codes * (tt.max() + 2) + tt
        _sorted_unique = bool(np.all(key[1:] > key[:-1]))
        bad = np.isnan(imp) | np.isnan(exp) | (imp < 0) | (exp < 0) | (imp > 5e4) | (exp > 5e4)
        present = np.zeros((codes.max() + 1, tt.max() + 1), dtype=bool)
        present[codes[~bad & aligned], tt[~bad & aligned]] = True
        _gaps = np.count_nonzero(~present)
        return time.perf_counter() - t
    if stage.startswith("baselines"):
        v = grid.import_kwh
        P = v.shape[0]
        t = time.perf_counter()
        D = len(grid.days)
        if not (grid.n_periods == 48).all():
            return None
        cube = v.reshape(P, D, 48)
        p = grid.point_index(ins["mpan"])
        d = np.searchsorted(grid.offsets, grid.timeline_index(pd.DatetimeIndex(ins["start"]).asi8), "right") - 1
        hist = d[:, None] - np.arange(1, 11)[None, :]
        _b = cube[p[:, None], np.maximum(hist, 0)].mean(axis=1)
        return time.perf_counter() - t
    return None


if __name__ == "__main__":
    raise SystemExit(main())
