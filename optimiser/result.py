"""Clearing options and the typed clearing result (market-snapshot-v1 `Result`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("optimal", "feasible", "infeasible", "error")  # best first


@dataclass(frozen=True)
class ClearingOptions:
    """Solver controls. `threads=None` leaves HiGHS's own default (the platform shares cores).

    `backend` is `highs` (the CSR arrays passed straight to highspy, the default because it
    is measured faster at scale) or `pyomo` (the same formulation as a pyomo model solved
    with `appsi_highs`; always monolithic).
    """

    time_limit: float = 60.0
    mip_rel_gap: float = 1e-3
    threads: int | None = None
    backend: str = "highs"
    # `monolithic`: one HiGHS branch-and-bound per stage; `decomposed`: the price
    # decomposition (decompose.py, HiGHS direct); `auto`: decomposed from DECOMPOSE_MIN_COLS
    method: str = "auto"
    workers: int | None = None  # threads for the decomposition's components (None: cores)


@dataclass(frozen=True, slots=True)
class Award:
    bid: str
    period: int
    mw: float
    price: float


@dataclass(frozen=True, slots=True)
class Unmet:
    need: str
    period: int
    mw: float


@dataclass(frozen=True, slots=True)
class Rejection:
    bid: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Price:
    need: str
    period: int
    clearing_price: float
    marginal_cost: float | None


@dataclass(frozen=True, slots=True)
class Stage:
    priority: int
    unmet_mwh: float


@dataclass
class ClearingResult:
    """The spec's result. `status` and `mip_gap` are what a caller decides finality on:

    - `optimal`: every stage proven within `mip_rel_gap`;
    - `feasible`: stopped by the time limit. `mip_gap` is then the proven relative gap of the
      result (the cost stage's, or a lexicographic level's if one stopped short with a
      larger gap), `None` when unknown (a stage never ran or has no bound); the result is
      never worse than the merit-order start, and `message` says when it is that start;
    - `infeasible` / `error`: with a `message`, nothing else.
    """

    status: str
    mip_gap: float | None = None
    objective: float | None = None
    cost: dict[str, float] = field(default_factory=lambda: {
        "availability": 0.0, "utilisation_expected": 0.0, "carbon": 0.0, "unmet_penalty": 0.0})
    awards: list[Award] = field(default_factory=list)
    unmet: list[Unmet] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=lambda: {"build_s": 0.0, "solve_s": 0.0})
    message: str | None = None
    # version 2 (docs/probabilistic.md): per need-period expected delivery, 5th percentile
    # and confidence; None for a version-1 snapshot, whose result is unchanged
    delivery: list[dict[str, Any]] | None = None
    # not part of the JSON: model size and finer timing, for benchmarks and logs
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "version": 1 if self.delivery is None else 2, "status": self.status, "mip_gap": self.mip_gap,
            "objective": self.objective, "cost": dict(self.cost),
            "awards": [{"bid": a.bid, "period": a.period, "mw": a.mw, "price": a.price}
                       for a in self.awards],
            "unmet": [{"need": u.need, "period": u.period, "mw": u.mw} for u in self.unmet],
            "rejected": [{"bid": r.bid, "reasons": list(r.reasons)} for r in self.rejected],
            "prices": [{"need": p.need, "period": p.period, "clearing_price": p.clearing_price,
                        "marginal_cost": p.marginal_cost} for p in self.prices],
            "stages": [{"priority": s.priority, "unmet_mwh": s.unmet_mwh} for s in self.stages],
            "timing": dict(self.timing),
        }
        if self.status == "error" or self.message:
            d["message"] = self.message or ""
        if self.delivery is not None:
            d["delivery"] = [dict(r) for r in self.delivery]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClearingResult:
        """Rebuild from JSON, so that component results can travel through a task queue."""
        return cls(
            status=d["status"], mip_gap=d.get("mip_gap"), objective=d.get("objective"),
            cost=dict(d.get("cost", {})),
            awards=[Award(a["bid"], a["period"], a["mw"], a["price"]) for a in d["awards"]],
            unmet=[Unmet(u["need"], u["period"], u["mw"]) for u in d["unmet"]],
            rejected=[Rejection(r["bid"], tuple(r["reasons"])) for r in d["rejected"]],
            prices=[Price(p["need"], p["period"], p["clearing_price"], p["marginal_cost"])
                    for p in d["prices"]],
            stages=[Stage(s["priority"], s["unmet_mwh"]) for s in d["stages"]],
            timing=dict(d.get("timing", {})), message=d.get("message"),
            delivery=d.get("delivery"),
        )

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text)
        return text
