"""The market day continues into operations: declarations, utilisation calls, dispatch,
a rejection and its re-dispatch, and what the MO, an FSP and the regulator each see.

Everything goes over the API, as in ``run.py``. The MOs' calls are shaped on UKPN's
published flexibility dispatches (``../shared/data`` or the bundled sample): each call
takes the local start time and length of a real evening dispatch, clipped to the need's
contracted periods, and calls a share of what was contracted that grows with the real
dispatch's MW (UKPN's rows are single portfolios, so only their shape transfers).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from flexplatform.demo.run import Api, Party, State

LONDON = ZoneInfo("Europe/London")
HALF = dt.timedelta(minutes=30)
ROOT = Path(__file__).resolve().parents[2]
UKPN = [base / "shared" / "data" / "ukpn_flex_dispatches_day_ahead_2024_2025.csv"
        for base in (ROOT.parent, ROOT.parent.parent)]
# Fallback shapes (local start hour, hours, MW) when the UKPN file is not beside the repo.
FALLBACK = [(16.0, 3.0, 0.04), (17.0, 2.0, 0.02), (16.5, 2.5, 0.05), (17.5, 1.5, 0.03)]


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def ukpn_shapes() -> list[tuple[float, float, float]]:
    """(local start hour, hours, utilisation MW) of UKPN's evening dispatches."""
    for path in UKPN:
        if not path.exists():
            continue
        out = []
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                try:
                    start = dt.datetime.fromisoformat(row["start_time_local"])
                    hours = float(row["hours_requested"])
                    mw = float(row["utilisation_mw_req"])
                except (KeyError, ValueError):
                    continue
                h = start.hour + start.minute / 60
                if 16 <= h < 20 and hours > 0:
                    out.append((h, min(hours, 20 - h), mw))
        if out:
            return out
    return FALLBACK


def _runs(periods: list[dt.datetime]) -> list[tuple[dt.datetime, int]]:
    """Contiguous half-hour runs of sorted periods: (start, count)."""
    out: list[tuple[dt.datetime, int]] = []
    for t in sorted(periods):
        if out and out[-1][0] + out[-1][1] * HALF == t:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((t, 1))
    return out


def stage_declarations(api: Api, st: State, rng: random.Random) -> dict[str, Any]:
    """Every FSP declares its contracted assets; about one in four is derated."""
    stats: Counter[str] = Counter()
    derated: list[tuple[str, str]] = []
    for company, fsp in st.fsps.items():
        # Active only: a contract sold on (secondary trading) is the buyer's to declare.
        awards = [a for a in api("GET", "/awards?limit=10000", fsp)["items"]
                  if a.get("status", "active") == "active"]
        periods: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
        markets: dict[str, set[str]] = defaultdict(set)
        for a in awards:
            periods[(a["asset_id"], a["direction"])].append(_t(a["period_start"]))
            markets[a["asset_id"]].add(a["market_id"])
        groups: dict[tuple[str, dt.datetime, int, bool], list[dict[str, Any]]] = defaultdict(list)
        for (aid, d), ts in sorted(periods.items()):
            asset = st.asset_by_id[aid]
            cap = asset["up_mw"] if d == "up" else asset["down_mw"]
            # An asset sold to two MOs is derated: the conflict scan then finds its
            # declaration below what the two hold together.
            low = rng.random() < 0.25 or len(markets[aid]) > 1
            for start, n in _runs(sorted(set(ts))):
                groups[(d, start, n, low)].append(
                    {"asset_id": aid, "mw": round(cap * 0.6, 3) if low else cap})
            if low:
                derated.append((company, asset["name"]))
        for (d, start, n, low), items in groups.items():
            # A reason always: for products whose declarations already locked (week- or
            # day-ahead), only a figure at or below capability with a reason is taken.
            reason = "derating: site constraint" if low else "declared at capability"
            out = api("POST", "/availability", fsp, json={
                "direction": d, "period_start": start.isoformat(), "periods": n,
                "reason": reason, "assets": items})
            for k, v in out.items():
                stats[k] += v
            stats["requests"] += 1
    return {"stats": dict(stats), "derated": derated}


def _contracted(api: Api, mo: Party) -> dict[str, dict[dt.datetime, float]]:
    """need id -> period -> contracted MW (the MO's own awards)."""
    out: dict[str, dict[dt.datetime, float]] = defaultdict(lambda: defaultdict(float))
    for a in api("GET", "/awards?limit=10000", mo)["items"]:
        if a.get("status", "active") != "active":
            continue
        out[a["need_id"]][_t(a["period_start"])] += a["mw"]
    return out


def stage_calls(api: Api, st: State, rng: random.Random) -> dict[str, Any]:
    shapes = ukpn_shapes()
    top = sorted(s[2] for s in shapes)[int(0.9 * (len(shapes) - 1))] or 1.0
    made, refused = [], []
    for mo_name, mo in st.mos.items():
        held = _contracted(api, mo)
        for need_id, per in sorted(held.items()):
            need = st.needs[need_id]
            if need["product"] not in ("dynamic", "secure", "sustain", "quick_reserve"):
                continue
            h, hours, mw = rng.choice(shapes)
            day = min(per).astimezone(LONDON).date()
            start = dt.datetime.combine(day, dt.time(int(h), 30 if h % 1 else 0), LONDON
                                        ).astimezone(dt.UTC)
            end = start + HALF * max(1, round(hours * 2))
            window = [t for t in sorted(per) if start <= t < end and per[t] > 0]
            if not window:
                window = sorted(per)[:2]
            share = 0.4 + 0.5 * min(1.0, mw / top)
            body = {"need_id": need_id, "period_start": window[0].isoformat(),
                    "period_end": (window[-1] + HALF).isoformat(),
                    "mw": round(max(0.1, share * min(per[t] for t in window)), 3)}
            r = api.c.post("/api/v1/utilisation-requests", headers=mo.h, json=body)
            if r.status_code == 201:
                made.append({**r.json(), "mo": mo_name, "need_name": need.get("name", "")})
            else:
                refused.append((mo_name, need["product"], r.json()))
            if len(made) >= 8:
                break
    return {"made": made, "refused": refused}


def _wait(api: Api, who: Party, request_ids: list[str], timeout: float = 90.0,
          settled: tuple[str, ...] = ("dispatched", "partly_covered", "shortfall", "accepted")
          ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    out: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = {i: api("GET", f"/utilisation-requests/{i}", who) for i in request_ids}
        if all(r["status"] in settled for r in out.values()):
            return out
        time.sleep(0.3)
    return out


def stage_dispatch(api: Api, st: State, calls: dict[str, Any]) -> dict[str, Any]:
    by_mo: dict[str, list[str]] = defaultdict(list)
    for r in calls["made"]:
        if r["mode"] == "event":
            by_mo[r["mo"]].append(r["id"])
    views = {}
    for mo, ids in by_mo.items():
        views.update(_wait(api, st.mos[mo], ids))
    # One FSP rejects its first instruction; the periods are re-dispatched without it.
    rejected = None
    for company, fsp in st.fsps.items():
        mine = api("GET", "/instructions?status=issued&limit=1000", fsp)["items"]
        if mine:
            rejected = (company, api("POST", f"/instructions/{mine[0]['id']}/ack", fsp, json={
                "decision": "reject", "reason": "unplanned outage at the site"}))
            break
    redispatch = None
    if rejected:
        req_id = rejected[1]["request_id"]
        mo = next(m for m, ids in by_mo.items() if req_id in ids)
        time.sleep(0.2)
        redispatch = _wait(api, st.mos[mo], [req_id])[req_id]
    accepted = 0
    for fsp in st.fsps.values():
        for i in api("GET", "/instructions?status=issued&limit=1000", fsp)["items"]:
            api("POST", f"/instructions/{i['id']}/ack", fsp, json={"decision": "accept"})
            accepted += 1
    # An FSP derates an asset after accepting a call on it: the conflict scan finds the
    # asset called beyond what it now declares, and tells the MO and the FSP.
    derate = None
    for company, fsp in st.fsps.items():
        if rejected and company == rejected[0]:
            continue
        mine = api("GET", "/instructions?status=accepted&limit=1", fsp)["items"]
        if mine:
            i = mine[0]
            api("POST", "/availability", fsp, json={
                "direction": i["direction"], "period_start": i["period_start"], "periods": 1,
                "reason": "derating: transformer fault after the call",
                "assets": [{"asset_id": i["asset_id"], "mw": round(i["mw"] / 2, 3)}]})
            derate = (company, i)
            break
    from flexplatform.queue import enqueue

    enqueue("flex.operations.conflict_scan")
    return {"views": views, "rejected": rejected, "redispatch": redispatch,
            "accepted": accepted, "derate": derate}


def _local(t: str) -> str:
    return _t(t).astimezone(LONDON).strftime("%H:%M")


def report_operations(api: Api, st: State, console: Console, decl: dict[str, Any],
                      calls: dict[str, Any], disp: dict[str, Any]) -> int:
    s = decl["stats"]
    console.print(f"[bold]Availability[/]: {s.get('stored', 0)} half-hour declarations in "
                  f"{s.get('requests', 0)} bulk requests; {len(decl['derated'])} assets derated "
                  f"to 60%; {s.get('after_lock', 0)} after their product's lock (flagged to the "
                  f"MO); {s.get('shortfalls', 0)} contract-periods short of contracted MW "
                  "(MO notified).")
    for mo, product, prob in calls["refused"][:3]:
        err = (prob.get("errors") or [{}])[0]
        console.print(f"  refused call ({mo}, {product}): {prob.get('status')} "
                      f"{err.get('field', '')}: {err.get('message', prob.get('detail'))}")
    # --- MO view -------------------------------------------------------------------------
    for mo in st.mos.values():
        rows = api("GET", "/utilisation-requests?limit=100", mo)["items"]
        if not rows:
            continue
        t = Table(title=f"{mo.name} sees its requests (state and dispatch rationale)",
                  title_justify="left")
        for col in ("product", "zone", "window (local)", "MW", "state", "instructions",
                    "called MWh", "not called: reasons"):
            t.add_column(col, overflow="fold")
        for r in rows:
            d = api("GET", f"/utilisation-requests/{r['id']}", mo)
            live = [i for i in d["instructions"] if i["status"] in ("issued", "accepted")]
            why = Counter(x for n in d["rationale"] for x in n["reasons"])
            t.add_row(r["product_code"], r["zone_code"],
                      f"{_local(r['period_start'])}-{_local(r['period_end'])}", f"{r['mw']:.2f}",
                      r["status"] if r["mode"] == "event" else f"{r['status']} (day-ahead batch)",
                      f"{len(live)} live / {len(d['instructions'])}",
                      f"{sum(i['mw'] for i in live) * 0.5:.2f}",
                      ", ".join(f"{k} x{v}" for k, v in why.most_common(3)) or "-")
        console.print(t)
    # --- the FSP that rejected -------------------------------------------------------------
    rej = disp.get("rejected")
    if rej:
        company, ins = rej
        fsp = st.fsps[company]
        mine = api("GET", "/instructions?limit=1000", fsp)["items"]
        t = Table(title=f"{company} sees its own instructions", title_justify="left")
        for col in ("asset", "product", "period (local)", "MW", "status", "reason"):
            t.add_column(col, overflow="fold")
        for i in mine[:12]:
            t.add_row(st.asset_by_id.get(i["asset_id"], {}).get("name", i["asset_id"])[:40],
                      i["product_code"], _local(i["period_start"]), f"{i['mw']:.3f}",
                      i["status"], i["reject_reason"] or "")
        console.print(t)
        red = disp.get("redispatch") or {}
        live = [i for i in red.get("instructions", []) if i["status"] in ("issued", "accepted")
                and i["period_start"] == ins["period_start"]]
        console.print(f"  rejected {ins['mw']:.3f} MW at {_local(ins['period_start'])}: "
                      f"re-dispatched to {len({i['asset_id'] for i in live})} other asset(s) "
                      f"({sum(i['mw'] for i in live):.3f} MW live in that period; request "
                      f"now {red.get('status')})")
    # --- regulator -------------------------------------------------------------------------
    runs = api("GET", "/dispatch-runs?limit=50", st.regulator)["items"]
    t = Table(title="Regulator sees every dispatch run (frozen, hashed)", title_justify="left")
    for col in ("trigger", "status", "requests", "excluded assets", "instructions",
                "snapshot sha256", "result sha256"):
        t.add_column(col, overflow="fold")
    for r in reversed(runs):
        full = api("GET", f"/dispatch-runs/{r['id']}", st.regulator)
        n = len((full.get("result") or {}).get("instructions", []))
        t.add_row(r["trigger"], r["status"], str(len((full.get("snapshot") or {}).get(
            "requests", []))), str(len(r["excluded_asset_ids"])), str(n),
            (r["snapshot_sha256"] or "")[:16], (r["result_sha256"] or "")[:16])
    console.print(t)
    statuses = Counter(i["status"] for i in api("GET", "/instructions?limit=1000",
                                                st.regulator)["items"])
    conflicts = api("GET", "/conflicts?limit=1000", st.regulator)["items"]
    kinds = Counter(c["kind"] for c in conflicts)
    console.print(f"  instructions: {dict(statuses)}; conflicts: {dict(kinds) or 'none'}")
    for c in conflicts[:2]:
        console.print(f"  conflict {c['kind']} ({c['detected_by']}, {c['status']}, "
                      f"{len(c['parties'])} parties see it): {c['rationale']}")
    ok = bool(calls["made"]) and bool(runs) and all(r["status"] == "done" for r in runs)
    return 0 if ok else 1


def run_operations(api: Api, st: State, console: Console, rng: random.Random) -> int:
    """Declarations, calls, dispatch, a rejection and its re-dispatch; 0 when all worked."""
    console.rule("[bold]Operations: availability, utilisation and dispatch")
    decl = stage_declarations(api, st, rng)
    calls = stage_calls(api, st, rng)
    disp = stage_dispatch(api, st, calls)
    return report_operations(api, st, console, decl, calls, disp)
