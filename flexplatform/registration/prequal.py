"""Prequalification rules: can this asset, as registered, provide this product at all?

Pure functions over plain attributes so the same rules serve the stored prequalification,
the opportunities view and bid validation. Each failing rule gives a machine code and a
sentence, because an FSP needs to know what to change, not just that it failed.
"""

from __future__ import annotations

from typing import Any, Protocol

from optimiser.eligibility import capability


class AssetLike(Protocol):
    status: Any
    technology_code: str
    up_mw: float
    down_mw: float
    energy_mwh: float | None
    min_run_minutes: int | None
    max_run_minutes: int | None
    ramp_mw_per_min: float | None


class ProductLike(Protocol):
    code: str
    direction: Any
    notice_minutes: int
    min_utilisation_minutes: int
    max_utilisation_minutes: int
    min_mw: float
    allowed_technologies: list[str]
    accepts_pre_energisation: bool
    active: bool


def _v(x: Any) -> Any:
    return getattr(x, "value", x)


def capability_for(asset: AssetLike, direction: str) -> float:
    """The asset's MW in a direction, by the rule the clearing applies."""
    return capability(asset.up_mw, asset.down_mw, direction)


def evaluate(asset: AssetLike, product: ProductLike) -> list[dict[str, str]]:
    """Reasons the asset is ineligible for the product; empty means eligible."""
    reasons: list[dict[str, str]] = []

    def no(code: str, message: str) -> None:
        reasons.append({"code": code, "message": message})

    status = _v(asset.status)
    if not product.active:
        no("product_inactive", f"product {product.code} is withdrawn")
    if status in ("archived", "mothballed"):
        no("asset_not_available", f"asset is {status}")
    elif status == "in_development" and not product.accepts_pre_energisation:
        no("not_energised", f"{product.code} needs an energised (operational) asset")
    if product.allowed_technologies and asset.technology_code not in product.allowed_technologies:
        no(
            "technology_not_allowed",
            f"{asset.technology_code} is not among {', '.join(product.allowed_technologies)}",
        )
    direction = _v(product.direction)
    cap = capability_for(asset, direction)
    if cap <= 0:
        no("direction_not_supported", f"asset has no {direction} capability")
    elif cap < product.min_mw:
        no("below_minimum_size", f"{cap:g} MW is below the product minimum {product.min_mw:g} MW")
    if cap > 0 and asset.energy_mwh is not None:
        sustain_min = 60.0 * asset.energy_mwh / cap
        if sustain_min + 1e-9 < product.min_utilisation_minutes:
            no(
                "insufficient_energy",
                f"{asset.energy_mwh:g} MWh sustains {cap:g} MW for {sustain_min:.0f} min; "
                f"{product.code} needs {product.min_utilisation_minutes} min",
            )
    if asset.max_run_minutes is not None and asset.max_run_minutes < product.min_utilisation_minutes:
        no(
            "max_run_too_short",
            f"asset runs at most {asset.max_run_minutes} min; product needs "
            f"{product.min_utilisation_minutes} min",
        )
    if asset.min_run_minutes is not None and asset.min_run_minutes > product.max_utilisation_minutes:
        no(
            "min_run_too_long",
            f"asset must run at least {asset.min_run_minutes} min; product calls last at most "
            f"{product.max_utilisation_minutes} min",
        )
    if cap > 0 and asset.ramp_mw_per_min:
        to_full = cap / asset.ramp_mw_per_min
        if to_full > product.notice_minutes + 1e-9:
            no(
                "too_slow",
                f"asset needs {to_full:.0f} min to reach {cap:g} MW; product notice is "
                f"{product.notice_minutes} min",
            )
    return reasons
