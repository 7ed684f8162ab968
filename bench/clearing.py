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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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
    # the markets: optimiser.generate, the same seeded generator the tests use
    from optimiser.generate import PROFILES, generate

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
