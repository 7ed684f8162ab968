"""Baselines: what a metering point would have done had it not been instructed.

Every method is a small named class with its parameters as fields, so a product's
baseline is data (``make_baseline({"method": "BL01", "adjustment": "symmetric"})``) and a
settlement can be reproduced from the product's recorded spec.  Sources and worked
examples are in ``docs/settlement.md``.

All methods answer the same question, vectorised over many *targets* at once: for each
(point, settlement day) being verified, the baseline kWh of every period of that day,
shape ``(n_targets, 50)`` with NaN past the day's last period.  History is compared by
local clock slot (see :func:`settlement.periods.clock_slots`) so clock-change days line
up with ordinary ones; on the 50-period day both 01:00 half hours read the averaged
slot, and the 46-period day contributes nothing to the two slots it lacks.
"""
from __future__ import annotations

from collections.abc import Mapping

from .core import (
    BASELINE_STATUSES,
    SLOTS,
    BaselineContext,
    BaselineMethod,
    BaselineResult,
    Targets,
)
from .declared import AssetCapacity, Nominated, ReferenceProfile, Zero
from .likeday import ADJUSTMENTS, BL01, SELECTORS, XofY

__all__ = [
    "ADJUSTMENTS",
    "BASELINE_STATUSES",
    "BL01",
    "METHODS",
    "SELECTORS",
    "SLOTS",
    "AssetCapacity",
    "BaselineContext",
    "BaselineMethod",
    "BaselineResult",
    "Nominated",
    "ProductBaselines",
    "ReferenceProfile",
    "Targets",
    "XofY",
    "Zero",
    "make_baseline",
]

METHODS: dict[str, type[BaselineMethod]] = {
    c.name: c for c in (BL01, XofY, Nominated, ReferenceProfile, Zero, AssetCapacity)}


def make_baseline(spec: str | Mapping | BaselineMethod) -> BaselineMethod:
    """A method from its name or {"method": name, **params}."""
    if isinstance(spec, BaselineMethod):
        return spec
    if isinstance(spec, str):
        spec = {"method": spec}
    spec = dict(spec)
    name = spec.pop("method")
    try:
        cls = METHODS[name]
    except KeyError:
        raise ValueError(f"unknown baseline method {name!r}; known: {sorted(METHODS)}") from None
    if "fallback" in spec:
        spec["fallback"] = make_baseline(spec["fallback"])
    return cls(**spec)


class ProductBaselines:
    """Which baseline each product uses: {product: method or spec}, plus a default."""

    def __init__(self, mapping: Mapping[str, object], default: object | None = None):
        self.mapping = {k: make_baseline(v) for k, v in mapping.items()}
        self.default = make_baseline(default) if default is not None else None

    def for_product(self, product: str) -> BaselineMethod:
        if product in self.mapping:
            return self.mapping[product]
        if self.default is None:
            raise KeyError(f"no baseline configured for product {product!r}")
        return self.default
