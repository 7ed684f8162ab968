"""Monthly statements and invoice lines per FSP per MO.

A statement is the set of lines one MO owes one FSP for one month (availability,
utilisation, penalties as negative lines).  Its totals are plain ``Decimal`` sums of the
already-rounded lines (see :mod:`settlement.payments`), so statement == sum of invoice
lines holds exactly by construction, and :meth:`Statements.check` proves it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from .payments import LINE_COLUMNS

__all__ = ["Statements", "build_statements"]

KIND_TOTALS = {"availability": "availability", "utilisation": "utilisation",
               "penalty_shortfall": "penalties", "penalty_failed": "penalties"}


@dataclass
class Statements:
    """``lines``: every invoice line with its statement key and line number;
    ``totals``: one row per (fsp, mo, month) with availability, utilisation,
    penalties (<= 0), payment = availability + utilisation and net = payment + penalties."""

    lines: pd.DataFrame
    totals: pd.DataFrame

    def statement(self, fsp: str, mo: str, month: str) -> pd.DataFrame:
        sel = (self.lines["fsp"] == fsp) & (self.lines["mo"] == mo) & (self.lines["month"] == month)
        return self.lines[sel]

    def check(self) -> None:
        """Raise AssertionError unless every total is exactly the sum of its lines."""
        for row in self.totals.itertuples(index=False):
            lines = self.statement(row.fsp, row.mo, row.month)
            s = sum(lines["amount"], Decimal("0"))
            assert s == row.net, (row.fsp, row.mo, row.month, s, row.net)
            assert row.payment + row.penalties == row.net
            assert row.availability + row.utilisation == row.payment


def build_statements(*line_frames: pd.DataFrame) -> Statements:
    frames = [f for f in line_frames if f is not None and len(f)]
    lines = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LINE_COLUMNS)
    kind_order = {"availability": 0, "utilisation": 1, "penalty_shortfall": 2, "penalty_failed": 3}
    lines = lines.assign(_k=lines["kind"].map(kind_order)).sort_values(
        ["fsp", "mo", "month", "_k", "contract_id", "reference"], kind="stable").drop(columns="_k")
    lines = lines.reset_index(drop=True)
    lines["line_no"] = lines.groupby(["fsp", "mo", "month"], sort=False).cumcount() + 1
    rows = []
    for (fsp, mo, month), g in lines.groupby(["fsp", "mo", "month"], sort=True):
        t = {"availability": Decimal("0.00"), "utilisation": Decimal("0.00"),
             "penalties": Decimal("0.00")}
        for kind, amount in zip(g["kind"], g["amount"], strict=False):
            t[KIND_TOTALS[kind]] += amount
        payment = t["availability"] + t["utilisation"]
        rows.append({"fsp": fsp, "mo": mo, "month": month, "lines": len(g), **t,
                     "payment": payment, "net": payment + t["penalties"]})
    totals = pd.DataFrame(rows, columns=["fsp", "mo", "month", "lines", "availability",
                                         "utilisation", "penalties", "payment", "net"])
    return Statements(lines=lines, totals=totals)
