"""Dispatch snapshot (dispatch-snapshot-v1): validation that lists every problem, and parsing.

Unlike the market snapshot, a dispatch snapshot with an unknown reference (a contract naming
a missing asset, an instruction naming a missing contract) is refused: the spec says so,
because a dispatch acts on obligations already awarded and a dangling one is a platform bug,
not a bid to reject with a reason. The checking helpers are the market snapshot's
(`optimiser.snapshot`), so both formats word their problems alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..snapshot import Collector, check_periods, is_num, records, unique

DIRECTIONS = ("up", "down")
PRIMACY = ("lexicographic", "weighted")


class SnapshotError(ValueError):
    """A snapshot that does not conform to dispatch-snapshot-v1; `problems` lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid dispatch snapshot: " + str(len(self.problems))
                         + " problem(s)\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True)
class Parsed:
    """The snapshot with defaults filled in; lists of plain dicts, in snapshot order."""

    period_minutes: float
    periods: list[str]
    assets: list[dict[str, Any]]
    contracts: list[dict[str, Any]]
    availability: list[dict[str, Any]]
    instructions: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    incompatible: list[tuple[str, str]]
    primacy: str
    carbon_price: float
    zone_conflicts: bool

    @property
    def T(self) -> int:
        return len(self.periods)

    @property
    def dh(self) -> float:
        return self.period_minutes / 60.0


def _text(p: dict[str, Any]) -> str:
    who = f" (id {p['id']})" if p.get("id") is not None else ""
    return f"{p['path']}{who}: {p['message']}"


def _periods(c: Collector, doc: dict) -> list[str]:
    return check_periods(c, doc, root="")


def _optional_int(c: Collector, obj: dict, key: str, path: str, id_: Any) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        c.add(f"{path}.{key}", id_, key, f"must be null or an integer >= 1, got {v!r}")
        return None
    return v


def _parse(doc: Any) -> tuple[Parsed | None, list[str]]:
    c = Collector()
    if not isinstance(doc, dict):
        return None, ["$: snapshot must be a JSON object"]
    version = doc.get("version")
    if version != 1 or isinstance(version, bool):
        c.add("version", None, "version", f"must be 1, got {version!r}")
    pm = c.get(doc, "period_minutes", "$", None, "num", default=30.0)
    if pm is not None and pm <= 0:
        c.add("$.period_minutes", None, "period_minutes", "must be > 0")
        pm = 30.0
    periods = _periods(c, doc)
    T = len(periods)
    if T == 0 and isinstance(doc.get("periods"), list):
        c.add("periods", None, "periods", "must list at least one period")

    assets = []
    for i, a in records(c, doc, "assets"):
        p = f"assets[{i}]"
        id_ = c.get(a, "id", p, None, "str")
        energy = a.get("energy_mwh")
        if energy is not None:
            energy = c.get(a, "energy_mwh", p, id_, "num", minimum=0, default=None)
        assets.append({
            "id": id_, "fsp": c.get(a, "fsp", p, id_, "str?", required=False),
            "zone": c.get(a, "zone", p, id_, "str"),
            "technology": c.get(a, "technology", p, id_, "str?", required=False),
            "up_mw": c.get(a, "up_mw", p, id_, "num", minimum=0, default=0.0),
            "down_mw": c.get(a, "down_mw", p, id_, "num", minimum=0, default=0.0),
            "emission_t_per_mwh": c.get(a, "emission_t_per_mwh", p, id_, "num",
                                        required=False, default=0.0, minimum=0),
            "reliability": c.get(a, "reliability", p, id_, "num", required=False, default=1.0,
                                 minimum=0, maximum=1),
            "energy_mwh": energy,
            "max_run_periods": _optional_int(c, a, "max_run_periods", p, id_),
        })
    unique(c, "assets", [(i, a["id"]) for i, a in enumerate(assets)])
    asset_ids = {a["id"] for a in assets if a["id"] is not None}

    contracts = []
    for i, k in records(c, doc, "contracts"):
        p = f"contracts[{i}]"
        id_ = c.get(k, "id", p, None, "str")
        asset = c.get(k, "asset", p, id_, "str")
        if asset is not None and asset not in asset_ids:
            c.add(f"{p}.asset", id_, "asset", f"unknown asset {asset!r}")
        contracts.append({
            "id": id_, "asset": asset, "mo": c.get(k, "mo", p, id_, "str"),
            "product": c.get(k, "product", p, id_, "str"),
            "direction": c.get(k, "direction", p, id_, "str", choices=DIRECTIONS,
                               default="up"),
            "mw": c.mw_list(k, p, id_, T),
            "min_mw": c.get(k, "min_mw", p, id_, "num", required=False, default=0.0,
                            minimum=0),
            "utilisation_price": c.get(k, "utilisation_price", p, id_, "num", default=0.0),
        })
    unique(c, "contracts", [(i, k["id"]) for i, k in enumerate(contracts)])
    contract_ids = {k["id"] for k in contracts if k["id"] is not None}

    availability = []
    seen: dict[tuple[str, str], int] = {}
    for i, v in records(c, doc, "availability"):
        p = f"availability[{i}]"
        asset = c.get(v, "asset", p, None, "str")
        if asset is not None and asset not in asset_ids:
            c.add(f"{p}.asset", None, "asset", f"unknown asset {asset!r}")
        d = c.get(v, "direction", p, asset, "str", choices=DIRECTIONS)
        if asset is not None and d is not None:
            if (asset, d) in seen:
                c.add(p, asset, "direction", f"duplicate entry for asset {asset!r} direction "
                      f"{d!r} (first at availability[{seen[(asset, d)]}])")
            else:
                seen[(asset, d)] = i
        availability.append({"asset": asset, "direction": d, "mw": c.mw_list(v, p, asset, T)})

    instructions = []
    for i, f in records(c, doc, "instructions"):
        p = f"instructions[{i}]"
        id_ = c.get(f, "id", p, None, "str")
        con = c.get(f, "contract", p, id_, "str")
        if con is not None and con not in contract_ids:
            c.add(f"{p}.contract", id_, "contract", f"unknown contract {con!r}")
        t = c.get(f, "period", p, id_, "int", minimum=0)
        if t is not None and t >= T:
            c.add(f"{p}.period", id_, "period", f"must be a period index in 0..{T - 1}, got {t}")
            t = None
        instructions.append({"id": id_, "contract": con, "period": t,
                             "mw": c.get(f, "mw", p, id_, "num", minimum=0, default=0.0)})
    unique(c, "instructions", [(i, f["id"]) for i, f in enumerate(instructions)])

    requests = []
    for i, r in records(c, doc, "requests"):
        p = f"requests[{i}]"
        id_ = c.get(r, "id", p, None, "str")
        requests.append({
            "id": id_, "mo": c.get(r, "mo", p, id_, "str"),
            "product": c.get(r, "product", p, id_, "str"),
            "zone": c.get(r, "zone", p, id_, "str"),
            "direction": c.get(r, "direction", p, id_, "str", choices=DIRECTIONS,
                               default="up"),
            "priority": c.get(r, "priority", p, id_, "int", minimum=1, default=1),
            "mw": c.mw_list(r, p, id_, T),
            "shortfall_penalty": c.get(r, "shortfall_penalty", p, id_, "num", minimum=0,
                                       default=0.0),
        })
    unique(c, "requests", [(i, r["id"]) for i, r in enumerate(requests)])

    rules = doc.get("rules", {})
    if rules is None:
        rules = {}
    if not isinstance(rules, dict):
        c.add("rules", None, "rules", "must be an object")
        rules = {}
    inc = rules.get("incompatible_products", []) or []
    pairs: list[tuple[str, str]] = []
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
    primacy = c.get(rules, "primacy", "rules", None, "str", required=False, choices=PRIMACY,
                    default="lexicographic")
    carbon = c.get(rules, "carbon_price", "rules", None, "num", required=False, default=0.0,
                   minimum=0)
    zc = c.get(rules, "zone_conflicts", "rules", None, "bool", required=False, default=True)
    problems = [_text(p) for p in c.problems]
    if problems:
        return None, problems
    return Parsed(pm, periods, assets, contracts, availability, instructions, requests,
                  pairs, primacy or "lexicographic", carbon if carbon is not None else 0.0,
                  True if zc is None else zc), []


def validate(snapshot: Any) -> list[str]:
    """Every problem of a dispatch snapshot, as `path (id X): message` lines; [] if valid."""
    return _parse(snapshot)[1]


def parse(snapshot: Any) -> Parsed:
    """The validated snapshot.

    Raises:
        SnapshotError: listing every problem.
    """
    parsed, problems = _parse(snapshot)
    if problems or parsed is None:
        raise SnapshotError(problems)
    return parsed


__all__ = ["Parsed", "SnapshotError", "is_num", "parse", "validate"]
