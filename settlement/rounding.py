"""Exact rounding: the one place money, volumes and ratios are rounded.

The rules (docs/settlement.md has worked examples):

1. Volumes are computed in float64 and rounded to the watt-hour (6 decimal places of
   MWh) before any money is computed.  The rounding is exact: a float's value is its
   shortest round-trip decimal (``repr``), rounded half away from zero in integer or
   ``Decimal`` arithmetic, so 33.5540045 MWh becomes 33.554005 at any magnitude (float
   noise near half a watt-hour never decides the direction).
2. A performance ratio is paid Wh / ordered Wh, rounded half up to 6 decimal places by
   integer division; a tier multiplier is computed exactly from that rounded ratio and
   rounded half up to 6 decimal places.  Availability factors are rounded to 6 places.
3. Each line's amount = quantity x price x multiplier, exact, rounded once to the penny
   with ``ROUND_HALF_UP`` (half away from zero).
4. Totals are sums of rounded lines, never rounded again, so every statement and
   invoice adds up exactly to its total.  (VAT: per line, see :mod:`settlement.invoices`.)
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

__all__ = ["MICRO", "ONE", "PENNY", "SCALE", "as_decimal", "decimals", "money", "pence",
           "ratio_micro", "round6", "round_half_away", "to_decimal_6", "to_micro"]

PENNY = Decimal("0.01")
MICRO = Decimal("0.000001")
ONE = Decimal("1.000000")
SCALE = 10**6  # 1 Wh in MWh, and ratio / multiplier precision


def money(x: Decimal) -> Decimal:
    """Round to the penny, half up (rule 3)."""
    return Decimal(x).quantize(PENNY, rounding=ROUND_HALF_UP)


def round_half_away(a, places: int = 6) -> np.ndarray:
    """Floats -> integers of 10**-places, half away from zero, exactly (rule 1).

    Far from a tie, float arithmetic decides correctly and fast; values within float
    error of a tie are re-rounded from their shortest decimal in ``Decimal``.
    """
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("cannot round NaN or infinite volumes")
    x = a * float(10**places)
    if (np.abs(x) >= 2.0**53).any():
        raise ValueError("volume too large to round exactly")
    out = np.trunc(x + np.copysign(0.5, x))
    frac = np.abs(x - np.trunc(x))
    near = np.abs(frac - 0.5) <= 1e-6 + np.abs(x) * 2.0**-46
    if near.any():
        q = Decimal(1)
        out[near] = [float(int(Decimal(repr(float(v))).scaleb(places).quantize(q, ROUND_HALF_UP)))
                     for v in a[near]]
    return out.astype(np.int64)


def round6(a) -> np.ndarray:
    return round_half_away(a, 6)


def to_decimal_6(i: int) -> Decimal:
    return Decimal(int(i)).scaleb(-6)


def to_micro(v) -> int:
    """A Decimal-like value with at most 6 decimal places as integer millionths."""
    d = Decimal(str(v)) if not isinstance(v, Decimal) else v
    q = d.scaleb(6)
    if q != q.to_integral_value():
        raise ValueError(f"{d} has more than 6 decimal places")
    return int(q)


def ratio_micro(paid_wh: np.ndarray, ordered_wh: np.ndarray) -> np.ndarray:
    """paid / ordered in millionths, half up, exactly (rule 2); 0 where nothing ordered."""
    paid = np.asarray(paid_wh, dtype=np.int64)
    ordered = np.asarray(ordered_wh, dtype=np.int64)
    if (paid < 0).any() or (np.maximum(paid, ordered) >= 2**62 // (2 * SCALE)).any():
        raise ValueError("volumes out of range for exact ratios")
    den = np.maximum(ordered, 1)
    return np.where(ordered > 0, (2 * paid * SCALE + den) // (2 * den), 0)


def as_decimal(v) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))


def decimals(units, places: int) -> np.ndarray:
    """Integers of 10**-places as Decimals with that many places, column-wise: one
    Decimal per distinct value, shared by the rows that hold it."""
    u = np.asarray(units)
    if not len(u):
        return np.empty(0, dtype=object)
    if u.dtype == object:  # Python integers past int64 (see _pence)
        out = np.empty(len(u), dtype=object)
        out[:] = [Decimal(int(x)).scaleb(-places) for x in u]
        return out
    uniq, inv = np.unique(u, return_inverse=True)
    objs = np.empty(len(uniq), dtype=object)
    objs[:] = [Decimal(x).scaleb(-places) for x in uniq.tolist()]
    return objs[inv]


def _price_units(prices) -> tuple[list[int], int]:
    """Exact integer prices in units of 10**-k, k the most decimal places among them
    (prices repeat per contract: each distinct one is converted once)."""
    uniq = {x: as_decimal(x) for x in set(prices)}
    k = max([0] + [-d.as_tuple().exponent for d in uniq.values() if d.as_tuple().exponent < 0])
    units = {x: int(d.scaleb(k)) for x, d in uniq.items()}
    return [units[x] for x in prices], k


def pence(q_u, m_u, prices) -> np.ndarray:
    """round_half_up(q x m x price) in pence, q and m in millionths: the exact integer
    form of ``money(q * price * m)`` (rule 3), whole columns at once.  In int64 when
    the largest product fits, else in Python integers (no limit)."""
    pu, k = _price_units(prices)
    den = 10 ** (12 + k - 2)
    q = np.asarray(q_u, dtype=np.int64)
    m = np.asarray(m_u, dtype=np.int64)
    p = np.asarray(pu, dtype=object)
    if not len(q):
        return np.zeros(0, dtype=np.int64)
    bound = int(np.abs(q).max()) * int(np.abs(m).max()) * max(abs(x) for x in pu)
    if 2 * bound + den < 2**62:
        n = q * m * p.astype(np.int64)
        half = (2 * np.abs(n) + den) // (2 * den)
        return np.where(n >= 0, half, -half)
    out = []
    for a, b, c in zip(q.tolist(), m.tolist(), pu, strict=True):
        n = a * b * c
        out.append((2 * n + den) // (2 * den) if n >= 0 else -((-2 * n + den) // (2 * den)))
    return np.array(out, dtype=object)


