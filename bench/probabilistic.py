"""The cost of a confidence level: chance-constrained against expected-value clearing.

    python bench/probabilistic.py [--sizes 100,500,2000] [--level 0.95] [--seed 1]
                                  [--time-limit 120]
    python bench/probabilistic.py --monte-carlo [--sizes 60,100] [--seeds 1,2]

On the bench's generated GB markets (`optimiser.generate`, the markets of bench/clearing.py),
each size is cleared three times as a version-2 snapshot: the expected-value rule (no
level), the level on every product with the safe sub-Gaussian bound (the default), and with
the normal approximation. Printed per size and rule: procurement cost (availability,
expected utilisation and carbon, GBP, without the unmet penalty), awarded MWh, unmet MWh
(priority 1 / 2), the probability that each need-period's covered MW are met (mean and
least over need-periods with awards, from the result's delivery report) and the wall time
of the clearing. The last columns compare with expected value: extra pounds, extra MWh
awarded (the over-procurement) and the solve-time factor.

`--monte-carlo` checks the levels instead: for each market and rule, deliveries are drawn
(MC_DRAWS per need-period, a seed of its own, not the result's) from the snapshot's
reliabilities, as all-or-nothing deliveries (Bernoulli) and as partial ones (a Beta share of
the award with the same mean, strength 3), and the table gives, over the need-periods with
MW covered, the mean and least probability that the covered MW are met and how many fall
below the level by more than three standard errors of the estimate.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optimiser import ClearingOptions, clear, load_snapshot  # noqa: E402
from optimiser.generate import generate  # noqa: E402

PRODUCTS = ["sustain", "secure", "dynamic", "restore", "reserve"]
RULES = (("expected value", None), ("sub-Gaussian", "sub_gaussian"), ("normal", "normal"))


def run(n: int, seed: int, level: float, time_limit: float) -> list[dict]:
    base = generate(n, seed=seed)
    base["version"] = 2
    rows = []
    for name, bound in RULES:
        doc = copy.deepcopy(base)
        if bound:
            doc["rules"]["confidence"] = dict.fromkeys(PRODUCTS, level)
            doc["rules"]["confidence_bound"] = bound
        snap = load_snapshot(doc)
        t = time.perf_counter()
        res = clear(snap, ClearingOptions(time_limit=time_limit))
        wall = time.perf_counter() - t
        dh = snap.dh
        served = [d for d in res.delivery if d["expected_mw"] > 0]
        pm = [d["p_met"] for d in served]
        ch = res.stats.get("chance", {})
        rows.append({
            "assets": n, "rule": name, "status": res.status,
            "cost": res.cost["availability"] + res.cost["utilisation_expected"]
            + res.cost["carbon"],
            "mwh": sum(a.mw for a in res.awards) * dh,
            "unmet": [s.unmet_mwh for s in res.stages],
            "p_mean": sum(pm) / len(pm) if pm else float("nan"),
            "p_min": min(pm) if pm else float("nan"),
            "wall_s": wall, "clearings": len(ch.get("iterations", [])) or 1,
        })
    return rows


def table(rows: list[dict]) -> str:
    head = ("| assets | rule | status | procurement GBP | awarded MWh | unmet MWh p1 / p2 "
            "| P(met) mean / min | clearings | wall s | extra GBP | extra MWh | time x |")
    out = [head, "|" + "---|" * 12]
    ev: dict[int, dict] = {}
    for r in rows:
        if r["rule"] == "expected value":
            ev[r["assets"]] = r
        e = ev[r["assets"]]
        same = r is e
        extra_gbp = "" if same else f"{r['cost'] - e['cost']:+,.0f} ({r['cost'] / e['cost'] - 1:+.0%})"
        extra_mwh = "" if same else f"{r['mwh'] - e['mwh']:+,.1f} ({r['mwh'] / e['mwh'] - 1:+.0%})"
        factor = "" if same else f"{r['wall_s'] / e['wall_s']:.1f}"
        un = " / ".join(f"{u:,.1f}" for u in r["unmet"])
        out.append(f"| {r['assets']:,} | {r['rule']} | {r['status']} | {r['cost']:,.0f} "
                   f"| {r['mwh']:,.1f} | {un} | {r['p_mean']:.3f} / {r['p_min']:.3f} "
                   f"| {r['clearings']} | {r['wall_s']:.1f} | {extra_gbp} | {extra_mwh} "
                   f"| {factor} |")
    return "\n".join(out)


MC_DRAWS = 4000


def monte_carlo(n: int, seed: int, level: float, time_limit: float) -> list[dict]:
    import numpy as np

    base = generate(n, seed=seed)
    base["version"] = 2
    rel = {a["id"]: a["reliability"] for a in base["assets"]}
    bid_asset = {b["id"]: b["asset"] for b in base["bids"]}
    bid_need = {b["id"]: b["need"] for b in base["bids"]}
    se = (level * (1 - level) / MC_DRAWS) ** 0.5
    out = []
    for name, bound in RULES:
        doc = copy.deepcopy(base)
        if bound:
            doc["rules"]["confidence"] = dict.fromkeys(PRODUCTS, level)
            doc["rules"]["confidence_bound"] = bound
        res = clear(load_snapshot(doc), ClearingOptions(time_limit=time_limit))
        per: dict = {}
        for a in res.awards:
            d = per.setdefault((bid_need[a.bid], a.period), {})
            d[bid_asset[a.bid]] = d.get(bid_asset[a.bid], 0.0) + a.mw
        for model in ("Bernoulli", "Beta share"):
            rng = np.random.default_rng(1000 + seed)
            ps = []
            for d in res.delivery:
                target = d["mw"] - d["unmet_mw"]
                aw = per.get((d["need"], d["period"]), {})
                if target <= 1e-6 or not aw:
                    continue
                m = np.array([rel[a] for a in aw])
                x = np.array(list(aw.values()))
                if model == "Bernoulli":
                    y = rng.random((MC_DRAWS, len(m))) < m
                else:
                    y = rng.beta(m * 3.0, (1 - m) * 3.0, size=(MC_DRAWS, len(m)))
                ps.append(float(((y * x).sum(axis=1) >= target - 1e-9).mean()))
            ps_a = np.array(ps)
            out.append({"assets": n, "seed": seed, "rule": name, "model": model,
                        "rows": len(ps), "mean": float(ps_a.mean()), "min": float(ps_a.min()),
                        "below": int((ps_a < level - 3 * se).sum())})
    return out


def mc_table(rows: list[dict], level: float) -> str:
    out = [f"| assets (seed) | rule | deliveries | need-periods | P(met) mean | P(met) least "
           f"| below {level:.0%} - 3 se |", "|" + "---|" * 7]
    for r in rows:
        out.append(f"| {r['assets']} ({r['seed']}) | {r['rule']} | {r['model']} | {r['rows']} "
                   f"| {r['mean']:.3f} | {r['min']:.3f} | {r['below']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,500,2000")
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--monte-carlo", action="store_true")
    ap.add_argument("--seeds", default="1")
    a = ap.parse_args(argv)
    if a.monte_carlo:
        rows = []
        for n in (int(s) for s in a.sizes.split(",")):
            for seed in (int(s) for s in a.seeds.split(",")):
                rows += monte_carlo(n, seed, a.level, a.time_limit)
                print(mc_table(rows, a.level), flush=True)
                print(flush=True)
        return
    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        rows += run(n, a.seed, a.level, a.time_limit)
        print(table(rows), flush=True)
        print(flush=True)


if __name__ == "__main__":
    main()
