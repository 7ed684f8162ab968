"""Typed market snapshot (market-snapshot-v1, and its version 2) and its validation.

Version 2 (docs/probabilistic.md) adds, all optional: per asset the Beta posterior of its
delivery (`reliability_alpha`, `reliability_beta`), and in the rules a confidence level per
product (`confidence`) and the bound that enforces it (`confidence_bound`). A version-1
document cannot carry them (each is reported), and parses to exactly what it did before.

Validation collects *every* problem before raising, because the people fixing a snapshot
(an MO, an auditor re-running a clearing) need the whole list at once, not one traceback
per attempt. Unknown references (a bid naming a missing asset or need) are deliberately
*not* errors: the spec makes such bids ineligible, and the clearing rejects them with a
reason so that the rationale can be disclosed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

DIRECTIONS = ("up", "down")
PRIMACY = ("lexicographic", "weighted")
PRICING = ("pay_as_bid", "pay_as_clear")
VERSIONS = (1, 2)
CONFIDENCE_BOUNDS = ("sub_gaussian", "normal")  # optimiser/chance.py
MEAN_TOL = 1e-6  # reliability given beside alpha and beta must be their mean to this


class DocumentError(ValueError):
    """A document (snapshot, request) that does not conform to its format: every problem,
    never only the first, so one fix-and-resend round is enough.

    `problems` is a list of dicts with `path`, `id` (may be None), `field` and `message`.
    """

    what = "document"

    def __init__(self, problems: list[dict[str, Any]]):
        self.problems = problems
        lines = [f"invalid {self.what}: {len(problems)} problem(s)"]
        for p in problems:
            who = f" (id {p['id']})" if p.get("id") is not None else ""
            lines.append(f"  {p['path']}{who}: {p['message']}")
        super().__init__("\n".join(lines))


class SnapshotError(DocumentError):
    """A snapshot that does not conform to market-snapshot-v1."""

    what = "snapshot"


@dataclass(frozen=True)
class Asset:
    id: str
    zone: str
    up_mw: float
    down_mw: float
    fsp: str | None = None
    technology: str | None = None
    emission_t_per_mwh: float = 0.0
    reliability: float = 1.0
    unavailable_periods: tuple[int, ...] = ()
    reliability_alpha: float | None = None  # version 2: Beta posterior of delivery
    reliability_beta: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id, "fsp": self.fsp, "zone": self.zone, "technology": self.technology,
            "up_mw": self.up_mw, "down_mw": self.down_mw,
            "emission_t_per_mwh": self.emission_t_per_mwh, "reliability": self.reliability,
            "unavailable_periods": list(self.unavailable_periods),
        }
        if self.reliability_alpha is not None:
            d["reliability_alpha"] = self.reliability_alpha
            d["reliability_beta"] = self.reliability_beta
        return d


@dataclass(frozen=True)
class Need:
    id: str
    mo: str
    product: str
    zone: str
    direction: str
    priority: int
    mw: tuple[float, ...]
    unmet_penalty: float
    max_availability_price: float | None = None
    utilisation_price_cap: float | None = None
    expected_utilisation: float = 0.0
    gate_closure: str | None = None  # optional extension, used only by the siloed comparator

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id, "mo": self.mo, "product": self.product, "zone": self.zone,
            "direction": self.direction, "priority": self.priority, "mw": list(self.mw),
            "max_availability_price": self.max_availability_price,
            "utilisation_price_cap": self.utilisation_price_cap,
            "expected_utilisation": self.expected_utilisation,
            "unmet_penalty": self.unmet_penalty,
        }
        if self.gate_closure is not None:
            d["gate_closure"] = self.gate_closure
        return d


@dataclass(frozen=True)
class Bid:
    id: str
    asset: str
    need: str
    mw: tuple[float, ...]
    availability_price: float
    utilisation_price: float = 0.0
    min_mw: float = 0.0
    all_or_nothing: bool = False
    exclusive_group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "asset": self.asset, "need": self.need, "mw": list(self.mw),
            "min_mw": self.min_mw, "availability_price": self.availability_price,
            "utilisation_price": self.utilisation_price,
            "all_or_nothing": self.all_or_nothing, "exclusive_group": self.exclusive_group,
        }


@dataclass(frozen=True)
class Rules:
    incompatible_products: tuple[tuple[str, str], ...] = ()
    primacy: str = "lexicographic"
    pricing: str = "pay_as_bid"
    carbon_price: float = 0.0
    # version 2: product -> confidence level; a product not listed clears on expected value
    confidence: tuple[tuple[str, float], ...] = ()
    confidence_bound: str = "sub_gaussian"

    def level(self, product: str) -> float | None:
        return dict(self.confidence).get(product)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "incompatible_products": [list(p) for p in self.incompatible_products],
            "primacy": self.primacy, "pricing": self.pricing, "carbon_price": self.carbon_price,
        }
        if self.confidence:
            d["confidence"] = dict(self.confidence)
        if self.confidence_bound != "sub_gaussian":
            d["confidence_bound"] = self.confidence_bound
        return d


@dataclass(frozen=True)
class Snapshot:
    period_minutes: float
    periods: tuple[str, ...]
    assets: tuple[Asset, ...] = ()
    needs: tuple[Need, ...] = ()
    bids: tuple[Bid, ...] = ()
    rules: Rules = field(default_factory=Rules)
    version: int = 1

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def dh(self) -> float:
        return self.period_minutes / 60.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "period_minutes": self.period_minutes,
            "periods": list(self.periods),
            "assets": [a.to_dict() for a in self.assets],
            "needs": [n.to_dict() for n in self.needs],
            "bids": [b.to_dict() for b in self.bids],
            "rules": self.rules.to_dict(),
        }

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(text)
        return text


# --------------------------------------------------------------------------- validation


class Collector:
    """Accumulates problems; typed getters return a safe default so checking can go on."""

    def __init__(self) -> None:
        self.problems: list[dict[str, Any]] = []

    def add(self, path: str, id_: Any, fld: str, message: str) -> None:
        self.problems.append({"path": path, "id": id_, "field": fld, "message": message})

    def get(self, obj: dict, key: str, path: str, id_: Any, kind: str, *, required: bool = True,
            default: Any = None, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
        where = f"{path}.{key}"
        if key not in obj or (obj[key] is None and kind != "str?"):
            if required:
                self.add(where, id_, key, "is required")
            return default
        v = obj[key]
        if kind == "num":
            if not is_num(v):
                self.add(where, id_, key, f"must be a finite number, got {v!r}")
                return default
            v = float(v)
            if minimum is not None and v < minimum:
                self.add(where, id_, key, f"must be >= {minimum}, got {v}")
            if maximum is not None and v > maximum:
                self.add(where, id_, key, f"must be <= {maximum}, got {v}")
            return v
        if kind == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                self.add(where, id_, key, f"must be an integer, got {v!r}")
                return default
            if minimum is not None and v < minimum:
                self.add(where, id_, key, f"must be >= {minimum}, got {v}")
            return v
        if kind == "bool":
            if not isinstance(v, bool):
                self.add(where, id_, key, f"must be true or false, got {v!r}")
                return default
            return v
        if kind in ("str", "str?"):
            if v is None and kind == "str?":
                return None
            if not isinstance(v, str) or (kind == "str" and v == ""):
                self.add(where, id_, key, f"must be a non-empty string, got {v!r}")
                return default
            if choices is not None and v not in choices:
                self.add(where, id_, key, f"must be one of {list(choices)}, got {v!r}")
                return default
            return v
        raise AssertionError(kind)

    def mw_list(self, obj: dict, path: str, id_: Any, n: int) -> tuple[float, ...]:
        where = f"{path}.mw"
        v = obj.get("mw")
        if not isinstance(v, list):
            self.add(where, id_, "mw", f"must be a list of {n} numbers")
            return (0.0,) * n
        if len(v) != n:
            self.add(where, id_, "mw", f"must have {n} values (one per period), got {len(v)}")
        bad = [i for i, x in enumerate(v) if not is_num(x) or x < 0]
        if bad:
            shown = ", ".join(f"[{i}]={v[i]!r}" for i in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            self.add(where, id_, "mw", f"values must be finite numbers >= 0: {shown}{more}")
            return (0.0,) * n
        out = tuple(float(x) for x in v)
        return out if len(out) == n else (out + (0.0,) * n)[:n]


def is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def records(c: Collector, doc: dict, key: str) -> list[tuple[int, dict]]:
    items = doc.get(key, [])
    if not isinstance(items, list):
        c.add(key, None, key, "must be a list")
        return []
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            c.add(f"{key}[{i}]", None, key, "must be an object")
        else:
            out.append((i, it))
    return out


def unique(c: Collector, key: str, ids: list[tuple[int, Any]]) -> None:
    seen: dict[Any, int] = {}
    for i, id_ in ids:
        if id_ is None:
            continue
        if id_ in seen:
            c.add(f"{key}[{i}].id", id_, "id", f"duplicate id (first at {key}[{seen[id_]}])")
        else:
            seen[id_] = i


def parse_snapshot(doc: Any) -> Snapshot:
    """Validate a decoded JSON document and build a Snapshot, or raise SnapshotError."""
    c = Collector()
    if not isinstance(doc, dict):
        raise SnapshotError([{"path": "$", "id": None, "field": None,
                              "message": "snapshot must be a JSON object"}])
    version = doc.get("version")
    if version not in VERSIONS or isinstance(version, bool):
        c.add("version", None, "version", f"must be 1 or 2, got {version!r}")
        version = 1
    pm = c.get(doc, "period_minutes", "$", None, "num", default=30.0)
    if pm is not None and pm <= 0:
        c.add("$.period_minutes", None, "period_minutes", "must be > 0")
    periods = check_periods(c, doc)
    T = len(periods)

    assets = []
    for i, a in records(c, doc, "assets"):
        p = f"assets[{i}]"
        id_ = c.get(a, "id", p, None, "str")
        unav = a.get("unavailable_periods", []) or []
        if not isinstance(unav, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 <= t < T for t in unav):
            c.add(f"{p}.unavailable_periods", id_, "unavailable_periods",
                  f"must be a list of period indexes in 0..{T - 1}")
            unav = []
        alpha, beta, mean = asset_posterior(c, a, p, id_, version)
        assets.append(Asset(
            id=id_, zone=c.get(a, "zone", p, id_, "str"),
            up_mw=c.get(a, "up_mw", p, id_, "num", minimum=0, default=0.0),
            down_mw=c.get(a, "down_mw", p, id_, "num", minimum=0, default=0.0),
            fsp=c.get(a, "fsp", p, id_, "str?", required=False),
            technology=c.get(a, "technology", p, id_, "str?", required=False),
            emission_t_per_mwh=c.get(a, "emission_t_per_mwh", p, id_, "num", required=False,
                                     default=0.0, minimum=0),
            reliability=c.get(a, "reliability", p, id_, "num", required=False,
                              default=1.0 if mean is None else mean, minimum=0, maximum=1),
            unavailable_periods=tuple(sorted(set(unav))),
            reliability_alpha=alpha, reliability_beta=beta,
        ))
    unique(c, "assets", [(i, a.id) for i, a in enumerate(assets)])

    needs = []
    for i, n in records(c, doc, "needs"):
        p = f"needs[{i}]"
        id_ = c.get(n, "id", p, None, "str")
        needs.append(Need(
            id=id_, mo=c.get(n, "mo", p, id_, "str"), product=c.get(n, "product", p, id_, "str"),
            zone=c.get(n, "zone", p, id_, "str"),
            direction=c.get(n, "direction", p, id_, "str", choices=DIRECTIONS, default="up"),
            priority=c.get(n, "priority", p, id_, "int", minimum=1, default=1),
            mw=c.mw_list(n, p, id_, T),
            unmet_penalty=c.get(n, "unmet_penalty", p, id_, "num", minimum=0, default=0.0),
            max_availability_price=c.get(n, "max_availability_price", p, id_, "num",
                                         required=False),
            utilisation_price_cap=c.get(n, "utilisation_price_cap", p, id_, "num",
                                        required=False),
            expected_utilisation=c.get(n, "expected_utilisation", p, id_, "num",
                                       required=False, default=0.0, minimum=0, maximum=1),
            gate_closure=c.get(n, "gate_closure", p, id_, "str?", required=False),
        ))
    unique(c, "needs", [(i, n.id) for i, n in enumerate(needs)])

    bids = []
    for i, b in records(c, doc, "bids"):
        p = f"bids[{i}]"
        id_ = c.get(b, "id", p, None, "str")
        bids.append(Bid(
            id=id_, asset=c.get(b, "asset", p, id_, "str"), need=c.get(b, "need", p, id_, "str"),
            mw=c.mw_list(b, p, id_, T),
            availability_price=c.get(b, "availability_price", p, id_, "num", minimum=0,
                                     default=0.0),
            utilisation_price=c.get(b, "utilisation_price", p, id_, "num", required=False,
                                    default=0.0, minimum=0),
            min_mw=c.get(b, "min_mw", p, id_, "num", required=False, default=0.0, minimum=0),
            all_or_nothing=c.get(b, "all_or_nothing", p, id_, "bool", required=False,
                                 default=False),
            exclusive_group=c.get(b, "exclusive_group", p, id_, "str?", required=False),
        ))
    unique(c, "bids", [(i, b.id) for i, b in enumerate(bids)])

    r = doc.get("rules", {}) or {}
    if not isinstance(r, dict):
        c.add("rules", None, "rules", "must be an object")
        r = {}
    inc = r.get("incompatible_products", []) or []
    pairs = []
    if not isinstance(inc, list):
        c.add("rules.incompatible_products", None, "incompatible_products", "must be a list")
    else:
        for k, pr in enumerate(inc):
            if (not isinstance(pr, list) or len(pr) != 2
                    or not all(isinstance(s, str) and s for s in pr)):
                c.add(f"rules.incompatible_products[{k}]", None, "incompatible_products",
                      f"must be a pair of product names, got {pr!r}")
            else:
                pairs.append((pr[0], pr[1]))
    rules = Rules(
        incompatible_products=tuple(pairs),
        primacy=c.get(r, "primacy", "rules", None, "str", required=False, choices=PRIMACY,
                      default="lexicographic"),
        pricing=c.get(r, "pricing", "rules", None, "str", required=False, choices=PRICING,
                      default="pay_as_bid"),
        carbon_price=c.get(r, "carbon_price", "rules", None, "num", required=False,
                           default=0.0, minimum=0),
        **confidence_rules(c, r, version),
    )
    if c.problems:
        raise SnapshotError(c.problems)
    return Snapshot(version=version, period_minutes=pm, periods=tuple(periods), assets=tuple(assets),
                    needs=tuple(needs), bids=tuple(bids), rules=rules)


def check_periods(c: Collector, doc: dict, root: str = "$.") -> list[str]:
    """The document's ``periods``: ISO-8601 instants with an offset, strictly increasing,
    every problem collected at ``{root}periods[i]``; [] when it is not a list of strings."""
    periods = doc.get("periods")
    if not isinstance(periods, list) or not all(isinstance(p, str) for p in periods):
        c.add(f"{root}periods", None, "periods", "must be a list of ISO-8601 UTC timestamps")
        return []
    prev = None
    for i, p in enumerate(periods):
        try:
            ts = datetime.fromisoformat(p.replace("Z", "+00:00"))
        except ValueError:
            c.add(f"{root}periods[{i}]", None, "periods", f"not an ISO-8601 timestamp: {p!r}")
            continue
        if ts.tzinfo is None:
            c.add(f"{root}periods[{i}]", None, "periods", "timestamp must carry a UTC offset")
            continue
        if prev is not None and ts <= prev:
            c.add(f"{root}periods[{i}]", None, "periods", "periods must be strictly increasing")
        prev = ts
    return list(periods)


def read_document(doc: Any, error: type[Exception]) -> Any:
    """The parsed JSON a dict, JSON text or file path holds (anything else as given), for
    every engine's loader; a file that cannot be read or text that is not JSON raises
    ``error`` with one problem at ``$``, in the shape the validators list."""

    def fail(message: str) -> Exception:
        return error([{"path": "$", "id": None, "field": None, "message": message}])

    if not isinstance(doc, (str, Path)):
        return doc
    if isinstance(doc, Path) or not doc.lstrip().startswith("{"):
        try:
            text = Path(doc).read_text()
        except OSError as e:
            raise fail(f"cannot read {doc}: {e}") from None
    else:
        text = doc
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise fail(f"not valid JSON: {e}") from None


def asset_posterior(c: Collector, a: dict, p: str, id_: Any, version: int
                    ) -> tuple[float | None, float | None, float | None]:
    """(alpha, beta, their mean) of an asset's version-2 fields, every problem collected;
    (None, None, None) when absent or invalid."""
    given = [k for k in ("reliability_alpha", "reliability_beta") if a.get(k) is not None]
    if not given:
        return None, None, None
    if version < 2:
        for k in given:
            c.add(f"{p}.{k}", id_, k, "requires snapshot version 2")
        return None, None, None
    if len(given) == 1:
        other = ({"reliability_alpha", "reliability_beta"} - set(given)).pop()
        c.add(f"{p}.{other}", id_, other, f"is required with {given[0]}")
        return None, None, None
    n = len(c.problems)
    alpha = c.get(a, "reliability_alpha", p, id_, "num")
    beta = c.get(a, "reliability_beta", p, id_, "num")
    for k, v in (("reliability_alpha", alpha), ("reliability_beta", beta)):
        if v is not None and v <= 0:
            c.add(f"{p}.{k}", id_, k, f"must be > 0, got {v}")
    if len(c.problems) > n:
        return None, None, None
    mean = alpha / (alpha + beta)
    rel = a.get("reliability")
    if is_num(rel) and abs(float(rel) - mean) > MEAN_TOL:
        c.add(f"{p}.reliability", id_, "reliability",
              f"must be reliability_alpha / (reliability_alpha + reliability_beta) = "
              f"{mean:.6f} when those are given, got {rel}")
    return alpha, beta, mean


def confidence_rules(c: Collector, r: dict, version: int) -> dict[str, Any]:
    """The version-2 rules `confidence` and `confidence_bound`, every problem collected."""
    out: dict[str, Any] = {}
    conf = r.get("confidence")
    bound = r.get("confidence_bound")
    if version < 2:
        for k, v in (("confidence", conf), ("confidence_bound", bound)):
            if v is not None:
                c.add(f"rules.{k}", None, k, "requires snapshot version 2")
        return out
    if conf is not None:
        if not isinstance(conf, dict):
            c.add("rules.confidence", None, "confidence",
                  "must be an object of product name -> confidence level")
        else:
            levels = []
            for prod, lv in conf.items():
                if not prod:
                    c.add("rules.confidence", None, "confidence", "product names must be non-empty")
                elif not is_num(lv) or not 0.5 <= lv < 1.0:
                    c.add(f"rules.confidence.{prod}", None, "confidence",
                          f"must be a number in [0.5, 1), got {lv!r}")
                else:
                    levels.append((prod, float(lv)))
            out["confidence"] = tuple(levels)
    if bound is not None:
        out["confidence_bound"] = c.get(r, "confidence_bound", "rules", None, "str",
                                        choices=CONFIDENCE_BOUNDS, default="sub_gaussian")
    return out


def load_snapshot(doc: dict | str | Path) -> Snapshot:
    """Load from a dict, a JSON string, or a path to a JSON file; validate fully."""
    if isinstance(doc, Snapshot):
        return doc
    return parse_snapshot(read_document(doc, SnapshotError))
