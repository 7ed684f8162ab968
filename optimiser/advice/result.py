"""Advice options and the typed advice result (advice-result-v1, docs/advice.md).

Money is `Decimal`, rounded once to the penny (ROUND_HALF_UP) from the float estimate, and
written to JSON as a string ("51.20"), as the platform's other money fields are; prices are
whole pennies already (the price levels are). Probabilities and MW stay floats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .estimators import EstimatorSettings
from .problem import Reason

PENNY = Decimal("0.01")


def money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class AdviceOptions:
    """Solver controls and the advice's risk settings.

    `min_win_probability`: price levels less likely to win are not advised.
    `min_expected_gbp`: a bid expected to earn less is not worth making (the threshold
    that keeps a 3 kW leftover out of the advice).
    `estimators`: priors, fallbacks and the number of price levels (estimators.py).
    `output`: HiGHS's log on the console (off: the platform runs many advices at once).

    Raises:
        ValueError: a setting out of range.
    """

    time_limit: float = 10.0
    mip_rel_gap: float = 1e-3
    threads: int | None = None
    output: bool = False
    min_win_probability: float = 0.05
    min_expected_gbp: float = 1.0
    estimators: EstimatorSettings = field(default_factory=EstimatorSettings)

    def __post_init__(self) -> None:
        e = self.estimators
        checks = [
            (self.time_limit > 0, "time_limit must be > 0"),
            (0 <= self.mip_rel_gap < 1, "mip_rel_gap must be in [0, 1)"),
            (self.threads is None or self.threads >= 1, "threads must be >= 1"),
            (0 <= self.min_win_probability <= 1, "min_win_probability must be in [0, 1]"),
            (self.min_expected_gbp >= 0, "min_expected_gbp must be >= 0"),
            (e.prior_weight > 0, "estimators.prior_weight must be > 0"),
            (e.min_observations >= 1, "estimators.min_observations must be >= 1"),
            (0 <= e.prior_low_share < 1, "estimators.prior_low_share must be in [0, 1)"),
            (0 <= e.default_utilisation <= 1, "estimators.default_utilisation must be in [0, 1]"),
            (e.price_levels >= 1, "estimators.price_levels must be >= 1"),
            (e.grid_points >= 2, "estimators.grid_points must be >= 2"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise ValueError("; ".join(bad))


@dataclass(frozen=True)
class Expected:
    """Expected GBP of a bid (or of the whole advice): P(win) x what it earns if it wins."""

    availability: Decimal
    utilisation: Decimal
    cost: Decimal
    total: Decimal                 # availability + utilisation - cost

    def to_dict(self) -> dict[str, str]:
        return {"availability_gbp": str(self.availability),
                "utilisation_gbp": str(self.utilisation), "cost_gbp": str(self.cost),
                "total_gbp": str(self.total)}


@dataclass(frozen=True)
class LevelView:
    price: Decimal
    win_probability: float
    expected_total: Decimal        # for the MW advised
    label: str
    offered: bool                  # passed min_win_probability and has positive value
    chosen: bool

    def to_dict(self) -> dict[str, Any]:
        return {"availability_price": str(self.price),
                "win_probability": round(self.win_probability, 4),
                "expected_total_gbp": str(self.expected_total), "label": self.label,
                "offered": self.offered, "chosen": self.chosen}


@dataclass(frozen=True)
class Window:
    first_period: int
    last_period: int
    start: str
    end: str
    mw: float

    def to_dict(self) -> dict[str, Any]:
        return {"first_period": self.first_period, "last_period": self.last_period,
                "start": self.start, "end": self.end, "mw": self.mw}


@dataclass(frozen=True)
class AdvisedBid:
    """One need to bid into: what (MW per period), up to what price, expected pounds."""

    need: str
    product: str
    zone: str
    direction: str
    mw: tuple[float, ...]          # per period of the request's axis, whole watts
    windows: tuple[Window, ...]
    mwh: float
    availability_price: Decimal    # GBP/MW/h: the level to bid (at most)
    utilisation_price: Decimal     # GBP/MWh
    win_probability: float
    break_even_price: Decimal      # the availability price at which the bid earns nothing
    expected_utilisation: float
    expected: Expected
    if_won_total: Decimal          # net GBP if the bid wins in full
    emissions_t: float             # expected direct emissions of the expected delivery
    levels: tuple[LevelView, ...]
    basis: dict[str, Any]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "need": self.need, "product": self.product, "zone": self.zone,
            "direction": self.direction, "mw": list(self.mw),
            "windows": [w.to_dict() for w in self.windows], "mwh": self.mwh,
            "availability_price": str(self.availability_price),
            "utilisation_price": str(self.utilisation_price),
            "win_probability": round(self.win_probability, 4),
            "break_even_price": str(self.break_even_price),
            "expected_utilisation": round(self.expected_utilisation, 6),
            "expected": self.expected.to_dict(), "if_won_total_gbp": str(self.if_won_total),
            "emissions_t": round(self.emissions_t, 6),
            "levels": [lv.to_dict() for lv in self.levels], "basis": self.basis,
            "text": self.text,
        }


@dataclass(frozen=True)
class NotAdvised:
    need: str
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.code for r in self.reasons))

    def to_dict(self) -> dict[str, Any]:
        return {"need": self.need, "codes": list(self.codes),
                "reasons": [r.to_dict() for r in self.reasons]}


@dataclass(frozen=True)
class AdviceResult:
    status: str
    bids: tuple[AdvisedBid, ...]
    not_advised: tuple[NotAdvised, ...]
    expected: Expected
    asset: str | None
    objective: float | None = None  # the solver's expected net GBP, before the watt rounding
    mip_gap: float | None = None
    message: str | None = None
    timing: dict[str, float] = field(default_factory=dict)
    model: dict[str, int] = field(default_factory=dict)
    version: int = 1

    def bid(self, need: str) -> AdvisedBid | None:
        return next((b for b in self.bids if b.need == need), None)

    def reasons(self, need: str) -> tuple[str, ...]:
        """Reason codes of a need not advised (empty if it is advised or unknown)."""
        na = next((n for n in self.not_advised if n.need == need), None)
        return na.codes if na else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "status": self.status, "message": self.message,
            "objective": self.objective, "mip_gap": self.mip_gap, "asset": self.asset, "expected": self.expected.to_dict(),
            "bids": [b.to_dict() for b in self.bids],
            "not_advised": [n.to_dict() for n in self.not_advised],
            "timing": self.timing, "model": self.model,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text)
        return text
