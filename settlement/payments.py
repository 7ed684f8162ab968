"""Payments: availability, utilisation with performance tiers, penalties, net.

Rounding rule (stated once, applied everywhere):

1. Volumes are computed in float64 and rounded to the watt-hour (6 decimal places of
   MWh, half away from zero) before any money is computed; performance ratios are
   computed from those rounded volumes and multipliers are rounded to 6 decimal places.
2. Each line's amount = quantity x price x multiplier in exact ``Decimal`` arithmetic,
   rounded once to the penny with ``ROUND_HALF_UP``.
3. Totals are sums of rounded lines, never rounded again, so every statement adds up
   exactly to its total.

Heavy maths stays in arrays; ``Decimal`` appears only once per line (per contract and
month for availability, per instruction for utilisation and penalties).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .periods import HALF_HOUR_NS, LONDON

__all__ = [
    "FLAT",
    "LINE_COLUMNS",
    "SSEN_TIERS",
    "PaymentRules",
    "PenaltyTerms",
    "PerformanceTiers",
    "Tier",
    "availability_lines",
    "money",
    "penalty_lines",
    "to_decimal_6",
    "utilisation_lines",
]

PENNY = Decimal("0.01")
SCALE = 10**6  # 1 Wh in MWh, and multiplier precision
LINE_COLUMNS = ["fsp", "mo", "contract_id", "month", "kind", "reference", "quantity_mwh",
                "unit_price", "multiplier", "amount"]


def money(x: Decimal) -> Decimal:
    """Round to the penny, half up (rule 2)."""
    return Decimal(x).quantize(PENNY, rounding=ROUND_HALF_UP)


def _round6(a) -> np.ndarray:
    """Float array -> integer millionths, half away from zero (rule 1)."""
    a = np.asarray(a, dtype=np.float64)
    # +/- 0.5 then truncate = half away from zero; the 1e-9 absorbs float noise such as
    # 0.0016 * 1e6 = 1599.9999999999998.
    return np.trunc(a * SCALE + np.copysign(0.5 + 1e-9, a)).astype(np.int64)


def to_decimal_6(i: int) -> Decimal:
    return Decimal(int(i)).scaleb(-6)


@dataclass(frozen=True)
class Tier:
    """On ratio in [lower, upper) the multiplier runs linearly from m_lower to m_upper."""

    lower: float
    upper: float
    m_lower: float
    m_upper: float


@dataclass(frozen=True)
class PerformanceTiers:
    """Piecewise-linear multiplier of the delivery ratio.

    Tiers must tile [0, last upper) and never decrease, so paying for less delivery can
    never pay more.  At or above the last upper bound the last m_upper applies.
    """

    tiers: Sequence[Tier]

    def __post_init__(self):
        ts = list(self.tiers)
        if not ts or ts[0].lower != 0.0:
            raise ValueError("tiers must start at ratio 0")
        prev = None
        for tr in ts:
            if tr.upper <= tr.lower or tr.m_upper < tr.m_lower or tr.m_lower < 0:
                raise ValueError(f"tier {tr} is not increasing")
            if prev is not None and (tr.lower != prev.upper or tr.m_lower < prev.m_upper):
                raise ValueError("tiers must be contiguous and never decrease")
            prev = tr
        object.__setattr__(self, "tiers", tuple(ts))

    def __call__(self, ratio) -> np.ndarray:
        r = np.asarray(ratio, dtype=np.float64)
        out = np.full(r.shape, self.tiers[-1].m_upper)
        for tr in reversed(self.tiers):  # a handful of tiers, each vectorised
            inside = (r >= tr.lower) & (r < tr.upper)
            frac = (r - tr.lower) / (tr.upper - tr.lower)
            out = np.where(inside, tr.m_lower + frac * (tr.m_upper - tr.m_lower), out)
        return out


# SSEN TRANSITION trials: nothing under 50 % delivery, then a sliding scale to 100 %.
SSEN_TIERS = PerformanceTiers([Tier(0.0, 0.5, 0.0, 0.0), Tier(0.5, 1.0, 0.5, 1.0)])
FLAT = PerformanceTiers([Tier(0.0, 1.0, 1.0, 1.0)])


@dataclass(frozen=True)
class PenaltyTerms:
    """Non-delivery charges.

    ``shortfall_price`` GBP per MWh of deficiency, charged on an instruction whose ratio
    is below ``apply_below_ratio``; plus ``failed_fee`` GBP per instruction whose ratio
    is below ``failed_below_ratio``.  Zero by default (no penalties).
    """

    shortfall_price: Decimal = Decimal("0")
    apply_below_ratio: float = 1.0
    failed_fee: Decimal = Decimal("0")
    failed_below_ratio: float = 0.5


@dataclass(frozen=True)
class PaymentRules:
    """Per-product rules; prices come per contract."""

    utilisation_tiers: PerformanceTiers = SSEN_TIERS
    penalty: PenaltyTerms = field(default_factory=PenaltyTerms)
    # Optional: scale availability by the contract's previous-month ratio through
    # these tiers (SSEN pays availability on the previous month's average delivery).
    availability_scaling: PerformanceTiers | None = None


def _rules_for(rules, products) -> list[PaymentRules]:
    if isinstance(rules, PaymentRules):
        return [rules] * len(products)
    return [rules[p] for p in products]


def _month(dates) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[D]")).strftime("%Y-%m"),
                      dtype=object)


def _dec(v) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))


def availability_lines(contracts: pd.DataFrame, windows: pd.DataFrame,
                       declarations: pd.DataFrame, rules: PaymentRules | Mapping[str, PaymentRules],
                       last_month_ratio: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One availability line per contract and month.

    ``contracts``: contract_id, fsp, mo, product, contracted_mw, availability_price
    (GBP/MW/h).  ``windows``: contract_id, start, end (UTC; service windows).
    ``declarations``: contract_id, start (UTC period), available_mw.
    Per window: share = mean over its periods of min(declared, contracted)/contracted,
    an undeclared period counting as unavailable; MWh-available = contracted MW x hours
    x share (0 for a wholly unavailable window).  Amount = sum over the month's windows
    x price x (scaling of last month's ratio, if configured; 1 with no history).
    """
    c = contracts.set_index("contract_id")
    w = windows.reset_index(drop=True)
    s = pd.DatetimeIndex(w["start"]).tz_convert("UTC").as_unit("ns").asi8
    e = pd.DatetimeIndex(w["end"]).tz_convert("UTC").as_unit("ns").asi8
    n = (e - s) // HALF_HOUR_NS
    if (n <= 0).any() or ((e - s) % HALF_HOUR_NS).any():
        raise ValueError("availability windows must be whole periods")
    row_w = np.repeat(np.arange(len(w)), n)
    within = np.arange(len(row_w)) - np.repeat(np.cumsum(n) - n, n)
    per_ns = s[row_w] + within * HALF_HOUR_NS
    cid = w["contract_id"].to_numpy(dtype=object)
    cmw = c.loc[cid, "contracted_mw"].to_numpy(np.float64)
    dec = declarations.copy()
    dec["_ns"] = pd.DatetimeIndex(dec["start"]).tz_convert("UTC").as_unit("ns").asi8
    dec = dec.groupby(["contract_id", "_ns"], sort=False)["available_mw"].last()
    key = pd.MultiIndex.from_arrays([cid[row_w], per_ns])
    declared = dec.reindex(key).to_numpy(np.float64)
    share_p = np.clip(np.nan_to_num(declared, nan=0.0) / cmw[row_w], 0.0, 1.0)
    share = np.bincount(row_w, share_p, minlength=len(w)) / n
    mwh = cmw * n * 0.5 * share  # MW x hours x share
    month = _month(pd.DatetimeIndex(s, tz="UTC").tz_convert(LONDON).tz_localize(None).normalize())
    agg = pd.DataFrame({"contract_id": cid, "month": month, "mwh_wh": _round6(mwh)}).groupby(
        ["contract_id", "month"], sort=True)["mwh_wh"].sum()
    out = []
    for (contract, mon), q in agg.items():
        row = c.loc[contract]
        rl = _rules_for(rules, [row["product"]])[0]
        mult = 1.0
        if rl.availability_scaling is not None and last_month_ratio is not None \
                and contract in last_month_ratio:
            mult = float(rl.availability_scaling(last_month_ratio[contract]))
        m = to_decimal_6(_round6(mult))
        price = _dec(row["availability_price"])
        qd = to_decimal_6(q)
        out.append((row["fsp"], row["mo"], contract, mon, "availability", f"{contract}/{mon}",
                    qd, price, m, money(qd * price * m)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)


def _instruction_arrays(instructions: pd.DataFrame):
    ordered = _round6(instructions["ordered_mwh"].to_numpy())
    paid = np.minimum(_round6(instructions["paid_mwh"].to_numpy()), ordered)
    ratio = np.where(ordered > 0, paid / np.maximum(ordered, 1), 0.0)
    return ordered, paid, ratio


def utilisation_lines(instructions: pd.DataFrame, contracts: pd.DataFrame,
                      rules: PaymentRules | Mapping[str, PaymentRules]) -> pd.DataFrame:
    """One line per instruction: min(delivered, instructed) MWh x utilisation price x
    tier multiplier of the instruction's delivery ratio.

    ``instructions`` is :attr:`Verification.instructions`; ``contracts`` gives
    utilisation_price (GBP/MWh) per contract_id.
    """
    c = contracts.set_index("contract_id")
    _ordered, paid, ratio = _instruction_arrays(instructions)
    products = instructions["product"].to_numpy(dtype=object)
    mult = np.zeros(len(instructions))
    for prod in pd.unique(products):
        sel = products == prod
        mult[sel] = _rules_for(rules, [prod])[0].utilisation_tiers(ratio[sel])
    mult_i = _round6(mult)
    price = c.loc[instructions["contract_id"], "utilisation_price"].to_numpy(dtype=object)
    month = _month(instructions["settlement_date"])
    cols = [instructions[k].to_numpy(dtype=object) for k in ("fsp", "mo", "contract_id", "instruction_id")]
    out = []
    for i in range(len(instructions)):
        q = to_decimal_6(paid[i])
        p = _dec(price[i])
        m = to_decimal_6(mult_i[i])
        out.append((cols[0][i], cols[1][i], cols[2][i], month[i], "utilisation", str(cols[3][i]),
                    q, p, m, money(q * p * m)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)


def penalty_lines(instructions: pd.DataFrame,
                  rules: PaymentRules | Mapping[str, PaymentRules]) -> pd.DataFrame:
    """Non-delivery charges per instruction, as negative amounts; no line when zero."""
    ordered, paid, ratio = _instruction_arrays(instructions)
    products = instructions["product"].to_numpy(dtype=object)
    month = _month(instructions["settlement_date"])
    cols = [instructions[k].to_numpy(dtype=object) for k in ("fsp", "mo", "contract_id", "instruction_id")]
    out = []
    rl_cache = {}
    for i in range(len(instructions)):
        rl = rl_cache.get(products[i]) or rl_cache.setdefault(products[i], _rules_for(rules, [products[i]])[0])
        pen = rl.penalty
        if ratio[i] < pen.apply_below_ratio and pen.shortfall_price:
            q = to_decimal_6(ordered[i] - paid[i])
            if q:
                out.append((cols[0][i], cols[1][i], cols[2][i], month[i], "penalty_shortfall",
                            str(cols[3][i]), q, pen.shortfall_price, Decimal(1),
                            -money(q * pen.shortfall_price)))
        if ratio[i] < pen.failed_below_ratio and pen.failed_fee:
            out.append((cols[0][i], cols[1][i], cols[2][i], month[i], "penalty_failed",
                        str(cols[3][i]), Decimal(1), pen.failed_fee, Decimal(1),
                        -money(pen.failed_fee)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)
