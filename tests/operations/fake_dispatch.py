"""A greedy stand-in for ``optimiser.dispatch.solve`` (used only while the engine branch has
not landed): it honours the snapshot's contracts, availability and fixed instructions so
the platform side (snapshots, instructions, re-dispatch) can be tested on its own."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def solve(snap: dict[str, Any], **_: Any) -> dict[str, Any]:
    assets = {a["id"]: a for a in snap["assets"]}
    T = len(snap["periods"])
    avail = {(a["asset"], a["direction"]): a["mw"] for a in snap["availability"]}
    used: dict[tuple[str, str, int], float] = defaultdict(float)
    cons = {c["id"]: c for c in snap["contracts"]}
    for f in snap["instructions"]:
        c = cons[f["contract"]]
        used[(c["asset"], c["direction"], f["period"])] += f["mw"]
    out, short, nd = [], [], []
    for r in sorted(snap["requests"], key=lambda r: (r["priority"], r["id"])):
        can = [c for c in snap["contracts"] if (c["mo"], c["product"], c["direction"]) ==
               (r["mo"], r["product"], r["direction"]) and r["zone"] in ("GB",
                                                                        assets[c["asset"]]["zone"])]
        can.sort(key=lambda c: (c["utilisation_price"], c["id"]))
        called: set[str] = set()
        for t in range(T):
            need = r["mw"][t]
            for c in can:
                if need <= 1e-9 or c["mw"][t] <= 0:
                    continue
                a = assets[c["asset"]]
                cap = a["up_mw"] if c["direction"] == "up" else a["down_mw"]
                room = min(c["mw"][t], avail.get((a["id"], c["direction"]), [cap] * T)[t]
                           - used[(a["id"], c["direction"], t)])
                y = min(room, need / a["reliability"])
                if y > 1e-9:
                    used[(a["id"], c["direction"], t)] += y
                    need -= y * a["reliability"]
                    out.append({"contract": c["id"], "request": r["id"], "asset": a["id"],
                                "period": t, "mw": round(y, 6)})
                    called.add(c["id"])
            if need > 1e-9:
                short.append({"request": r["id"], "period": t, "mw": round(need, 6)})
        for c in can:
            if c["id"] not in called:
                nd.append({"contract": c["id"], "request": r["id"], "reasons": ["outcompeted"]})
    return {"version": 1, "status": "optimal", "mip_gap": 0.0, "objective": 0.0,
            "cost": {}, "instructions": out, "shortfall": short, "not_dispatched": nd,
            "stages": [], "timing": {"build_s": 0.0, "solve_s": 0.0}}
