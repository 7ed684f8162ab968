"""Benchmark of the central clearing on synthetic GB flexibility markets.

    python bench/clearing.py [--sizes 100,1000,5000,10000,20000] [--quick] [--seed 1]
                             [--market gb|dense]

Each size is generated (seeded) into a JSON snapshot, then cleared in a fresh subprocess
(load + clear + siloed comparator) so that peak memory (ru_maxrss) is that size's own. The
component-parallel row clears the same market with `clear_components(processes=2)`, plus a
DSO-only market (no GB-wide needs) where independent parts actually exist.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# technology: share, up MW range, down MW range, emission t/MWh, reliability, avail price range
TECH = {
    "battery": (0.25, (0.5, 5.0), (0.5, 5.0), 0.0, 0.97, (4.0, 18.0)),
    "ev": (0.30, (0.05, 0.6), (0.05, 0.6), 0.0, 0.85, (2.0, 12.0)),
    "heat_pump": (0.20, (0.02, 0.3), (0.0, 0.1), 0.0, 0.80, (4.0, 20.0)),
    "industrial_dsr": (0.15, (1.0, 10.0), (0.0, 0.0), 0.0, 0.90, (8.0, 35.0)),
    "generator": (0.10, (1.0, 20.0), (0.0, 0.0), 0.45, 0.95, (12.0, 45.0)),
}
# market profiles (see generate): `gb` (default) has ~1.5 DSO needs per CMZ in evening-peak
# windows of 2-4 h at 10-35% of the CMZ's flexibility; `dense` is the first generator (about
# 8 overlapping DSO needs per CMZ from 13:00, together 50-130% of its flexibility), kept for
# comparison: it is far more conflicted than GB DSO tenders
PROFILES = ("gb", "dense")
DSOS = ["UKPN", "SSEN", "NGED", "ENWL", "NPG", "SPEN"]
DSO_PRODUCTS = ["sustain", "secure", "dynamic", "restore"]
ESO_PRODUCTS = ["reserve", "dynamic"]


def generate(n_assets: int, seed: int = 1, T: int = 48, eso: bool = True,
             market: str = "gb") -> dict:
    """A seeded synthetic GB market: CMZs per DSO, GB-wide ESO needs, 3 bids per asset.

    `market="gb"`: CMZs sized so that each has ~1.5 DSO needs (priority 1), each in an
    evening-peak window (start 16:00-19:30, 2-4 h) asking for 10-35% of the CMZ's capability
    in its direction. `market="dense"`: the first generator, ~150 assets per CMZ and ~8 DSO
    needs per CMZ starting 13:00-19:00 for 2-7 h at 5-30% each. Both: ~6% as many needs as
    assets, 1/6 of them GB-wide ESO needs (priority 2), 3 bids per asset, some min-MW,
    all-or-nothing and exclusive bids.
    """
    if market not in PROFILES:
        raise ValueError(f"market must be one of {PROFILES}")
    rng = np.random.default_rng(seed + n_assets)
    periods = [f"2026-06-01T{(30 * i) // 60 % 24:02d}:{(30 * i) % 60:02d}:00Z" for i in range(T)]
    if T > 48:
        periods = [f"2026-06-{1 + (30 * i) // 1440:02d}T{(30 * i) // 60 % 24:02d}:"
                   f"{(30 * i) % 60:02d}:00Z" for i in range(T)]
    n_needs = max(2, round(0.06 * n_assets))
    n_eso = max(1, n_needs // 6) if eso else 0
    if market == "dense":
        n_zones = max(2, n_assets // 150)
    else:
        n_zones = max(2, round((n_needs - n_eso) / 1.5))
    zone_dso = [DSOS[i % len(DSOS)] for i in range(n_zones)]
    names = list(TECH)
    shares = np.array([TECH[k][0] for k in names])
    tech = rng.choice(len(names), size=n_assets, p=shares / shares.sum())
    zone = rng.integers(0, n_zones, size=n_assets)
    assets = []
    for i in range(n_assets):
        k = names[tech[i]]
        _, upr, dnr, ef, rel, _ = TECH[k]
        unav = sorted(rng.choice(T, size=int(rng.integers(0, 4)), replace=False).tolist()) \
            if rng.random() < 0.2 else []
        assets.append({
            "id": f"A{i}", "fsp": f"F{i % max(1, n_assets // 40)}", "zone": f"CMZ{zone[i]}",
            "technology": k, "up_mw": round(float(rng.uniform(*upr)), 3),
            "down_mw": round(float(rng.uniform(*dnr)), 3) if dnr[1] > 0 else 0.0,
            "emission_t_per_mwh": ef * float(rng.uniform(0.8, 1.4)) if ef else 0.0,
            "reliability": rel, "unavailable_periods": unav,
        })
    up_cap = np.array([a["up_mw"] for a in assets])
    dn_cap = np.array([a["down_mw"] for a in assets])
    zone_up = np.bincount(zone, weights=up_cap, minlength=n_zones)
    zone_dn = np.bincount(zone, weights=dn_cap, minlength=n_zones)
    needs = []
    for j in range(n_needs):
        is_eso = j < n_eso
        if is_eso:
            direction = "up" if rng.random() < 0.7 else "down"
            start = int(rng.integers(0, T - 16))
            length = int(rng.integers(8, 24))
            z, mo, prio, product = "GB", "NESO", 2, ESO_PRODUCTS[j % 2]
            total = up_cap.sum() if direction == "up" else dn_cap.sum()
            level = total * float(rng.uniform(0.6, 1.2)) / n_eso * 0.5
        else:
            direction = "up" if rng.random() < 0.85 else "down"
            zi = int(rng.integers(0, n_zones))
            z, mo, prio = f"CMZ{zi}", f"DSO-{zone_dso[zi]}", 1
            product = DSO_PRODUCTS[int(rng.integers(0, len(DSO_PRODUCTS)))]
            zc = zone_up[zi] if direction == "up" else zone_dn[zi]
            if market == "dense":
                start = int(rng.integers(int(T * 0.55), int(T * 0.8)))
                length = int(rng.integers(4, 14))
                level = zc * float(rng.uniform(0.05, 0.3))
            else:
                start = min(int(rng.integers(int(T * 2 / 3), int(T * 0.83))), T - 4)
                length = int(rng.integers(4, 9))
                level = zc * float(rng.uniform(0.1, 0.35))
        mw = np.zeros(T)
        end = min(T, start + length)
        shape = 0.7 + 0.3 * np.sin(np.linspace(0, np.pi, end - start))
        mw[start:end] = np.round(level * shape, 3)
        needs.append({
            "id": f"N{j}", "mo": mo, "product": product, "zone": z, "direction": direction,
            "priority": prio, "mw": mw.tolist(),
            "max_availability_price": 40.0 if not is_eso else 30.0,
            "utilisation_price_cap": 400.0, "expected_utilisation": 0.15 if is_eso else 0.3,
            "unmet_penalty": 300.0 if is_eso else 1000.0,
            "gate_closure": "2026-05-31T16:00:00Z" if is_eso
            else f"2026-05-31T{8 + DSOS.index(mo[4:]):02d}:00:00Z",
        })
    # candidate needs per zone and direction
    by_zone: dict[tuple[str, str], list[int]] = {}
    eso_needs: dict[str, list[int]] = {"up": [], "down": []}
    for j, n in enumerate(needs):
        if n["zone"] == "GB":
            eso_needs[n["direction"]].append(j)
        else:
            by_zone.setdefault((n["zone"], n["direction"]), []).append(j)
    bids = []
    nb = 0
    n_groups = 0
    for a in assets:
        k = a["technology"]
        lo, hi = TECH[k][5]
        cands = []
        for d in ("up", "down"):
            if a[f"{d}_mw"] <= 0:
                continue
            cands += by_zone.get((a["zone"], d), [])
            if eso_needs[d] and rng.random() < 0.5:
                cands += rng.choice(eso_needs[d], size=min(2, len(eso_needs[d])),
                                    replace=False).tolist()
        if not cands:
            continue
        picks = rng.choice(cands, size=3, replace=len(cands) < 3)
        group = None
        if rng.random() < 0.1:
            group = f"G{n_groups}"
            n_groups += 1
        for j in picks.tolist():
            n = needs[j]
            cap = a[f"{n['direction']}_mw"]
            active = np.array(n["mw"]) > 0
            frac = float(rng.uniform(0.5, 1.0))
            mw = np.where(active & (rng.random(T) < 0.9), round(cap * frac, 3), 0.0)
            if rng.random() < 0.1:  # a second, cheaper offer for part of the window
                mw = np.where(np.arange(T) % 2 == 0, mw, 0.0)
            ap = float(rng.uniform(lo, hi)) * (1.3 if rng.random() < 0.04 else 1.0)
            r = rng.random()
            bids.append({
                "id": f"B{nb}", "asset": a["id"], "need": n["id"], "mw": mw.round(3).tolist(),
                "min_mw": round(cap * frac * float(rng.uniform(0.3, 0.6)), 3) if r < 0.1 else 0.0,
                "availability_price": round(ap, 2),
                "utilisation_price": round(float(rng.uniform(40, 350)), 1),
                "all_or_nothing": bool(0.1 <= r < 0.15), "exclusive_group": group,
            })
            nb += 1
    return {
        "version": 1, "period_minutes": 30, "periods": periods, "assets": assets,
        "needs": needs, "bids": bids,
        "rules": {"incompatible_products": [["sustain", "dynamic"], ["secure", "reserve"]],
                  "primacy": "lexicographic", "pricing": "pay_as_bid", "carbon_price": 80.0},
    }


def run_one(path: str, mode: str, time_limit: float, gap: float, method: str = "auto",
            primacy: str | None = None) -> dict:
    """In a fresh process: load, clear (monolithic or by components), siloed comparator."""
    import resource

    from optimiser import ClearingOptions, clear, clear_components, load_snapshot
    from optimiser.siloed import clear_siloed

    t0 = time.perf_counter()
    doc = json.loads(Path(path).read_text())
    if primacy:
        doc["rules"]["primacy"] = primacy
    snap = load_snapshot(doc)
    t_load = time.perf_counter() - t0
    opts = ClearingOptions(time_limit=time_limit, mip_rel_gap=gap, method=method)
    t1 = time.perf_counter()
    res = clear(snap, opts) if mode == "mono" else clear_components(snap, opts, processes=2)
    wall = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"assets": len(snap.assets), "needs": len(snap.needs), "bids": len(snap.bids),
           "load_s": t_load, "wall_s": wall, "peak_mb": peak, "status": res.status,
           "objective": res.objective, "gap": res.mip_gap, "timing": res.timing,
           "stats": res.stats, "unmet_mwh": sum(s.unmet_mwh for s in res.stages),
           "awards": len(res.awards), "rejected": len(res.rejected)}
    if mode == "mono":
        t2 = time.perf_counter()
        sil = clear_siloed(snap)
        out.update(siloed_s=time.perf_counter() - t2, siloed_objective=sil.objective,
                   siloed_unmet=sil.unmet_mwh, conflicts=sil.conflicts,
                   conflict_mw=sil.conflict_mw)
    return out


def _child(path: str, mode: str, time_limit: float, gap: float, method: str = "auto",
           primacy: str = "lexicographic") -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--mode", mode,
           "--time-limit", str(time_limit), "--gap", str(gap), "--method", method,
           "--primacy", primacy]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000,10000,20000")
    ap.add_argument("--quick", action="store_true", help="sizes 100,1000 only")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--market", choices=PROFILES, default="gb",
                    help="gb: realistic CMZ needs (default); dense: the first, conflict-heavy "
                         "generator")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--speedup-size", type=int, default=None,
                    help="size for the component-parallel row (default: largest <= 10000)")
    ap.add_argument("--method", choices=("auto", "monolithic", "decomposed"), default="auto",
                    help="auto: decomposed from 50,000 model columns (about 1,700 assets)")
    ap.add_argument("--primacy", choices=("lexicographic", "weighted"), default="lexicographic")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="mono", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(run_one(a.child, a.mode, a.time_limit, a.gap, a.method, a.primacy)))
        return 0
    sizes = [100, 1000] if a.quick else [int(s) for s in a.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="flexbench-"))
    hdr = (f"{'assets':>7} {'needs':>6} {'bids':>7} {'vars':>8} {'ints':>7} {'rows':>8} "
           f"{'build s':>8} {'solve s':>8} {'total s':>8} {'peak MB':>8} {'status':>8} "
           f"{'objective':>13} {'gap':>8} | {'siloed':>13} {'saving':>7} {'unmet c/s MWh':>17} "
           f"{'conflicts (MW)':>15}")
    print(hdr)
    print("-" * len(hdr))
    for n in sizes:
        path = tmp / f"market-{n}.json"
        path.write_text(json.dumps(generate(n, a.seed, market=a.market)))
        r = _child(str(path), "mono", a.time_limit, a.gap, a.method, a.primacy)
        st, tm = r["stats"], r["timing"]
        total = tm["build_s"] + tm["solve_s"]
        saving = (1 - r["objective"] / r["siloed_objective"]) * 100 if r["siloed_objective"] else 0
        gap = "-" if r["gap"] is None else f"{r['gap']:.1e}"
        print(f"{r['assets']:>7} {r['needs']:>6} {r['bids']:>7} {st['variables']:>8} "
              f"{st['integers']:>7} {st['rows']:>8} {tm['build_s']:>8.2f} {tm['solve_s']:>8.2f} "
              f"{total:>8.2f} {r['peak_mb']:>8.0f} {r['status']:>8} {r['objective']:>13,.0f} "
              f"{gap:>8} | {r['siloed_objective']:>13,.0f} {saving:>6.1f}% "
              f"{r['unmet_mwh']:>8.1f}/{r['siloed_unmet']:<8.1f} "
              f"{r['conflicts']:>6} ({r['conflict_mw']:.0f})", flush=True)
        print(f"        detail ({st.get('method', 'monolithic')}): load {r['load_s']:.2f}s "
              f"prepare {st['prepare_s']:.2f}s matrix {st['matrix_s']:.2f}s "
              f"solve {st['solve_only_s']:.2f}s duals {st['duals_s']:.2f}s "
              f"extract {st['extract_s']:.2f}s siloed {r['siloed_s']:.2f}s", flush=True)
        for sg in st.get("stages", []):
            if sg.get("skipped"):
                print(f"          {sg['stage']:<11} skipped (nothing unmet)")
                continue
            g = "-" if sg["gap"] is None else f"{sg['gap']:.1e}"
            b = "-" if sg["bound"] is None else f"{sg['bound']:,.2f}"
            print(f"          {sg['stage']:<11} value {sg['value']:>14,.2f} bound {b:>14} gap {g:>8}"
                  f" {sg['s']:>6.2f}s components {sg['components']:>7} rounds {sg['rounds']}"
                  f" descent moves {sg['moves']}" + (" (exact)" if sg.get("exact") else ""),
                  flush=True)
    cands = [s for s in sizes if s <= 10000]
    sp = a.speedup_size or (max(cands) if cands else sizes[0])
    print(f"\ncomponent-parallel speed-up at {sp} assets (2 processes, wall s incl. pool start):")
    for label, doc in (("full market", generate(sp, a.seed, market=a.market)),
                       ("DSO-only market", generate(sp, a.seed, eso=False, market=a.market))):
        path = tmp / f"split-{label[:3]}-{sp}.json"
        path.write_text(json.dumps(doc))
        from optimiser import load_snapshot, split_components

        parts = split_components(load_snapshot(path))
        mono = _child(str(path), "mono", a.time_limit, a.gap)
        comp = _child(str(path), "comp", a.time_limit, a.gap)
        print(f"  {label:<16} parts {len(parts):>4} (largest {len(parts[0].bids) if parts else 0}"
              f" bids)  monolithic {mono['wall_s']:.2f}s  components {comp['wall_s']:.2f}s  "
              f"speed-up x{mono['wall_s'] / comp['wall_s']:.2f}  objective "
              f"{mono['objective']:,.0f} vs {comp['objective']:,.0f}", flush=True)
    for f in tmp.iterdir():
        os.unlink(f)
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
