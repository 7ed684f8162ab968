"""Benchmark of the settlement engine at GB scale, as shards by meter.

Each shard is ``--shard-meters`` metering points (default 5,000) x (``--days`` settled +
the baseline's lookback of history) x 48 half hours of synthetic but realistic
half-hourly load (domestic double peak with some PV export, commercial daytime plateau,
flat industrial; weekday/weekend shapes; per-point scale and noise), generated on the
fly from a seed and never kept.  Instructions turn down 10 % of the settled asset-days
in the evening peak with a varied response; 10 % of the history's asset-days are past
events (excluded from like days).  The product is BL01 with its defaults (10 like days,
60 days lookback, symmetric in-day adjustment) and SSEN tiers with a shortfall charge;
contracts of 20 meters have availability factors for 16:00-20:00 on working days.

For every shard it measures ``settle_shard`` (validation, grid, baselines,
verification, payment lines, version digests, canonical outputs) against a pure-numpy
FLOOR doing the same baseline and verification with no bookkeeping (see
:func:`numpy_floor`; its paid MWh per instruction is checked against the engine's), and
the peak memory of each (see :class:`Peak`).

    .venv/bin/python bench/settlement.py shard [--shard-meters 5000] [--repeat 3]
    .venv/bin/python bench/settlement.py gb [--meters 300000] [--shard-meters 5000]
"""
from __future__ import annotations

import argparse
import ctypes
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settlement.calendar import GBCalendar
from settlement.methodology import Methodology, lookback
from settlement.payments import SSEN_TIERS, PaymentRules, PenaltyTerms
from settlement.periods import HALF_HOUR_NS, clock_slots, day_table
from settlement.run import (
    ProductTerms,
    SettlementInputs,
    StatementPeriod,
    merge,
    settle_shard,
)

METHODOLOGY = Methodology.from_dict({"kind": "BL01", "version": 1})  # BL01 defaults
RULES = PaymentRules(SSEN_TIERS, PenaltyTerms(shortfall_price=Decimal("50"),
                                              apply_below_ratio=Decimal("0.5")))
METERS_PER_CONTRACT = 20


# ------------------------------------------------------------------ memory
class Peak:
    """Peak resident memory of this process between :meth:`reset` and :meth:`read`.

    Linux only: writing 5 to /proc/self/clear_refs resets the high-water mark (VmHWM),
    so each shard's peak is its own, measured by the kernel (every byte resident, numpy
    or not).  The baseline is the resident size after ``malloc_trim`` (freed heap given
    back), taken before the shard's inputs are generated, so the peak counts the inputs
    plus everything the engine allocates on top.  The allocator keeps its defaults (so
    timings are what a worker sees).
    """

    def __init__(self):
        self._libc = ctypes.CDLL("libc.so.6")

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(key)

    def rss(self) -> int:
        self._libc.malloc_trim(0)
        return self._status("VmRSS:")

    def reset(self) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def read(self) -> int:
        return self._status("VmHWM:")


# ------------------------------------------------------------------ synthetic data
def _shapes():
    h = np.arange(48) / 2.0
    domestic = 0.25 + 0.35 * np.exp(-((h - 8) ** 2) / 3) + 0.65 * np.exp(-((h - 18) ** 2) / 4)
    commercial = 0.3 + 0.9 / (1 + np.exp(-(h - 8) * 2)) / (1 + np.exp((h - 18) * 2))
    industrial = np.full(48, 0.9) + 0.1 * np.sin(h / 24 * 2 * np.pi)
    pv = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 0.6
    return np.stack([domestic, commercial, industrial]), np.array([1.1, 0.45, 0.8]), pv


def synth_shard(index: int, meters: int, first: date, days: int, history_days: int,
                seed: int, share: float = 0.10) -> tuple[SettlementInputs, dict]:
    """One shard's inputs (meters ``index * meters ..``) and the raw arrays for the floor.

    Memory: the readings frame is ~30 bytes a reading (int16 meter codes, int64 starts,
    float64 import and export, int32 version), built without copies."""
    rng = np.random.default_rng([seed, index])
    P = meters
    hist = first - timedelta(days=history_days)
    last = first + timedelta(days=days - 1)
    day_list, starts = day_table(hist, last)
    n_per = ((starts[1:] - starts[:-1]) // HALF_HOUR_NS).astype(np.int64)
    D = len(day_list)
    offsets = np.concatenate([[0], np.cumsum(n_per)])
    T = int(offsets[-1])
    ns = starts[0] + np.arange(T, dtype=np.int64) * HALF_HOUR_NS
    slot = np.concatenate([clock_slots(int(k)) for k in n_per])
    cal = GBCalendar()
    dtypes = cal.day_types(day_list)
    nonworking_t = np.repeat(dtypes == 1, n_per)
    shapes, wk_factor, pv = _shapes()
    cls = rng.integers(0, 3, P)
    scale = rng.lognormal(mean=np.log([1.0, 40.0, 400.0])[cls], sigma=0.5)
    load = np.empty((P, T))
    for c in range(3):  # three classes, each vectorised over its points and periods
        rows = np.nonzero(cls == c)[0]
        prof = shapes[c][slot] * np.where(nonworking_t, wk_factor[c], 1.0)
        load[rows] = scale[rows, None] * prof[None, :]
    block = max(1, (1 << 22) // T)
    for lo in range(0, P, block):  # multiplicative noise, in blocks (bounded temporaries)
        noise = rng.standard_normal((min(P, lo + block) - lo, T))
        noise *= 0.08
        np.exp(noise, out=noise)
        load[lo:lo + block] *= noise
    export = np.zeros((P, T))
    solar = np.nonzero((cls == 0) & (rng.random(P) < 0.3))[0]
    export[solar] = (pv[slot][None, :] * scale[solar, None] * 0.5)
    # Instructions: `share` of the settled asset-days, one per asset-day, 2-8 periods
    # starting 16:00-19:00 local; past events on `share` of the history's asset-days.
    settled = np.arange(history_days, D)
    n_ins = round(share * P * len(settled))
    pairs = rng.choice(P * len(settled), size=n_ins, replace=False)
    ip, idd = pairs // len(settled), settled[pairs % len(settled)]
    length = rng.integers(2, 9, n_ins)
    start_j = np.minimum(32 + rng.integers(0, 7, n_ins), n_per[idd] - length)
    t_start = offsets[idd] + start_j
    mw = np.maximum(np.round(scale[ip] * 0.7 * rng.uniform(0.3, 0.8, n_ins) / 500.0, 4), 0.0001)
    response = rng.choice([0.0, 0.4, 0.7, 1.0, 1.2], size=n_ins, p=[0.05, 0.1, 0.2, 0.5, 0.15])
    rows = np.repeat(np.arange(n_ins), length)
    tt = t_start[rows] + (np.arange(rows.size) - np.repeat(np.cumsum(length) - length, length))
    load[ip[rows], tt] = np.maximum(load[ip[rows], tt] - mw[rows] * 500.0 * response[rows], 0.0)
    n_past = round(share * P * history_days)
    past = rng.choice(P * history_days, size=n_past, replace=False)
    past_p, past_d = past // history_days, past % history_days
    np.round(load, 3, out=load)

    ids = np.array([f"{1_000_000_000_000 + 7919 * (index * P + k):013d}" for k in range(P)],
                   dtype=object)
    codes = np.repeat(np.arange(P, dtype=np.int16 if P < 32768 else np.int32), T)
    start_col = pd.DatetimeIndex(np.tile(ns, P).view("datetime64[ns]")).tz_localize("UTC")
    readings = pd.DataFrame({
        "mpan": pd.Categorical.from_codes(codes, categories=pd.Index(ids)),
        "start": start_col, "import_kwh": load.reshape(-1), "export_kwh": export.reshape(-1),
        "version": np.ones(P * T, dtype=np.int32)}, copy=False)
    contract_of = np.arange(P) // METERS_PER_CONTRACT
    n_c = int(contract_of.max()) + 1
    cids = np.array([f"C{index:03d}-{c:04d}" for c in range(n_c)], dtype=object)
    fsps = np.array([f"FSP{(index * n_c + c) % 20:02d}" for c in range(n_c)], dtype=object)
    mos = np.array([f"MO{c % 5}" for c in range(n_c)], dtype=object)
    cmw = np.bincount(contract_of, scale * 0.4 / 500.0, minlength=n_c)
    contracts = pd.DataFrame({
        "contract_id": cids, "fsp": fsps, "mo": mos, "product": "sustain",
        "contracted_mw": [Decimal(f"{x:.3f}") for x in cmw],
        "availability_price": [Decimal("4.50")] * n_c,
        "utilisation_price": [Decimal(200 + (index * n_c + c) % 300) for c in range(n_c)]})
    instructions = pd.DataFrame({
        "instruction_id": index * 10_000_000 + np.arange(n_ins), "contract_id": cids[contract_of[ip]],
        "mpan": ids[ip], "start": pd.DatetimeIndex(ns[t_start], tz="UTC"),
        "end": pd.DatetimeIndex(ns[t_start] + length * HALF_HOUR_NS, tz="UTC"), "mw": mw,
        "direction": "turn_down"})
    working = settled[dtypes[settled] == 0]
    wc, wd = np.repeat(np.arange(n_c), len(working)), np.tile(working, n_c)
    w0 = offsets[wd] + np.minimum(32, n_per[wd] - 8)
    drow = np.repeat(np.arange(len(wc)), 8)
    avail = pd.DataFrame({"contract_id": cids[wc[drow]],
                          "start": pd.DatetimeIndex(ns[w0[drow] + np.tile(np.arange(8), len(wc))],
                                                    tz="UTC"),
                          "factor": rng.choice([0.0, 0.5, 1.0], size=drow.size, p=[0.05, 0.1, 0.85])})
    inputs = SettlementInputs(
        StatementPeriod(first.strftime("%Y-%m"), first, last),
        {"sustain": ProductTerms(METHODOLOGY, RULES)}, contracts, instructions, readings,
        meters=pd.DataFrame({"mpan": ids}), availability=avail,
        past_events=pd.DataFrame({"mpan": ids[past_p], "settlement_date": day_list[past_d]}))
    raw = {"codes": codes, "ns": readings["start"].array.asi8, "imp": load.reshape(-1),
           "exp": export.reshape(-1), "hist": hist, "last": last,
           "ins_p": ip, "ins_t": t_start, "ins_len": length, "ins_mw": mw,
           "past_p": past_p, "past_d": past_d,
           "holidays": cal.holidays_between(hist, last)}
    return inputs, raw


# ------------------------------------------------------------------ the floor
def numpy_floor(raw: dict, like_days: int = 10, lookback_days: int = 60) -> np.ndarray:
    """BL01 (10 like days of the same day type, event days excluded, symmetric in-day
    adjustment over the 6 periods ending 2 before the event, across midnight) and the
    verification of every instructed period, on bare arrays: the fastest honest numpy
    version of what the engine computes.  It still checks that the readings are the
    dense (meter, half hour) layout with usable values, and handles 46/50-period days
    by clock slot; it keeps no statuses, versions, overlaps, frames or money.  Returns
    paid MWh per instruction (compared with the engine's)."""
    codes, ns, imp, exp = raw["codes"], raw["ns"], raw["imp"], raw["exp"]
    days, starts = day_table(raw["hist"], raw["last"])
    n_per = (starts[1:] - starts[:-1]) // HALF_HOUR_NS
    offsets = np.concatenate([[0], np.cumsum(n_per)])
    D, T = len(days), int(offsets[-1])
    P = len(ns) // T
    timeline = starts[0] + np.arange(T) * HALF_HOUR_NS
    # the dense layout and usable values, in cache-sized blocks (the fastest form found)
    rows = max(1, (1 << 17) // T)
    ns2, c2 = ns.reshape(P, T), codes.reshape(P, T)
    for lo in range(0, P, rows):
        assert (ns2[lo:lo + rows] == timeline).all()
        assert (c2[lo:lo + rows] == np.arange(lo, min(P, lo + rows), dtype=c2.dtype)[:, None]).all()
    for lo in range(0, len(imp), 1 << 17):
        bi, be = imp[lo:lo + (1 << 17)], exp[lo:lo + (1 << 17)]
        assert bi.min() >= 0 and be.min() >= 0 and bi.max() <= 5e4 and be.max() <= 5e4
    v = imp.reshape(P, T)
    weekday = (days.astype(np.int64) + 3) % 7
    dtype = ((weekday >= 5) | np.isin(days, raw["holidays"])).astype(np.int8)
    # clock slot -> timeline index per day; second index for the repeated hour
    first = np.full((D, 48), -1, dtype=np.int64)
    second = np.full((D, 48), -1, dtype=np.int64)
    per_slot = np.full((D, 50), 0, dtype=np.int64)
    for k in (46, 48, 50):
        rows = np.nonzero(n_per == k)[0]
        if rows.size:
            s = clock_slots(k)
            u, pos = np.unique(s, return_index=True)
            first[np.ix_(rows, u)] = offsets[rows][:, None] + pos[None, :]
            per_slot[rows, :k] = s
            if k == 50:
                second[rows, 2], second[rows, 3] = offsets[rows] + 4, offsets[rows] + 5
    # instruction periods, event days, targets
    n_ins = len(raw["ins_p"])
    row = np.repeat(np.arange(n_ins), raw["ins_len"])
    rt = raw["ins_t"][row] + (np.arange(row.size) - np.repeat(np.cumsum(raw["ins_len"]) - raw["ins_len"], raw["ins_len"]))
    rp = raw["ins_p"][row]
    rd = np.searchsorted(offsets, rt, side="right") - 1
    ev = np.zeros((P, D), dtype=bool)
    ev[rp, rd] = True
    ev[raw["past_p"], raw["past_d"]] = True
    key = rp * D + rd
    uk, inv = np.unique(key, return_inverse=True)
    tp, td = uk // D, uk % D
    first_t = np.full(len(uk), T)
    np.minimum.at(first_t, inv, raw["ins_t"][row])

    def unadjusted(p, d):
        cand = d[:, None] - np.arange(1, lookback_days + 1)[None, :]
        cd = np.maximum(cand, 0)
        elig = (cand >= 0) & (dtype[cd] == dtype[d][:, None]) & ~ev[p[:, None], cd]
        chosen = elig & (np.cumsum(elig, axis=1) <= like_days)
        pos = np.argsort(~chosen, axis=1, kind="stable")[:, :like_days]
        ok = np.take_along_axis(chosen, pos, axis=1)
        hd = np.take_along_axis(cd, pos, axis=1)
        H = v[p[:, None, None], first[hd]]
        odd = n_per[hd] != 48
        if odd.any():
            i, j = np.nonzero(odd)
            f, s2 = first[hd[i, j]], second[hd[i, j]]
            vals = v[p[i][:, None], np.maximum(f, 0)]
            vals[f < 0] = np.nan
            rep = s2 >= 0
            vals[rep] = (vals[rep] + v[np.broadcast_to(p[i][:, None], s2.shape)[rep], s2[rep]]) / 2
            H[i, j] = vals
        H[~ok] = 0.0
        with np.errstate(invalid="ignore"):
            return np.nansum(H, axis=1) / ok.sum(axis=1)[:, None]

    base = unadjusted(tp, td)
    wt = first_t[:, None] - 8 + np.arange(6)[None, :]
    wd = np.searchsorted(offsets, wt, side="right") - 1
    ws = per_slot[wd, wt - offsets[wd]]
    unadj_w = np.take_along_axis(base, ws, axis=1)
    prev = wd != td[:, None]
    if prev.any():
        pairs = np.unique(tp[:, None].repeat(6, 1)[prev] * D + wd[prev], return_inverse=True)
        pb = unadjusted(pairs[0] // D, pairs[0] % D)
        unadj_w[prev] = pb[pairs[1], ws[prev]]
    diff = v[tp[:, None], wt] - unadj_w
    # a window reading taken under an instruction does not count; all 6 must count
    keys, share_inv = np.unique(rp * T + rt, return_inverse=True)
    wkey = tp[:, None] * T + wt
    pos = np.minimum(np.searchsorted(keys, wkey), len(keys) - 1)
    diff[keys[pos] == wkey] = np.nan
    full = (~np.isnan(diff)).sum(axis=1) == 6
    adj = np.where(full, np.nanmean(diff, axis=1), np.nan)
    b = np.maximum(base[inv, per_slot[rd, rt - offsets[rd]]] + adj[inv], 0.0)
    delivered = (b - v[rp, rt]) / 500.0
    # one response per meter-period, shared pro rata by overlapping instructions
    mw = raw["ins_mw"][row]
    combined = np.bincount(share_inv, mw)[share_inv]
    paid = np.clip(np.nan_to_num(delivered), 0.0, combined) * (mw / combined)
    return np.bincount(row, paid * 0.5, minlength=n_ins)


# ------------------------------------------------------------------ runs
def _measure(peak: Peak, base: int, fn):
    """(result, CPU s, wall s, peak bytes above ``base``) of ``fn()``."""
    peak.rss()
    peak.reset()
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    c, w = time.process_time() - c, time.perf_counter() - w
    return out, c, w, peak.read() - base


def run_shard(k, a, peak: Peak, floor: bool = True, repeat: int = 1) -> tuple[dict, object]:
    """Generate shard ``k``, then settle it (and run the floor) ``repeat`` times,
    alternating, keeping the best CPU and wall seconds of each and the peak memory."""
    base = peak.rss()
    t = time.perf_counter()
    inputs, raw = synth_shard(k, a.shard_meters, a.start, a.days, a.history_days, a.seed)
    gen_s = time.perf_counter() - t
    inputs_b = peak.rss() - base
    row = {"shard": k, "meters": a.shard_meters, "readings": len(inputs.readings),
           "settled": a.shard_meters * 48 * a.days, "instructions": len(inputs.instructions),
           "gen_s": gen_s, "inputs_b": inputs_b, "engine_cpu": 9e9, "engine_wall": 9e9,
           "peak_b": 0, "timings": {}}
    if floor:
        row.update(floor_cpu=9e9, floor_wall=9e9, floor_peak_b=0)
    res = None
    for _ in range(repeat):
        res = None
        res, c, w, pk = _measure(peak, base, lambda: settle_shard(inputs))
        row["peak_b"] = max(row["peak_b"], pk)
        if c < row["engine_cpu"]:
            row["engine_cpu"], row["timings"] = c, dict(res.timings)
        row["engine_wall"] = min(row["engine_wall"], w)
        if floor:
            paid, c, w, pk = _measure(peak, base, lambda: numpy_floor(raw))
            row["floor_peak_b"] = max(row["floor_peak_b"], pk)
            row["floor_cpu"] = min(row["floor_cpu"], c)
            row["floor_wall"] = min(row["floor_wall"], w)
    if floor:
        eng = res.instructions.set_index("instruction_id")["paid_mwh"].reindex(
            inputs.instructions["instruction_id"]).to_numpy()
        row["floor_max_diff_mwh"] = float(np.abs(eng - paid).max())
    return row, res  # the shard's inputs are freed on return


VERIFY_STAGES = ("validate", "grid", "baselines", "verify")


def _print_rows(rows) -> None:
    print(f"{'shard':>5} {'meters':>7} {'readings':>12} {'settled':>11} {'instr':>7} "
          f"{'eng cpu s':>9} {'eng wall':>8} {'Mread/s':>8} {'floor s':>8} {'ratio':>6} "
          f"{'verif.':>6} {'peak MB':>8} {'B/read':>7} {'floor B/r':>9}")
    for r in rows:
        fl = r.get("floor_cpu")
        ver = sum(r["timings"].get(k, 0.0) for k in VERIFY_STAGES)
        nan = float("nan")
        print(f"{r['shard']:>5} {r['meters']:>7,} {r['readings']:>12,} {r['settled']:>11,} "
              f"{r['instructions']:>7,} {r['engine_cpu']:>9.2f} {r['engine_wall']:>8.2f} "
              f"{r['readings'] / r['engine_cpu'] / 1e6:>8.1f} {fl if fl else nan:>8.2f} "
              f"{r['engine_cpu'] / fl if fl else nan:>6.2f} {ver / fl if fl else nan:>6.2f} "
              f"{r['peak_b'] / 2**20:>8.0f} {r['peak_b'] / r['readings']:>7.1f} "
              f"{r.get('floor_peak_b', nan) / r['readings']:>9.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("shard", "gb"), nargs="?", default="shard")
    ap.add_argument("--meters", type=int, default=300_000, help="gb: meters in the run")
    ap.add_argument("--shard-meters", type=int, default=5_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 1))
    ap.add_argument("--seed", type=int, default=20240401)
    ap.add_argument("--repeat", type=int, default=3, help="shard: best of N")
    ap.add_argument("--no-floor", action="store_true", help="gb: skip the floor per shard")
    a = ap.parse_args(argv)
    a.history_days = lookback(METHODOLOGY).days
    peak = Peak()
    print(f"settlement bench ({a.mode}): BL01 defaults (lookback {a.history_days} days), "
          f"{a.days} settled days from {a.start}, {a.shard_meters:,} meters a shard; "
          f"2-core machine shared with other engineers: timings are noisy")
    if a.mode == "shard":
        row, res = run_shard(0, a, peak, repeat=a.repeat)
        _print_rows([row])
        tm = row["timings"]
        print("engine stages (CPU s): " + ", ".join(f"{k} {v:.3f}" for k, v in tm.items()))
        print(f"inputs {row['inputs_b'] / 2**20:.0f} MB ({row['inputs_b'] / row['readings']:.1f} B a "
              f"reading); floor agrees on paid MWh to {row['floor_max_diff_mwh']:.1e}")
        print(f"statements: {len(res.statements.totals)}, lines {len(res.lines):,}, "
              f"net {sum(res.statements.totals['net'])} GBP")
        _verdict([row])
        return 0
    n_shards = -(-a.meters // a.shard_meters)
    rows, results = [], []
    t0 = time.perf_counter()
    for k in range(n_shards):
        row, res = run_shard(k, a, peak, floor=not a.no_floor)
        res.periods = res.periods.iloc[:0]  # stored by the shard task; the merge needs lines
        results.append(res)
        rows.append(row)
        print(f"  shard {k + 1}/{n_shards}: engine {row['engine_cpu']:.2f} s CPU, "
              f"{row['peak_b'] / row['readings']:.1f} B/reading", flush=True)
    t = time.perf_counter()
    merged = merge(results)
    st = merged.statements
    merge_s = time.perf_counter() - t
    wall = time.perf_counter() - t0
    _print_rows(rows)
    settled = sum(r["settled"] for r in rows)
    readings = sum(r["readings"] for r in rows)
    eng = sum(r["engine_cpu"] for r in rows)
    engw = sum(r["engine_wall"] for r in rows)
    print(f"TOTAL {n_shards} shards: {a.meters:,} meters, {settled:,} settled readings "
          f"({readings:,} read with history); engine {eng:.0f} s CPU / {engw:.0f} s wall "
          f"({readings / eng / 1e6:.1f} M readings/s CPU), floor "
          f"{sum(r.get('floor_cpu', 0) for r in rows):.0f} s CPU, merge + statements "
          f"{merge_s:.1f} s; run wall {wall:.0f} s including data generation "
          f"{sum(r['gen_s'] for r in rows):.0f} s")
    print(f"peak per shard: max {max(r['peak_b'] for r in rows) / 2**20:.0f} MB, "
          f"max {max(r['peak_b'] / r['readings'] for r in rows):.1f} B/reading; statements "
          f"{len(st.totals)}, lines {len(merged.lines):,}, net {sum(st.totals['net'])} GBP")
    _verdict(rows)
    return 0


def _verdict(rows) -> None:
    ratios = [r["engine_cpu"] / r["floor_cpu"] for r in rows if r.get("floor_cpu")]
    bpr = max(r["peak_b"] / r["readings"] for r in rows)
    if ratios:
        worst = max(ratios)
        print(f"target: each shard within 1.5x of the floor (CPU s): "
              f"{'met' if worst <= 1.5 else 'NOT met'} (worst {worst:.2f}x, median "
              f"{sorted(ratios)[len(ratios) // 2]:.2f}x)")
    print(f"target: peak under 60 bytes a reading: {'met' if bpr < 60 else 'NOT met'} "
          f"(worst {bpr:.1f})")


if __name__ == "__main__":
    raise SystemExit(main())
