"""The demo's transparency stages: carbon intensities in, zones on the carbon map, and at
the end of the day the regulator's carbon report and a market report summary.

The shipped intensity samples are real but dated 2023 (national) and 2018 (regional);
the demo day is tomorrow. So besides importing the samples as they are, the demo posts
the same values re-dated onto the demo's half-hours (national: the sample week's same
weekday and London time; regional: 2018-09-18 at the same UTC time), for the whole UTC day, in the API's own
JSON shape and labelled as re-dated in their ``source``. Nothing is invented.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from flexplatform.demo.plan import LONDON

if TYPE_CHECKING:
    from flexplatform.demo.run import Api, State

DATA = Path(__file__).parents[1] / "demo_data"
NATIONAL = DATA / "carbon_intensity_national_2023-01-23_to_29.json"
REGIONAL = DATA / "carbon_intensity_regional_2018-09-18.json"
# NGED licence areas in the CMZ codes -> Carbon Intensity API DNO regions. "SWE" is read
# as South West England (NGED's South West licence area); an assumption of the demo.
AREA_REGION = {"EM": 9, "WM": 8, "SWE": 11, "SWALES": 7}


def _z(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _region(code: str) -> int | None:
    for part in code.split("_"):
        if part in AREA_REGION:
            return AREA_REGION[part]
    return None


def stage_carbon(api: Api, st: State, cmzs: list[str]) -> str:
    """Map the CMZs to regions and import the intensities (samples and re-dated)."""
    mapped = 0
    for code in cmzs:
        rid = _region(code)
        if rid is not None:
            api("PUT", f"/zones/{code}/carbon-region", st.admin, json={"region_id": rid})
            mapped += 1
    nat = json.loads(NATIONAL.read_text())
    reg = json.loads(REGIONAL.read_text())
    for doc in (nat, reg):
        api("POST", "/carbon-intensities/import", st.admin, json=doc)
    by_local = {}
    for e in nat["data"]:
        t = dt.datetime.fromisoformat(e["from"].replace("Z", "+00:00")).astimezone(LONDON)
        by_local[(t.weekday(), t.time())] = e["intensity"]
    by_utc = {e["from"][11:16]: e["regions"] for e in reg["data"]}
    nat_doc, reg_doc = [], []
    # Whole UTC days, not only the delivery window: storage recharge is costed at the
    # day's mean intensity (docs/transparency.md), which a peak-only day would inflate.
    day0 = dt.datetime.combine(st.periods[0].astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    ndays = (st.periods[-1].astimezone(dt.UTC).date() - day0.date()).days + 1
    for p in (day0 + dt.timedelta(minutes=30 * i) for i in range(48 * ndays)):
        loc = p.astimezone(LONDON)
        end = p + dt.timedelta(minutes=30)
        if (loc.weekday(), loc.time()) in by_local:
            nat_doc.append({"from": _z(p), "to": _z(end),
                            "intensity": by_local[(loc.weekday(), loc.time())]})
        if _z(p)[11:16] in by_utc:
            reg_doc.append({"from": _z(p), "to": _z(end), "regions": by_utc[_z(p)[11:16]]})
    api("POST", "/carbon-intensities/import", st.admin, json={
        "data": nat_doc, "source": "demo: NESO national 2023-01-23..29 re-dated (same weekday "
                                   "and London time)"})
    api("POST", "/carbon-intensities/import", st.admin, json={
        "data": reg_doc, "source": "demo: NESO regional 2018-09-18 re-dated (same UTC time)"})
    return (f"{mapped} CMZs mapped to DNO regions; 336 national + 672 regional sample "
            f"half-hours, {len(nat_doc)} + {len(reg_doc) * 14} re-dated onto the demo day")


def _raw(api: Api, path: str, st: State) -> str:
    """A non-JSON download (CSV, SVG) as the regulator."""
    from flexplatform.demo.run import API, DemoError

    api.calls += 1
    r = api.c.get(API + path, headers=st.regulator.h)
    if r.status_code != 200:
        raise DemoError(f"GET {path} -> {r.status_code}: {r.text[:500]}")
    return r.text


def _wait(api: Api, st: State, rid: str, timeout: float = 60.0) -> dict[str, Any]:
    import time

    t0 = time.perf_counter()
    while True:
        rep = api("GET", f"/reports/{rid}", st.regulator)
        if rep["status"] in ("done", "failed") or time.perf_counter() - t0 > timeout:
            return rep
        time.sleep(0.5)


def report_transparency(api: Api, st: State, console: Console, out_dir: Path) -> bool:
    """The regulator's carbon report for the day and a market report summary."""
    start, end = st.periods[0], st.periods[-1] + dt.timedelta(minutes=30)
    rng = {"start": start.isoformat(), "end": end.isoformat()}
    rep = _wait(api, st, api("POST", "/reports/carbon", st.regulator, expect=(202,), json=rng)["id"])
    if rep["status"] != "done":
        console.print(f"[red]carbon report {rep['status']}: {rep.get('error')}")
        return False
    res = rep["result"]
    t = Table(title="Regulator: carbon report for the day (per GB region)", title_justify="left")
    for col in ("region", "contracted MWh", "dispatched MWh", "delivered MWh",
                "contracted displacement tCO2*", "net avoided tCO2", "intensity g/kWh"):
        t.add_column(col, justify="left" if col == "region" else "right")
    tot: dict[str, dict[str, float]] = {}
    for r in res["regions"]:
        a = tot.setdefault(r["region"], {})
        for m in ("contracted_mwh", "dispatched_mwh", "delivered_mwh",
                  "contracted_displacement_tco2", "net_avoided_tco2"):
            a[m] = a.get(m, 0.0) + r[m]
    gs: dict[str, list[float]] = {}
    for r in res["halfhours"]:
        if r["intensity_g_per_kwh"] is not None:
            gs.setdefault(r["region"], []).append(r["intensity_g_per_kwh"])
    for name, a in sorted(tot.items()):
        g = gs.get(name, [])
        t.add_row(name, f"{a['contracted_mwh']:.3f}", f"{a['dispatched_mwh']:.3f}",
                  f"{a['delivered_mwh']:.3f}", f"{a['contracted_displacement_tco2']:.3f}",
                  f"{a['net_avoided_tco2']:.3f}",
                  f"{min(g):.0f}-{max(g):.0f}" if g else "-")
    console.print(t)
    out_dir.mkdir(parents=True, exist_ok=True)
    rid = rep["id"]
    files = []
    for level in ("halfhour", "day"):
        p = out_dir / f"carbon-report-{level}.csv"
        p.write_text(_raw(api, f"/reports/{rid}/csv?level={level}", st))
        files.append(p.name)
    for chart in ("mwh-by-region", "emissions-by-region"):
        p = out_dir / f"carbon-{chart}.svg"
        p.write_text(_raw(api, f"/reports/{rid}/charts/{chart}", st))
        files.append(p.name)
    src = res["sources"]
    console.print(f"  sources: {src['contracted']} contract periods, dispatched "
                  f"{src['dispatched']}, delivered {src['delivered']}; *if every contracted "
                  f"MWh were delivered (upper bound; method in docs/transparency.md). "
                  f"Files in {out_dir}: {', '.join(files)}")
    full = _wait(api, st, api("POST", "/reports/market", st.regulator, expect=(202,), json=rng)["id"])
    public = api("GET", f"/market-report?start={_z(start)}&end={_z(end)}")
    if full["status"] != "done":
        console.print(f"[red]market report {full['status']}: {full.get('error')}")
        return False
    liq = full["result"]["liquidity"]
    cells = public["awarded"]
    shown = [c for c in cells if not c["suppressed"]]
    m = Table(title="Market report summary (regulator view; public cells suppressed under "
                    f"{public['suppression']['min_fsps']} FSPs)", title_justify="left")
    m.add_column("measure")
    m.add_column("value", justify="right")
    unmet = "-" if liq["unmet_share"] is None else f"{liq['unmet_share']:.1%}"
    for k, v in (("needs", liq["needs"]), ("bids", liq["bids"]),
                 ("bids per need", liq["bids_per_need"]),
                 ("needs with no bid", liq["needs_with_no_bid"]),
                 ("needs with one bidder", liq["needs_with_one_bidder"]),
                 ("unmet share (MW-periods)", unmet),
                 ("single-provider zones", len(liq["single_provider_zones"])),
                 ("award cells (public shown / all)", f"{len(shown)} / {len(cells)}")):
        m.add_row(k, str(v))
    best = sorted((c for c in full["result"]["awarded"] if c["availability_price"]["vwap"]),
                  key=lambda c: -(c["mwh"] or 0))[:3]
    for c in best:
        m.add_row(f"{c['product']} {c['technology']} {c['zone']}",
                  f"{c['mwh']:.2f} MWh, avail. vwap £{c['availability_price']['vwap']}/MW/h")
    console.print(m)
    return True
