"""Compact builders of dispatch snapshots for hand-made cases."""

from __future__ import annotations

import copy


def periods(T: int) -> list[str]:
    return [f"2026-12-02T{16 + t // 2:02d}:{30 * (t % 2):02d}:00Z" for t in range(T)]


def asset(id_: str, zone: str = "Z1", up: float = 5.0, down: float = 5.0, **kw) -> dict:
    return {"id": id_, "fsp": "F1", "zone": zone, "technology": "battery", "up_mw": up,
            "down_mw": down, "emission_t_per_mwh": 0.0, "reliability": 1.0,
            "energy_mwh": None, "max_run_periods": None, **kw}


def contract(id_: str, asset_: str, mw: list[float], price: float = 100.0, *, mo: str = "DSO1",
             product: str = "secure", direction: str = "up", min_mw: float = 0.0) -> dict:
    return {"id": id_, "asset": asset_, "mo": mo, "product": product, "direction": direction,
            "mw": list(mw), "min_mw": min_mw, "utilisation_price": price}


def request(id_: str, mw: list[float], penalty: float = 1000.0, *, mo: str = "DSO1",
            product: str = "secure", zone: str = "Z1", direction: str = "up",
            priority: int = 1) -> dict:
    return {"id": id_, "mo": mo, "product": product, "zone": zone, "direction": direction,
            "priority": priority, "mw": list(mw), "shortfall_penalty": penalty}


def snapshot(T: int, assets: list[dict], contracts: list[dict], requests: list[dict], *,
             availability: list[dict] | None = None, instructions: list[dict] | None = None,
             incompatible: list[list[str]] | None = None, primacy: str = "lexicographic",
             carbon_price: float = 0.0, zone_conflicts: bool = True) -> dict:
    return copy.deepcopy({
        "version": 1, "period_minutes": 30, "periods": periods(T), "assets": assets,
        "contracts": contracts, "availability": availability or [],
        "instructions": instructions or [], "requests": requests,
        "rules": {"incompatible_products": incompatible or [], "primacy": primacy,
                  "carbon_price": carbon_price, "zone_conflicts": zone_conflicts}})
