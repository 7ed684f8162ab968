"""A small market HiGHS cannot prove optimal in a fraction of a second, built in the tests.

About a hundred assets in two constraint managed zones, overlapping DSO needs of four
products across a whole day, a GB-wide reserve need that cannot stack with two of them,
and three bids per asset with minimum MW, all-or-nothing blocks and exclusive groups: the
integer decisions interact, so a tiny time limit stops the solve with a solution but no
proven gap, while a generous one proves it within seconds. Written through the services, as
a platform user would (tests never import ``bench/``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from flexplatform.audit import Actor
from flexplatform.auth import Principal
from flexplatform.competition.schemas import MarketIn
from flexplatform.competition.service import create_market, submit_bulk
from flexplatform.governance.models import Zone, ZoneKind
from flexplatform.registration.mpan import make_mpan
from flexplatform.registration.schemas import ParticipantCreate, TermsCreate
from flexplatform.registration.service import (
    accept_terms,
    bulk_create_assets,
    create_participant,
    create_terms,
)

T = 48
ZONES = ("CMZ_HARD_A", "CMZ_HARD_B")
DSO_PRODUCTS = ("sustain", "secure", "dynamic", "restore")


def _party(s: Any, role: str, name: str) -> tuple[Principal, dict[str, str]]:
    p, key = create_participant(s, ParticipantCreate(
        role=role, legal_name=name, billing_contact={"name": name, "email": "b@example.org"}),
        Actor.system())
    who = Principal(participant=p, key_prefix="setup")
    if role in ("mo", "fsp"):
        accept_terms(s, "HARD-1", who)
    return who, {"Authorization": f"Bearer {key}"}


def build(s: Any, n_assets: int = 100, seed: int = 7, gate_s: float = 3600.0
          ) -> dict[str, Any]:
    """Write the market in session ``s`` (the caller commits); returns parties and ids.

    ``gate_s``: seconds from now to gate closure (the caller closes the gate itself with
    ``clearing.close_gates(now=...)`` when it will not wait).
    """
    rng = np.random.default_rng(seed)
    now = dt.datetime.now(dt.UTC)
    create_terms(s, TermsCreate(version="HARD-1", title="Terms", body="Rules.",
                                effective_from=now - dt.timedelta(days=1)), Actor.system())
    for z in ZONES:
        s.add(Zone(code=z, name=z, kind=ZoneKind.cmz, dso="NGED"))
    s.flush()
    _, admin_h = _party(s, "admin", "Platform Ops")
    dso, dso_h = _party(s, "mo", "DSO")
    eso, eso_h = _party(s, "mo", "ESO")
    # Delivery starts the midnight after next: after any gate (gate_s is at most hours).
    start = (now + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    gate = now + dt.timedelta(seconds=gate_s)
    window = {"gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
              "gate_close_at": gate.isoformat(), "delivery_start": start.isoformat(),
              "delivery_end": (start + dt.timedelta(minutes=30 * T)).isoformat(),
              "open": True}

    def profile(level: float) -> list[float]:
        a = int(rng.integers(0, T - 16))
        b = a + int(rng.integers(8, 16))
        return [round(level * float(rng.uniform(0.6, 1.0)), 2) if a <= t < b else 0.0
                for t in range(T)]

    fsps = [_party(s, "fsp", f"FSP {i}") for i in range(4)]
    assets: list[tuple[int, str, float, str]] = []  # (fsp index, zone, up MW, id)
    for f, (who, _) in enumerate(fsps):
        rows = []
        for _ in range(n_assets // len(fsps)):
            up = round(float(rng.uniform(1.0, 6.0)), 2)
            rows.append({"name": "unit", "mpan": make_mpan(
                f"17{int(rng.integers(0, 10**10)):010d}"),
                "zone": ZONES[int(rng.integers(0, len(ZONES)))], "technology": "battery",
                "up_mw": up, "down_mw": up, "energy_mwh": 8 * up})
        ids = bulk_create_assets(s, rows, who, 10_000)
        assets += [(f, r["zone"], r["up_mw"], str(i)) for r, i in zip(rows, ids, strict=True)]
    zone_up = {z: sum(a[2] for a in assets if a[1] == z) for z in ZONES}
    need_docs = [{"product": p, "zone": z, "direction": "up", "mw": profile(0.25 * zone_up[z]),
                  "max_availability_price": "100", "utilisation_price_cap": "500",
                  "expected_utilisation": 0.1, "unmet_penalty": "1000"}
                 for z in ZONES for p in DSO_PRODUCTS]
    m_dso = create_market(s, MarketIn.model_validate({**window, "name": "DSO day",
                                                      "needs": need_docs}), dso)
    m_eso = create_market(s, MarketIn.model_validate({**window, "name": "ESO reserve", "needs": [
        {"product": "quick_reserve", "zone": "GB", "direction": "up",
         "mw": profile(0.3 * sum(zone_up.values())), "max_availability_price": "100",
         "utilisation_price_cap": "500", "expected_utilisation": 0.1,
         "unmet_penalty": "3000"}]}), eso)
    by_zone = {z: [n for n in m_dso.needs if n.zone_code == z] for z in ZONES}
    reserve = m_eso.needs[0]
    per_fsp: dict[int, list[dict[str, Any]]] = {f: [] for f in range(len(fsps))}
    for k, (f, zone, up, aid) in enumerate(assets):
        options = [*by_zone[zone], reserve]
        for j, i in enumerate(rng.choice(len(options), size=3, replace=False)):
            need = options[int(i)]
            mw = [round(min(up, up * float(rng.uniform(0.5, 1.0))), 2) if v > 0 else 0.0
                  for v in need.mw]
            per_fsp[f].append({
                "need_id": str(need.id), "asset_id": aid, "mw": mw,
                "min_mw": round(0.4 * up, 2) if j == 0 else 0.0,
                "availability_price": f"{float(rng.uniform(5, 60)):.2f}",
                "utilisation_price": f"{float(rng.uniform(50, 400)):.2f}",
                "all_or_nothing": bool(rng.random() < 0.35),
                "exclusive_group": f"x{k}" if j < 2 and rng.random() < 0.5 else None})
    for f, (who, _) in enumerate(fsps):
        submit_bulk(s, per_fsp[f], who, 50_000)
    return {"admin": admin_h, "dso": dso_h, "eso": eso_h, "gate": gate,
            "markets": [str(m_dso.id), str(m_eso.id)]}
