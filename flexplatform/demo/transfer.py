"""The demo's secondary trade: after the market day clears, one FSP's asset has an outage
and its contract for two half-hours is offered to the others; the clearing engine picks
the offers and the obligation moves to the new holders.

Only the API is used, as a participant would; everything printed is read back from it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from flexplatform.demo.run import Api, State


def _pick(api: Api, st: State) -> tuple[str, list[dict[str, Any]]] | None:
    """An FSP's asset with at least two awarded half-hours on one need, in a zone where
    other FSPs' assets can move up: (company, its first two contracts)."""
    awards = api("GET", "/awards?limit=10000", st.regulator)["items"]
    now = dt.datetime.now(dt.UTC)
    held: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in awards:
        key = (a["asset_id"], a["need_id"])
        if a["status"] == "active" and dt.datetime.fromisoformat(a["period_start"]) > now \
                and all(b["period_start"] != a["period_start"] for b in held[key]):
            held[key].append(a)
    for (aid, nid), rows in sorted(held.items(), key=lambda kv: -len(kv[1])):
        zone = st.needs[nid]["zone"]
        others = [x for x in st.asset_by_id.values() if x["company"] !=
                  st.asset_by_id[aid]["company"] and x["up_mw"] > 0
                  and zone in ("GB", x["zone"])]
        if len(rows) >= 2 and len(others) >= 2:
            return st.asset_by_id[aid]["company"], sorted(rows, key=lambda r: r["period_start"])[:2]
    return None


def report_transfer(api: Api, st: State, console: Console) -> dict[str, Any] | None:
    """Run one transfer through the API and print it; None if no contract suits."""
    picked = _pick(api, st)
    if picked is None:
        console.print("[yellow]secondary trading: no contract suits a demo transfer[/]")
        return None
    company, contracts = picked
    holder = st.fsps[company]
    zone = st.needs[contracts[0]["need_id"]]["zone"]
    first = dt.datetime.fromisoformat(contracts[0]["period_start"])
    t = api("POST", "/transfers", holder, json={
        "contracts": [{"contract_id": c["id"]} for c in contracts],
        "reason": "battery inverter outage; the asset cannot deliver these half-hours",
        "offer_deadline": (first - dt.timedelta(minutes=1)).isoformat()})
    mw = max(c["mw"] for c in contracts)
    price = float(contracts[0]["availability_price"])
    cap = float(t["max_price"])
    refused: list[str] = []
    offered = 0
    candidates = sorted((x for x in st.asset_by_id.values()
                         if x["company"] != company and x["up_mw"] > 0
                         and zone in ("GB", x["zone"])), key=lambda x: -x["up_mw"])
    # Two takers at prices either side of the original, so both payment directions show.
    for k, x in enumerate(candidates[:12]):
        if offered == 2:
            break
        ask = min(round(price * (1.15 if offered == 0 else 0.9) + 0.5 * k, 2), cap)
        r = api.c.post(f"/api/v1/transfers/{t['id']}/offers", headers=st.fsps[x["company"]].h,
                       json={"asset_id": x["id"], "mw": [min(mw, x["up_mw"])] * len(contracts),
                             "price": f"{ask:.2f}"})
        api.calls += 1
        if r.status_code == 201:
            offered += 1
        else:
            rules = ", ".join(f"{e['field']}: {e.get('rule')}" for e in r.json().get("errors", []))
            refused.append(f"{x['name'][:40]} -> {r.status_code} ({rules})")
    api("POST", f"/transfers/{t['id']}/close", holder)
    deadline = time.monotonic() + 60
    while True:
        t = api("GET", f"/transfers/{t['id']}", holder)
        if t["status"] not in ("open", "clearing") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    table = Table(title=f"Secondary trade: transfer {t['id'][:8]} ({t['status']}), "
                        f"{company} offers {len(contracts)} half-hours of "
                        f"{st.needs[contracts[0]['need_id']]['name'][:40]}")
    for col in ("period (UTC)", "contract", "from", "to", "MW", "MO pays (GBP/MW/h)"):
        table.add_column(col)
    awards = api("GET", "/awards?limit=10000", st.regulator)["items"]
    origin = {c["id"] for c in contracts}
    name = {aid: a["company"] for aid, a in st.asset_by_id.items()}
    for a in sorted((a for a in awards if a.get("transferred_from_id") in origin),
                    key=lambda a: (a["period_start"], a["id"])):
        table.add_row(a["period_start"][11:16], f"#{a['transferred_from_id']} -> #{a['id']}",
                      company, name.get(a["asset_id"], "?"), f"{a['mw']:g}",
                      str(a["availability_price"]))
    console.print(table)
    pays = api("GET", f"/transfer-payments?transfer_id={t['id']}", st.regulator)["items"]
    who = {p.id: n for n, p in st.fsps.items()}
    for p in pays:
        console.print(f"  transfer payment {p['period_start'][11:16]}Z: "
                      f"{who.get(p['payer_id'], '?')} pays {who.get(p['payee_id'], '?')} "
                      f"£{float(p['amount']):.2f} ({float(p['transfer_price']):g} asked vs "
                      f"{float(p['original_price']):g} original x {p['mw']:g} MW x 0.5 h)")
    for o in api("GET", f"/transfers/{t['id']}/offers", holder):
        why = "; ".join(r["message"] for r in o["reasons"]) or "picked"
        console.print(f"  offer {name.get(o['asset_id'], '?')} at {float(o['price']):g}: "
                      f"{o['status']} {o['awarded'] or ''} ({why})")
    for line in refused[:3]:
        console.print(f"  offer refused: {line}")
    run = api("GET", f"/transfers/{t['id']}/clearing", st.regulator)
    console.print(f"  cleared by the engine: snapshot {run['snapshot_sha256'][:12]}…, "
                  f"result {(run['result_sha256'] or '')[:12]}…")
    return {"status": t["status"], "payments": len(pays), "refused": len(refused)}
