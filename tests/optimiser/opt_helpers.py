"""Small snapshot builders for hand-worked tests."""

from __future__ import annotations

from checker import check

from optimiser import ClearingOptions, clear, load_snapshot

EXACT = ClearingOptions(time_limit=30, mip_rel_gap=1e-9)


def periods(T: int) -> list[str]:
    return [f"2026-06-01T{(30 * i) // 60 % 24:02d}:{(30 * i) % 60:02d}:00Z" if i < 48 else
            f"2026-06-02T{(30 * (i - 48)) // 60:02d}:{(30 * i) % 60:02d}:00Z" for i in range(T)]


def asset(id, up=0.0, down=0.0, zone="Z1", **kw):
    return {"id": id, "fsp": "F1", "zone": zone, "technology": "battery", "up_mw": up,
            "down_mw": down, "emission_t_per_mwh": 0.0, "reliability": 1.0,
            "unavailable_periods": [], **kw}


def need(id, mw, direction="up", zone="Z1", priority=1, product="sustain", penalty=1000.0, **kw):
    return {"id": id, "mo": kw.pop("mo", "DSO1"), "product": product, "zone": zone,
            "direction": direction, "priority": priority, "mw": list(mw),
            "max_availability_price": kw.pop("max_availability_price", 100.0),
            "utilisation_price_cap": kw.pop("utilisation_price_cap", 1000.0),
            "expected_utilisation": kw.pop("expected_utilisation", 0.0),
            "unmet_penalty": penalty, **kw}


def bid(id, asset, need, mw, price, **kw):
    return {"id": id, "asset": asset, "need": need, "mw": list(mw),
            "min_mw": kw.pop("min_mw", 0.0), "availability_price": price,
            "utilisation_price": kw.pop("utilisation_price", 0.0),
            "all_or_nothing": kw.pop("all_or_nothing", False),
            "exclusive_group": kw.pop("exclusive_group", None), **kw}


def snap(assets, needs, bids, T=1, **rules):
    r = {"incompatible_products": [], "primacy": "lexicographic", "pricing": "pay_as_bid",
         "carbon_price": 0.0}
    r.update(rules)
    return {"version": 1, "period_minutes": 30, "periods": periods(T), "assets": assets,
            "needs": needs, "bids": bids, "rules": r}


def solve(doc, options=EXACT):
    """Clear and assert the result passes the independent checker."""
    res = clear(load_snapshot(doc), options)
    d = res.to_dict()
    assert res.status == "optimal", d
    problems = check(doc, d)
    assert not problems, problems
    return d


def awarded(d) -> dict[tuple[str, int], float]:
    return {(a["bid"], a["period"]): a["mw"] for a in d["awards"]}


def reasons(d) -> dict[str, list[str]]:
    return {r["bid"]: r["reasons"] for r in d["rejected"]}
