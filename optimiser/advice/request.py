"""The advice request (advice-request-v1): one asset, the open needs, the rules, the history.

Validation lists *every* problem before raising, for the same reason as the market snapshot
(`optimiser/snapshot.py`): the caller (the platform's `POST /advice`, or an FSP describing a
prospective asset) fixes the whole document at once. Problems have the snapshot's shape,
`{"path", "id", "field", "message"}`, so one mapping to RFC 9457 field errors serves both.
The period axis and the stacking rules are validated by the snapshot loader itself, so the
two documents cannot drift apart on what a period or an incompatible pair is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..snapshot import (
    DIRECTIONS,
    Collector,
    DocumentError,
    SnapshotError,
    is_num,
    parse_snapshot,
    read_document,
    records,
    unique,
)


class AdviceRequestError(DocumentError):
    """A request that does not conform to advice-request-v1."""

    what = "advice request"


@dataclass(frozen=True)
class AdviceAsset:
    """A registered asset, or a prospective one (`id` None): its technical data and costs.

    `availability_cost` (GBP/MW/h) and `utilisation_cost` (GBP/MWh) are what holding and
    delivering a MW costs the FSP; no price below them is advised.
    """

    zone: str
    technology: str
    up_mw: float
    down_mw: float
    id: str | None = None
    energy_mwh: float | None = None
    initial_energy_mwh: float | None = None
    recharge_mw: float | None = None
    max_run_periods: int | None = None
    reliability: float = 1.0
    emission_t_per_mwh: float = 0.0
    availability_cost: float = 0.0
    utilisation_cost: float = 0.0
    unavailable_periods: tuple[int, ...] = ()

    def cap(self, direction: str) -> float:
        return self.up_mw if direction == "up" else self.down_mw

    @property
    def recharge_rate(self) -> float:
        """MW at which stored energy is restored outside committed periods."""
        return self.down_mw if self.recharge_mw is None else self.recharge_mw

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "zone": self.zone, "technology": self.technology,
            "up_mw": self.up_mw, "down_mw": self.down_mw, "energy_mwh": self.energy_mwh,
            "initial_energy_mwh": self.initial_energy_mwh, "recharge_mw": self.recharge_mw,
            "max_run_periods": self.max_run_periods, "reliability": self.reliability,
            "emission_t_per_mwh": self.emission_t_per_mwh,
            "availability_cost": self.availability_cost,
            "utilisation_cost": self.utilisation_cost,
            "unavailable_periods": list(self.unavailable_periods),
        }


@dataclass(frozen=True)
class AdviceNeed:
    """An open need as the catalogue shows it (a market-snapshot-v1 need without penalty)."""

    id: str
    product: str
    zone: str
    direction: str
    mw: tuple[float, ...]
    priority: int = 1
    mo: str | None = None
    max_availability_price: float | None = None
    utilisation_price_cap: float | None = None
    expected_utilisation: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "mo": self.mo, "product": self.product, "zone": self.zone,
            "direction": self.direction, "priority": self.priority, "mw": list(self.mw),
            "max_availability_price": self.max_availability_price,
            "utilisation_price_cap": self.utilisation_price_cap,
            "expected_utilisation": self.expected_utilisation,
        }


@dataclass(frozen=True)
class HistoryGroup:
    """Past outcomes of like needs: `zone` and/or `direction` None mean "any" (a fallback
    level). Prices are availability GBP/MW/h; utilisation is the share of contracted MWh
    called per past contract; `bidders` counts the bidders of each past need (0: no bid)."""

    product: str
    zone: str | None = None
    direction: str | None = None
    accepted_prices: tuple[float, ...] = ()
    rejected_prices: tuple[float, ...] = ()
    accepted_utilisation_prices: tuple[float, ...] = ()
    utilisation: tuple[float, ...] = ()
    bidders: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.product, self.zone, self.direction)

    @property
    def label(self) -> str:
        return "/".join(x if x is not None else "*" for x in self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product, "zone": self.zone, "direction": self.direction,
            "accepted_prices": list(self.accepted_prices),
            "rejected_prices": list(self.rejected_prices),
            "accepted_utilisation_prices": list(self.accepted_utilisation_prices),
            "utilisation": list(self.utilisation), "bidders": list(self.bidders),
        }


@dataclass(frozen=True)
class AdviceRequest:
    period_minutes: float
    periods: tuple[str, ...]
    asset: AdviceAsset
    needs: tuple[AdviceNeed, ...] = ()
    allowed_technologies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # product -> techs
    incompatible_products: tuple[tuple[str, str], ...] = ()
    carbon_price: float = 0.0
    history: tuple[HistoryGroup, ...] = ()
    version: int = 1

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def dh(self) -> float:
        return self.period_minutes / 60.0

    def technologies_for(self, product: str) -> tuple[str, ...]:
        """Technologies allowed for `product`; empty: any technology qualifies."""
        return dict(self.allowed_technologies).get(product, ())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "period_minutes": self.period_minutes,
            "periods": list(self.periods), "asset": self.asset.to_dict(),
            "needs": [n.to_dict() for n in self.needs],
            "products": {p: {"allowed_technologies": list(t)}
                         for p, t in self.allowed_technologies},
            "rules": {"incompatible_products": [list(p) for p in self.incompatible_products],
                      "carbon_price": self.carbon_price},
            "history": [g.to_dict() for g in self.history],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text)
        return text


# --------------------------------------------------------------------------- validation


def _opt_num(c: Collector, obj: dict, key: str, path: str, id_: Any, *,
             minimum: float | None = None, maximum: float | None = None) -> float | None:
    """An optional number where null means "not given" (kept as None, not a default)."""
    if obj.get(key) is None:
        return None
    return c.get(obj, key, path, id_, "num", minimum=minimum, maximum=maximum)


def _num_list(c: Collector, obj: dict, key: str, path: str, id_: Any, *, integer: bool = False,
              maximum: float | None = None) -> tuple:
    v = obj.get(key, [])
    if v is None:
        return ()
    where = f"{path}.{key}"
    if not isinstance(v, list):
        c.add(where, id_, key, "must be a list of numbers")
        return ()
    if integer:
        bad = [i for i, x in enumerate(v)
               if isinstance(x, bool) or not isinstance(x, int) or x < 0]
        what = "integers >= 0"
    else:
        bad = [i for i, x in enumerate(v)
               if not is_num(x) or x < 0 or (maximum is not None and x > maximum)]
        what = "finite numbers >= 0" + (f" and <= {maximum:g}" if maximum is not None else "")
    if bad:
        shown = ", ".join(f"[{i}]={v[i]!r}" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        c.add(where, id_, key, f"values must be {what}: {shown}{more}")
        return ()
    return tuple(int(x) for x in v) if integer else tuple(float(x) for x in v)


def _axis_and_rules(c: Collector, doc: dict) -> tuple[float, tuple[str, ...], tuple, float]:
    """Period axis and stacking rules, checked by the market-snapshot loader itself."""
    sub: dict[str, Any] = {"version": 1, "period_minutes": doc.get("period_minutes"),
                           "periods": doc.get("periods")}
    rules = doc.get("rules")
    if isinstance(rules, dict):
        sub["rules"] = {k: rules[k] for k in ("incompatible_products", "carbon_price")
                        if k in rules}
    elif rules is not None:
        c.add("rules", None, "rules", "must be an object")
    try:
        s = parse_snapshot(sub)
    except SnapshotError as e:
        c.problems.extend(e.problems)
        periods = doc.get("periods")
        ok = isinstance(periods, list) and all(isinstance(p, str) for p in periods)
        return 30.0, tuple(periods) if ok else (), (), 0.0
    return (s.period_minutes, s.periods, s.rules.incompatible_products, s.rules.carbon_price)


def _asset(c: Collector, doc: dict, T: int) -> AdviceAsset:
    a = doc.get("asset")
    p = "asset"
    if not isinstance(a, dict):
        c.add(p, None, "asset", "is required and must be an object")
        return AdviceAsset(zone="", technology="", up_mw=0.0, down_mw=0.0)
    id_ = c.get(a, "id", p, None, "str?", required=False)
    energy = _opt_num(c, a, "energy_mwh", p, id_, minimum=0)
    if energy is not None and energy <= 0:
        c.add(f"{p}.energy_mwh", id_, "energy_mwh", "must be > 0 (or null: no energy limit)")
        energy = None
    initial = _opt_num(c, a, "initial_energy_mwh", p, id_, minimum=0)
    if initial is not None:
        if energy is None:
            c.add(f"{p}.initial_energy_mwh", id_, "initial_energy_mwh",
                  "needs energy_mwh (an asset without an energy limit has no state of charge)")
        elif initial > energy:
            c.add(f"{p}.initial_energy_mwh", id_, "initial_energy_mwh",
                  f"must be <= energy_mwh ({energy:g}), got {initial:g}")
    recharge = _opt_num(c, a, "recharge_mw", p, id_, minimum=0)
    if recharge is not None and energy is None:
        c.add(f"{p}.recharge_mw", id_, "recharge_mw",
              "needs energy_mwh (only an energy-limited asset recharges)")
    run = a.get("max_run_periods")
    if run is not None:
        run = c.get(a, "max_run_periods", p, id_, "int", minimum=1, default=None)
        if run is not None and run < 1:
            run = None
    rel = c.get(a, "reliability", p, id_, "num", required=False, default=1.0, minimum=0,
                maximum=1)
    if rel is not None and rel <= 0:
        c.add(f"{p}.reliability", id_, "reliability",
              "must be > 0: an asset expected to deliver nothing cannot be advised")
        rel = 1.0
    unav = a.get("unavailable_periods", []) or []
    if not isinstance(unav, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t < T for t in unav):
        c.add(f"{p}.unavailable_periods", id_, "unavailable_periods",
              f"must be a list of period indexes in 0..{T - 1}")
        unav = []
    return AdviceAsset(
        id=id_, zone=c.get(a, "zone", p, id_, "str", default=""),
        technology=c.get(a, "technology", p, id_, "str", default=""),
        up_mw=c.get(a, "up_mw", p, id_, "num", minimum=0, default=0.0),
        down_mw=c.get(a, "down_mw", p, id_, "num", minimum=0, default=0.0),
        energy_mwh=energy, initial_energy_mwh=initial if energy is not None else None,
        recharge_mw=recharge if energy is not None else None,
        max_run_periods=run, reliability=rel if rel is not None else 1.0,
        emission_t_per_mwh=c.get(a, "emission_t_per_mwh", p, id_, "num", required=False,
                                 default=0.0, minimum=0),
        availability_cost=c.get(a, "availability_cost", p, id_, "num", required=False,
                                default=0.0, minimum=0),
        utilisation_cost=c.get(a, "utilisation_cost", p, id_, "num", required=False,
                               default=0.0, minimum=0),
        unavailable_periods=tuple(sorted(set(unav))),
    )


def _needs(c: Collector, doc: dict, T: int) -> tuple[AdviceNeed, ...]:
    needs = []
    for i, n in records(c, doc, "needs"):
        p = f"needs[{i}]"
        id_ = c.get(n, "id", p, None, "str")
        needs.append(AdviceNeed(
            id=id_, product=c.get(n, "product", p, id_, "str", default=""),
            zone=c.get(n, "zone", p, id_, "str", default=""),
            direction=c.get(n, "direction", p, id_, "str", choices=DIRECTIONS, default="up"),
            priority=c.get(n, "priority", p, id_, "int", required=False, minimum=1, default=1),
            mw=c.mw_list(n, p, id_, T),
            mo=c.get(n, "mo", p, id_, "str?", required=False),
            max_availability_price=_opt_num(c, n, "max_availability_price", p, id_, minimum=0),
            utilisation_price_cap=_opt_num(c, n, "utilisation_price_cap", p, id_, minimum=0),
            expected_utilisation=_opt_num(c, n, "expected_utilisation", p, id_, minimum=0,
                                          maximum=1),
        ))
    unique(c, "needs", [(i, n.id) for i, n in enumerate(needs)])
    return tuple(needs)


def _products(c: Collector, doc: dict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    prods = doc.get("products")
    if prods is None:
        return ()
    if not isinstance(prods, dict):
        c.add("products", None, "products", "must be an object mapping product codes")
        return ()
    out = []
    for code, spec in prods.items():
        where = f"products.{code}"
        if not isinstance(spec, dict):
            c.add(where, code, "products", "must be an object")
            continue
        techs = spec.get("allowed_technologies", []) or []
        if not isinstance(techs, list) or not all(isinstance(t, str) and t for t in techs):
            c.add(f"{where}.allowed_technologies", code, "allowed_technologies",
                  "must be a list of technology codes (empty: any technology)")
            continue
        out.append((code, tuple(techs)))
    return tuple(out)


def _history(c: Collector, doc: dict) -> tuple[HistoryGroup, ...]:
    groups = []
    keys = []
    for i, g in records(c, doc, "history"):
        p = f"history[{i}]"
        product = c.get(g, "product", p, None, "str", default="")
        zone = c.get(g, "zone", p, None, "str?", required=False)
        direction = g.get("direction")
        if direction is not None:
            direction = c.get(g, "direction", p, None, "str", choices=DIRECTIONS)
        grp = HistoryGroup(
            product=product, zone=zone, direction=direction,
            accepted_prices=_num_list(c, g, "accepted_prices", p, None),
            rejected_prices=_num_list(c, g, "rejected_prices", p, None),
            accepted_utilisation_prices=_num_list(c, g, "accepted_utilisation_prices", p, None),
            utilisation=_num_list(c, g, "utilisation", p, None, maximum=1.0),
            bidders=_num_list(c, g, "bidders", p, None, integer=True),
        )
        groups.append(grp)
        keys.append((i, grp.key))
    seen: dict[Any, int] = {}
    for i, k in keys:
        if k in seen:
            c.add(f"history[{i}]", None, "history",
                  f"duplicate group {'/'.join(x or '*' for x in k)} (first at history[{seen[k]}])")
        else:
            seen[k] = i
    return tuple(groups)


def parse_advice_request(doc: Any) -> AdviceRequest:
    """Validate a decoded JSON document and build an AdviceRequest.

    Raises:
        AdviceRequestError: with every problem found, never only the first.
    """
    if not isinstance(doc, dict):
        raise AdviceRequestError([{"path": "$", "id": None, "field": None,
                                   "message": "advice request must be a JSON object"}])
    c = Collector()
    version = doc.get("version")
    if version != 1 or isinstance(version, bool):
        c.add("version", None, "version", f"must be 1, got {version!r}")
    pm, periods, pairs, carbon = _axis_and_rules(c, doc)
    T = len(periods)
    asset = _asset(c, doc, T)
    needs = _needs(c, doc, T)
    products = _products(c, doc)
    history = _history(c, doc)
    if c.problems:
        raise AdviceRequestError(c.problems)
    return AdviceRequest(period_minutes=pm, periods=periods, asset=asset, needs=needs,
                         allowed_technologies=products, incompatible_products=pairs,
                         carbon_price=carbon, history=history)


def load_advice_request(doc: dict | str | Path | AdviceRequest) -> AdviceRequest:
    """Load from a dict, a JSON string, or a path to a JSON file; validate fully.

    Raises:
        AdviceRequestError: unreadable file, invalid JSON, or every problem of the document.
    """
    if isinstance(doc, AdviceRequest):
        return doc
    return parse_advice_request(read_document(doc, AdviceRequestError))
