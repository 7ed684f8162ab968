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

import numpy as np
import pandas as pd

from .payments import LINE_COLUMNS

__all__ = ["KIND_ORDER", "LINE_KEY", "Statements", "build_statements", "canonical_order",
           "repeated", "sort_codes"]



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


KIND_ORDER = ("availability", "utilisation", "penalty_shortfall", "penalty_failed")
LINE_KEY = ["fsp", "mo", "period", "kind", "contract_id", "reference"]


def sort_codes(col: pd.Series) -> np.ndarray:
    """Integers ordering a column's values: numbers and instants as they are, strings
    (or a mix of types, compared as strings) lexicographically."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.array.asi8
    values = col.to_numpy()
    if values.dtype.kind in "iufMmb":
        return values
    try:
        return pd.factorize(values, sort=True)[0]
    except TypeError:  # mixed types: order by their text
        return pd.factorize(col.astype(str).to_numpy(), sort=True)[0]


def canonical_order(codes: list[np.ndarray]) -> np.ndarray:
    """Row order sorting by the first code array, then the next, ..."""
    return np.lexsort(list(reversed(codes)))


def repeated(codes: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """Mask (in ``order``) of rows equal on every code to the row before them."""
    same = np.ones(max(len(order) - 1, 0), dtype=bool)
    for c in codes:
        cs = c[order]
        same &= cs[1:] == cs[:-1]
    return same


def _pennies(amounts: pd.Series) -> np.ndarray:
    """Line amounts (Decimal, whole pennies) as integer pence, one conversion per
    distinct amount."""
    codes, uniq = pd.factorize(amounts.to_numpy(dtype=object))
    vals = []
    for a in uniq:
        q = Decimal(a).scaleb(2)
        if q != q.to_integral_value():
            raise ValueError(f"line amount {a} is not a whole number of pence")
        vals.append(int(q))
    return np.asarray(vals, dtype=np.int64)[codes] if len(codes) else np.zeros(0, np.int64)


def build_statements(*line_frames: pd.DataFrame) -> Statements:
    """Statements from line frames (:data:`settlement.payments.LINE_COLUMNS`).

    Raises ``ValueError`` for an unknown line kind, an amount that is not whole pence, or
    two lines with one key (the same instruction or contract-period settled twice)."""
    frames = [f for f in line_frames if f is not None and len(f)]
    lines = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LINE_COLUMNS)
    kind = pd.Categorical(lines["kind"].to_numpy(dtype=object), categories=KIND_ORDER)
    if (kind.codes < 0).any():
        raise ValueError(f"unknown line kinds {sorted(set(lines['kind'][kind.codes < 0]))}")
    codes = [kind.codes if k == "kind" else sort_codes(lines[k]) for k in LINE_KEY]
    order = canonical_order(codes)
    dup = repeated(codes, order)
    if dup.any():
        first = lines.iloc[order[1:][dup][0]][LINE_KEY].tolist()
        raise ValueError(f"{int(dup.sum())} lines repeat a key (fsp, mo, period, kind, "
                         f"contract, reference), e.g. {first}: was something settled twice?")
    lines = lines.take(order).reset_index(drop=True)
    stmt = np.zeros(len(lines), dtype=np.int64)  # statement number of each line
    if len(lines):
        new = ~repeated(codes[:3], order)
        stmt[1:] = np.cumsum(new)
    starts = np.concatenate([[0], np.nonzero(np.diff(stmt))[0] + 1]) if len(lines) else []
    lines["line_no"] = np.arange(len(lines)) - np.asarray(starts, dtype=np.int64)[stmt] + 1
    # totals in integer pence: exact, and one pass over the lines
    pence = _pennies(lines["amount"])
    bucket = kind.codes[order].astype(np.int64).clip(max=2)  # availability, utilisation, penalties
    n_st = int(stmt[-1]) + 1 if len(lines) else 0
    sums = np.zeros((n_st, 3), dtype=np.int64)
    np.add.at(sums, (stmt, bucket), pence)
    count = np.bincount(stmt, minlength=n_st)
    head = lines.iloc[np.asarray(starts, dtype=np.int64)][["fsp", "mo", "period"]] if n_st else \
        pd.DataFrame(columns=["fsp", "mo", "period"])

    def money_col(units):
        return [Decimal(int(u)).scaleb(-2) for u in units]

    totals = pd.DataFrame({
        "fsp": head["fsp"].to_numpy(dtype=object), "mo": head["mo"].to_numpy(dtype=object),
        "period": head["period"].to_numpy(dtype=object), "lines": count,
        "availability": money_col(sums[:, 0]), "utilisation": money_col(sums[:, 1]),
        "penalties": money_col(sums[:, 2]), "payment": money_col(sums[:, 0] + sums[:, 1]),
        "net": money_col(sums.sum(axis=1))},
        columns=["fsp", "mo", "period", "lines", "availability", "utilisation", "penalties",
                 "payment", "net"])
    return Statements(lines=lines, totals=totals)
