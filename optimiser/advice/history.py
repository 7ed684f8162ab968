"""The platform's past records turned into the request's `history` groups.

The platform (the `GET /assets/{id}/advice` and `POST /advice` services) reads past bids,
needs and contracts from its database and hands plain dicts here; the groups come back at
the three levels of the fallback chain (product x zone x direction, product x direction,
product), ready for the request document. Kept pure so the rule of what counts as evidence
lives next to the estimators that read it (docs/advice.md, "Filling the history").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _levels(r: Mapping[str, Any]) -> tuple[tuple, ...]:
    p, z, d = r["product"], r.get("zone"), r.get("direction")
    return ((p, z, d), (p, None, d), (p, None, None))


def history_groups(bids: Iterable[Mapping[str, Any]] = (),
                   needs: Iterable[Mapping[str, Any]] = (),
                   contracts: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Aggregate past records into history groups (advice-request-v1 `history`).

    Parameters:
        bids: past bids of like needs, each {product, zone, direction, availability_price,
            accepted (bool), utilisation_price (optional)}. Only price evidence belongs
            here: leave out bids rejected for reasons of their own asset (see the docs).
        needs: past needs, each {product, zone, direction, bidders}: how many FSPs bid.
        contracts: past contracts, each {product, zone, direction, utilisation}: MWh
            called over MWh contracted (0..1).

    Returns:
        Groups sorted by key, each with every list the request defines (possibly empty).

    Raises:
        KeyError: a record without `product`.
    """
    groups: dict[tuple, dict[str, list]] = {}

    def group(key: tuple) -> dict[str, list]:
        return groups.setdefault(key, {"accepted_prices": [], "rejected_prices": [],
                                       "accepted_utilisation_prices": [], "utilisation": [],
                                       "bidders": []})

    for b in bids:
        for key in _levels(b):
            g = group(key)
            if b["accepted"]:
                g["accepted_prices"].append(float(b["availability_price"]))
                if b.get("utilisation_price") is not None:
                    g["accepted_utilisation_prices"].append(float(b["utilisation_price"]))
            else:
                g["rejected_prices"].append(float(b["availability_price"]))
    for n in needs:
        for key in _levels(n):
            group(key)["bidders"].append(int(n["bidders"]))
    for c in contracts:
        for key in _levels(c):
            group(key)["utilisation"].append(float(c["utilisation"]))
    out = []
    for (p, z, d) in sorted(groups, key=lambda k: tuple("" if x is None else x for x in k)):
        out.append({"product": p, "zone": z, "direction": d, **groups[(p, z, d)]})
    return out
