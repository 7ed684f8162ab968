"""Command-line dispatch: read a snapshot, dispatch it, print a summary, write the result.

`main` is what `flexplatform dispatch` wraps. Exit codes: 0 optimal/feasible, 1 the solve
failed, 2 the snapshot is unreadable or invalid (every problem printed on stderr).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .engine import DEFAULT_GAP, DEFAULT_TIME_LIMIT, solve
from .snapshot import SnapshotError


def summary(res: dict[str, Any]) -> str:
    rows = [("status", res["status"]), ("objective (GBP)", f"{res['objective']:,.2f}")]
    if res.get("mip_gap") is not None:
        rows.append(("mip gap", f"{res['mip_gap']:.2e}"))
    for k, v in res["cost"].items():
        rows.append((f"  {k}", f"{v:,.2f}"))
    rows.append(("instructions", str(len(res["instructions"]))))
    for s in res["stages"]:
        rows.append((f"shortfall MWh, priority {s['priority']}", f"{s['shortfall_mwh']:,.3f}"))
    rows.append(("not dispatched (contract, request)", str(len(res["not_dispatched"]))))
    for reason, n in sorted(Counter(r for x in res["not_dispatched"]
                                    for r in x["reasons"]).items()):
        rows.append((f"  {reason}", str(n)))
    rows.append(("build s", f"{res['timing']['build_s']:.3f}"))
    rows.append(("solve s", f"{res['timing']['solve_s']:.3f}"))
    if res.get("message"):
        rows.append(("message", res["message"]))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def main(snapshot_path: str | Path, out: str | Path | None = None,
         time_limit: float = DEFAULT_TIME_LIMIT, gap: float = DEFAULT_GAP) -> int:
    try:
        doc = json.loads(Path(snapshot_path).read_text())
    except (OSError, ValueError) as e:
        print(f"invalid dispatch snapshot: cannot read {snapshot_path}: {e}", file=sys.stderr)
        return 2
    try:
        res = solve(doc, mip_rel_gap=gap, time_limit=time_limit)
    except SnapshotError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(summary(res))
    if out is not None:
        Path(out).write_text(json.dumps(res))
        print(f"result written to {out}")
    return 0 if res["status"] in ("optimal", "feasible") else 1
