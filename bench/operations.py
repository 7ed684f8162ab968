"""Operations bench: one short-notice utilisation request over 10,000 contracted assets,
from the API call to the instructions stored; and a bulk availability declaration.

    python bench/operations.py [--assets 10000] [--periods 4] [--declare-periods 48]
    FLEX_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/flex_bench python bench/operations.py

Setup (not timed): one MO with a cleared ENA Dynamic market in one CMZ, 10 FSPs holding
``--assets`` assets (batteries, EV and heat-pump aggregations, DSR: 0.05-3 MW, utilisation
prices 150-900 GBP/MWh), one contract per asset and period, written straight to the
database. Timed:

1. ``POST /availability`` per FSP: every asset x ``--declare-periods`` half-hours (one
   request per FSP; 1 in 10 assets derated to half);
2. ``POST /utilisation-requests``: the MO calls 40% (``--call-share``) of the contracted MW over
   ``--periods`` half-hours starting 30 minutes from now (Dynamic's notice is 15 minutes),
   which queues an event run; embedded, the run executes in-process after the commit, as a
   worker would (prepare -> optimiser.dispatch.solve -> store). The clock stops when the
   run is done and its instructions are in the database.

With ``FLEX_DATABASE_URL`` (Postgres) the database's public schema is DROPPED and
recreated: point it at a bench database only. Without it, SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _prepare_database() -> str:
    url = os.environ.get("FLEX_DATABASE_URL", "")
    os.environ.pop("FLEX_REDIS_URL", None)
    os.environ["FLEX_TASK_ALWAYS_EAGER"] = "true"
    if not url:
        os.environ["FLEX_VAR_DIR"] = tempfile.mkdtemp(prefix="flex-bench-ops-")
        return "sqlite (embedded)"
    from sqlalchemy.engine import make_url

    from flexplatform.config import get_settings

    u = make_url(get_settings().resolved_database_url)
    from pgfresh import fresh_schema

    fresh_schema(str(u.render_as_string(hide_password=False)))
    return f"postgres ({u.database})"


def setup(n_assets: int, n_periods: int, seed: int = 1) -> dict:
    from flexplatform import migrate
    from flexplatform.audit import Actor
    from flexplatform.competition.models import (
        Bid,
        ClearingRound,
        Contract,
        Market,
        MarketStatus,
        Need,
        NeedDirection,
        RoundStatus,
    )
    from flexplatform.db import bulk_insert, unit_of_work, utcnow
    from flexplatform.governance.models import Zone, ZoneKind
    from flexplatform.governance.service import seed_taxonomy
    from flexplatform.registration.models import Asset
    from flexplatform.registration.mpan import make_mpan
    from flexplatform.registration.schemas import ParticipantCreate, TermsCreate
    from flexplatform.registration.service import accept_terms, create_participant, create_terms

    migrate.upgrade()
    rng = np.random.default_rng(seed)
    now = utcnow()
    start = now.replace(second=0, microsecond=0)
    start = start.replace(minute=0) + dt.timedelta(minutes=60 if start.minute >= 30 else 30)
    if (start - now) < dt.timedelta(minutes=20):
        start += dt.timedelta(minutes=30)
    half = dt.timedelta(minutes=30)
    from flexplatform.auth import Principal

    with unit_of_work() as s:
        seed_taxonomy(s)
        s.add(Zone(code="CMZ_BENCH", name="Bench CMZ", kind=ZoneKind.cmz, dso="UKPN"))
        tv = create_terms(s, TermsCreate(version="B-1", title="t", body="b",
                                         effective_from=now - dt.timedelta(days=1)),
                          Actor.system())
        parties = {}
        for name, role in [("mo", "mo"), *[(f"fsp{i}", "fsp") for i in range(10)]]:
            p, key = create_participant(s, ParticipantCreate(
                role=role, legal_name=f"{name} Ltd",
                billing_contact={"name": name, "email": f"{name}@example.org"}), Actor.system())
            s.flush()
            accept_terms(s, tv.version, Principal(participant=p, key_prefix="bench"))
            parties[name] = (p.id, key)
        rnd = ClearingRound(market_ids=[], status=RoundStatus.done)
        s.add(rnd)
        s.flush()
        mo_id = parties["mo"][0]
        m = Market(mo_id=mo_id, name="Dynamic bench", status=MarketStatus.cleared,
                   gate_open_at=now - dt.timedelta(days=3),
                   gate_close_at=now - dt.timedelta(days=2), delivery_start=start,
                   delivery_end=start + n_periods * half, clearing_round_id=rnd.id)
        s.add(m)
        s.flush()
        need = Need(market_id=m.id, product_code="dynamic", zone_code="CMZ_BENCH",
                    direction=NeedDirection.up, mw=[1.0] * n_periods,
                    max_availability_price=Decimal(50), utilisation_price_cap=Decimal(1000),
                    unmet_penalty=Decimal(6000))
        s.add(need)
        s.flush()
        techs = ["battery", "ev_charging", "heat_pump", "industrial_dsr"]
        assets, bids, contracts = [], [], []
        caps = np.round(rng.uniform(0.05, 3.0, n_assets), 3)
        prices = np.round(rng.uniform(150, 900, n_assets), 2)
        fsp_of = {}
        for k in range(n_assets):
            fsp = parties[f"fsp{k % 10}"][0]
            aid, bid = uuid.uuid4(), uuid.uuid4()
            fsp_of[aid] = f"fsp{k % 10}"
            cap = float(caps[k])
            assets.append({"id": aid, "fsp_id": fsp, "name": f"B{k}",
                           "mpan": make_mpan(f"16{k:010d}"), "zone_code": "CMZ_BENCH",
                           "technology_code": techs[k % 4], "status": "operational",
                           "up_mw": cap, "down_mw": cap, "energy_mwh": None,
                           "emission_t_per_mwh": 0.0, "reliability": 0.95,
                           "created_at": now, "updated_at": now})
            bids.append({"id": bid, "fsp_id": fsp, "asset_id": aid, "need_id": need.id,
                         "market_id": m.id, "mw": [cap] * n_periods, "min_mw": 0.0,
                         "availability_price": Decimal(10),
                         "utilisation_price": Decimal(str(prices[k])),
                         "all_or_nothing": False, "status": "accepted", "version": 1,
                         "reasons": [], "created_at": now, "updated_at": now})
            for t in range(n_periods):
                contracts.append({"round_id": rnd.id, "bid_id": bid, "need_id": need.id,
                                  "market_id": m.id, "asset_id": aid, "fsp_id": fsp,
                                  "mo_id": mo_id, "product_code": "dynamic",
                                  "direction": "up", "period_start": start + t * half,
                                  "mw": cap, "availability_price": Decimal(10),
                                  "utilisation_price": Decimal(str(prices[k])),
                                  "status": "active"})
        bulk_insert(s, Asset, assets)
        bulk_insert(s, Bid, bids)
        bulk_insert(s, Contract, contracts)
    return {"parties": parties, "need_id": need.id, "start": start, "fsp_of": fsp_of,
            "caps": {a["id"]: a["up_mw"] for a in assets}, "total_mw": float(caps.sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=10_000)
    ap.add_argument("--periods", type=int, default=4, help="request length (half-hours)")
    ap.add_argument("--declare-periods", type=int, default=None,
                    help="declared half-hours per asset (default: the contracted ones)")
    ap.add_argument("--call-share", type=float, default=0.4,
                    help="share of the contracted MW the request calls")
    args = ap.parse_args()
    where = _prepare_database()
    n_contract = max(args.periods, args.declare_periods or 0)
    t = time.perf_counter()
    ctx = setup(args.assets, n_contract)
    print(f"{where}: {args.assets} assets, {args.assets * n_contract} contract rows set up "
          f"in {time.perf_counter() - t:.1f}s")
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    from flexplatform.app import create_app
    from flexplatform.db import unit_of_work
    from flexplatform.operations.models import DispatchRun, Instruction

    client = TestClient(create_app())
    # A worker has these loaded before any run; so does the bench before its clock starts.
    import optimiser.dispatch
    from flexplatform.operations import requests as ops_requests
    from flexplatform.operations import runs as ops_runs
    from flexplatform.queue import eager_app

    eager_app()
    phases: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    ops_runs.prepare = timed("prepare", ops_runs.prepare)
    ops_runs.store = timed("store", ops_runs.store)
    ops_requests.create = timed("request", ops_requests.create)
    optimiser.dispatch.solve = timed("solve", optimiser.dispatch.solve)
    dp = args.declare_periods or n_contract
    per_fsp: dict[str, list] = {}
    for i, aid in enumerate(ctx["caps"]):
        cap = ctx["caps"][aid]
        per_fsp.setdefault(ctx["fsp_of"][aid], []).append(
            {"asset_id": str(aid), "mw": round(cap / 2, 3) if i % 10 == 0 else cap})
    t = time.perf_counter()
    for name, items in per_fsp.items():
        key = ctx["parties"][name][1]
        r = client.post("/api/v1/availability", headers={"Authorization": f"Bearer {key}"},
                        json={"direction": "up", "period_start": ctx["start"].isoformat(),
                              "periods": dp, "assets": items})
        assert r.status_code == 201, r.text[:500]
    decl_s = time.perf_counter() - t
    print(f"declarations: {args.assets} assets x {dp} half-hours "
          f"({args.assets * dp} values, 10 requests) in {decl_s:.2f}s")
    mw = round(args.call_share * ctx["total_mw"], 1)
    key = ctx["parties"]["mo"][1]
    t = time.perf_counter()
    r = client.post("/api/v1/utilisation-requests", headers={"Authorization": f"Bearer {key}"},
                    json={"need_id": str(ctx["need_id"]),
                          "period_start": ctx["start"].isoformat(),
                          "period_end": (ctx["start"] + dt.timedelta(minutes=30 * args.periods)
                                         ).isoformat(), "mw": mw})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    while True:
        with unit_of_work(readonly=True) as s:
            run = s.scalars(select(DispatchRun).order_by(DispatchRun.created_at.desc())).first()
            n = s.scalar(select(func.count()).select_from(Instruction).where(
                Instruction.request_id == uuid.UUID(rid)))
            status = run.status if run else None
            timing = (run.result or {}).get("timing") if run else None
        if status in ("done", "failed"):
            break
        time.sleep(0.05)
    total = time.perf_counter() - t
    print(f"short-notice request {mw} MW x {args.periods} half-hours over {args.assets} "
          f"contracted assets: run {status}, {n} instructions stored, API call to stored "
          f"{total:.2f}s")
    print("  phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
          + f"; engine's own timing {timing}")


if __name__ == "__main__":
    main()
