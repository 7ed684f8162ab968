"""Self-billed invoices: one per statement, issued by the MO on the FSP's behalf.

The MO (the customer) writes the invoice for the FSP (the supplier) from the statement
it computed, so both read the same lines.  The number and the issue date come from the
caller (the platform owns numbering); the VAT rate is data (:class:`VatTerms`), one rate
per invoice with optional rates per line kind (e.g. a penalty treated as outside the
scope of VAT), and 0 for a supplier that is not VAT registered.

VAT is computed PER LINE: vat = net x rate, rounded to the penny half up (half away from
zero, so a negative line has the mirror VAT of a positive one).  Invoice totals are sums
of the lines, never recomputed from the totals, so every column adds up to the penny and
the invoice's net equals its statement's net exactly.  (Per-invoice VAT can differ from
the sum of line VAT by a few pence; per line keeps every line self-contained for
disputes, which are raised on a line.)
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd

from .payments import money
from .schema import DataError, Fields, canonical_json
from .statements import Statements

__all__ = ["CSV_COLUMNS", "SELF_BILLING_NOTICE", "Invoice", "InvoiceLine", "VatTerms",
           "invoice_to_csv", "invoice_to_json", "invoices_for", "make_invoice"]

SELF_BILLING_NOTICE = ("Self-billed invoice issued by the customer on the supplier's behalf. "
                       "The VAT shown is the supplier's output tax due to HMRC.")
UNITS = {"availability": "MW x h", "utilisation": "MWh", "penalty_shortfall": "MWh",
         "penalty_failed": "fee"}
DESCRIPTIONS = {"availability": "Availability, contract {contract} ({period})",
                "utilisation": "Utilisation, instruction {reference}",
                "penalty_shortfall": "Shortfall charge, instruction {reference}",
                "penalty_failed": "Failed-delivery fee, instruction {reference}"}


@dataclass(frozen=True)
class VatTerms:
    """VAT as data: ``rate`` (e.g. 0.20) for every line, unless ``by_kind`` names a
    line kind's own rate."""

    rate: Decimal
    by_kind: Mapping[str, Decimal] = field(default_factory=dict)

    def rate_for(self, kind: str) -> Decimal:
        return self.by_kind.get(kind, self.rate)

    def to_dict(self) -> dict:
        return {"rate": str(self.rate), "by_kind": {k: str(v) for k, v in sorted(self.by_kind.items())}}

    @classmethod
    def from_dict(cls, data, path: str = "", errors: list | None = None) -> VatTerms | None:
        own = errors is None
        f = Fields(data, path, [] if own else errors)
        rate = f.decimal("rate", lo=0, hi=1, places=4)
        kinds = Fields(f.value("by_kind", {}), f.path("by_kind"), f.errors)
        by_kind = {}
        for k in list(kinds.data):
            if k not in UNITS:
                kinds.error(k, f"is not a line kind ({', '.join(UNITS)})")
                continue
            by_kind[k] = kinds.decimal(k, lo=0, hi=1, places=4)
        f.unknown()
        if own and f.errors:
            raise DataError(f.errors, "VAT terms")
        if rate is None or None in by_kind.values():
            return None
        return cls(rate, by_kind)


@dataclass(frozen=True)
class InvoiceLine:
    line_no: int
    kind: str
    description: str
    contract_id: str
    reference: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    multiplier: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class Invoice:
    """``net``, ``vat`` and ``gross`` are the sums of the lines' columns."""

    number: str
    issue_date: date
    supplier: str  # the FSP
    customer: str  # the MO, who issues it (self-billing)
    period: str
    lines: tuple[InvoiceLine, ...]
    net: Decimal
    vat: Decimal
    gross: Decimal
    currency: str = "GBP"
    notice: str = SELF_BILLING_NOTICE

    def to_dict(self) -> dict:
        """JSON-ready (decimals and dates as strings)."""
        return {"number": self.number, "issue_date": self.issue_date.isoformat(),
                "supplier": self.supplier, "customer": self.customer, "period": self.period,
                "currency": self.currency, "self_billed": True, "notice": self.notice,
                "lines": [{k: (str(v) if isinstance(v, Decimal) else v)
                           for k, v in line.__dict__.items()} for line in self.lines],
                "totals": {"net": str(self.net), "vat": str(self.vat), "gross": str(self.gross)}}


def make_invoice(lines: pd.DataFrame, *, number: str, issue_date: date,
                 vat: VatTerms) -> Invoice:
    """The invoice of ONE statement's lines (``Statements.statement(...)``)."""
    if not isinstance(number, str) or not number:
        raise ValueError("an invoice needs a number (given by the caller)")
    keys = lines[["fsp", "mo", "period"]].drop_duplicates()
    if len(keys) != 1:
        raise ValueError(f"one invoice is one statement; these lines span {len(keys)}")
    fsp, mo, period = keys.iloc[0].tolist()
    out = []
    for row in lines.sort_values("line_no", kind="stable").itertuples(index=False):
        rate = vat.rate_for(row.kind)
        v = money(row.amount * rate)
        out.append(InvoiceLine(
            line_no=int(row.line_no), kind=row.kind,
            description=DESCRIPTIONS[row.kind].format(contract=row.contract_id, period=period,
                                                      reference=row.reference),
            contract_id=str(row.contract_id), reference=str(row.reference),
            quantity=row.quantity_mwh, unit=UNITS[row.kind], unit_price=row.unit_price,
            multiplier=row.multiplier, net=row.amount, vat_rate=rate, vat=v, gross=row.amount + v))
    zero = Decimal("0.00")
    net = sum((x.net for x in out), zero)
    tax = sum((x.vat for x in out), zero)
    return Invoice(number=number, issue_date=issue_date, supplier=fsp, customer=mo,
                   period=period, lines=tuple(out), net=net, vat=tax,
                   gross=sum((x.gross for x in out), zero))


def invoices_for(statements: Statements, numbers: Mapping[tuple[str, str, str], str],
                 issue_date: date, vat: VatTerms,
                 vat_by_fsp: Mapping[str, VatTerms] | None = None) -> list[Invoice]:
    """One invoice per statement.  ``numbers[(fsp, mo, period)]`` is each invoice's
    number; a statement without one raises ``ValueError`` listing every such statement
    (an invoice is never issued unnumbered).  ``vat_by_fsp`` overrides the VAT terms of
    some suppliers (e.g. not VAT registered: rate 0)."""
    keys = [tuple(k) for k in statements.totals[["fsp", "mo", "period"]].itertuples(index=False)]
    missing = [k for k in keys if k not in numbers]
    if missing:
        raise ValueError(f"no invoice number for statements {missing[:10]}")
    used = [numbers[k] for k in keys]
    if len(set(used)) != len(used):
        raise ValueError("two statements were given the same invoice number")
    vat_by_fsp = vat_by_fsp or {}
    return [make_invoice(statements.statement(*k), number=numbers[k], issue_date=issue_date,
                         vat=vat_by_fsp.get(k[0], vat)) for k in keys]


CSV_COLUMNS = ["invoice_number", "issue_date", "supplier", "customer", "period", "currency",
               "line_no", "kind", "description", "contract_id", "reference", "quantity", "unit",
               "unit_price", "multiplier", "net", "vat_rate", "vat", "gross"]


def invoice_to_csv(inv: Invoice) -> str:
    """One row per line (the invoice header repeated); the totals are the column sums.
    Decimals are written exactly as held; rows end with ``\\n``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    head = [inv.number, inv.issue_date.isoformat(), inv.supplier, inv.customer, inv.period,
            inv.currency]
    for ln in inv.lines:
        w.writerow([*head, ln.line_no, ln.kind, ln.description, ln.contract_id, ln.reference,
                    ln.quantity, ln.unit, ln.unit_price, ln.multiplier, ln.net, ln.vat_rate,
                    ln.vat, ln.gross])
    return buf.getvalue()


def invoice_to_json(inv: Invoice, *, indent: int | None = None) -> str:
    """The invoice as JSON: canonical (sorted keys, no whitespace) unless ``indent``."""
    if indent is None:
        return canonical_json(inv.to_dict()).decode("utf-8")
    return json.dumps(inv.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)
