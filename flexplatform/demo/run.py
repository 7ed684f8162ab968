"""``flexplatform demo``: a real-looking GB market day on the embedded default.

Everything after the first admin goes over the real HTTP API (FastAPI ``TestClient``
in-process against the configured database), so the demo exercises the same code paths as
an FSP's or MO's integration would:

1. fresh embedded database (SQLite under ``FLEX_VAR_DIR``), migrations, GB taxonomy;
2. admin, regulator, MOs (NGED as DSO, NESO as ESO), terms, CMZ zones;
3. the companies of NGED's published trade results as FSPs, their offers as assets, plus
   seeded synthetic assets so that every CMZ sees real competition;
4. tomorrow's 16:00-20:00 (Europe/London) winter peak: one NGED market with a need per CMZ
   (NGED's product, peak and ceiling prices), one NESO market (GB Quick Reserve and DFS);
5. bids from NGED's offers (NGED's prices, capped at the ceilings), one battery bidding both
   a DSO Dynamic need and NESO Quick Reserve in the same periods (a stacking conflict settled
   by primacy: DSO priority 1 before ESO priority 2);
6. gate closure, central clearing, and the outcome: schedules, costs, unmet need, solver
   status and timing, carbon and the rationale of rejected bids.

Real data: ``flexplatform/demo_data`` (see ``ATTRIBUTION.md``).
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from flexplatform.config import get_settings
from flexplatform.db import reset_runtime
from flexplatform.demo import data as dd
from flexplatform.demo import monitoring as demo_monitoring
from flexplatform.demo.plan import (
    EXPECTED_UTILISATION,
    LONDON,
    STACKING_CMZ,
    _r,
    build_plan,
    delivery_window,
    window_profile,
)
from flexplatform.demo.report import (
    report_carbon,
    report_rejections,
    report_round,
    report_schedules,
)
from flexplatform.demo.transparency import report_transparency, stage_carbon

API = "/api/v1"
TERMS = "demo-2025.1"

class DemoError(RuntimeError):
    pass


@dataclass
class Party:
    name: str
    role: str
    key: str
    id: str

    @property
    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class State:
    admin: Party | None = None
    regulator: Party | None = None
    mos: dict[str, Party] = field(default_factory=dict)
    fsps: dict[str, Party] = field(default_factory=dict)
    # asset key (company, cmz, technology) -> dict(id, name, ...)
    assets: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    asset_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    markets: dict[str, dict[str, Any]] = field(default_factory=dict)  # MO short name -> market
    needs: dict[str, dict[str, Any]] = field(default_factory=dict)  # need id -> need (+ mo)
    need_for_cmz: dict[str, dict[str, Any]] = field(default_factory=dict)
    bids: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (company, bid body)
    conflict_bids: set[str] = field(default_factory=set)
    round: dict[str, Any] | None = None
    periods: list[dt.datetime] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Database preparation
# ---------------------------------------------------------------------------------------------


def _fresh_database(console: Console) -> None:
    """Delete the embedded SQLite file (never a configured database) and migrate."""
    from flexplatform.config import get_settings

    s = get_settings()
    if s.database_url:
        raise DemoError("FLEX_DATABASE_URL is set: the demo refuses to wipe a configured "
                        "database (run with --no-fresh to add a market day to it)")
    reset_runtime()
    path = (get_settings().var_dir / "flexplatform.db").resolve()
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            p.unlink()
    console.log(f"fresh embedded database: {path}")


def _upgrade() -> None:
    from flexplatform.cli import _upgrade as upgrade

    upgrade()


def _first_admin(suffix: str) -> Party:
    from flexplatform.audit import Actor
    from flexplatform.db import unit_of_work
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant

    with unit_of_work() as s:
        p, key = create_participant(s, ParticipantCreate(
            role="admin", legal_name=f"Flexplatform Operator{suffix}",
            billing_contact={"name": "Platform operations", "email": "ops@flexplatform.example"}),
            Actor(id=None, role="cli"))
        pid = str(p.id)
    return Party("Flexplatform Operator", "admin", key, pid)


# ---------------------------------------------------------------------------------------------
# HTTP helpers
# ---------------------------------------------------------------------------------------------


class Api:
    def __init__(self, client: Any):
        self.c = client
        self.calls = 0

    def __call__(self, method: str, path: str, who: Party | None = None,
                 expect: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        self.calls += 1
        r = self.c.request(method, API + path, headers=who.h if who else {}, **kw)
        if r.status_code not in expect:
            raise DemoError(f"{method} {path} -> {r.status_code}: {r.text[:2000]}")
        return r.json()


def _company_number(i: int) -> str:
    return f"{10_000_000 + 7919 * i:08d}"


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "fsp"


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------


def stage_participants(api: Api, st: State, plan: dict[str, Any], suffix: str) -> None:
    a = st.admin
    api("POST", "/terms", a, json={
        "version": TERMS + suffix, "title": "Flexplatform market rules and terms (demo)",
        "body": "Participants trade local and national flexibility under the platform's "
                "published rules; contracts bind at gate closure."})

    def make(role: str, name: str, i: int) -> Party:
        body = {"role": role, "legal_name": name,
                "billing_contact": {"name": f"{name} billing", "email":
                                    f"billing@{_slug(name)}.example"}}
        if role in ("fsp", "mo"):
            body["company_number"] = _company_number(i)
        out = api("POST", "/participants", a, json=body)
        p = Party(name, role, out["api_key"], out["participant"]["id"])
        if role in ("fsp", "mo"):
            api("POST", f"/terms/{TERMS + suffix}/accept", p)
        return p

    st.regulator = make("regulator", "Ofgem (observer)", 0)
    st.mos["NGED"] = make("mo", "National Grid Electricity Distribution plc", 1)
    st.mos["NESO"] = make("mo", "National Energy System Operator Limited", 2)
    companies = sorted({v["company"] for v in plan["assets"].values()})
    for i, c in enumerate(companies):
        st.fsps[c] = make("fsp", c, 10 + i)


def stage_zones(api: Api, st: State, cmzs: list[str]) -> None:
    for code in cmzs:
        api("PUT", f"/zones/{code}", st.admin, json={
            "code": code, "name": f"NGED constraint managed zone {code.removeprefix('CMZ_')}",
            "kind": "cmz", "parent_code": "GB", "dso": "NGED"})


def stage_assets(api: Api, st: State, plan: dict[str, Any], rng: random.Random) -> None:
    from flexplatform.registration.mpan import make_mpan

    base = rng.randrange(10**9)
    per_fsp: dict[str, list[tuple[tuple[str, str, str], dict[str, Any]]]] = defaultdict(list)
    for i, (key, a) in enumerate(sorted(plan["assets"].items())):
        tech = a["technology"]
        up, down = a["up_mw"], a["down_mw"]
        body: dict[str, Any] = {
            "name": a["name"][:200], "mpan": make_mpan(f"{14 + i % 8}{(base + i) % 10**10:010d}"),
            "zone": a["cmz"], "technology": tech, "up_mw": up, "down_mw": down,
            "emission_t_per_mwh": dd.TECHNOLOGIES[tech]["emission_t_per_mwh"],
            "reliability": {"battery": 0.97, "generator": 0.95, "industrial_dsr": 0.9,
                            "ev_charging": 0.85, "heat_pump": 0.85}.get(tech, 0.8),
        }
        if dd.TECHNOLOGIES[tech]["stores_energy"]:
            body["energy_mwh"] = _r(max(up, down) * 2.0) or 0.001
        per_fsp[a["company"]].append((key, body))
    for company, rows in per_fsp.items():
        out = api("POST", "/assets/bulk", st.fsps[company], json={"assets": [b for _, b in rows]})
        for (key, body), aid in zip(rows, out["ids"], strict=True):
            rec = {"id": aid, "company": company, **body}
            st.assets[key] = rec
            st.asset_by_id[aid] = rec


def stage_markets(api: Api, st: State, plan: dict[str, Any], gate_close: dt.datetime,
                  start: dt.datetime, end: dt.datetime, fast: bool) -> None:
    n_periods = len(st.periods)
    gate_open = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)
    nged_needs = []
    for n, prof in plan["needs"]:
        eu = EXPECTED_UTILISATION[n.product]
        util_cap = n.ceiling_utilisation_price
        penalty = max(n.ceiling_availability_price + eu * util_cap, 50.0) * 2.0
        nged_needs.append({
            "name": f"{n.opportunity_name}"[:200], "product": n.product, "zone": n.cmz_code,
            "direction": "up", "mw": prof,
            "max_availability_price": _r(n.ceiling_availability_price, 4),
            "utilisation_price_cap": _r(util_cap, 4), "expected_utilisation": eu,
            "unmet_penalty": _r(min(penalty, 99_999.0), 2)})
    common = {"gate_open_at": gate_open.isoformat(), "gate_close_at": gate_close.isoformat(),
              "delivery_start": start.isoformat(), "delivery_end": end.isoformat(), "open": True}
    day = start.astimezone(LONDON).strftime("%a %d %b %Y")
    m = api("POST", "/markets", st.mos["NGED"], json={
        "name": f"NGED CMZ flexibility, {day} 16:00-20:00",
        "description": "Needs from NGED's published Sustain, Secure and Dynamic requirements.",
        "needs": nged_needs, **common})
    st.markets["NGED"] = m
    # NESO: Quick Reserve all evening, DFS at the 17:00-19:00 peak (both GB-wide).
    qr_mw = 6.0 if fast else 18.0
    qr = [qr_mw] * n_periods
    dfs = window_profile(st.periods, dt.time(17, 0), dt.time(19, 0), 4.0 if fast else 12.0)
    m2 = api("POST", "/markets", st.mos["NESO"], json={
        "name": f"NESO reserve and DFS, {day} 16:00-20:00",
        "description": "GB-wide Quick Reserve (up) and a Demand Flexibility Service event.",
        "needs": [
            {"name": "Quick Reserve (positive), evening peak", "product": "quick_reserve",
             "zone": "GB", "direction": "up", "mw": qr, "max_availability_price": 12,
             "utilisation_price_cap": 300, "expected_utilisation": EXPECTED_UTILISATION[
                 "quick_reserve"], "unmet_penalty": 60},
            {"name": "Demand Flexibility Service event 17:00-19:00", "product": "dfs",
             "zone": "GB", "direction": "up", "mw": dfs, "max_availability_price": 5,
             "utilisation_price_cap": 3000, "expected_utilisation": 1.0,
             "unmet_penalty": 3500}],
        **common})
    st.markets["NESO"] = m2
    for mo, mk in st.markets.items():
        for n in mk["needs"]:
            st.needs[n["id"]] = {**n, "mo": mo}
            if mo == "NGED":
                st.need_for_cmz[n["zone"]] = n


def _cap(price: float, cap: Any) -> float:
    return _r(min(float(price), float(cap)), 4)


def stage_bids(api: Api, st: State, plan: dict[str, Any]) -> dict[str, Any]:
    per_fsp: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in plan["bids"]:
        need = st.need_for_cmz.get(b["cmz"])
        asset = st.assets[b["asset"]]
        if need is None or asset["up_mw"] <= 0:
            continue
        mw = min(b["mw"], asset["up_mw"])
        prof = [mw if r > 0 and v > 0 else 0.0 for r, v in zip(
            need["mw"], window_profile(st.periods, *b["window"], 1.0), strict=True)]
        if max(prof) <= 0:
            continue
        per_fsp[asset["company"]].append({
            "need_id": need["id"], "asset_id": asset["id"], "mw": prof, "min_mw": 0.0,
            "availability_price": _cap(b["availability_price"], need["max_availability_price"]),
            "utilisation_price": _cap(b["utilisation_price"], need["utilisation_price_cap"]),
            "all_or_nothing": False})
    eso_need = {n["product"]: n for n in st.markets["NESO"]["needs"]}
    for b in plan["eso"]:
        need = eso_need[b["product"]]
        asset = st.assets[b["asset"]]
        prof = [asset["up_mw"] if r > 0 else 0.0 for r in need["mw"]]
        per_fsp[asset["company"]].append({
            "need_id": need["id"], "asset_id": asset["id"], "mw": prof, "min_mw": 1.0,
            "availability_price": _cap(b["availability_price"], need["max_availability_price"]),
            "utilisation_price": _cap(b["utilisation_price"], need["utilisation_price_cap"]),
            "all_or_nothing": False})
    # Stacking conflict: one battery, same periods, DSO Dynamic and ESO Quick Reserve.
    stack = st.assets[plan["stack"]]
    dyn = st.need_for_cmz[STACKING_CMZ]
    qr = eso_need["quick_reserve"]
    both = [2.0 if (d > 0 and q > 0) else 0.0 for d, q in zip(dyn["mw"], qr["mw"], strict=True)]
    conflict = [
        {"need_id": dyn["id"], "asset_id": stack["id"], "mw": both, "min_mw": 0.0,
         "availability_price": _cap(float(dyn["max_availability_price"]) * 0.5,
                                    dyn["max_availability_price"]),
         "utilisation_price": _cap(float(dyn["utilisation_price_cap"]) * 0.6,
                                   dyn["utilisation_price_cap"]),
         "all_or_nothing": False},
        {"need_id": qr["id"], "asset_id": stack["id"], "mw": both, "min_mw": 1.0,
         "availability_price": 1.5, "utilisation_price": 110.0, "all_or_nothing": False}]
    # Dry run first: what would the platform say about each half of the conflict?
    checks = [api("POST", "/bids/validate", st.fsps[stack["company"]], json=b) for b in conflict]
    per_fsp[stack["company"]].extend(conflict)
    # A bid the platform refuses outright: solar PV cannot raise output for an "up" need.
    refused = None
    solar = next((a for a in st.assets.values() if a["technology"] == "solar"), None)
    if solar and solar["zone"] in st.need_for_cmz:
        need = st.need_for_cmz[solar["zone"]]
        refused = (solar, api("POST", "/bids/validate", st.fsps[solar["company"]], json={
            "need_id": need["id"], "asset_id": solar["id"],
            "mw": [min(0.5, solar["down_mw"]) if v > 0 else 0.0 for v in need["mw"]],
            "availability_price": _cap(10, need["max_availability_price"]),
            "utilisation_price": 0}))
    n = 0
    for company, rows in per_fsp.items():
        out = api("POST", "/bids/bulk", st.fsps[company], json={"bids": rows})
        for body, bid_id in zip(rows, out["ids"], strict=True):
            st.bids.append((company, {**body, "id": bid_id}))
            if body in conflict:
                st.conflict_bids.add(bid_id)
        n += out["created"]
    return {"bids": n, "checks": checks, "refused": refused}


def stage_clear(api: Api, st: State, gate_close: dt.datetime, timeout: float = 90.0) -> None:
    wait = (gate_close - dt.datetime.now(dt.UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait + 0.05)
    api("POST", "/clearings/run", st.admin)
    deadline = time.monotonic() + timeout
    while True:
        m = api("GET", f"/markets/{st.markets['NGED']['id']}", st.admin)
        rid = m.get("clearing_round_id")
        if rid:
            rnd = api("GET", f"/clearings/{rid}", st.regulator)
            if rnd["status"] in ("done", "failed", "held"):
                st.round = rnd
                return
        if time.monotonic() > deadline:
            raise DemoError(f"clearing did not finish within {timeout:.0f} s "
                            f"(market {m['status']}, round {rid})")
        time.sleep(0.5)
        # Workers may be remote (FLEX_REDIS_URL): ask the scan again in case it ran early.
        if not rid:
            api("POST", "/clearings/run", st.admin)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def run_demo(fast: bool = False, fresh: bool = True, console: Console | None = None,
             seed: int = 2025) -> int:
    """Run the market day; 0 when it cleared and every stage worked, else non-zero."""
    from fastapi.testclient import TestClient

    console = console or Console()
    rng = random.Random(seed)
    st = State()
    start, end = delivery_window()
    st.periods = [start + dt.timedelta(minutes=30 * i)
                  for i in range(int((end - start).total_seconds() // 1800))]
    suffix = "" if fresh else f"-{uuid.uuid4().hex[:6]}"
    console.rule("[bold]Flexplatform demo: a GB local flexibility market day"
                 + (" (fast)" if fast else ""))
    console.print(f"Delivery {start.astimezone(LONDON):%a %d %b %Y %H:%M}-"
                  f"{end.astimezone(LONDON):%H:%M} Europe/London ({start:%H:%M}-{end:%H:%M} UTC, "
                  f"{len(st.periods)} half-hours). Data: NGED flexibility trade results, NESO "
                  f"Carbon Intensity API (see flexplatform/demo_data/ATTRIBUTION.md).")
    t_all = time.perf_counter()
    stages = ["database", "participants and terms", "zones", "assets", "markets", "bids",
              "gate closure and clearing", "results"]
    progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=console, transient=False)
    code = 0
    try:
        with progress:
            task = progress.add_task("starting", total=len(stages))

            def step(name: str) -> None:
                progress.update(task, description=name)

            def done(name: str, t0: float, msg: str) -> None:
                st.timings[name] = time.perf_counter() - t0
                progress.console.log(f"[green]✓[/] {name}: {msg} ({st.timings[name]:.2f}s)")
                progress.advance(task)

            t0 = time.perf_counter()
            step(stages[0])
            if fresh:
                _fresh_database(progress.console)
            _upgrade()
            st.admin = _first_admin(suffix)
            from flexplatform.app import create_app

            plan = build_plan(fast, st.periods, rng)
            done(stages[0], t0, "migrated to head, GB taxonomy seeded, admin created")
            with TestClient(create_app()) as client:
                api = Api(client)
                t0 = time.perf_counter()
                step(stages[1])
                stage_participants(api, st, plan, suffix)
                done(stages[1], t0, f"regulator, {len(st.mos)} MOs (NGED DSO, NESO ESO), "
                                    f"{len(st.fsps)} FSPs; terms accepted")
                t0 = time.perf_counter()
                step(stages[2])
                cmzs = sorted({n.cmz_code for n, _ in plan["needs"]}
                              | {a["cmz"] for a in plan["assets"].values()})
                stage_zones(api, st, cmzs)
                carbon_msg = stage_carbon(api, st, cmzs)
                done(stages[2], t0, f"{len(cmzs)} NGED CMZs; {carbon_msg}")
                t0 = time.perf_counter()
                step(stages[3])
                stage_assets(api, st, plan, rng)
                real = sum(1 for a in plan["assets"].values() if a["real"])
                done(stages[3], t0, f"{len(st.assets)} assets ({real} from NGED offers, "
                                    f"{len(st.assets) - real} synthetic)")
                t0 = time.perf_counter()
                step(stages[4])
                # Gate: a few seconds from now, enough for the bids below.
                # Generous against the machine's pace so far (bids are one bulk call per FSP).
                margin = min(10.0, max(2.0, 4 * (st.timings[stages[1]] + st.timings[stages[3]])))
                # and for the advice shown below and the opportunity alerts (solved in-process)
                margin += 5.0
                gate_close = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=margin)).replace(
                    microsecond=0) + dt.timedelta(seconds=1)
                stage_markets(api, st, plan, gate_close, start, end, fast)
                done(stages[4], t0, f"{len(st.markets)} markets, {len(st.needs)} needs; gate "
                                    f"closes {gate_close:%H:%M:%S} UTC")
                # Advice for one FSP's asset while the markets are open (demo/monitoring.py).
                advised = st.assets[plan["stack"]]
                advice_out = demo_monitoring.advise_one(api, st, advised)
                t0 = time.perf_counter()
                step(stages[5])
                extra = stage_bids(api, st, plan)
                done(stages[5], t0, f"{extra['bids']} bids in {len(st.fsps)} bulk requests")
                t0 = time.perf_counter()
                step(stages[6])
                stage_clear(api, st, gate_close)
                rnd = st.round or {}
                done(stages[6], t0, f"round {rnd.get('status')}, solver "
                                    f"{rnd.get('solver_status')}")
                t0 = time.perf_counter()
                step(stages[7])
                if rnd.get("status") != "done":
                    raise DemoError(f"clearing round {rnd.get('id')} is {rnd.get('status')}: "
                                    f"{rnd.get('error') or rnd.get('hold_reason')}")
                notes = sum(len(api("GET", "/notifications?kind=market.cleared", p)) for p in
                            [*st.mos.values(), *st.fsps.values()])
                done(stages[7], t0, f"{notes} market.cleared notifications")
        calls = api.calls
        with TestClient(create_app()) as client:
            api = Api(client)
            api.calls = calls
            totals = report_schedules(api, st, console)
            report_round(api, st, console)
            from flexplatform.competition.rules import DEFAULT_RULES

            report_carbon(st, totals, console, DEFAULT_RULES.carbon_price)
            n_rej = report_rejections(api, st, console, extra)
            from flexplatform.demo.transfer import report_transfer

            trade = report_transfer(api, st, console)
            demo_monitoring.report_advice(advice_out, st, advised, console)
            awards = api("GET", "/awards?limit=1", st.regulator)["total"]
            from flexplatform.demo.operations import run_operations

            ops_code = run_operations(api, st, console, rng)
            from flexplatform.demo.settle import stage_settlement

            settled = stage_settlement(api, st, console)
            if not settled.get("statements"):
                code = 1
            # The day ends with the regulator's carbon report and the market summary.
            if not report_transparency(api, st, console, get_settings().var_dir / "demo-reports"):
                code = 1
            # Last, so the planted past event stays out of the day's dispatch and settlement.
            flag = demo_monitoring.planted_power_rinse(api, st, console)
        if (n_rej == 0 or awards == 0 or ops_code or flag is None
                or (trade or {}).get("status") != "completed"):
            code = 1
        console.print(Panel.fit(
            f"{len(st.fsps)} FSPs, {len(st.assets)} assets, {len(st.bids)} bids, {awards} "
            f"contracts, {n_rej} rejected bids with reasons; {api.calls} API calls; total "
            f"{time.perf_counter() - t_all:.1f}s", title="market day cleared" if code == 0
            else "market day incomplete", border_style="green" if code == 0 else "red"))
    except DemoError as e:
        console.print(f"[bold red]demo failed:[/] {e}")
        code = 2
    return code
