"""Command-line clearing: load a snapshot, clear it, print a summary, write the result.

`main` is what the platform's typer command (`flexplatform clear`) wraps; `python -m
optimiser` gives the same behaviour with argparse. Exit codes: 0 optimal/feasible,
1 infeasible/error, 2 invalid snapshot (every problem printed).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from .clearing import clear
from .result import ClearingOptions, ClearingResult
from .snapshot import SnapshotError, load_snapshot


def summary(res: ClearingResult) -> str:
    rows = [("status", res.status),
            ("objective (GBP)", "-" if res.objective is None else f"{res.objective:,.2f}")]
    if res.mip_gap is not None:
        rows.append(("mip gap", f"{res.mip_gap:.2e}"))
    for k, v in res.cost.items():
        rows.append((f"  {k}", f"{v:,.2f}"))
    rows.append(("awards", str(len(res.awards))))
    for s in res.stages:
        rows.append((f"unmet MWh, priority {s.priority}", f"{s.unmet_mwh:,.3f}"))
    rows.append(("rejected bids", str(len(res.rejected))))
    for reason, n in sorted(Counter(r for x in res.rejected for r in x.reasons).items()):
        rows.append((f"  {reason}", str(n)))
    for st in (res.stats or {}).get("stages", []):
        if not st.get("skipped") and st.get("gap") is not None:
            rows.append((f"{st['stage']} stage gap", f"{st['gap']:.2e}"))
    rows.append(("build s", f"{res.timing.get('build_s', 0):.3f}"))
    rows.append(("solve s", f"{res.timing.get('solve_s', 0):.3f}"))
    if res.message:
        rows.append(("message", res.message))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def main(snapshot_path: str | Path, out: str | Path | None = None, time_limit: float = 60.0,
         gap: float = 1e-3, threads: int | None = None, method: str = "auto") -> int:
    try:
        snap = load_snapshot(Path(snapshot_path))
    except SnapshotError as e:
        print(str(e), file=sys.stderr)
        return 2
    res = clear(snap, ClearingOptions(time_limit=time_limit, mip_rel_gap=gap, threads=threads,
                                      method=method))
    print(summary(res))
    if out is not None:
        res.to_json(out)
        print(f"result written to {out}")
    return 0 if res.status in ("optimal", "feasible") else 1


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m optimiser",
                                description="Clear a market snapshot (market-snapshot-v1).")
    p.add_argument("snapshot", help="snapshot JSON file")
    p.add_argument("--out", help="write the result JSON here")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--gap", type=float, default=1e-3, help="relative MIP gap (default 1e-3)")
    p.add_argument("--threads", type=int, default=None, help="HiGHS threads (default: HiGHS)")
    p.add_argument("--method", choices=("auto", "monolithic", "decomposed"), default="auto",
                   help="auto: price decomposition for large markets (default)")
    a = p.parse_args(argv)
    return main(a.snapshot, a.out, a.time_limit, a.gap, a.threads, a.method)
