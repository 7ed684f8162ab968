"""The settlement run document: every input with its SHA-256, and the outputs.

A run document is one JSON object (format ``flexplatform.settlement-run/1``, described
in docs/settlement.md)::

    {"format": ..., "inputs": {name: {"sha256": hex, "data": ...}, ...},
     "inputs_sha256": hex, "outputs": {"sha256": hex, "data": {...}}}

Every hash is SHA-256 of the canonical JSON (:func:`settlement.schema.canonical_json`:
sorted keys, no whitespace, UTF-8, no floats: decimals and volumes as strings) of the
``data`` it sits beside.  Tables are ``{"columns": [...], "rows": [[...], ...]}`` with
rows in key order, so equal data hash equal whatever order it was given in.
:func:`settle_document` re-runs the inputs and returns outputs byte-identical to the
stored ones when nothing has changed; :func:`check_document` says what differs.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from .invoices import VatTerms, invoices_for
from .payments import instruction_volumes, round_half_away
from .run import ProductTerms, SettlementInputs, ShardResult, StatementPeriod, settle_shard
from .schema import DataError, Fields, canonical_json, sha256_hex

__all__ = ["FORMAT", "DocumentError", "Invoicing", "build_document", "check_document",
           "document_inputs", "dumps", "settle_document"]

FORMAT = "flexplatform.settlement-run/1"

# Input tables: column -> kind.  "?" marks a column that may be absent or null.
TABLES = {
    "contracts": {"contract_id": "str", "fsp": "str", "mo": "str", "product": "str",
                  "contracted_mw": "dec", "availability_price": "dec",
                  "utilisation_price": "dec", "last_period_ratio": "dec?"},
    "instructions": {"instruction_id": "id", "contract_id": "str", "mpan": "str", "start": "ts",
                     "end": "ts", "mw": "float", "direction": "str", "measure": "str?"},
    "readings": {"mpan": "str", "start": "ts", "import_kwh": "float", "export_kwh": "float",
                 "version": "int"},
    "meters": {"mpan": "str", "devices": "float?", "capacity_kw": "float?"},
    "availability": {"contract_id": "str", "start": "ts", "factor": "dec"},
    "past_events": {"mpan": "str", "settlement_date": "date"},
    "nominations": {"mpan": "str", "start": "ts", "kwh": "float", "submitted_at": "ts"},
}
KEYS = {"contracts": ["contract_id"], "instructions": ["instruction_id"],
        "readings": ["mpan", "start", "version"], "meters": ["mpan"],
        "availability": ["contract_id", "start"], "past_events": ["mpan", "settlement_date"],
        "nominations": ["mpan", "start", "submitted_at"]}
OPTIONAL = ("meters", "availability", "past_events", "nominations")


class DocumentError(ValueError):
    """A document that cannot be settled: wrong format, bad data or a hash mismatch."""


@dataclass(frozen=True)
class Invoicing:
    """Invoice inputs: issue date, VAT as data, the caller's invoice numbers per
    (fsp, mo) of the run's period, and VAT overrides per FSP."""

    issue_date: date
    vat: VatTerms
    numbers: Mapping[tuple[str, str], str]
    vat_by_fsp: Mapping[str, VatTerms] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"issue_date": self.issue_date.isoformat(), "vat": self.vat.to_dict(),
                "vat_by_fsp": {k: v.to_dict() for k, v in sorted(self.vat_by_fsp.items())},
                "numbers": [{"fsp": f, "mo": m, "number": n}
                            for (f, m), n in sorted(self.numbers.items())]}

    @classmethod
    def from_dict(cls, data) -> Invoicing:
        f = Fields(data, "invoicing")
        issue = f.day("issue_date")
        vat = VatTerms.from_dict(f.value("vat"), f.path("vat"), f.errors)
        by_fsp = {k: VatTerms.from_dict(v, f.path(f"vat_by_fsp.{k}"), f.errors)
                  for k, v in (f.value("vat_by_fsp", {}) or {}).items()}
        numbers = {}
        for k, row in enumerate(f.value("numbers", [])):
            r = Fields(row, f.path(f"numbers[{k}]"), f.errors)
            key = (r.string("fsp"), r.string("mo"))
            if key in numbers:
                r.error("fsp", "a second invoice number for this (fsp, mo)")
            numbers[key] = r.string("number")
            r.unknown()
        f.unknown()
        if f.errors:
            raise DataError(f.errors, "invoicing")
        return cls(issue, vat, numbers, by_fsp)


# ------------------------------------------------------------------ values
def _ts(v) -> str:
    s = pd.Timestamp(v).tz_convert("UTC").isoformat()
    return s.replace("+00:00", "Z")


def _enc(kind: str, v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        if kind.endswith("?"):
            return None
        raise DocumentError(f"missing value in a required {kind} column")
    k = kind.rstrip("?")
    if k == "id":
        return int(v) if isinstance(v, int | np.integer) else str(v)
    if k == "str":
        return str(v)
    if k == "int":
        return int(v)
    if k == "ts":
        return _ts(v)
    if k == "date":
        return pd.Timestamp(v).date().isoformat()
    if k == "dec":
        return str(v if isinstance(v, Decimal) else Decimal(repr(float(v)) if isinstance(
            v, float | np.floating) else str(v)))
    if k == "float":
        return repr(float(v))
    raise AssertionError(kind)


def table_to_json(frame: pd.DataFrame | None, name: str) -> dict:
    """A frame as a canonical table (schema :data:`TABLES`, rows in :data:`KEYS` order)."""
    schema = TABLES[name]
    if frame is None:
        return {"columns": [c for c, k in schema.items() if not k.endswith("?")], "rows": []}
    missing = [c for c, k in schema.items() if not k.endswith("?") and c not in frame.columns]
    if missing:
        raise DocumentError(f"{name} lack columns {missing}")
    cols = [c for c in schema if c in frame.columns]
    data = [frame[c].tolist() for c in cols]
    rows = [[_enc(schema[c], v) for c, v in zip(cols, vals, strict=True)]
            for vals in zip(*data, strict=True)] if cols else []
    pos = [cols.index(k) for k in KEYS[name]]
    rows.sort(key=lambda r: tuple(str(r[i]) for i in pos))
    return {"columns": cols, "rows": rows}


def table_from_json(t, name: str) -> pd.DataFrame:
    schema = TABLES[name]
    f = Fields(t, f"inputs.{name}.data")
    cols, rows = f.value("columns"), f.value("rows")
    f.unknown()
    if f.errors:
        raise DocumentError(str(DataError(f.errors, "document")))
    bad = [c for c in cols if c not in schema]
    lacking = [c for c, k in schema.items() if not k.endswith("?") and c not in cols]
    if bad or lacking:
        raise DocumentError(f"inputs.{name}: unknown columns {bad}, missing columns {lacking}")
    if any(len(r) != len(cols) for r in rows):
        raise DocumentError(f"inputs.{name}: a row does not have {len(cols)} values")
    out = {}
    for j, c in enumerate(cols):
        vals = [r[j] for r in rows]
        k = schema[c].rstrip("?")
        try:
            if k == "ts":
                out[c] = pd.to_datetime(pd.Series(vals, dtype=object), utc=True).dt.as_unit("ns")
            elif k == "date":
                out[c] = [date.fromisoformat(v) for v in vals]
            elif k == "dec":
                out[c] = pd.Series([None if v is None else Decimal(v) for v in vals], dtype=object)
            elif k == "float":
                out[c] = np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64)
            elif k == "int":
                out[c] = np.array(vals, dtype=np.int64)
            else:
                out[c] = pd.Series(vals, dtype=object)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise DocumentError(f"inputs.{name}.{c}: {e}") from None
    return pd.DataFrame(out, columns=cols)


# ------------------------------------------------------------------ documents
def _section(data) -> dict:
    return {"sha256": sha256_hex(data), "data": data}


def _inputs_json(inputs: SettlementInputs, invoicing: Invoicing) -> dict:
    run = {"period": inputs.period.to_dict(), "region": inputs.region,
           "extra_non_working": sorted(d.isoformat() for d in inputs.extra_non_working)}
    sections = {"run": run,
                "products": {k: v.to_dict() for k, v in sorted(inputs.products.items())},
                "invoicing": invoicing.to_dict()}
    for name in TABLES:
        sections[name] = table_to_json(getattr(inputs, name), name)
    return {k: _section(v) for k, v in sections.items()}


def _dec_str(units: int | None, places: int) -> str | None:
    return None if units is None else str(Decimal(int(units)).scaleb(-places))


def _kwh(values) -> list:
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v)
    out = np.zeros(len(v), dtype=np.int64)
    out[ok] = round_half_away(v[ok], 3)
    return [_dec_str(x, 3) if o else None for x, o in zip(out, ok, strict=True)]


def _frame_rows(cols: dict) -> dict:
    names = list(cols)
    return {"columns": names, "rows": [list(r) for r in zip(*cols.values(), strict=True)]}


def outputs_json(res: ShardResult, invoicing: Invoicing) -> dict:
    """The outputs of a settled run as JSON data (decimals and volumes as strings)."""
    p = res.periods
    ids = [_enc("id", v) for v in p["instruction_id"]]
    periods = _frame_rows({
        "instruction_id": ids, "mpan": p["mpan"].astype(str).tolist(),
        "measure": p["measure"].tolist(), "start": [_ts(v) for v in p["start"]],
        "settlement_date": [pd.Timestamp(v).date().isoformat() for v in p["settlement_date"]],
        "period": p["period"].astype(int).tolist(), "status": p["status"].tolist(),
        "shared_with": p["shared_with"].astype(int).tolist(),
        "reading_version": p["reading_version"].astype(int).tolist(),
        "baseline_days": p["baseline_days"].astype(int).tolist(),
        "window_readings": p["window_readings"].astype(int).tolist(),
        "baseline_kwh": _kwh(p["baseline_mw"] * 500.0), "metered_kwh": _kwh(p["actual_mw"] * 500.0),
        "ordered_kwh": _kwh(p["ordered_mw"] * 500.0),
        "delivered_kwh": _kwh(p["delivered_mw"] * 500.0), "paid_kwh": _kwh(p["paid_mw"] * 500.0),
        "adjustment_kwh": _kwh(p["adjustment_kwh"]),
        "methodology_version": p["methodology_version"].astype(int).tolist()})
    i = res.instructions
    ordered, paid, ratio = instruction_volumes(i)
    instructions = _frame_rows({
        "instruction_id": [_enc("id", v) for v in i["instruction_id"]],
        "contract_id": i["contract_id"].astype(str).tolist(), "fsp": i["fsp"].tolist(),
        "mo": i["mo"].tolist(), "product": i["product"].tolist(),
        "mpan": i["mpan"].astype(str).tolist(), "measure": i["measure"].tolist(),
        "settlement_date": [pd.Timestamp(v).date().isoformat() for v in i["settlement_date"]],
        "periods": i["periods"].astype(int).tolist(),
        "ordered_mwh": [_dec_str(v, 6) for v in ordered],
        "paid_mwh": [_dec_str(v, 6) for v in paid], "ratio": [_dec_str(v, 6) for v in ratio],
        "status": i["status"].tolist(), "missing_periods": i["missing_periods"].astype(int).tolist(),
        "partial_window_periods": i["partial_window_periods"].astype(int).tolist(),
        "shared_periods": i["shared_periods"].astype(int).tolist(),
        "methodology_version": i["methodology_version"].astype(int).tolist(),
        "payment_version": i["payment_version"].astype(int).tolist()})
    m = res.meters
    meters = _frame_rows({"mpan": m["mpan"].astype(str).tolist(),
                          "readings": m["readings"].astype(int).tolist(),
                          "max_version": m["max_version"].astype(int).tolist(),
                          "versions_sha256": m["versions_sha256"].tolist()})
    ri = res.reading_issues
    issues = _frame_rows({"mpan": ri["mpan"].astype(str).tolist(),
                          "start": [None if pd.isna(v) else _ts(v) for v in ri["start"]],
                          "version": ri["version"].astype(int).tolist(),
                          "issue": ri["issue"].tolist(),
                          "import_kwh": [None if math.isnan(v) else repr(float(v))
                                         for v in ri["import_kwh"]],
                          "export_kwh": [None if math.isnan(v) else repr(float(v))
                                         for v in ri["export_kwh"]]})
    st = res.statements
    statements = []
    for row in st.totals.itertuples(index=False):
        lines = st.statement(row.fsp, row.mo, row.period)
        statements.append({
            "fsp": row.fsp, "mo": row.mo, "period": row.period,
            **{k: str(getattr(row, k)) for k in ("availability", "utilisation", "penalties",
                                                  "payment", "net")},
            "lines": [{"line_no": int(ln.line_no), "kind": ln.kind, "contract_id": str(ln.contract_id),
                       "reference": str(ln.reference), "quantity_mwh": str(ln.quantity_mwh),
                       "unit_price": str(ln.unit_price), "multiplier": str(ln.multiplier),
                       "amount": str(ln.amount)} for ln in lines.itertuples(index=False)]})
    label = res.period.label
    numbers = {(f, m, label): n for (f, m), n in invoicing.numbers.items()}
    invs = invoices_for(st, numbers, invoicing.issue_date, invoicing.vat, invoicing.vat_by_fsp)
    return {"verification": {"periods": periods, "instructions": instructions},
            "meters": meters, "reading_issues": issues, "statements": statements,
            "invoices": [inv.to_dict() for inv in invs]}


def build_document(inputs: SettlementInputs, invoicing: Invoicing) -> dict:
    """Settle ``inputs`` (one shard: the whole run) and return the run document."""
    ins = _inputs_json(inputs, invoicing)
    # Settle what the document holds, not the frames given, so a re-run reads the same.
    doc = {"format": FORMAT, "inputs": ins,
           "inputs_sha256": sha256_hex({k: v["sha256"] for k, v in ins.items()})}
    doc["outputs"] = settle_document(doc)
    return doc


def document_inputs(doc) -> tuple[SettlementInputs, Invoicing]:
    """Inputs of a document, after checking its format and every input hash."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise DocumentError(f"not a settlement run document (format must be {FORMAT!r})")
    ins = doc.get("inputs")
    need = {"run", "products", "invoicing", *TABLES}
    if not isinstance(ins, Mapping) or need - set(ins):
        raise DocumentError(f"inputs lack sections {sorted(need - set(ins or {}))}")
    bad = [k for k in sorted(need) if not isinstance(ins[k], Mapping)
           or ins[k].get("sha256") != sha256_hex(ins[k].get("data"))]
    if bad:
        raise DocumentError(f"input hash mismatch (edited or corrupted): {', '.join(bad)}")
    if doc.get("inputs_sha256") != sha256_hex({k: ins[k]["sha256"] for k in sorted(ins)}):
        raise DocumentError("inputs_sha256 does not match the input hashes")
    run = Fields(ins["run"]["data"], "inputs.run.data")
    per = Fields(run.value("period"), "inputs.run.data.period", run.errors)
    label, first, last = per.string("label"), per.day("first"), per.day("last")
    per.unknown()
    region = run.string("region", "england_wales")
    extra = tuple(date.fromisoformat(d) for d in run.value("extra_non_working", []))
    run.unknown()
    if run.errors:
        raise DocumentError(str(DataError(run.errors, "document")))
    products = {}
    for name, terms in ins["products"]["data"].items():
        try:
            products[name] = ProductTerms.from_dict(terms)
        except DataError as e:
            raise DocumentError(f"inputs.products.{name}: {e}") from None
    tables = {name: table_from_json(ins[name]["data"], name) for name in TABLES}
    for name in OPTIONAL:
        if tables[name].empty:
            tables[name] = None
    try:
        invoicing = Invoicing.from_dict(ins["invoicing"]["data"])
    except DataError as e:
        raise DocumentError(str(e)) from None
    inputs = SettlementInputs(period=StatementPeriod(label, first, last), products=products,
                              region=region, extra_non_working=extra, **tables)
    return inputs, invoicing


def settle_document(doc) -> dict:
    """Re-run a document's inputs: its ``outputs`` section ({"sha256", "data"})."""
    inputs, invoicing = document_inputs(doc)
    return _section(outputs_json(settle_shard(inputs), invoicing))


def check_document(doc, fresh: dict | None = None) -> list[str]:
    """What differs between the stored outputs and a re-run ([] when byte-identical).
    ``fresh``: the re-run's outputs if already computed (:func:`settle_document`)."""
    fresh = settle_document(doc) if fresh is None else fresh
    stored = doc.get("outputs")
    if not isinstance(stored, Mapping):
        return ["the document holds no outputs"]
    out = []
    if stored.get("sha256") != sha256_hex(stored.get("data")):
        out.append("outputs.sha256 does not match the stored outputs (edited?)")
    old, new = stored.get("data") or {}, fresh["data"]
    for k in sorted(set(old) | set(new)):
        if canonical_json(old.get(k)) != canonical_json(new.get(k)):
            out.append(f"outputs.{k} differs from a re-run")
    return out


def dumps(doc, pretty: bool = True) -> bytes:
    """The document as a file: indented with sorted keys (hashes are over the
    canonical form, so layout does not matter), or canonical."""
    if not pretty:
        return canonical_json(doc)
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()

