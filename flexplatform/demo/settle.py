"""The market day continues: dispatch, metering, verification, settlement, a dispute.

Operations (``demo/operations.py``) has dispatched NGED's calls and the FSPs have accepted
the instructions; the three NGED sites called most are metered here. (Without those, NGED
calls 80 % of its 17:00-18:00 contracts itself through operations, and should dispatch give
nothing, the contracts are instructed directly; the demo says which.) Each site's half-hourly import follows
the real Elexon Profile Class 1 winter weekday shape (``demo_data``) scaled to the site,
with 3 % noise, for five weeks of history and the event day; during the instructed
periods the sites reduce import by the instructed MW, except one that delivers only
40 %. Readings go in by ``meter import`` (verification runs as they arrive), then the MO
settles the month, issues the statements, and the under-delivering FSP disputes its
utilisation line: the MO rejects, the FSP escalates, the platform decides.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from flexplatform.demo.plan import LONDON

PROFILE = Path(__file__).parents[1] / "demo_data" / "elexon_profile_class1_winter_weekday_kw.csv"
HH = dt.timedelta(minutes=30)
HISTORY_DAYS = 35
SHORT = 0.4  # the under-delivering site delivers 40 % of its instruction


def _profile() -> list[float]:
    with PROFILE.open() as f:
        return [float(r["demand_kw"]) for r in csv.DictReader(f)]


def _from_operations(api: Any, st: Any) -> tuple[list[dict[str, Any]], str]:
    """The NGED instructions the operations part of the demo dispatched and the FSPs
    accepted: up to three sites, the largest called first; the last delivers short."""
    sites: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = api("GET", f"/instructions?status=accepted&limit=500&offset={offset}",
                   st.regulator)
        for i in page["items"]:
            mo = st.mos["NGED"].id
            if i["mo_id"] != mo or i["direction"] != "up":
                continue
            site = sites.setdefault(i["asset_id"], {"asset_id": i["asset_id"],
                                                    "fsp_id": i["fsp_id"], "mw": {}})
            t, end = _at(i["period_start"]), _at(i["period_end"])
            while t < end:
                site["mw"][t] = site["mw"].get(t, 0.0) + i["mw"]
                t += HH
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            break
    out = sorted(sites.values(), key=lambda x: (-sum(x["mw"].values()), x["asset_id"]))[:3]
    for k, x in enumerate(out):
        x["short"] = k == len(out) - 1
    return out, "the NGED instructions dispatched above and accepted by their FSPs"


def _at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _dispatch(api: Any, st: Any) -> tuple[list[dict[str, Any]], str]:
    """The MO calls its 17:00-18:00 contracts of up to three CMZs through operations:
    utilisation requests, a dispatch run (the day-ahead batch, run now with its clock
    set to the batch time), instructions the FSPs accept over the API."""
    from sqlalchemy import select

    from flexplatform.competition.models import Contract
    from flexplatform.db import unit_of_work
    from flexplatform.operations import instructions as ops_instructions

    market_id = uuid.UUID(st.markets["NGED"]["id"])
    with unit_of_work() as s:
        cons = s.scalars(select(Contract).where(Contract.market_id == market_id,
                                                Contract.direction == "up")).all()
        held: dict[uuid.UUID, dict[dt.datetime, float]] = defaultdict(lambda: defaultdict(float))
        for c in cons:
            if c.period_start.astimezone(LONDON).hour == 17:
                held[c.need_id][c.period_start] += c.mw
    needs = sorted((n for n, p in held.items() if len(p) == 2),
                   key=lambda n: (-min(held[n].values()), str(n)))[:3]
    mo = st.mos["NGED"]
    reqs = []
    for n in needs:
        start = min(held[n])
        mw = round(0.8 * min(held[n].values()), 3)
        reqs.append(api("POST", "/utilisation-requests", mo, json={
            "need_id": str(n), "period_start": start.isoformat(),
            "period_end": (start + 2 * HH).isoformat(), "mw": mw}))
    if any(r["mode"] == "scheduled" and r["status"] == "requested" for r in reqs):
        from flexplatform.governance.models import Product
        from flexplatform.operations.rules import rules_for

        with unit_of_work() as s:
            first = min(dt.datetime.fromisoformat(r["period_start"]) for r in reqs)
            batch = rules_for(s.get(Product, reqs[0]["product_code"])).batch_at(first)
            ops_instructions.sweep(s, now=batch + dt.timedelta(minutes=1))
    sites: dict[str, dict[str, Any]] = {}
    fsps = {p.id: p for p in st.fsps.values()}
    for r in reqs:
        for _ in range(300):
            d = api("GET", f"/utilisation-requests/{r['id']}", mo)
            if d["instructions"] or d["status"] in ("shortfall", "cancelled"):
                break
            time.sleep(0.1)
        for i in d["instructions"]:
            if i["status"] != "issued":
                continue
            api("POST", f"/instructions/{i['id']}/ack", fsps[i["fsp_id"]],
                json={"decision": "accept"})
            site = sites.setdefault(i["asset_id"], {"asset_id": i["asset_id"],
                                                    "fsp_id": i["fsp_id"], "mw": {}})
            t = dt.datetime.fromisoformat(i["period_start"].replace("Z", "+00:00"))
            site["mw"][t] = site["mw"].get(t, 0.0) + i["mw"]
    out = sorted(sites.values(), key=lambda x: (-sum(x["mw"].values()), x["asset_id"]))[:4]
    for k, x in enumerate(out):
        x["short"] = k == len(out) - 1
    return out, f"{len(reqs)} utilisation requests dispatched by operations"


def _instruct(st: Any, rng: random.Random) -> list[dict[str, Any]]:
    """Fallback when dispatch gives nothing: accepted instructions for the 17:00-18:00
    contracts of up to three NGED sites, issued from the contracts directly."""
    from sqlalchemy import select

    from flexplatform.competition.models import Contract, Need
    from flexplatform.db import unit_of_work
    from flexplatform.operations.models import DispatchRun, Instruction, UtilisationRequest

    market_id = uuid.UUID(st.markets["NGED"]["id"])
    out = []
    with unit_of_work() as s:
        cons = s.scalars(select(Contract).where(Contract.market_id == market_id,
                                                Contract.direction == "up")
                         .order_by(Contract.period_start, Contract.id)).all()
        by_asset: dict[uuid.UUID, list[Contract]] = defaultdict(list)
        for c in cons:
            if c.period_start.astimezone(LONDON).hour == 17:
                by_asset[c.asset_id].append(c)
        chosen = sorted((a for a, cs in by_asset.items() if len(cs) == 2),
                        key=lambda a: (-sum(c.mw for c in by_asset[a]), str(a)))[:3]
        if not chosen:
            return []
        run = DispatchRun(trigger="event", status="done", finished_at=dt.datetime.now(dt.UTC))
        s.add(run)
        s.flush()
        for k, a in enumerate(chosen):
            first = by_asset[a][0]
            need = s.get(Need, first.need_id)
            assert need is not None
            req = UtilisationRequest(mo_id=first.mo_id, market_id=market_id, need_id=need.id,
                                     product_code=first.product_code, zone_code=need.zone_code,
                                     direction="up", period_start=first.period_start,
                                     period_end=first.period_start + 2 * HH,
                                     mw=max(c.mw for c in by_asset[a]), status="dispatched",
                                     last_run_id=run.id)
            s.add(req)
            s.flush()
            for c in by_asset[a]:
                i = Instruction(run_id=run.id, request_id=req.id, contract_id=c.id, asset_id=a,
                                fsp_id=c.fsp_id, mo_id=c.mo_id, product_code=c.product_code,
                                direction="up", period_start=c.period_start,
                                period_end=c.period_start + HH, mw=c.mw, status="accepted",
                                ack_deadline=c.period_start - HH,
                                acked_at=c.period_start - 2 * HH)
                s.add(i)
            out.append({"asset_id": str(a), "fsp_id": str(first.fsp_id),
                        "mw": {c.period_start: c.mw for c in by_asset[a]},
                        "short": k == len(chosen) - 1})
    return out


def _readings(mpan: str, site: dict[str, Any], day: dt.date, rng: random.Random) -> str:
    shape = _profile()
    peak_kw = 1500.0 * max(site["mw"].values())  # the site's import at peak: 1.5 x its offer
    scale = peak_kw / max(shape)
    rows = ["mpan,start,import_kwh,export_kwh"]
    for d in range(-HISTORY_DAYS, 1):
        local = day + dt.timedelta(days=d)
        t = dt.datetime.combine(local, dt.time(0), LONDON).astimezone(dt.UTC)
        end = dt.datetime.combine(local + dt.timedelta(days=1), dt.time(0), LONDON).astimezone(dt.UTC)
        while t < end:
            sp = t.astimezone(LONDON)
            k = min(47, sp.hour * 2 + sp.minute // 30)
            kwh = shape[k] * scale * 0.5 * rng.gauss(1.0, 0.03)
            if t in site["mw"]:
                kwh -= site["mw"][t] * 500.0 * (SHORT if site["short"] else 1.0)
            rows.append(f"{mpan},{t.isoformat().replace('+00:00', 'Z')},{max(kwh, 0):.3f},0")
            t += HH
    return "\n".join(rows) + "\n"


def _import(body: str, fsp_id: str, k: int, day: dt.date) -> int:
    """The readings file through ``flexplatform meter import`` as the FSP, with the clock
    at 01:00 after the event day: the API refuses periods that have not ended, and the
    demo's day is tomorrow."""
    from flexplatform.config import get_settings
    from flexplatform.db import unit_of_work
    from flexplatform.reporting.importer import import_file

    path = get_settings().var_dir / f"demo-readings-{k}.csv"
    path.write_text(body)
    after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(1), LONDON)
    with unit_of_work() as s:
        out = import_file(s, path, as_participant=uuid.UUID(fsp_id), now=after)
    return out.stored


def _fsp(st: Any, fsp_id: str) -> Any:
    return next(p for p in st.fsps.values() if p.id == fsp_id)


def stage_settlement(api: Any, st: Any, console: Console, seed: int = 7) -> dict[str, Any]:
    from flexplatform.registration.mpan import make_mpan

    rng = random.Random(seed)
    t0 = time.perf_counter()
    console.rule("[bold]After the day: dispatch, metering, verification, settlement")
    try:
        sites, how = _from_operations(api, st)
        if not sites:
            sites, how = _dispatch(api, st)
    except Exception as e:  # the demo goes on without dispatch, and says so
        console.log(f"[yellow]dispatch through operations failed ({e}); instructing the "
                    "contracts directly[/]")
        sites, how = [], ""
    if not sites:
        sites = _instruct(st, rng)
        how = "issued from contracts directly (dispatch gave none)"
    if not sites:
        console.print("[yellow]no NGED site holds both 17:00 contracts: nothing to settle[/]")
        return {}
    console.log(f"{sum(len(x['mw']) for x in sites)} accepted instruction-periods on "
                f"{len(sites)} sites: {how}")
    day = min(min(x["mw"]) for x in sites).astimezone(LONDON).date()
    for k, site in enumerate(sites):
        fsp = _fsp(st, site["fsp_id"])
        mpan = make_mpan(f"19{seed:02d}{k:08d}")
        api("POST", "/meter-points", fsp, json={"mpan": mpan, "asset_id": site["asset_id"],
                                                "measures": "import"})
        site["mpan"] = mpan
        site["rows"] = _import(_readings(mpan, site, day, rng), fsp.id, k, day)
    console.log(f"readings: {sum(s['rows'] for s in sites)} half hours by `meter import` "
                f"({HISTORY_DAYS} days of history + the event day, Profile Class 1 shape, 3 % "
                f"noise; one site delivers {SHORT:.0%})")
    lo = min(min(x["mw"]) for x in sites)
    hi = max(max(x["mw"]) for x in sites) + HH
    ver = api("GET", f"/verifications?start={lo.isoformat().replace('+00:00', 'Z')}&end="
                     f"{hi.isoformat().replace('+00:00', 'Z')}", st.regulator)["items"]
    t = Table(title="verification per instruction-period (kWh)")
    for col in ("mpan", "period", "baseline", "metered", "ordered", "delivered", "performance",
                "status"):
        t.add_column(col, justify="right" if col not in ("mpan", "status") else "left")
    for v in sorted(ver, key=lambda v: (v["mpan"], v["period_start"])):
        t.add_row(v["mpan"], v["period_start"][11:16], f"{v['baseline_kwh']:.1f}",
                  f"{v['metered_kwh']:.1f}", f"{v['ordered_kwh']:.1f}",
                  f"{v['delivered_kwh']:.1f}", f"{v['performance']:.3f}", v["status"])
    console.print(t)

    mo = st.mos["NGED"]
    run = api("POST", "/settlement-runs", mo, expect=(202,),
              json={"market_id": st.markets["NGED"]["id"], "day": day.isoformat()})
    for _ in range(600):
        run = api("GET", f"/settlement-runs/{run['id']}", mo)
        if run["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    if run["status"] != "done":
        raise RuntimeError(f"settlement run {run['status']}: {run.get('error')}")
    console.log(f"settlement run {run['period_label']} v{run['version']}: {run['shards']} shard(s), "
                f"inputs {run['inputs_sha256'][:12]}, outputs {run['outputs_sha256'][:12]}")
    sts = api("GET", "/statements?limit=1000", mo)["items"]
    t = Table(title=f"statements of {mo.name} for {run['period_label']} (draft, MO view)")
    for col in ("FSP", "availability", "utilisation", "penalties", "net GBP"):
        t.add_column(col, justify="left" if col == "FSP" else "right")
    names = {p.id: p.name for p in st.fsps.values()}
    for s in sorted(sts, key=lambda s: names.get(s["fsp_id"], "")):
        t.add_row(names.get(s["fsp_id"], s["fsp_id"]), s["availability"], s["utilisation"],
                  s["penalties"], s["net"])
    console.print(t)
    for s in sts:
        api("POST", f"/statements/{s['id']}/issue", mo)
    short = next(x for x in sites if x["short"])
    fsp = _fsp(st, short["fsp_id"])
    mine = next(s for s in api("GET", "/statements", fsp)["items"]
                if s["run_id"] == run["id"])
    detail = api("GET", f"/statements/{mine['id']}", fsp)
    t = Table(title=f"statement {run['period_label']}: {mo.name} -> {fsp.name} (issued)")
    for col in ("#", "kind", "contract", "reference", "MWh", "price", "mult", "GBP"):
        t.add_column(col, justify="right" if col in ("#", "MWh", "price", "mult", "GBP")
                     else "left")
    for ln in detail["lines"]:
        t.add_row(str(ln["line_no"]), ln["kind"], ln["contract_id"], ln["reference"][:24],
                  ln["quantity_mwh"], ln["unit_price"], ln["multiplier"], ln["amount"])
    console.print(t)
    inv = api("GET", f"/invoices?statement_id={mine['id']}", fsp)["items"][0]
    console.print(f"invoice {inv['number']} (self-billed by {mo.name}, issued "
                  f"{inv['issue_date']}): net {inv['net']} + VAT {inv['vat']} = "
                  f"{inv['gross']} {inv['currency']}, {len(inv['document']['lines'])} lines "
                  "(CSV: GET /invoices/{id}/csv)")
    # the dispute: the short site says its meter under-read the first period
    util = [ln for ln in detail["lines"] if ln["kind"] == "utilisation"]
    line = util[0] if util else detail["lines"][0]
    # the FSP says the tier should have paid half: quantity x price x 0.5 more
    claim = max(Decimal("1.00"), (Decimal(line["quantity_mwh"]) * Decimal(line["unit_price"])
                                  / 2).quantize(Decimal("0.01")) - Decimal(line["amount"]))
    d = api("POST", f"/statements/{mine['id']}/disputes", fsp, json={
        "line_no": line["line_no"], "amount_claimed": str(claim),
        "reason": "the site's own logger shows a larger reduction than the settlement meter",
        "evidence": [{"name": "site logger export 17:00-18:00", "sha256": "0" * 64}]})
    steps = [f"raised by {fsp.name} on line {line['line_no']} claiming {claim}"]
    d = api("POST", f"/disputes/{d['id']}/response", mo, json={
        "decision": "reject", "reason": "the settlement meter is the meter of record"})
    steps.append(f"rejected by {mo.name}: {d['response']}")
    d = api("POST", f"/disputes/{d['id']}/escalation", fsp, json={
        "reason": "the logger is calibrated; asking the platform to decide"})
    steps.append("escalated to the platform")
    award = (claim / 2).quantize(Decimal("0.01"))
    d = api("POST", f"/disputes/{d['id']}/decision", st.admin, json={
        "amount": str(award), "reason": "half the claim: the logger and meter disagree by "
                                        "half the shortfall in the first period"})
    adj = api("GET", f"/invoices/{d['adjustment_invoice_id']}", fsp)
    steps.append(f"decided by the platform: {d['amount_awarded']} awarded, {adj['kind']} "
                 f"{adj['number']} (net {adj['net']} + VAT {adj['vat']} = {adj['gross']})")
    after = api("POST", f"/statements/{mine['id']}/accept", fsp)
    steps.append(f"statement accepted by the FSP: net {after['net']}")
    for k, s in enumerate(steps, 1):
        console.print(f"  dispute {k}. {s}")
    seen = api("GET", "/disputes", st.regulator)["total"]
    console.log(f"regulator sees {seen} dispute(s); settlement stage "
                f"{time.perf_counter() - t0:.1f}s")
    return {"statements": len(sts), "run": run, "disputes": seen}
