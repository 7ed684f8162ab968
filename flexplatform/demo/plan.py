"""The demo's market plan: which needs, assets and offers, from NGED's published trades.

Pure planning (no API calls), so the plan can be read and tested apart from the run.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from flexplatform.demo import data as dd

LONDON = ZoneInfo("Europe/London")

#: Fraction of contracted availability expected to be called, per product.
EXPECTED_UTILISATION = {"sustain": 1.0, "secure": 0.5, "dynamic": 0.1, "quick_reserve": 0.2,
                        "dfs": 1.0}
#: Companies known to provide NESO services in the sample (DFS through domestic portfolios,
#: Quick Reserve through batteries/engines).
ESO_PROVIDERS = ("Octopus Energy Limited", "OVO Energy Ltd", "Axle Energy Limited",
                 "Conrad Energy Limited", "ZENOBE RENTAL 6 LIMITED", "Levelise Limited")
FAST_CMZS = ("CMZ_LV_T7A_EM_937511", "CMZ_T2A_SWE_0002", "CMZ_T4A_EM_0012", "CMZ_T5B_SWE_0017",
             "CMZ_T7A_EM_0033", "CMZ_T6B_SWE_0025")
STACKING_CMZ = "CMZ_T4A_EM_0012"  # Dynamic need; the battery also bids NESO Quick Reserve

# ---------------------------------------------------------------------------------------------
# Market day
# ---------------------------------------------------------------------------------------------


def delivery_window(today: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Tomorrow 16:00-20:00 Europe/London, in UTC."""
    day = (today or dt.datetime.now(LONDON).date()) + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(16, 0), LONDON).astimezone(dt.UTC)
    end = dt.datetime.combine(day, dt.time(20, 0), LONDON).astimezone(dt.UTC)
    return start, end


def _local_hhmm(t: dt.datetime) -> dt.time:
    return t.astimezone(LONDON).time()


def window_profile(periods: list[dt.datetime], start: dt.time | None, end: dt.time | None,
                   mw: float) -> list[float]:
    """``mw`` in the half-hours of ``periods`` (UTC starts) inside [start, end) local time."""
    out = []
    for p in periods:
        t = _local_hhmm(p)
        inside = start is None or end is None or (start <= t < end if start < end
                                                  else (t >= start or t < end))
        out.append(round(mw, 4) if inside else 0.0)
    return out


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def build_plan(fast: bool, periods: list[dt.datetime], rng: random.Random) -> dict[str, Any]:
    """What to register and bid, from the NGED sample plus seeded synthetic portfolio."""
    needs = [n for n in dd.load_needs() if not fast or n.cmz_code in FAST_CMZS]
    cmzs = {n.cmz_code for n in needs}
    # Needs: keep those that ask for something in the 16:00-20:00 window.
    need_rows = []
    for n in needs:
        prof = window_profile(periods, n.window_start, n.window_end, n.peak_mw)
        if max(prof) <= 0:
            continue
        need_rows.append((n, prof))
    offers = [o for o in dd.load_offers() if o.cmz_code in cmzs and o.offered_mw > 0]
    # Assets: one per (company, CMZ, technology); a portfolio offer's MW is shared across its
    # technologies, split in proportion to installed MW.
    installed = defaultdict(float)
    for o in offers:
        installed[(o.offer_id, o.company)] += o.installed_mw
    assets: dict[tuple[str, str, str], dict[str, Any]] = {}
    bids: list[dict[str, Any]] = []
    for o in offers:
        tech = dd.technology_map(o.technology)
        share = o.installed_mw / installed[(o.offer_id, o.company)] if installed[
            (o.offer_id, o.company)] > 0 else 1.0
        mw = max(o.offered_mw * share, 0.001)
        key = (o.company, o.cmz_code, tech)
        spec = dd.TECHNOLOGIES[tech]
        a = assets.setdefault(key, {
            "company": o.company, "cmz": o.cmz_code, "technology": tech, "up_mw": 0.0,
            "down_mw": 0.0, "real": True, "n_assets": o.number_of_assets,
            "name": f"{o.company.split()[0]} {spec['name']} {o.cmz_code.split('_')[-1]}",
        })
        cap = max(mw, o.installed_mw)
        if spec["can_up"]:
            a["up_mw"] = max(a["up_mw"], _r(cap))
        if spec["can_down"]:
            a["down_mw"] = max(a["down_mw"], _r(cap))
        bids.append({"asset": key, "cmz": o.cmz_code, "mw": _r(mw), "window": (o.window_start,
                     o.window_end), "availability_price": o.availability_price,
                     "utilisation_price": o.utilisation_price, "source": f"NGED {o.outcome}"})
    # Synthetic competition: per CMZ, a few extra assets of the sample's companies, sized
    # against the need and priced around NGED's ceiling.
    companies = dd.companies()
    per_cmz = 2 if fast else 4
    techs = ["battery", "ev_charging", "heat_pump", "domestic_demand", "industrial_dsr",
             "generator"]
    for n, _prof in need_rows:
        for j in range(per_cmz):
            company = rng.choice([c for c in companies if "Solar" not in c])
            tech = techs[(j + len(n.cmz_code)) % len(techs)]
            key = (company, n.cmz_code, f"{tech}#s{j}")
            size = _r(n.peak_mw * rng.uniform(0.25, 0.7))
            spec = dd.TECHNOLOGIES[tech]
            assets[key] = {"company": company, "cmz": n.cmz_code, "technology": tech,
                           "up_mw": size if spec["can_up"] else 0.0,
                           "down_mw": size if spec["can_down"] else 0.0, "real": False,
                           "n_assets": 1, "name": f"{company.split()[0]} {spec['name']} "
                                                  f"{n.cmz_code.split('_')[-1]} (S{j + 1})"}
            bids.append({"asset": key, "cmz": n.cmz_code, "mw": size,
                         "window": (n.window_start, n.window_end),
                         "availability_price": n.ceiling_availability_price
                         * rng.uniform(0.55, 1.0),
                         "utilisation_price": n.ceiling_utilisation_price * rng.uniform(0.5, 1.0),
                         "source": "synthetic"})
    # NESO providers: large portfolios (>= 1 MW, the ESO products' minimum) in sample CMZs.
    eso: list[dict[str, Any]] = []
    cmz_list = sorted(cmzs)
    n_eso = 6 if fast else 14
    for j in range(n_eso):
        company = ESO_PROVIDERS[j % len(ESO_PROVIDERS)]
        tech = ["battery", "domestic_demand", "generator", "industrial_dsr"][j % 4]
        if company.startswith("ZENOBE") or company.startswith("Levelise"):
            tech = "battery"
        if company.startswith("Conrad"):
            tech = "generator"
        cmz = cmz_list[(3 * j) % len(cmz_list)]
        size = _r(rng.uniform(2.0, 12.0), 2)
        key = (company, cmz, f"{tech}#eso{j}")
        spec = dd.TECHNOLOGIES[tech]
        assets[key] = {"company": company, "cmz": cmz, "technology": tech,
                       "up_mw": size, "down_mw": size if spec["can_down"] else 0.0,
                       "real": False, "n_assets": 1,
                       "name": f"{company.split()[0]} {spec['name']} GB portfolio {j + 1}"}
        product = "dfs" if tech in ("domestic_demand", "industrial_dsr") else "quick_reserve"
        eso.append({"asset": key, "product": product, "mw": size,
                    "availability_price": rng.uniform(2.0, 9.0) if product == "quick_reserve"
                    else rng.uniform(0.5, 3.0),
                    "utilisation_price": rng.uniform(120, 260) if product == "quick_reserve"
                    else rng.uniform(900, 2800)})
    # The stacking conflict: a 2 MW grid battery in the Dynamic CMZ bids both NGED Dynamic and
    # NESO Quick Reserve for the same periods, cheaply enough to be wanted by both.
    stack_key = ("ZENOBE RENTAL 6 LIMITED", STACKING_CMZ, "battery#stack")
    assets[stack_key] = {"company": "ZENOBE RENTAL 6 LIMITED", "cmz": STACKING_CMZ,
                         "technology": "battery", "up_mw": 2.0, "down_mw": 2.0, "real": False,
                         "n_assets": 1, "name": "Zenobe grid battery 0012 (2 MW)"}
    return {"needs": need_rows, "assets": assets, "bids": bids, "eso": eso,
            "stack": stack_key}


