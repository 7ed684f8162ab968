"""Open data: the market's history by time range, as pages and as monthly files.

What is open and what is withheld is decided here once (docs/transparency.md says why):
needs and clearing prices are published as they are (the MO's requirement and the price
it paid are public-interest facts); awards, dispatch and delivery are published as
aggregates per need (or zone) and half-hour, with any cell backed by fewer than
``public_min_fsps`` FSPs suppressed, so no single FSP's prices or positions can be read.
The regulator (and admin) gets the unaggregated rows with participant and asset ids.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from flexplatform.config import get_settings
from flexplatform.errors import NotFound
from flexplatform.transparency import facts

LICENCE = {
    "name": "Open Government Licence v3.0 (platform records); CC BY 4.0 (carbon intensities)",
    "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    "attribution": "Contains data from the Flexplatform central flexibility platform. Carbon "
                   "intensity data: NESO Carbon Intensity API, carbonintensity.org.uk, CC BY 4.0.",
    "withheld": "Participant and asset identities, bids that did not win, metered "
                "readings, and any price or volume cell backed by fewer than the suppression "
                "threshold of FSPs (see docs/transparency.md).",
}

_T = "period_start"
DICTIONARY: dict[str, dict[str, str]] = {
    "needs": {
        "need_id": "the need (uuid)", "market_id": "its market (uuid)",
        "mo": "the market operator's legal name", "product": "product code",
        "zone": "zone code", "direction": "up or down", _T: "half-hour start, UTC",
        "required_mw": "MW the MO asks for in the half-hour",
        "max_availability_price": "ceiling availability price, GBP/MW/h",
        "utilisation_price_cap": "ceiling utilisation price, GBP/MWh"},
    "prices": {
        "need_id": "the need (uuid)", "product": "product code", "zone": "zone code",
        _T: "half-hour start, UTC", "required_mw": "MW required",
        "awarded_mw": "MW awarded", "unmet_mw": "MW left unmet",
        "fsps": "distinct FSPs awarded",
        "clearing_price": "marginal availability price of the need, GBP/MW/h (null when "
                          "nothing cleared, or when suppressed)",
        "suppressed": "true when fewer FSPs than the threshold set the price"},
    "awards": {
        "need_id": "the need (uuid)", "product": "product code", "zone": "zone code",
        "direction": "up or down", _T: "half-hour start, UTC", "fsps": "distinct FSPs awarded",
        "mw": "MW awarded (null when suppressed)",
        "availability_price_vwap": "MW-weighted availability price, GBP/MW/h (null when "
                                   "suppressed)",
        "utilisation_price_vwap": "MW-weighted utilisation price, GBP/MWh (null when "
                                  "suppressed)",
        "suppressed": "true when fewer FSPs than the threshold back the cell"},
    "dispatch": {
        "zone": "zone code", "product": "product code", "direction": "up or down",
        _T: "half-hour start, UTC", "fsps": "distinct FSPs instructed",
        "mwh": "MWh instructed (null when suppressed)", "suppressed": "see awards"},
    "delivery": {
        "zone": "zone code", "product": "product code", "direction": "up or down",
        _T: "half-hour start, UTC", "fsps": "distinct FSPs verified",
        "mwh": "MWh delivered as verified (null when suppressed)", "suppressed": "see awards"},
}
# Extra columns the regulator's rows carry (never public).
FULL_EXTRA = {"awards": ["contract_id", "fsp_id", "asset_id", "availability_price",
                         "utilisation_price"],
              "dispatch": ["instruction_id", "fsp_id", "asset_id"],
              "delivery": ["instruction_id", "fsp_id", "asset_id"]}


def dataset_names() -> list[str]:
    return list(DICTIONARY)


def dictionary(name: str) -> dict[str, Any]:
    if name not in DICTIONARY:
        raise NotFound(f"no dataset '{name}'; datasets: {', '.join(DICTIONARY)}")
    return {"dataset": name, "columns": [{"name": k, "description": v}
                                         for k, v in DICTIONARY[name].items()],
            "regulator_only_columns": FULL_EXTRA.get(name, []), "licence": LICENCE["name"]}


def _needs(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    pairs = facts.needs_in(session, start, end)
    mo = facts.names(session, {m.mo_id for _, m in pairs})
    out = []
    for n, m in pairs:
        step = dt.timedelta(minutes=m.period_minutes or 30)
        for i, mw in enumerate(n.mw):
            t = m.delivery_start + step * i
            if start <= t < end:
                out.append({"need_id": str(n.id), "market_id": str(m.id),
                            "mo": mo.get(m.mo_id, ""), "product": n.product_code,
                            "zone": n.zone_code, "direction": n.direction.value,
                            _T: t.isoformat(), "required_mw": float(mw or 0),
                            "max_availability_price": float(n.max_availability_price),
                            "utilisation_price_cap": float(n.utilisation_price_cap)})
    return out


def _prices(session: Session, start: dt.datetime, end: dt.datetime, full: bool
            ) -> list[dict[str, Any]]:
    """A need-period won by fewer FSPs than the threshold: its clearing price is one FSP's
    bid price and its awarded (so its unmet) MW that FSP's volume, so the public gets them
    null (``suppressed``), as the awards dataset does; the required MW is the MO's, public."""
    pairs = facts.needs_in(session, start, end)
    need = {n.id: n for n, _ in pairs}
    winners: dict[tuple[str, dt.datetime], set[Any]] = defaultdict(set)
    for c in facts.contracts(session, start, end):
        winners[(c.need_id, c.period_start)].add(c.fsp_id)
    min_fsps = get_settings().public_min_fsps
    out = []
    for o in facts.outcomes_for(session, pairs):
        if start <= o.period_start < end:
            n = need[o.need_id]
            k = len(winners[(str(n.id), o.period_start)])
            hide = not full and 0 < k < min_fsps
            out.append({"need_id": str(n.id), "product": n.product_code, "zone": n.zone_code,
                        _T: o.period_start.isoformat(), "required_mw": o.required_mw,
                        "awarded_mw": None if hide else o.awarded_mw,
                        "unmet_mw": None if hide else o.unmet_mw, "fsps": k,
                        "clearing_price": None if hide else o.clearing_price,
                        "suppressed": hide})
    return out


def _aggregate(flows: list[facts.Flow], keys: tuple[str, ...], min_fsps: int,
               value: str) -> list[dict[str, Any]]:
    acc: dict[tuple[Any, ...], list[facts.Flow]] = defaultdict(list)
    for f in flows:
        acc[(*(getattr(f, k) for k in keys), f.period_start)].append(f)
    out = []
    for k, fs in acc.items():
        row: dict[str, Any] = dict(zip(keys, k[:-1], strict=True))
        row[_T] = k[-1].isoformat()
        n = len({f.fsp_id for f in fs})
        row["fsps"] = n
        row["suppressed"] = n < min_fsps
        vol = sum(f.mwh for f in fs)
        if value == "mw":  # awards: MW per half-hour and MW-weighted prices
            mw = vol * 2
            row["mw"] = None if row["suppressed"] else round(mw, 6)
            for p in ("availability_price", "utilisation_price"):
                row[f"{p}_vwap"] = None if row["suppressed"] or not vol else round(
                    sum(getattr(f, p) * f.mwh for f in fs) / vol, 2)
        else:
            row["mwh"] = None if row["suppressed"] else round(vol, 6)
        out.append(row)
    return out


def _full(flows: list[facts.Flow], name: str) -> list[dict[str, Any]]:
    out = []
    for f in flows:
        row: dict[str, Any] = {"zone": f.zone, "product": f.product, "direction": f.direction,
                               _T: f.period_start.isoformat(), "fsp_id": str(f.fsp_id),
                               "asset_id": str(f.asset_id)}
        if name == "awards":
            row.update(contract_id=int(f.ref), mw=round(f.mwh * 2, 6),
                       availability_price=f.availability_price,
                       utilisation_price=f.utilisation_price)
        else:
            row.update(instruction_id=f.ref, mwh=round(f.mwh, 6))
        out.append(row)
    return out


def rows(session: Session, name: str, start: dt.datetime, end: dt.datetime, *,
         full: bool) -> list[dict[str, Any]]:
    """Every row of ``name`` in [start, end), sorted by time; ``full`` is the regulator's
    unaggregated view. Dispatch and delivery are empty until those stages are installed."""
    if name not in DICTIONARY:
        raise NotFound(f"no dataset '{name}'; datasets: {', '.join(DICTIONARY)}")
    if name == "needs":
        out = _needs(session, start, end)
    elif name == "prices":
        out = _prices(session, start, end, full)
    else:
        if name == "awards":
            flows = facts.contracts(session, start, end)
        else:
            d = facts.instructions(session, start, end)
            flows = d if name == "dispatch" else facts.verifications(session, start, end, d)
            flows = flows or []
        if full:
            out = _full(flows, name)
        else:
            keys = ("need_id", "product", "zone", "direction") if name == "awards" else \
                ("zone", "product", "direction")
            out = _aggregate(flows, keys, get_settings().public_min_fsps,
                             "mw" if name == "awards" else "mwh")
    out.sort(key=lambda r: (r[_T], str(r.get("need_id") or r.get("zone"))))
    return out


def columns(name: str, full: bool) -> list[str]:
    if full and name in FULL_EXTRA:
        value = "mw" if name == "awards" else "mwh"
        return ["zone", "product", "direction", _T, value, *FULL_EXTRA[name]]
    return list(DICTIONARY[name])


def monthly_file(session: Session, name: str, month: dt.date, fmt: str, *, full: bool) -> bytes:
    """One calendar month (UTC) of ``name`` as CSV or Parquet bytes."""
    import csv

    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
    data = rows(session, name, start, end, full=full)
    cols = columns(name, full)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(data)
        return buf.getvalue().encode()
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in data]) if data else \
        pa.table({c: pa.array([], type=pa.string()) for c in cols})
    table = table.replace_schema_metadata({"licence": LICENCE["name"],
                                           "attribution": LICENCE["attribution"]})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
