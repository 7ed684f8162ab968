"""Benchmark of the best-product advice: one asset over many open needs x 48 periods.

    python bench/advice.py [--sizes 10,100,1000] [--seed 1] [--time-limit 10] [--gap 1e-3]

Each size is generated (seeded) into an advice-request-v1 document, then advised in a
fresh subprocess so that peak memory (ru_maxrss) is that size's own. The asset is a 2 MW /
4 MWh battery in zone Z1 (reliability 0.95, runs of at most 8 periods); the needs are
evening-peak windows like NGED's and UKPN's tenders, 40% in the asset's zone, 20% GB-wide,
the rest elsewhere; the history follows the shapes of NGED's 2023-25 trade results
(accepted prices 75-100% of the ceiling, rejections at 0 or at the ceiling, 72% of needs
with no bidder) and UKPN's utilisation (a few % of the MWh made available).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# product: direction, availability cap range (GBP/MW/h), utilisation cap range (GBP/MWh)
PRODUCTS = {
    "sustain": ("up", (5.0, 40.0), (0.0, 0.0)),
    "secure": ("up", (10.0, 120.0), (100.0, 3000.0)),
    "dynamic": ("up", (2.0, 60.0), (150.0, 4000.0)),
    "restore": ("up", (1.0, 20.0), (300.0, 1200.0)),
    "dfs": ("up", (0.0, 0.0), (100.0, 900.0)),
    "local_turn_up": ("down", (5.0, 40.0), (20.0, 200.0)),
}
ZONES = ["Z1", "Z2", "Z3", "Z4", "Z5"]


def periods(T: int) -> list[str]:
    return [f"2026-01-15T{(30 * i) // 60:02d}:{(30 * i) % 60:02d}:00Z" for i in range(T)]


def generate(n_needs: int, seed: int = 1, T: int = 48) -> dict:
    rng = np.random.default_rng(seed)
    names = list(PRODUCTS)
    needs = []
    for j in range(n_needs):
        prod = names[int(rng.integers(len(names)))]
        direction, (alo, ahi), (ulo, uhi) = PRODUCTS[prod]
        r = rng.random()
        zone = "Z1" if r < 0.4 else "GB" if r < 0.6 else ZONES[int(rng.integers(1, len(ZONES)))]
        start = int(rng.integers(max(T // 2, 0), max(T - 8, T // 2 + 1)))
        length = int(rng.integers(2, 9))
        mw = np.zeros(T)
        mw[start:start + length] = round(float(rng.uniform(0.3, 4.0)), 3)
        acap = round(float(rng.uniform(alo, ahi)), 2) if ahi > 0 else None
        ucap = round(float(rng.uniform(ulo, uhi)), 2) if uhi > 0 else None
        needs.append({"id": f"N{j}", "mo": "DSO1" if zone != "GB" else "NESO", "product": prod,
                      "zone": zone, "direction": direction, "priority": 1 if zone != "GB" else 2,
                      "mw": mw.tolist(), "max_availability_price": acap,
                      "utilisation_price_cap": ucap,
                      "expected_utilisation": round(float(rng.uniform(0.01, 0.1)), 3)})
    history = []
    for prod, (direction, (alo, ahi), (ulo, uhi)) in PRODUCTS.items():
        ref = (alo + ahi) / 2 if ahi > 0 else 5.0
        for zone in ["Z1", "Z2", "GB", None]:
            n = int(rng.integers(3, 40))
            acc = (ref * rng.uniform(0.75, 1.0, n)).round(2).tolist()
            nr = int(rng.integers(0, max(n // 3, 1) + 1))
            rej = np.where(rng.random(nr) < 0.5, 0.0, ref).round(2).tolist()
            bidders = np.where(rng.random(n + 10) < 0.72, 0, rng.integers(1, 4, n + 10))
            history.append({
                "product": prod, "zone": zone, "direction": direction if zone else None,
                "accepted_prices": acc, "rejected_prices": rej,
                "accepted_utilisation_prices": (rng.uniform(ulo, uhi, n // 2).round(2).tolist()
                                                if uhi > 0 else []),
                "utilisation": rng.beta(1.0, 24.0, n).round(4).tolist(),
                "bidders": bidders.astype(int).tolist()})
    return {
        "version": 1, "period_minutes": 30, "periods": periods(T),
        "asset": {"id": "A1", "zone": "Z1", "technology": "battery", "up_mw": 2.0,
                  "down_mw": 2.0, "energy_mwh": 4.0, "max_run_periods": 8,
                  "reliability": 0.95, "emission_t_per_mwh": 0.0, "availability_cost": 1.0,
                  "utilisation_cost": 30.0},
        "needs": needs,
        "products": {"dfs": {"allowed_technologies": ["domestic_demand", "ev_charging",
                                                      "battery"]},
                     "restore": {"allowed_technologies": ["generator", "industrial_dsr"]}},
        "rules": {"incompatible_products": [["sustain", "dynamic"], ["secure", "dynamic"],
                                            ["dfs", "dfs"]], "carbon_price": 80.0},
        "history": history,
    }


def run_one(path: str, time_limit: float, gap: float) -> dict:
    """In a fresh process: load, advise, measure."""
    import resource

    from optimiser.advice import AdviceOptions, advise, load_advice_request

    t0 = time.perf_counter()
    req = load_advice_request(Path(path))
    load_s = time.perf_counter() - t0
    res = advise(req, AdviceOptions(time_limit=time_limit, mip_rel_gap=gap))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    codes: dict[str, int] = {}
    for n in res.not_advised:
        for c in n.codes:
            codes[c] = codes.get(c, 0) + 1
    return {"needs": len(req.needs), "load_s": load_s, "timing": res.timing, "model": res.model,
            "status": res.status, "gap": res.mip_gap, "bids": len(res.bids),
            "total": str(res.expected.total), "peak_mb": peak, "codes": codes}


def _child(path: str, time_limit: float, gap: float) -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--time-limit", str(time_limit),
           "--gap", str(gap)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(run_one(a.child, a.time_limit, a.gap)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="flexbench-advice-"))
    hdr = (f"{'needs':>6} {'cands':>6} {'cols':>7} {'ints':>6} {'rows':>7} {'load s':>7} "
           f"{'build s':>8} {'solve s':>8} {'explain s':>9} {'total s':>8} {'peak MB':>8} "
           f"{'status':>8} {'gap':>8} {'bids':>5} {'expected £':>11} {'build ms/need':>13}")
    print(hdr)
    print("-" * len(hdr))
    for n in [int(s) for s in a.sizes.split(",")]:
        path = tmp / f"advice-{n}.json"
        path.write_text(json.dumps(generate(n, a.seed)))
        r = _child(str(path), a.time_limit, a.gap)
        tm, md = r["timing"], r["model"]
        total = r["load_s"] + tm["build_s"] + tm["solve_s"] + tm["explain_s"]
        gap = "-" if r["gap"] is None else f"{r['gap']:.1e}"
        print(f"{r['needs']:>6} {md['candidates']:>6} {md['columns']:>7} {md['integers']:>6} "
              f"{md['rows']:>7} {r['load_s']:>7.3f} {tm['build_s']:>8.3f} {tm['solve_s']:>8.3f} "
              f"{tm['explain_s']:>9.3f} {total:>8.3f} {r['peak_mb']:>8.0f} {r['status']:>8} "
              f"{gap:>8} {r['bids']:>5} {r['total']:>11} "
              f"{1000 * tm['build_s'] / max(r['needs'], 1):>13.2f}", flush=True)
        print("        not advised: " + ", ".join(f"{k} {v}" for k, v in
                                                 sorted(r["codes"].items())), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
