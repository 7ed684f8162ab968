"""A seeded synthetic GB dispatch snapshot (dispatch-snapshot-v1), mirroring generate.py.

Pure (numpy's seeded generator only): the same arguments give the same snapshot. Assets sit
in CMZs (zones) of six DSOs; each holds a DSO contract for its CMZ (sustain, secure or
dynamic), and about a third also an ESO contract (reserve or dynamic, GB-wide). Contracts
cover an evening window; FSPs have declared a quarter of the assets, some derated; a few
instructions from an earlier run are fixed. Requests: about 1.3 per CMZ from its DSO
(priority 1, mostly up, some down), and one in six GB-wide from the ESO (priority 2), at
most 25.

    from optimiser.dispatch.generate import generate
    doc = generate(2000, n_requests=150, seed=1)   # 48 half-hours
"""

from __future__ import annotations

import numpy as np

# technology: share, up MW range, down MW range, emission t/MWh, reliability, energy hours,
# max run periods (None: none), min call share of contract MW
TECH = {
    "battery": (0.25, (0.5, 5.0), (0.5, 5.0), 0.0, 0.97, 2.0, None, 0.0),
    "ev": (0.30, (0.05, 0.6), (0.05, 0.6), 0.0, 0.85, 3.0, None, 0.0),
    "heat_pump": (0.20, (0.02, 0.3), (0.0, 0.1), 0.0, 0.80, None, 6, 0.0),
    "industrial_dsr": (0.15, (1.0, 10.0), (0.0, 0.0), 0.0, 0.90, None, 4, 0.5),
    "generator": (0.10, (1.0, 20.0), (0.0, 0.0), 0.45, 0.95, None, None, 0.4),
}
DSOS = ["UKPN", "SSEN", "NGED", "ENWL", "NPG", "SPEN"]
DSO_PRODUCTS = ["sustain", "secure", "dynamic"]
ESO_PRODUCTS = ["reserve", "dynamic"]
# the ESO's GB-wide calls over a day: tens, not growing with the DSO fleets (each one pairs
# with every ESO contract of its product)
MAX_ESO_REQUESTS = 25
INCOMPATIBLE = [["secure", "reserve"], ["sustain", "reserve"]]


def generate(n_assets: int, n_requests: int | None = None, seed: int = 1, T: int = 48,
             primacy: str = "lexicographic") -> dict:
    """A snapshot of `n_assets` assets and about `n_requests` requests (default 7.5% of the
    assets), `T` half-hours from 14:00 UTC."""
    rng = np.random.default_rng(seed * 7919 + n_assets)
    n_req = n_requests if n_requests is not None else max(2, round(0.075 * n_assets))
    n_eso = min(max(1, n_req // 6), MAX_ESO_REQUESTS)
    n_dso = max(1, n_req - n_eso)
    n_zones = max(1, round(n_dso / 1.3))
    periods = [_stamp(i) for i in range(T)]
    techs = list(TECH)
    share = np.array([TECH[t][0] for t in techs])
    tech = rng.choice(len(techs), size=n_assets, p=share / share.sum())
    zone = rng.integers(0, n_zones, size=n_assets)
    zname = [f"{DSOS[z % len(DSOS)]}-CMZ{z:04d}" for z in range(n_zones)]
    assets, contracts, availability, instructions = [], [], [], []
    w0, w1 = max(0, T // 2 - 8), min(T, T // 2 + 12)   # the contracted evening window
    for i in range(n_assets):
        name, (_, up_r, dn_r, em, rel, hours, run, min_share) = techs[tech[i]], TECH[
            techs[tech[i]]]
        up = round(float(rng.uniform(*up_r)), 3)
        down = round(float(rng.uniform(*dn_r)), 3) if dn_r[1] > 0 else 0.0
        aid = f"A{i:05d}"
        assets.append({
            "id": aid, "fsp": f"FSP{i % 40:02d}", "zone": zname[zone[i]], "technology": name,
            "up_mw": up, "down_mw": down, "emission_t_per_mwh": em,
            "reliability": round(float(rel - rng.uniform(0, 0.05)), 3),
            "energy_mwh": None if hours is None else round(up * hours, 3),
            "max_run_periods": run})
        dso = DSOS[zone[i] % len(DSOS)]
        s, e = int(rng.integers(w0, w0 + 4)), int(rng.integers(w1 - 4, w1 + 1))
        direction = "down" if down > 0 and rng.random() < 0.15 else "up"
        cap = up if direction == "up" else down
        mw = np.zeros(T)
        mw[s:e] = round(cap * float(rng.uniform(0.6, 1.0)), 3)
        contracts.append({
            "id": f"C{len(contracts):06d}", "asset": aid, "mo": dso,
            "product": (DSO_PRODUCTS[zone[i] % 3] if rng.random() < 0.85
                        else DSO_PRODUCTS[int(rng.integers(0, 3))]), "direction": direction,
            "mw": mw.tolist(), "min_mw": round(min_share * float(mw.max()), 3),
            "utilisation_price": round(float(rng.uniform(150, 600)), 2)})
        if rng.random() < 0.33:
            mw2 = np.zeros(T)
            mw2[w0:w1] = round(up * float(rng.uniform(0.3, 0.8)), 3)
            contracts.append({
                "id": f"C{len(contracts):06d}", "asset": aid, "mo": "ESO",
                "product": ESO_PRODUCTS[int(rng.integers(0, 2))], "direction": "up",
                "mw": mw2.tolist(), "min_mw": round(min_share * float(mw2.max()), 3),
                "utilisation_price": round(float(rng.uniform(80, 400)), 2)})
        if rng.random() < 0.25:
            decl = np.full(T, up)
            if rng.random() < 0.3:   # derated over part of the day
                a = int(rng.integers(0, T))
                decl[a:a + int(rng.integers(2, 12))] = round(up * float(rng.uniform(0, 0.6)), 3)
            availability.append({"asset": aid, "direction": "up", "mw": decl.tolist()})
    # a few instructions of an earlier run, fixed
    for k in rng.choice(len(contracts), size=max(0, len(contracts) // 50), replace=False):
        c = contracts[int(k)]
        on = np.flatnonzero(np.asarray(c["mw"]) > 0)
        if len(on):
            t = int(on[0])
            instructions.append({"id": f"I{len(instructions):05d}", "contract": c["id"],
                                 "period": t, "mw": c["mw"][t]})
    # requests: DSO per CMZ (priority 1), ESO GB-wide (priority 2)
    requests = []
    zone_mw = np.zeros((n_zones, 2))
    for c, a in ((c, assets[int(c["asset"][1:])]) for c in contracts if c["mo"] != "ESO"):
        z = int(a["zone"][-4:])
        zone_mw[z, 0 if c["direction"] == "up" else 1] += max(c["mw"])
    zdir: dict[int, str] = {}
    for j in range(n_dso):
        z = j % n_zones
        d = zdir.setdefault(z, "down" if rng.random() < 0.1 and zone_mw[z, 1] > 0 else "up")
        s = int(rng.integers(w0, w1 - 3))
        length = int(rng.integers(2, 9))
        mw = np.zeros(T)
        mw[s:min(T, s + length)] = round(zone_mw[z, 0 if d == "up" else 1]
                                          * float(rng.uniform(0.1, 0.35)), 3)
        requests.append({
            "id": f"R{len(requests):04d}", "mo": DSOS[z % len(DSOS)],
            "product": DSO_PRODUCTS[z % 3], "zone": zname[z],
            "direction": d, "priority": 1, "mw": mw.tolist(),
            "shortfall_penalty": round(float(rng.uniform(1500, 4000)), 0)})
    eso_mw = sum(max(c["mw"]) for c in contracts if c["mo"] == "ESO")
    for _ in range(n_eso):
        s = int(rng.integers(w0, w1 - 3))
        mw = np.zeros(T)
        mw[s:min(T, s + int(rng.integers(2, 7)))] = round(
            eso_mw / max(n_eso, 1) * float(rng.uniform(0.5, 1.2)), 3)
        requests.append({
            "id": f"R{len(requests):04d}", "mo": "ESO",
            "product": ESO_PRODUCTS[int(rng.integers(0, 2))], "zone": "GB", "direction": "up",
            "priority": 2, "mw": mw.tolist(),
            "shortfall_penalty": round(float(rng.uniform(800, 2500)), 0)})
    return {"version": 1, "period_minutes": 30, "periods": periods, "assets": assets,
            "contracts": contracts, "availability": availability,
            "instructions": instructions, "requests": requests,
            "rules": {"incompatible_products": INCOMPATIBLE, "primacy": primacy,
                      "carbon_price": 80.0, "zone_conflicts": True}}


def _stamp(i: int) -> str:
    minutes = 14 * 60 + 30 * i
    day, m = divmod(minutes, 1440)
    return f"2026-12-{2 + day:02d}T{m // 60:02d}:{m % 60:02d}:00Z"
