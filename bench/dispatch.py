"""Benchmark of the dispatch engine on seeded synthetic GB dispatch snapshots.

    python bench/dispatch.py [--sizes 100,500,2000,5000,20000] [--requests 150]
                             [--gap 0.001] [--time-limit 120] [--no-monolithic]

Each size is generated (optimiser.dispatch.generate, seeded) and dispatched in a fresh
subprocess, once by the engine (model.py + solve.py) and once by the straightforward
monolithic build (monolithic.py), so that each row's peak memory (ru_maxrss) is its own.
`ratio` is the monolithic's build + solve time over the engine's (above 1: the engine is
faster). `--requests` fixes the request count (default: 7.5% of the assets).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from optimiser.dispatch.generate import generate
n, nreq, method, gap, tl = {n}, {nreq}, {method!r}, {gap}, {tl}
doc = generate(n, n_requests=nreq)
if method == "engine":
    from optimiser.dispatch.engine import dispatch
    res, st = dispatch(doc, mip_rel_gap=gap, time_limit=tl)
else:
    from optimiser.dispatch.monolithic import solve_monolithic
    res, st = solve_monolithic(doc, mip_rel_gap=gap, time_limit=tl)
print(json.dumps({{"assets": n, "contracts": len(doc["contracts"]),
                  "requests": len(doc["requests"]), "variables": st["variables"],
                  "integers": st["integers"], "build_s": res["timing"]["build_s"],
                  "solve_s": res["timing"]["solve_s"], "status": res["status"],
                  "gap": res["mip_gap"], "objective": res["objective"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(n: int, nreq: int | None, method: str, gap: float, tl: float) -> dict:
    code = CHILD.format(root=str(ROOT), n=n, nreq=nreq, method=method, gap=gap, tl=tl)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=tl * 4 + 600)
    if p.returncode != 0:
        return {"assets": n, "status": "error: " + p.stderr.strip().splitlines()[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt(r: dict, method: str, ratio: str) -> str:
    if "variables" not in r:
        return f"| {r['assets']:>6} | {method:<10} | {r['status']} |"
    gap = "-" if r["gap"] is None else f"{100 * r['gap']:.3f}%"
    return (f"| {r['assets']:>6} | {method:<10} | {r['contracts']:>9} | {r['requests']:>8} | "
            f"{r['variables']:>9} | {r['integers']:>8} | {r['build_s']:>7.2f} | "
            f"{r['solve_s']:>7.2f} | {r['peak_mb']:>7.0f} | {r['status']:<8} | {gap:>7} | "
            f"{r['objective']:>12,.0f} | {ratio:>5} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,500,2000,5000")
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--no-monolithic", action="store_true")
    a = ap.parse_args()
    print("| assets | method     | contracts | requests | variables | integers | build s | "
          "solve s | peak MB | status   |     gap |    objective | ratio |")
    print("|-------:|------------|----------:|---------:|----------:|---------:|--------:|"
          "--------:|--------:|----------|--------:|-------------:|------:|")
    for n in [int(s) for s in a.sizes.split(",")]:
        e = run(n, a.requests, "engine", a.gap, a.time_limit)
        m = None if a.no_monolithic else run(n, a.requests, "monolithic", a.gap, a.time_limit)
        ratio = "-"
        if m and "build_s" in m and "build_s" in e:
            ratio = f"{(m['build_s'] + m['solve_s']) / (e['build_s'] + e['solve_s']):.1f}"
        print(fmt(e, "engine", ratio), flush=True)
        if m:
            print(fmt(m, "monolithic", ""), flush=True)


if __name__ == "__main__":
    main()
