"""End-to-end competition bench: registration and bids over the API, then the clearing round.

    FLEX_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/flex_bench python bench/competition.py
    python bench/competition.py [--assets 10000] [--fsps 10] [--quick]

10 FSPs x 1,000 assets (``POST /assets/bulk``) and 3 bids per asset (``POST /bids/bulk``,
one request per FSP), ~600 needs (5 per DSO CMZ + GB-wide NESO needs) over 48 half-hours,
submitted through the real API (FastAPI ``TestClient`` in-process). Then the round runs as
``workers/tasks.py clear_round`` does, one phase per transaction, each timed:
``close_gates`` -> ``prepare`` (snapshot) -> ``optimiser.clear`` (solve) -> ``store``.
Finally the round's stored snapshot is loaded back from the database and cleared again on
its own: the optimiser's time for the same problem, to which end-to-end is compared.

With ``FLEX_DATABASE_URL`` set (Postgres), the database is created if missing and its public
schema is DROPPED and recreated: point it at a bench database only. Without it, the embedded
SQLite goes to a fresh temporary ``FLEX_VAR_DIR``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DSOS = ["NGED", "UKPN", "SSEN", "ENWL", "NPG", "SPEN"]
DSO_UP = ["sustain", "secure", "dynamic", "restore"]
# technology: share, up MW range, down MW range, emission, reliability, availability £/MW/h
TECH = {
    "battery": (0.25, (0.5, 5.0), (0.5, 5.0), 0.0, 0.97, (4.0, 18.0)),
    "ev_charging": (0.30, (0.05, 0.6), (0.05, 0.6), 0.0, 0.85, (2.0, 12.0)),
    "heat_pump": (0.20, (0.02, 0.3), (0.01, 0.1), 0.0, 0.80, (4.0, 20.0)),
    "industrial_dsr": (0.15, (1.0, 10.0), (0.0, 0.0), 0.0, 0.90, (8.0, 35.0)),
    "generator": (0.10, (1.0, 20.0), (0.0, 0.0), 0.45, 0.95, (12.0, 45.0)),
}


def _prepare_database() -> str:
    """Fresh schema: Postgres (create db if missing, drop/recreate public) or temp SQLite."""
    url = os.environ.get("FLEX_DATABASE_URL", "")
    if not url:
        os.environ["FLEX_VAR_DIR"] = tempfile.mkdtemp(prefix="flex-bench-")
        os.environ.pop("FLEX_REDIS_URL", None)
        return "sqlite (embedded, " + os.environ["FLEX_VAR_DIR"] + ")"
    from sqlalchemy.engine import make_url

    from flexplatform.config import get_settings

    u = make_url(get_settings().resolved_database_url)
    from pgfresh import fresh_schema

    fresh_schema(str(u.render_as_string(hide_password=False)))
    return f"postgres ({u.host}:{u.port}/{u.database})"


class Api:
    def __init__(self, client):
        self.c = client

    def __call__(self, method, path, key=None, expect=(200, 201), **kw):
        r = self.c.request(method, "/api/v1" + path,
                           headers={"Authorization": f"Bearer {key}"} if key else {}, **kw)
        if r.status_code not in expect:
            raise SystemExit(f"{method} {path} -> {r.status_code}: {r.text[:3000]}")
        return r.json()


def run(n_assets: int, n_fsps: int, seed: int, T: int = 48) -> dict[str, float]:
    where = _prepare_database()
    from fastapi.testclient import TestClient

    from flexplatform.app import create_app
    from flexplatform.audit import Actor
    from flexplatform.cli import _upgrade
    from flexplatform.competition import clearing
    from flexplatform.competition.models import ClearingRound
    from flexplatform.config import get_settings
    from flexplatform.db import unit_of_work
    from flexplatform.registration.mpan import make_mpan
    from flexplatform.registration.schemas import ParticipantCreate
    from flexplatform.registration.service import create_participant
    from optimiser import ClearingOptions, clear, load_snapshot

    rng = np.random.default_rng(seed)
    print(f"database: {where}; {n_assets} assets, {n_fsps} FSPs, {3 * n_assets} bids, {T} periods",
          flush=True)
    _upgrade()
    with unit_of_work() as s:
        _, admin = create_participant(s, ParticipantCreate(
            role="admin", legal_name="Bench admin",
            billing_contact={"name": "ops", "email": "ops@bench.example"}), Actor(id=None, role="cli"))
    client = TestClient(create_app())
    api = Api(client)
    api("POST", "/terms", admin, json={"version": "bench-1", "title": "Bench terms", "body": "x"})

    def party(role, name, i):
        body = {"role": role, "legal_name": name,
                "billing_contact": {"name": name, "email": f"b{i}@bench.example"}}
        out = api("POST", "/participants", admin, json=body)
        api("POST", "/terms/bench-1/accept", out["api_key"])
        return out["api_key"]

    mos = {d: party("mo", f"{d} (DSO)", i) for i, d in enumerate(DSOS)}
    mos["NESO"] = party("mo", "NESO (ESO)", 99)
    fsps = [party("fsp", f"Aggregator {i + 1}", 100 + i) for i in range(n_fsps)]

    # Zones: one CMZ per ~85 assets, 5 needs each (4 DSO up + local_turn_up) ~ 600 needs.
    n_cmz = max(2, round(n_assets / 85))
    cmzs = [f"CMZ_{DSOS[i % len(DSOS)]}_{i:04d}" for i in range(n_cmz)]
    for i, z in enumerate(cmzs):
        api("PUT", f"/zones/{z}", admin, json={"code": z, "name": z, "kind": "cmz",
                                               "parent_code": "GB", "dso": DSOS[i % len(DSOS)]})

    # Assets, generated then submitted per FSP.
    names = list(TECH)
    shares = np.array([TECH[k][0] for k in names])
    tech = rng.choice(len(names), size=n_assets, p=shares / shares.sum())
    zone = rng.integers(0, n_cmz, size=n_assets)
    base = int(rng.integers(10**9))
    assets = []
    for i in range(n_assets):
        k = names[tech[i]]
        _, upr, dnr, ef, rel, _ = TECH[k]
        up = round(float(rng.uniform(*upr)), 3)
        down = round(float(rng.uniform(*dnr)), 3) if dnr[1] > 0 else 0.0
        a = {"name": f"{k} {i}", "mpan": make_mpan(f"{10 + i % 89:02d}{(base + i) % 10**10:010d}"),
             "zone": cmzs[zone[i]], "technology": k, "up_mw": up, "down_mw": down,
             "emission_t_per_mwh": ef, "reliability": rel}
        if k == "battery":
            a["energy_mwh"] = round(2 * max(up, down), 3)
        assets.append(a)
    owner = [i % n_fsps for i in range(n_assets)]
    t0 = time.perf_counter()
    asset_ids: list[str] = [""] * n_assets
    for f in range(n_fsps):
        idx = [i for i in range(n_assets) if owner[i] == f]
        for j in range(0, len(idx), 10_000):
            part = idx[j : j + 10_000]
            out = api("POST", "/assets/bulk", fsps[f], json={"assets": [assets[i] for i in part]})
            for i, aid in zip(part, out["ids"], strict=True):
                asset_ids[i] = aid
    t_assets = time.perf_counter() - t0
    print(f"  assets submitted: {t_assets:.2f}s", flush=True)

    # Needs, sized to ~60-90% of what the zone's bids offer so there is competition and a
    # little unmet. Profiles over 48 half-hours with an evening peak.
    shape = 0.5 + 0.5 * np.exp(-((np.arange(T) - 36) / 6.0) ** 2)
    up_cap = np.zeros(n_cmz)
    down_cap = np.zeros(n_cmz)
    for i, a in enumerate(assets):
        up_cap[zone[i]] += a["up_mw"]
        down_cap[zone[i]] += a["down_mw"]
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(minutes=30 * T)
    gate_close = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    common = {"gate_open_at": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(),
              "gate_close_at": gate_close.isoformat(), "delivery_start": start.isoformat(),
              "delivery_end": end.isoformat(), "open": True}
    caps = {"sustain": (40, 0), "secure": (60, 600), "dynamic": (50, 500), "restore": (45, 900),
            "local_turn_up": (40, 300), "quick_reserve": (30, 300), "dfs": (10, 3000),
            "balancing_reserve": (30, 300)}

    def window(dso: bool) -> np.ndarray:
        """Active periods: DSO evening constraints 2-7 h, ESO 4-12 h (as bench/clearing.py)."""
        if dso:
            s0, n = int(rng.integers(int(T * 0.55), int(T * 0.8))), int(rng.integers(4, 14))
        else:
            s0, n = int(rng.integers(0, T - 16)), int(rng.integers(8, 24))
        w = np.zeros(T)
        w[s0 : min(T, s0 + n)] = 1.0
        return w

    def need(name, product, zone_code, direction, mw):
        mw = mw * window(zone_code != "GB")
        a, u = caps[product]
        return {"name": name, "product": product, "zone": zone_code, "direction": direction,
                "mw": [round(float(v), 3) for v in mw], "max_availability_price": a,
                "utilisation_price_cap": u, "expected_utilisation": 0.1,
                "unmet_penalty": 10 * a + 100}

    need_ids: dict[tuple[str, str], str] = {}
    need_mw: dict[str, list[float]] = {}
    n_needs = 0
    for d in DSOS:
        rows = []
        for c, z in enumerate(cmzs):
            if not z.startswith(f"CMZ_{d}_"):
                continue
            # ~ each asset bids 2 DSO needs of the zone: ~ 2/5 of capacity per need, x0.4
            for p in DSO_UP:
                rows.append(need(f"{p} {z}", p, z, "up", shape * up_cap[c] * 0.3))
            rows.append(need(f"turn-up {z}", "local_turn_up", z, "down",
                             shape * down_cap[c] * 0.4))
        for j in range(0, len(rows), 500):
            m = api("POST", "/markets", mos[d], json={
                "name": f"{d} CMZ needs {j // 500 + 1}", "needs": rows[j : j + 500], **common})
            for n in m["needs"]:
                need_ids[(n["zone"], n["product"])] = n["id"]
                need_mw[n["id"]] = n["mw"]
            n_needs += len(m["needs"])
    big_up = sum(a["up_mw"] for a in assets if a["up_mw"] >= 1.0)
    gb = [need("Quick Reserve", "quick_reserve", "GB", "up", shape * big_up * 0.08),
          need("DFS", "dfs", "GB", "up", shape * big_up * 0.05),
          need("Balancing Reserve", "balancing_reserve", "GB", "up", shape * big_up * 0.05)]
    m = api("POST", "/markets", mos["NESO"], json={"name": "NESO GB", "needs": gb, **common})
    for n in m["needs"]:
        need_ids[("GB", n["product"])] = n["id"]
        need_mw[n["id"]] = n["mw"]
    n_needs += len(m["needs"])

    # Bids: 3 per asset. Up-capable: 2 DSO up needs of its zone + a GB need if >= 1 MW, else
    # a third DSO need; down-capable assets also bid local turn-up.
    per_fsp: list[list[dict]] = [[] for _ in range(n_fsps)]
    for i, a in enumerate(assets):
        k = a["technology"]
        lo, hi = TECH[k][5]
        z = a["zone"]
        targets = [(p, "up") for p in rng.choice(DSO_UP, size=2, replace=False)]
        # Most GB offers are DFS; a few reserve offers stack against DSO Dynamic (a binary
        # per asset-period in the clearing), as do the few up+turn-up (direction) portfolios.
        if a["up_mw"] >= 1.0:
            targets.append(({0: "quick_reserve", 1: "balancing_reserve"}.get(i % 10, "dfs"), "up"))
        elif a["down_mw"] > 0 and i % 5 == 0:
            targets.append(("local_turn_up", "down"))
        else:
            targets.append((next(p for p in DSO_UP if p not in [t[0] for t in targets]), "up"))
        for p, direction in targets:
            zc = "GB" if p in ("quick_reserve", "dfs", "balancing_reserve") else z
            cap = a["up_mw"] if direction == "up" else a["down_mw"]
            mw = round(cap * float(rng.uniform(0.6, 1.0)), 3)
            avail_cap, util_cap = caps[p]
            prof = [mw if v > 0 else 0.0 for v in need_mw[need_ids[(zc, p)]]]
            if max(prof) <= 0:
                continue
            per_fsp[owner[i]].append({
                "need_id": need_ids[(zc, p)], "asset_id": asset_ids[i], "mw": prof,
                "min_mw": 0.0,
                "availability_price": round(min(avail_cap, float(rng.uniform(lo, hi))), 2),
                "utilisation_price": round(float(rng.uniform(0.3, 1.0)) * util_cap, 2),
                "all_or_nothing": False})
    n_bids = sum(len(b) for b in per_fsp)
    t0 = time.perf_counter()
    for f in range(n_fsps):
        for j in range(0, len(per_fsp[f]), 50_000):
            api("POST", "/bids/bulk", fsps[f], json={"bids": per_fsp[f][j : j + 50_000]})
    t_bids = time.perf_counter() - t0
    print(f"  {n_needs} needs; {n_bids} bids submitted: {t_bids:.2f}s", flush=True)
    client.close()

    # The round, phase by phase as workers/tasks.py does (the gate is "now" at gate_close).
    settings = get_settings()
    opts = ClearingOptions(time_limit=settings.solver_time_limit, mip_rel_gap=settings.solver_mip_gap)
    t_start = time.perf_counter()
    with unit_of_work() as s:
        rounds = clearing.close_gates(s, now=gate_close)
    assert len(rounds) == 1, rounds
    rid = rounds[0]
    t_closed = time.perf_counter()
    with unit_of_work() as s:
        snapshot = clearing.prepare(s, rid)
    t_snap = time.perf_counter()
    result = clear(load_snapshot(snapshot), opts)
    doc = result.to_dict()
    t_solved = time.perf_counter()
    with unit_of_work() as s:
        clearing.store(s, rid, doc)
    t_end = time.perf_counter()

    with unit_of_work() as s:
        rnd = s.get(ClearingRound, rid)
        stored = rnd.snapshot
        status, solver_status = rnd.status.value, rnd.solver_status
    t0 = time.perf_counter()
    again = clear(load_snapshot(stored), opts)
    t_opt = time.perf_counter() - t0
    from sqlalchemy import func, select

    from flexplatform.competition.models import Contract

    with unit_of_work() as s:
        contracts = s.scalar(select(func.count()).select_from(Contract))
    return {
        "assets_s": t_assets, "bids_s": t_bids, "close_s": t_closed - t_start,
        "snapshot_s": t_snap - t_closed, "solve_s": t_solved - t_snap, "store_s": t_end - t_solved,
        "e2e_s": t_end - t_start, "optimiser_s": t_opt, "status": status,
        "solver_status": solver_status, "again_status": again.status, "contracts": contracts,
        "needs": n_needs, "bids": n_bids, "assets": n_assets,
        "objective": doc.get("objective"), "again_objective": again.objective,
        "snap_bids": len(stored["bids"]), "snap_needs": len(stored["needs"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=int, default=10_000)
    ap.add_argument("--fsps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="1,000 assets (smoke run)")
    args = ap.parse_args()
    n = 1_000 if args.quick else args.assets
    r = run(n, min(args.fsps, n), args.seed)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Competition bench: {r['assets']} assets, {r['bids']} bids, {r['needs']} "
                    f"needs, 48 periods; round {r['status']} ({r['solver_status']}), "
                    f"{r['contracts']} contracts")
    for c in ("stage", "seconds"):
        t.add_column(c, justify="right" if c == "seconds" else "left")
    t.add_row("submit assets (API, bulk)", f"{r['assets_s']:.2f}")
    t.add_row("submit bids (API, bulk)", f"{r['bids_s']:.2f}")
    t.add_row("submit total", f"{r['assets_s'] + r['bids_s']:.2f}")
    t.add_row("gate closure (close_gates)", f"{r['close_s']:.2f}")
    t.add_row("snapshot (prepare)", f"{r['snapshot_s']:.2f}")
    t.add_row("solve (optimiser.clear)", f"{r['solve_s']:.2f}")
    t.add_row("store (contracts, outcomes, verdicts)", f"{r['store_s']:.2f}")
    t.add_row("end-to-end (gate closure -> stored)", f"{r['e2e_s']:.2f}", style="bold")
    t.add_row("optimiser alone, same stored snapshot", f"{r['optimiser_s']:.2f}")
    ratio = r["e2e_s"] / r["optimiser_s"] if r["optimiser_s"] > 0 else float("inf")
    t.add_row("ratio end-to-end / optimiser (target < 2x)", f"{ratio:.2f}x",
              style="green" if ratio < 2 else "red")
    Console().print(t)
    print(f"objective {r['objective']:.2f} (re-run {r['again_status']} "
          f"{(r['again_objective'] or 0):.2f}); snapshot {r['snap_needs']} needs, "
          f"{r['snap_bids']} bids")


if __name__ == "__main__":
    main()
