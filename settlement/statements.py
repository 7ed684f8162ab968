"""Statements per (FSP, MO, period): the lines one MO owes one FSP.

A statement is the set of lines one MO owes one FSP for one statement period (a month
by default; a settlement run names its own period): availability, utilisation,
penalties as negative lines.  Lines are in one canonical order (FSP, MO, period, kind,
contract, reference) whatever order they came in, so the same lines always give
byte-identical statements.  Its totals are plain ``Decimal`` sums of the
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
    ``totals``: one row per (fsp, mo, period) with availability, utilisation,
    penalties (<= 0), payment = availability + utilisation and net = payment + penalties."""

    lines: pd.DataFrame
    totals: pd.DataFrame

    def statement(self, fsp: str, mo: str, period: str) -> pd.DataFrame:
        sel = (self.lines["fsp"] == fsp) & (self.lines["mo"] == mo) & (self.lines["period"] == period)
        return self.lines[sel]

    def check(self) -> None:
        """Raise AssertionError unless every total is exactly the sum of its lines."""
        for row in self.totals.itertuples(index=False):
            lines = self.statement(row.fsp, row.mo, row.period)
            s = sum(lines["amount"], Decimal("0"))
            assert s == row.net, (row.fsp, row.mo, row.period, s, row.net)
            assert row.payment + row.penalties == row.net
            assert row.availability + row.utilisation == row.payment


def build_statements(*line_frames: pd.DataFrame) -> Statements:
    """Statements from line frames (:data:`settlement.payments.LINE_COLUMNS`).

    Raises ``ValueError`` for an unknown line kind or two lines with one key (the
    same instruction or contract-period settled twice)."""
    frames = [f for f in line_frames if f is not None and len(f)]
    lines = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LINE_COLUMNS)
    kind_order = {"availability": 0, "utilisation": 1, "penalty_shortfall": 2, "penalty_failed": 3}
    unknown = set(lines["kind"]) - set(kind_order)
    if unknown:
        raise ValueError(f"unknown line kinds {sorted(unknown)}")
    keys = ["fsp", "mo", "period", "kind", "contract_id", "reference"]
    dup = lines.duplicated(keys, keep=False)
    if dup.any():
        raise ValueError(f"{int(dup.sum())} lines share a key (fsp, mo, period, kind, contract, "
                         f"reference), e.g. {lines.loc[dup, keys].iloc[0].tolist()}: "
                         "was something settled twice?")
    lines = lines.assign(_k=lines["kind"].map(kind_order)).sort_values(
        ["fsp", "mo", "period", "_k", "contract_id", "reference"], kind="stable").drop(columns="_k")
    lines = lines.reset_index(drop=True)
    lines["line_no"] = lines.groupby(["fsp", "mo", "period"], sort=False).cumcount() + 1
    rows = []
    for (fsp, mo, period), g in lines.groupby(["fsp", "mo", "period"], sort=True):
        t = {"availability": Decimal("0.00"), "utilisation": Decimal("0.00"),
             "penalties": Decimal("0.00")}
        for kind, amount in zip(g["kind"], g["amount"], strict=False):
            t[KIND_TOTALS[kind]] += amount
        payment = t["availability"] + t["utilisation"]
        rows.append({"fsp": fsp, "mo": mo, "period": period, "lines": len(g), **t,
                     "payment": payment, "net": payment + t["penalties"]})
    totals = pd.DataFrame(rows, columns=["fsp", "mo", "period", "lines", "availability",
                                         "utilisation", "penalties", "payment", "net"])
    return Statements(lines=lines, totals=totals)
