"""A seeded synthetic GB flexibility market, as a market-snapshot-v1 document.

Pure (numpy's seeded generator only, no I/O): the same arguments always give the same market.
The bench (`bench/clearing.py`) measures the clearing on it and the tests use it for markets
too large to write by hand, so both exercise the same markets.

    from optimiser.generate import generate
    doc = generate(1000, seed=1)            # ~60 needs, ~2,600 bids, 48 half-hours
    snap = load_snapshot(doc)
"""

from __future__ import annotations

import numpy as np

from .eligibility import GB

# technology: share, up MW range, down MW range, emission t/MWh, reliability, avail price range
TECH = {
    "battery": (0.25, (0.5, 5.0), (0.5, 5.0), 0.0, 0.97, (4.0, 18.0)),
    "ev": (0.30, (0.05, 0.6), (0.05, 0.6), 0.0, 0.85, (2.0, 12.0)),
    "heat_pump": (0.20, (0.02, 0.3), (0.0, 0.1), 0.0, 0.80, (4.0, 20.0)),
    "industrial_dsr": (0.15, (1.0, 10.0), (0.0, 0.0), 0.0, 0.90, (8.0, 35.0)),
    "generator": (0.10, (1.0, 20.0), (0.0, 0.0), 0.45, 0.95, (12.0, 45.0)),
}
# market profiles (see generate): `gb` (default) has ~1.5 DSO needs per CMZ in evening-peak
# windows of 2-4 h at 10-35% of the CMZ's flexibility; `dense` is the first generator (about
# 8 overlapping DSO needs per CMZ from 13:00, together 50-130% of its flexibility), kept for
# comparison: it is far more conflicted than GB DSO tenders
PROFILES = ("gb", "dense")
DSOS = ["UKPN", "SSEN", "NGED", "ENWL", "NPG", "SPEN"]
DSO_PRODUCTS = ["sustain", "secure", "dynamic", "restore"]
ESO_PRODUCTS = ["reserve", "dynamic"]


def generate(n_assets: int, seed: int = 1, T: int = 48, eso: bool = True,
             market: str = "gb") -> dict:
    """A seeded synthetic GB market: CMZs per DSO, GB-wide ESO needs, 3 bids per asset.

    `market="gb"`: CMZs sized so that each has ~1.5 DSO needs (priority 1), each in an
    evening-peak window (start 16:00-19:30, 2-4 h) asking for 10-35% of the CMZ's capability
    in its direction. `market="dense"`: the first generator, ~150 assets per CMZ and ~8 DSO
    needs per CMZ starting 13:00-19:00 for 2-7 h at 5-30% each. Both: ~6% as many needs as
    assets, 1/6 of them GB-wide ESO needs (priority 2), 3 bids per asset, some min-MW,
    all-or-nothing and exclusive bids.
    """
    if market not in PROFILES:
        raise ValueError(f"market must be one of {PROFILES}")
    rng = np.random.default_rng(seed + n_assets)
    periods = [f"2026-06-01T{(30 * i) // 60 % 24:02d}:{(30 * i) % 60:02d}:00Z" for i in range(T)]
    if T > 48:
        periods = [f"2026-06-{1 + (30 * i) // 1440:02d}T{(30 * i) // 60 % 24:02d}:"
                   f"{(30 * i) % 60:02d}:00Z" for i in range(T)]
    n_needs = max(2, round(0.06 * n_assets))
    n_eso = max(1, n_needs // 6) if eso else 0
    if market == "dense":
        n_zones = max(2, n_assets // 150)
    else:
        n_zones = max(2, round((n_needs - n_eso) / 1.5))
    zone_dso = [DSOS[i % len(DSOS)] for i in range(n_zones)]
    names = list(TECH)
    shares = np.array([TECH[k][0] for k in names])
    tech = rng.choice(len(names), size=n_assets, p=shares / shares.sum())
    zone = rng.integers(0, n_zones, size=n_assets)
    assets = []
    for i in range(n_assets):
        k = names[tech[i]]
        _, upr, dnr, ef, rel, _ = TECH[k]
        unav = sorted(rng.choice(T, size=int(rng.integers(0, 4)), replace=False).tolist()) \
            if rng.random() < 0.2 else []
        assets.append({
            "id": f"A{i}", "fsp": f"F{i % max(1, n_assets // 40)}", "zone": f"CMZ{zone[i]}",
            "technology": k, "up_mw": round(float(rng.uniform(*upr)), 3),
            "down_mw": round(float(rng.uniform(*dnr)), 3) if dnr[1] > 0 else 0.0,
            "emission_t_per_mwh": ef * float(rng.uniform(0.8, 1.4)) if ef else 0.0,
            "reliability": rel, "unavailable_periods": unav,
        })
    up_cap = np.array([a["up_mw"] for a in assets])
    dn_cap = np.array([a["down_mw"] for a in assets])
    zone_up = np.bincount(zone, weights=up_cap, minlength=n_zones)
    zone_dn = np.bincount(zone, weights=dn_cap, minlength=n_zones)
    needs = []
    for j in range(n_needs):
        is_eso = j < n_eso
        if is_eso:
            direction = "up" if rng.random() < 0.7 else "down"
            start = int(rng.integers(0, T - 16))
            length = int(rng.integers(8, 24))
            z, mo, prio, product = GB, "NESO", 2, ESO_PRODUCTS[j % 2]
            total = up_cap.sum() if direction == "up" else dn_cap.sum()
            level = total * float(rng.uniform(0.6, 1.2)) / n_eso * 0.5
        else:
            direction = "up" if rng.random() < 0.85 else "down"
            zi = int(rng.integers(0, n_zones))
            z, mo, prio = f"CMZ{zi}", f"DSO-{zone_dso[zi]}", 1
            product = DSO_PRODUCTS[int(rng.integers(0, len(DSO_PRODUCTS)))]
            zc = zone_up[zi] if direction == "up" else zone_dn[zi]
            if market == "dense":
                start = int(rng.integers(int(T * 0.55), int(T * 0.8)))
                length = int(rng.integers(4, 14))
                level = zc * float(rng.uniform(0.05, 0.3))
            else:
                start = min(int(rng.integers(int(T * 2 / 3), int(T * 0.83))), T - 4)
                length = int(rng.integers(4, 9))
                level = zc * float(rng.uniform(0.1, 0.35))
        mw = np.zeros(T)
        end = min(T, start + length)
        shape = 0.7 + 0.3 * np.sin(np.linspace(0, np.pi, end - start))
        mw[start:end] = np.round(level * shape, 3)
        needs.append({
            "id": f"N{j}", "mo": mo, "product": product, "zone": z, "direction": direction,
            "priority": prio, "mw": mw.tolist(),
            "max_availability_price": 40.0 if not is_eso else 30.0,
            "utilisation_price_cap": 400.0, "expected_utilisation": 0.15 if is_eso else 0.3,
            "unmet_penalty": 300.0 if is_eso else 1000.0,
            "gate_closure": "2026-05-31T16:00:00Z" if is_eso
            else f"2026-05-31T{8 + DSOS.index(mo[4:]):02d}:00:00Z",
        })
    # candidate needs per zone and direction
    by_zone: dict[tuple[str, str], list[int]] = {}
    eso_needs: dict[str, list[int]] = {"up": [], "down": []}
    for j, n in enumerate(needs):
        if n["zone"] == GB:
            eso_needs[n["direction"]].append(j)
        else:
            by_zone.setdefault((n["zone"], n["direction"]), []).append(j)
    bids = []
    nb = 0
    n_groups = 0
    for a in assets:
        k = a["technology"]
        lo, hi = TECH[k][5]
        cands = []
        for d in ("up", "down"):
            if a[f"{d}_mw"] <= 0:
                continue
            cands += by_zone.get((a["zone"], d), [])
            if eso_needs[d] and rng.random() < 0.5:
                cands += rng.choice(eso_needs[d], size=min(2, len(eso_needs[d])),
                                    replace=False).tolist()
        if not cands:
            continue
        picks = rng.choice(cands, size=3, replace=len(cands) < 3)
        group = None
        if rng.random() < 0.1:
            group = f"G{n_groups}"
            n_groups += 1
        for j in picks.tolist():
            n = needs[j]
            cap = a[f"{n['direction']}_mw"]
            active = np.array(n["mw"]) > 0
            frac = float(rng.uniform(0.5, 1.0))
            mw = np.where(active & (rng.random(T) < 0.9), round(cap * frac, 3), 0.0)
            if rng.random() < 0.1:  # a second, cheaper offer for part of the window
                mw = np.where(np.arange(T) % 2 == 0, mw, 0.0)
            ap = float(rng.uniform(lo, hi)) * (1.3 if rng.random() < 0.04 else 1.0)
            r = rng.random()
            bids.append({
                "id": f"B{nb}", "asset": a["id"], "need": n["id"], "mw": mw.round(3).tolist(),
                "min_mw": round(cap * frac * float(rng.uniform(0.3, 0.6)), 3) if r < 0.1 else 0.0,
                "availability_price": round(ap, 2),
                "utilisation_price": round(float(rng.uniform(40, 350)), 1),
                "all_or_nothing": bool(0.1 <= r < 0.15), "exclusive_group": group,
            })
            nb += 1
    return {
        "version": 1, "period_minutes": 30, "periods": periods, "assets": assets,
        "needs": needs, "bids": bids,
        "rules": {"incompatible_products": [["sustain", "dynamic"], ["secure", "reserve"]],
                  "primacy": "lexicographic", "pricing": "pay_as_bid", "carbon_price": 80.0},
    }
