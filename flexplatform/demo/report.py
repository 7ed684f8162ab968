"""What the demo prints: schedules, the round, carbon and the rationale of rejected bids.

Kept apart from ``run.py`` (which drives the market day) so the orchestration reads top to
bottom; everything here only reads through the API and prints.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from flexplatform.demo import data as dd

if TYPE_CHECKING:
    from flexplatform.demo.run import Api, State

API = "/api/v1"
LONDON = ZoneInfo("Europe/London")
# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def _short(name: str) -> str:
    """NGED opportunity names without tranche, season and product prefixes."""
    import re

    return re.sub(r"^(T\d+[A-Z]? - )?((Winter|Summer) \d{4}(/\d{2})? - )?"
                  r"(Sustain|Secure|Dynamic) - ", "", name)


def _gbp(x: float) -> str:
    return f"£{x:,.2f}"


def report_schedules(api: Api, st: State, console: Console) -> dict[str, Any]:
    dh = 0.5
    totals: dict[str, Any] = {"mwh_by_tech": defaultdict(float), "delivered_by_tech":
                              defaultdict(float), "direct_t": 0.0, "awarded_mwh": 0.0}
    for mo, mk in st.markets.items():
        sched = api("GET", f"/markets/{mk['id']}/schedule", st.mos[mo])
        t = Table(title=f"{st.mos[mo].name}: cleared schedule ({mk['name']})",
                  title_justify="left", show_lines=False)
        for col in ("need", "product", "zone", "prio", "required MWh", "awarded MWh",
                    "unmet MWh", "assets", "cost £"):
            t.add_column(col, justify="right" if col not in ("need", "product", "zone")
                         else "left", overflow="fold")
        tot = defaultdict(float)
        for n in sched["needs"]:
            req = sum(p["required_mw"] for p in n["periods"]) * dh
            awd = sum(p["awarded_mw"] for p in n["periods"]) * dh
            cost = float(n["availability_cost_gbp"]) + float(n["expected_utilisation_cost_gbp"])
            eu = float(st.needs[n["need_id"]]["expected_utilisation"])
            for a in n["assets"]:
                asset = st.asset_by_id.get(a["asset_id"], {})
                mwh = sum(p["mw"] for p in a["periods"]) * dh
                tech = asset.get("technology", "other")
                totals["mwh_by_tech"][tech] += mwh
                totals["delivered_by_tech"][tech] += mwh * eu
                totals["direct_t"] += mwh * eu * asset.get("emission_t_per_mwh", 0.0)
                totals["awarded_mwh"] += mwh
            name = _short(n["name"])
            t.add_row(name[:44], n["product"], n["zone"].removeprefix("CMZ_"),
                      str(n["priority"]), f"{req:.3f}", f"{awd:.3f}", f"{n['unmet_mwh']:.3f}",
                      str(len(n["assets"])), _gbp(cost))
            tot["req"] += req
            tot["awd"] += awd
            tot["unmet"] += n["unmet_mwh"]
            tot["cost"] += cost
        t.add_section()
        t.add_row("total", "", "", "", f"{tot['req']:.3f}", f"{tot['awd']:.3f}",
                  f"{tot['unmet']:.3f}", "", _gbp(tot["cost"]), style="bold")
        console.print(t)
    return totals


def report_round(api: Api, st: State, console: Console) -> None:
    rnd = st.round or {}
    res = api("GET", f"/clearings/{rnd['id']}/result", st.regulator)
    snap = api("GET", f"/clearings/{rnd['id']}/snapshot", st.regulator)
    t = Table(title="Clearing round (regulator's view)", title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("round", rnd["id"])
    t.add_row("status", rnd["status"] + (f" ({rnd['error']})" if rnd.get("error") else ""))
    t.add_row("solver status", str(rnd.get("solver_status")))
    obj = rnd.get("objective")
    t.add_row("objective", f"{obj:,.2f}" if isinstance(obj, (int, float)) else str(obj))
    t.add_row("rule set", str(rnd.get("rule_set_version") or "default (ENA primacy, pay-as-bid)"))
    t.add_row("snapshot", f"{len(snap.get('assets', []))} assets, {len(snap.get('needs', []))} "
                          f"needs, {len(snap.get('bids', []))} bids, {len(snap.get('periods', []))}"
                          f" periods; sha256 {str(rnd.get('snapshot_sha256'))[:16]}…")
    t.add_row("solver timing", ", ".join(f"{k} {v:.3f}s" for k, v in rnd.get("timing", {}).items()))
    t.add_row("awards / rejected", f"{len(res.get('awards', []))} bid-periods awarded, "
                                   f"{len(res.get('rejected', []))} bids rejected")
    for s in res.get("stages", []):
        t.add_row(f"priority {s['priority']} stage", f"unmet {s['unmet_mwh']:.3f} MWh")
    rules = snap.get("rules", {})
    t.add_row("rules", f"primacy {rules.get('primacy')}, pricing {rules.get('pricing')}, "
                       f"carbon £{rules.get('carbon_price')}/t, incompatible "
                       + ", ".join("+".join(p) for p in rules.get("incompatible_products", [])))
    console.print(t)


def grid_intensity(periods: list[dt.datetime]) -> list[float]:
    """gCO2/kWh for each period: the sample week's value at the same weekday and local time."""
    series = dd.load_carbon_intensity()
    by_key = {(ts.astimezone(LONDON).weekday(), ts.astimezone(LONDON).time()): v
              for ts, v in series}
    mean = sum(v for _, v in series) / len(series)
    return [by_key.get((p.astimezone(LONDON).weekday(), p.astimezone(LONDON).time()), mean)
            for p in periods]


def report_carbon(st: State, totals: dict[str, Any], console: Console,
                  carbon_price: float) -> None:
    ci = grid_intensity(st.periods)
    ci_mean = sum(ci) / len(ci)
    t = Table(title="Carbon of the cleared flexibility", title_justify="left")
    for col in ("technology", "awarded MWh", "expected delivered MWh", "direct tCO2",
                "grid tCO2 displaced*"):
        t.add_column(col, justify="right" if col != "technology" else "left")
    direct_total = displaced_total = 0.0
    for tech in sorted(totals["mwh_by_tech"]):
        mwh = totals["mwh_by_tech"][tech]
        dlv = totals["delivered_by_tech"][tech]
        ef = dd.TECHNOLOGIES.get(tech, dd.TECHNOLOGIES["other"])["emission_t_per_mwh"]
        direct = dlv * ef
        # Demand turn-down and storage discharge at peak displace grid supply at the grid's
        # intensity; a generator's own output does not (it *is* supply).
        displaced = 0.0 if tech == "generator" else dlv * ci_mean / 1000.0
        direct_total += direct
        displaced_total += displaced
        t.add_row(tech, f"{mwh:.3f}", f"{dlv:.3f}", f"{direct:.3f}", f"{displaced:.3f}")
    t.add_section()
    t.add_row("total", f"{totals['awarded_mwh']:.3f}",
              f"{sum(totals['delivered_by_tech'].values()):.3f}", f"{direct_total:.3f}",
              f"{displaced_total:.3f}", style="bold")
    console.print(t)
    console.print(
        f"  grid carbon intensity for the window: {min(ci):.0f}-{max(ci):.0f} gCO2/kWh (mean "
        f"{ci_mean:.0f}; NESO Carbon Intensity API, same weekday and time of the winter sample "
        f"week; sample mean {dd.average_carbon_intensity_t_per_mwh() * 1000:.0f}).\n"
        f"  direct emissions priced in clearing at £{carbon_price:.0f}/tCO2 = "
        f"{_gbp(direct_total * carbon_price)}; *displaced = delivered MWh x grid intensity, an "
        f"estimate (storage recharge and rebound not netted).")


def report_rejections(api: Api, st: State, console: Console, extra: dict[str, Any],
                      limit: int = 6) -> int:
    rows = []
    for company, p in st.fsps.items():
        page = api("GET", "/bids?status=rejected&limit=1000", p)
        for b in page["items"]:
            rows.append((company, b))
    order = {"stacking_conflict": 0, "primacy": 1, "capacity_used_by_other_awards": 2,
             "outcompeted": 3}

    def rank(item: tuple[str, dict[str, Any]]) -> tuple[int, int]:
        codes = [r["code"] for r in item[1]["reasons"]]
        return (0 if item[1]["id"] in st.conflict_bids else 1,
                min((order.get(c, 9) for c in codes), default=9))

    rows.sort(key=rank)
    shown, seen_codes = [], set()
    for company, b in rows:
        key = tuple(r["code"] for r in b["reasons"])
        if key in seen_codes and len(shown) >= 3 and b["id"] not in st.conflict_bids:
            continue
        seen_codes.add(key)
        shown.append((company, b))
        if len(shown) >= limit:
            break
    t = Table(title=f"Why bids were rejected ({len(rows)} rejected; a few, as each FSP sees them)",
              title_justify="left", show_lines=True)
    for col in ("FSP", "asset", "need", "£/MW/h", "rationale"):
        t.add_column(col, overflow="fold")
    for company, b in shown:
        need = st.needs.get(b["need_id"], {})
        asset = st.asset_by_id.get(b["asset_id"], {})
        t.add_row(company, asset.get("name", b["asset_id"]),
                  f"{need.get('mo', '?')} {need.get('product', '?')} "
                  f"{str(need.get('zone', '')).removeprefix('CMZ_')}",
                  f"{float(b['availability_price']):,.2f}",
                  "\n".join(f"[bold]{r['code']}[/]: {r['message']}" for r in b["reasons"]))
    console.print(t)
    for chk in extra.get("checks", []):
        if chk.get("conflicts"):
            console.print(f"  pre-bid validation: {chk['conflicts']}")
    if extra.get("refused"):
        asset, v = extra["refused"]
        msg = "; ".join(f"{p['code']}: {p['message']}" for p in v["problems"]) or "eligible"
        console.print(f"  dry-run POST /bids/validate for {asset['name']} on an 'up' need: "
                      f"eligible={v['eligible']} ({msg}); the FSP did not submit it.")
    return len(rows)


