"""The demo's monitoring flag on a planted gaming case, and advice for one FSP's asset.

The planted case is DFS's "Power Rinse": consumption pushed up in the hours a baseline
reads, just before an event. The demo's market day is tomorrow, and meter readings can
only be of the past, so the event is planted a week back: a contract for one of the day's
awarded assets, written straight to the records (the platform cannot clear a market in
the past; this is the one planted record, and it says so). Everything else goes through
the API as in production: the FSP registers a meter point and submits 15 days of
readings, the regulator runs the rules on demand and reads the flag with its evidence.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

EVENT_PERIODS = 2
BASELINE_PERIODS = 6


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def advise_one(api: Any, st: Any, asset: dict[str, Any]) -> dict[str, Any]:
    """Advice for one FSP's asset while the markets are open (GET /assets/{id}/advice)."""
    return api("GET", f"/assets/{asset['id']}/advice", st.fsps[asset["company"]])


def report_advice(out: dict[str, Any], st: Any, asset: dict[str, Any], console: Console) -> None:
    adv = out["advice"]
    t = Table(title=f"Best-product advice for {asset['name']} ({asset['company']}): "
                    f"expected £{adv['expected']['total_gbp']} ({adv['status']}; history "
                    f"of {out['history']['bids']} past bids)", title_justify="left",
              show_lines=True)
    for col in ("need", "MW", "up to £/MW/h", "chance", "expected £", "why"):
        t.add_column(col, overflow="fold")
    for b in adv["bids"]:
        name = st.needs.get(b["need"], {}).get("name") or b["need"][:8]
        t.add_row(name, f"{max(b['mw']):g}", b["availability_price"],
                  f"{b['win_probability']:.0%}", b["expected"]["total_gbp"], b["text"][:160])
    for x in adv["not_advised"][:6]:
        name = st.needs.get(x["need"], {}).get("name") or x["need"][:8]
        t.add_row(f"[dim]{name}[/]", "-", "-", "-", "-",
                  "not advised: " + "; ".join(r["text"] for r in x["reasons"])[:300])
    console.print(t)
    if adv.get("message"):
        console.print(f"  advice: {adv['message']}")


def _plant_event(asset_id: str, fsp_id: str, start: dt.datetime) -> None:
    """A past contracted event for the asset (the one record the API cannot make)."""
    from flexplatform.competition.models import (
        Bid,
        BidStatus,
        ClearingRound,
        Contract,
        Market,
        MarketStatus,
        Need,
        NeedDirection,
    )
    from flexplatform.db import unit_of_work
    from flexplatform.identity import Participant, Role

    with unit_of_work() as s:
        from sqlalchemy import select

        mo = s.scalar(select(Participant).where(Participant.role == Role.mo))
        m = Market(mo_id=mo.id, name="Planted past event (monitoring demo)",
                   status=MarketStatus.cleared, gate_open_at=start - dt.timedelta(days=2),
                   gate_close_at=start - dt.timedelta(days=1), delivery_start=start,
                   delivery_end=start + EVENT_PERIODS * dt.timedelta(minutes=30))
        s.add(m)
        s.flush()
        n = Need(market_id=m.id, name="planted", product_code="dfs", zone_code="GB",
                 direction=NeedDirection.up, mw=[1.0] * EVENT_PERIODS,
                 max_availability_price=Decimal("10"), utilisation_price_cap=Decimal("3000"),
                 unmet_penalty=Decimal("5000"))
        r = ClearingRound(status="done", market_ids=[str(m.id)])
        s.add_all([n, r])
        s.flush()
        m.clearing_round_id = r.id
        aid, fid = uuid.UUID(asset_id), uuid.UUID(fsp_id)
        b = Bid(fsp_id=fid, asset_id=aid, need_id=n.id, market_id=m.id, mw=[1.0] * EVENT_PERIODS,
                availability_price=Decimal("1"), utilisation_price=Decimal("3000"),
                status=BidStatus.accepted)
        s.add(b)
        s.flush()
        for k in range(EVENT_PERIODS):
            s.add(Contract(round_id=r.id, bid_id=b.id, need_id=n.id, market_id=m.id,
                           asset_id=aid, fsp_id=fid, mo_id=mo.id, product_code="dfs",
                           direction="up", period_start=start + k * dt.timedelta(minutes=30),
                           mw=1.0, availability_price=b.availability_price,
                           utilisation_price=b.utilisation_price))


def planted_power_rinse(api: Any, st: Any, console: Console) -> dict[str, Any] | None:
    """Plant the case, let the regulator run the rules, print the flag; the flag or None."""
    from flexplatform.registration.mpan import make_mpan

    # An awarded asset with no meter of its own yet: the day's settlement meters some, and
    # their real readings would blur the planted window.
    awards = api("GET", "/awards?limit=200", st.regulator)["items"]
    pick = next((a for a in awards if not api(
        "GET", f"/meter-points?asset_id={a['asset_id']}&limit=1", st.regulator)["total"]), None)
    if pick is None:
        return None
    asset = st.asset_by_id[str(pick["asset_id"])]
    fsp = st.fsps[asset["company"]]
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    event = (now - dt.timedelta(days=7)).replace(hour=17)
    _plant_event(asset["id"], fsp.id, event)
    mpan = make_mpan(f"19{uuid.uuid4().int % 10**10:010d}")
    api("POST", "/meter-points", fsp, json={"mpan": mpan, "asset_id": asset["id"],
                                            "measures": "import"})
    half = dt.timedelta(minutes=30)
    rows = []
    for d in range(15):
        for k in range(1, BASELINE_PERIODS + 1):
            t = event - dt.timedelta(days=d) - k * half
            usual = 200.0 + 10 * ((d + k) % 3)
            rows.append({"mpan": mpan, "start": _iso(t), "import_kwh": 620.0 if d == 0
                         else usual, "export_kwh": 0.0})
    api("POST", "/meter-readings", fsp, json={"readings": rows})
    run = api("POST", "/monitoring/runs", st.regulator, expect=(202,), json={
        "window_start": _iso(event - dt.timedelta(hours=12)),
        "window_end": _iso(event + dt.timedelta(hours=12)), "rules": ["baseline_inflation"]})
    run = api("GET", f"/monitoring/runs/{run['id']}", st.regulator)
    flags = api("GET", f"/monitoring/flags?rule=baseline_inflation&subject_id={asset['id']}",
                st.regulator)["items"]
    if not flags:
        console.print(f"[red]monitoring run {run['status']}: no flag on the planted case[/]")
        return None
    f = flags[0]
    ev = f["evidence"]
    # The heading on a line of its own: a table title wraps to the table's width.
    console.print(f"Monitoring flag ({f['severity']}) on a planted gaming case: {f['rule']}",
                  soft_wrap=True)
    t = Table(show_lines=True)
    t.add_column("what")
    t.add_column("evidence", overflow="fold")
    t.add_row("asset", f"{asset['name']} ({asset['company']})")
    t.add_row("finding", f["summary"])
    t.add_row("baseline window", f"{ev['baseline_window'][0]} to {ev['baseline_window'][1]}: "
                                 f"{', '.join(f'{x:g}' for x in ev['baseline_window_kwh'])} kWh")
    t.add_row("usual profile", f"median of {len(ev['usual_profile_days'])} days: "
                               f"{ev['usual_mean_kwh']:g} kWh per half-hour")
    t.add_row("ratio", f"{ev['ratio']:g} (flagged at {ev['threshold_ratio']:g})")
    t.add_row("run", f"{run['trigger']} run {run['status']}, {run['flags_raised']} flag(s); "
                     "the regulator sees it at GET /monitoring/flags")
    console.print(t)
    return f
