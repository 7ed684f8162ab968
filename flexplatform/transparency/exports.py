"""A stored report as CSV and SVG charts: the regulator looks at it rather than reads it.

Charts reuse the dashboard's matplotlib conventions (flexplatform/web/charts.py: object
API, Okabe-Ito palette, accessible SVG with a title and a text alternative).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from flexplatform.errors import InvalidInput, NotFound, field_error
from flexplatform.transparency.reports import KEY, MEASURES
from flexplatform.web import charts as wc

LEVELS = {"halfhour": "halfhours", "day": "days", "month": "months", "total": "regions"}
MARKET_TABLES = ("awarded", "offered")
CARBON_CHARTS = ("mwh-by-region", "emissions-by-region")
MARKET_CHARTS = ("awarded-prices", "awarded-volumes")


def to_csv(result: dict[str, Any], level: str) -> str:
    """One table of the report as CSV (carbon: a rollup level; market: a price table)."""
    buf = io.StringIO()
    if result["kind"] == "carbon":
        if level not in LEVELS:
            raise InvalidInput("unknown level", errors=[field_error(
                ["level"], f"one of {', '.join(LEVELS)}")])
        rows = result[LEVELS[level]]
        first = "period_start" if level == "halfhour" else "period"
        cols = [first, *KEY, "region", *(["intensity_g_per_kwh", "intensity_basis"]
                                         if level == "halfhour" else
                                         ["delivered_intensity_g_per_kwh"]), *MEASURES]
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    if level not in MARKET_TABLES:
        raise InvalidInput("unknown table", errors=[field_error(
            ["level"], f"one of {', '.join(MARKET_TABLES)} for a market report")])
    cols = ["month", "product", "technology", "zone", "mo", "fsps", "count", "suppressed",
            "mwh", *(f"{side}_{s}" for side in ("availability_price", "utilisation_price")
                     for s in ("min", "median", "max", "vwap"))]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for c in result[level]:
        flat = dict(c)
        for side in ("availability_price", "utilisation_price"):
            for s, v in (c.get(side) or {}).items():
                flat[f"{side}_{s}"] = v
        w.writerow(flat)
    return buf.getvalue()


def chart(result: dict[str, Any], name: str) -> wc.Chart:
    names = CARBON_CHARTS if result["kind"] == "carbon" else MARKET_CHARTS
    if name not in names:
        raise NotFound(f"no chart '{name}' for a {result['kind']} report; it has "
                       f"{', '.join(names)}")
    if result["kind"] != "carbon":
        return market_chart(result, prices=name == "awarded-prices")
    return mwh_chart(result) if name == "mwh-by-region" else emissions_chart(result)


def _by_product(cells: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Awarded cells rolled up per product and technology: MWh, the availability price's
    range and its volume-weighted mean (the cells' own vwaps weighted by their MWh)."""
    out: dict[str, dict[str, Any]] = {}
    for c in cells:
        price = c.get("availability_price") or {}
        g = out.setdefault(f"{c['product']} / {c['technology']}",
                           {"mwh": 0.0, "weighted": 0.0, "lo": None, "hi": None})
        mwh = float(c.get("mwh") or 0.0)
        g["mwh"] += mwh
        if price.get("vwap") is not None:
            g["weighted"] += float(price["vwap"]) * mwh
            lo, hi = float(price["min"]), float(price["max"])
            g["lo"] = lo if g["lo"] is None else min(g["lo"], lo)
            g["hi"] = hi if g["hi"] is None else max(g["hi"], hi)
    return out


def market_chart(result: dict[str, Any], *, prices: bool) -> wc.Chart:
    """Awarded availability prices (volume-weighted mean, with the min-max range) or
    awarded MWh, per product and technology, over the report's range."""
    groups = _by_product(result.get("awarded") or [])
    names = sorted(groups)
    title = ("Awarded availability price by product and technology (GBP/MW/h)" if prices
             else "Awarded MWh by product and technology")
    with matplotlib.rc_context(wc._RC):
        fig = Figure(figsize=(10.0, max(2.0, 0.45 * len(names) + 1.2)), dpi=96)
        ax = fig.add_subplot()
        ys = list(range(len(names)))
        if prices:
            vw = [groups[n]["weighted"] / groups[n]["mwh"] if groups[n]["mwh"] else 0.0
                  for n in names]
            lo = [max(0.0, v - (groups[n]["lo"] or v)) for n, v in zip(names, vw, strict=True)]
            hi = [max(0.0, (groups[n]["hi"] or v) - v) for n, v in zip(names, vw, strict=True)]
            ax.barh(ys, vw, xerr=[lo, hi], color=wc.PALETTE[0], linewidth=0,
                    error_kw={"ecolor": wc.NEED, "capsize": 3, "linewidth": 0.8})
            ax.set_xlabel("GBP/MW/h (bar: volume-weighted mean; whiskers: min to max)")
        else:
            ax.barh(ys, [groups[n]["mwh"] for n in names], color=wc.PALETTE[1], linewidth=0)
            ax.set_xlabel("MWh")
        ax.set_yticks(ys, [wc._plain(n) for n in names])
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    total = sum(g["mwh"] for g in groups.values())
    alt = (f"Horizontal bars for {len(names)} product and technology pair(s), "
           f"{total:.2f} MWh awarded in all. The CSV (table 'awarded') gives every cell.")
    return wc.Chart(title, alt, wc._svg(fig, title, alt))


def mwh_chart(result: dict[str, Any]) -> wc.Chart:
    """Delivered MWh (contracted while nothing is delivered) per half-hour by region, or
    per day when the report spans more than two days."""
    half = result["halfhours"]
    stage = "delivered_mwh" if any(r["delivered_mwh"] for r in half) else "contracted_mwh"
    start, end = (dt.datetime.fromisoformat(result[k]) for k in ("start", "end"))
    by_day = end - start > dt.timedelta(days=2)
    series: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in half:
        key = r["period_start"][:10] if by_day else r["period_start"]
        series[r["region"]][key] += r[stage]
    label = stage.replace("_mwh", "")
    if not by_day:
        periods = []
        t = start
        while t < end:
            periods.append(t)
            t += dt.timedelta(minutes=30)
        vals = {reg: [s.get(p.isoformat(), 0.0) for p in periods] for reg, s in series.items()}
        return wc.stacked_periods(f"MWh {label} per half-hour by GB region", periods, vals,
                                  unit="MWh")
    days = sorted({k for s in series.values() for k in s})
    title = f"MWh {label} per day by GB region"
    with matplotlib.rc_context(wc._RC):
        fig = Figure(figsize=(10.0, 3.6), dpi=96)
        ax = fig.add_subplot()
        bottom = [0.0] * len(days)
        for i, (reg, s) in enumerate(sorted(series.items())):
            vals = [s.get(d, 0.0) for d in days]
            ax.bar(range(len(days)), vals, bottom=bottom, color=wc.PALETTE[i % len(wc.PALETTE)],
                   label=wc._plain(reg), linewidth=0)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        step = max(1, len(days) // 12)
        ax.set_xticks(list(range(len(days)))[::step], days[::step])
        ax.set_ylabel("MWh")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    alt = (f"Stacked bars of MWh {label} per day over {len(days)} day(s), {len(series)} "
           f"region(s), at most {max(bottom, default=0):g} MWh a day. The CSV gives every value.")
    return wc.Chart(title, alt, wc._svg(fig, title, alt))


def emissions_chart(result: dict[str, Any]) -> wc.Chart:
    """Per region: displaced, direct, recharge, rebound and net avoided tCO2."""
    regions = result["regions"]
    tot: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in regions:
        for m in ("displaced_tco2", "direct_tco2", "recharge_tco2", "rebound_tco2",
                  "net_avoided_tco2"):
            tot[r["region"]][m] += r[m]
    names = sorted(tot)
    title = "tCO2 by GB region: displaced, emitted and net avoided"
    measures = [("displaced_tco2", "displaced"), ("direct_tco2", "direct"),
                ("recharge_tco2", "storage recharge"), ("rebound_tco2", "demand rebound"),
                ("net_avoided_tco2", "net avoided")]
    with matplotlib.rc_context(wc._RC):
        fig = Figure(figsize=(10.0, max(2.0, 0.5 * len(names) + 1.2)), dpi=96)
        ax = fig.add_subplot()
        h = 0.8 / len(measures)
        for i, (m, label) in enumerate(measures):
            ax.barh([y + i * h for y in range(len(names))], [tot[n][m] for n in names],
                    height=h, color=wc.PALETTE[i], label=label, linewidth=0)
        ax.set_yticks([y + 0.4 - h / 2 for y in range(len(names))],
                      [wc._plain(n) for n in names])
        ax.axvline(0, color=wc.NEED, linewidth=0.8)
        ax.set_xlabel("tCO2")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    net = sum(t["net_avoided_tco2"] for t in tot.values())
    alt = (f"Horizontal bars for {len(names)} region(s); net avoided {net:.3f} tCO2 in all. "
           "The CSV gives every value.")
    return wc.Chart(title, alt, wc._svg(fig, title, alt))
