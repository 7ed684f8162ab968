"""Payments: availability, utilisation with performance tiers, penalties, net.

Rounding rule (stated once, applied everywhere; docs/settlement.md has examples):

1. Volumes are computed in float64 and rounded to the watt-hour (6 decimal places of
   MWh) before any money is computed.  The rounding is exact: a float's value is its
   shortest round-trip decimal (``repr``), rounded half away from zero in integer or
   ``Decimal`` arithmetic, so 16.0000005 MWh becomes 16.000001 at any magnitude (float
   noise near half a watt-hour never decides the direction).
2. A performance ratio is paid Wh / ordered Wh, rounded half up to 6 decimal places by
   integer division; a tier multiplier is computed exactly from that rounded ratio and
   rounded half up to 6 decimal places.  Availability factors are rounded to 6 places.
3. Each line's amount = quantity x price x multiplier in exact ``Decimal`` arithmetic,
   rounded once to the penny with ``ROUND_HALF_UP`` (half away from zero).
4. Totals are sums of rounded lines, never rounded again, so every statement and
   invoice adds up exactly to its total.

Heavy maths stays in arrays; ``Decimal`` appears only once per line (per contract and
period for availability, per instruction for utilisation and penalties).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .periods import HALF_HOUR_NS, LONDON, utc_ns
from .schema import DataError, Fields

__all__ = [
    "FLAT",
    "LINE_COLUMNS",
    "SSEN_TIERS",
    "PaymentRules",
    "PenaltyTerms",
    "PerformanceTiers",
    "Tier",
    "availability_factors",
    "availability_lines",
    "money",
    "penalty_lines",
    "ratio_micro",
    "round_half_away",
    "to_decimal_6",
    "utilisation_lines",
]

PENNY = Decimal("0.01")
MICRO = Decimal("0.000001")
ONE = Decimal("1.000000")
SCALE = 10**6  # 1 Wh in MWh, and ratio / multiplier precision
LINE_COLUMNS = ["fsp", "mo", "contract_id", "period", "kind", "reference", "quantity_mwh",
                "unit_price", "multiplier", "amount"]


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


def _round6(a) -> np.ndarray:
    return round_half_away(a, 6)


def to_decimal_6(i: int) -> Decimal:
    return Decimal(int(i)).scaleb(-6)


def _micro(v) -> int:
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


@dataclass(frozen=True)
class Tier:
    """On ratio in [lower, upper) the multiplier runs linearly from m_lower to m_upper.
    Bounds and multipliers are decimals of at most 6 places."""

    lower: Decimal
    upper: Decimal
    m_lower: Decimal
    m_upper: Decimal

    def __post_init__(self):
        for name in ("lower", "upper", "m_lower", "m_upper"):
            v = getattr(self, name)
            d = v if isinstance(v, Decimal) else Decimal(str(v))
            _micro(d)
            object.__setattr__(self, name, d)


@dataclass(frozen=True)
class PerformanceTiers:
    """Piecewise-linear multiplier of the delivery ratio.

    Tiers must tile [0, last upper) and never decrease, so paying for less delivery can
    never pay more.  At or above the last upper bound the last m_upper applies.
    """

    tiers: Sequence[Tier]

    def __post_init__(self):
        ts = [t if isinstance(t, Tier) else Tier(*t) for t in self.tiers]
        if not ts or ts[0].lower != 0:
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
        """Float multiplier of float ratios (for reading and plotting; money uses
        :meth:`multiplier_micro`)."""
        r = np.asarray(ratio, dtype=np.float64)
        out = np.full(r.shape, float(self.tiers[-1].m_upper))
        for tr in reversed(self.tiers):  # a handful of tiers, each vectorised
            lo, hi = float(tr.lower), float(tr.upper)
            inside = (r >= lo) & (r < hi)
            frac = (r - lo) / (hi - lo)
            out = np.where(inside, float(tr.m_lower) + frac * float(tr.m_upper - tr.m_lower), out)
        return out

    def multiplier_micro(self, ratio_u: np.ndarray) -> np.ndarray:
        """Exact multiplier in millionths of ratios in millionths, half up (rule 2)."""
        r = np.asarray(ratio_u, dtype=np.int64)
        out = np.full(r.shape, _micro(self.tiers[-1].m_upper), dtype=np.int64)
        for tr in self.tiers:
            lo, hi, mlo, mhi = (_micro(v) for v in (tr.lower, tr.upper, tr.m_lower, tr.m_upper))
            inside = (r >= lo) & (r < hi)
            num = (r - lo) * (mhi - mlo)
            den = hi - lo
            out = np.where(inside, mlo + (2 * num + den) // (2 * den), out)
        return out

    def to_list(self) -> list[dict]:
        return [{k: str(getattr(t, k)) for k in ("lower", "upper", "m_lower", "m_upper")}
                for t in self.tiers]

    @classmethod
    def from_list(cls, items, path: str = "tiers", errors: list | None = None):
        own = errors is None
        errors = [] if own else errors
        tiers = []
        if not isinstance(items, list) or not items:
            errors.append((path, "must be a non-empty list of tiers"))
            items = []
        for k, it in enumerate(items):
            f = Fields(it, f"{path}[{k}]", errors)
            vals = [f.decimal(n, lo=0, places=6) for n in ("lower", "upper", "m_lower", "m_upper")]
            f.unknown()
            if None not in vals:
                tiers.append(Tier(*vals))
        out = None
        if len(tiers) == len(items) and tiers:
            try:
                out = cls(tiers)
            except ValueError as e:
                errors.append((path, str(e)))
        if own and errors:
            raise DataError(errors, "performance tiers")
        return out


# SSEN TRANSITION trials: nothing under 50 % delivery, then a sliding scale to 100 %.
SSEN_TIERS = PerformanceTiers([Tier(0, "0.5", 0, 0), Tier("0.5", 1, "0.5", 1)])
FLAT = PerformanceTiers([Tier(0, 1, 1, 1)])


@dataclass(frozen=True)
class PenaltyTerms:
    """Non-delivery charges.

    ``shortfall_price`` GBP per MWh of deficiency, charged on an instruction whose ratio
    is below ``apply_below_ratio``; plus ``failed_fee`` GBP per instruction whose ratio
    is below ``failed_below_ratio``.  Zero by default (no penalties).
    """

    shortfall_price: Decimal = Decimal("0")
    apply_below_ratio: Decimal = Decimal("1")
    failed_fee: Decimal = Decimal("0")
    failed_below_ratio: Decimal = Decimal("0.5")

    def __post_init__(self):
        for name in ("shortfall_price", "apply_below_ratio", "failed_fee", "failed_below_ratio"):
            v = getattr(self, name)
            object.__setattr__(self, name, v if isinstance(v, Decimal) else Decimal(str(v)))


@dataclass(frozen=True)
class PaymentRules:
    """Per-product payment rules as versioned data; prices come per contract.

    ``availability_scaling``: optionally scale availability by the contract's
    previous-period ratio through these tiers (SSEN pays availability on the previous
    month's average delivery).
    """

    utilisation_tiers: PerformanceTiers = SSEN_TIERS
    penalty: PenaltyTerms = field(default_factory=PenaltyTerms)
    availability_scaling: PerformanceTiers | None = None
    version: int = 1

    def to_dict(self) -> dict:
        p = self.penalty
        return {"version": self.version, "utilisation_tiers": self.utilisation_tiers.to_list(),
                "penalty": {k: str(getattr(p, k)) for k in
                            ("shortfall_price", "apply_below_ratio", "failed_fee",
                             "failed_below_ratio")},
                "availability_scaling": (None if self.availability_scaling is None
                                         else self.availability_scaling.to_list())}

    @classmethod
    def from_dict(cls, data) -> PaymentRules:
        """Validate and build; raises :class:`DataError` listing every bad field."""
        f = Fields(data)
        version = f.integer("version", lo=1)
        tiers = PerformanceTiers.from_list(f.raw("utilisation_tiers"), "utilisation_tiers",
                                           f.errors)
        pen = Fields(f.value("penalty", {}), "penalty", f.errors)
        pen_vals = {"shortfall_price": pen.decimal("shortfall_price", "0", lo=0),
                    "apply_below_ratio": pen.decimal("apply_below_ratio", "1", lo=0, places=6),
                    "failed_fee": pen.decimal("failed_fee", "0", lo=0),
                    "failed_below_ratio": pen.decimal("failed_below_ratio", "0.5", lo=0, places=6)}
        pen.unknown()
        scaling_raw = f.value("availability_scaling", None)
        scaling = (None if scaling_raw is None else
                   PerformanceTiers.from_list(scaling_raw, "availability_scaling", f.errors))
        f.unknown()
        if f.errors:
            raise DataError(f.errors, "payment rules")
        return cls(tiers, PenaltyTerms(**pen_vals), scaling, version)


def _rules_for(rules, product) -> PaymentRules:
    if isinstance(rules, PaymentRules):
        return rules
    try:
        return rules[product]
    except KeyError:
        raise KeyError(f"no payment rules for product {product!r}") from None


def _labels(dates, period: str | None) -> np.ndarray:
    """The statement period of each settlement date: ``period`` if given (one run,
    one period), else the month YYYY-MM (monthly by default)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    if period is not None:
        return np.full(len(d), period, dtype=object)
    return np.asarray(pd.DatetimeIndex(d).strftime("%Y-%m"), dtype=object)


def _dec(v) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))


def factor_micro(values) -> np.ndarray:
    """Availability factors in [0, 1] as millionths (rounded half up to 6 places)."""
    v = np.asarray(values)
    if v.dtype == object:
        out = np.array([_micro(_dec(x).quantize(MICRO, ROUND_HALF_UP)) for x in v], dtype=np.int64)
    else:
        f = v.astype(np.float64)
        if np.isnan(f).any():
            raise ValueError("availability factor missing (NaN)")
        out = round_half_away(f, 6)
    if ((out < 0) | (out > SCALE)).any():
        raise ValueError("availability factors must lie in [0, 1]")
    return out


def availability_factors(contracts: pd.DataFrame, windows: pd.DataFrame,
                         declarations: pd.DataFrame) -> pd.DataFrame:
    """Availability factor per contract-period from declarations.

    ``windows``: contract_id, start, end (UTC service windows); ``declarations``:
    contract_id, start (UTC period), available_mw (the latest declaration per period,
    in the order given, counts).  Factor = min(declared, contracted) / contracted; an
    undeclared period counts as unavailable (0).  Returns contract_id, start, factor.
    """
    c = contracts.set_index("contract_id")
    w = windows.reset_index(drop=True)
    s = utc_ns(w["start"], "start")
    e = utc_ns(w["end"], "end")
    n = (e - s) // HALF_HOUR_NS
    if (n <= 0).any() or ((e - s) % HALF_HOUR_NS).any():
        raise ValueError("availability windows must be whole periods")
    row_w = np.repeat(np.arange(len(w)), n)
    within = np.arange(len(row_w)) - np.repeat(np.cumsum(n) - n, n)
    per_ns = s[row_w] + within * HALF_HOUR_NS
    cid = w["contract_id"].to_numpy(dtype=object)
    cmw = c.loc[cid, "contracted_mw"].to_numpy(np.float64)
    dec = declarations.assign(_ns=utc_ns(declarations["start"], "start"))
    dec = dec.groupby(["contract_id", "_ns"], sort=False)["available_mw"].last()
    key = pd.MultiIndex.from_arrays([cid[row_w], per_ns])
    declared = dec.reindex(key).to_numpy(np.float64)
    share = np.clip(np.nan_to_num(declared, nan=0.0) / cmw[row_w], 0.0, 1.0)
    return pd.DataFrame({"contract_id": cid[row_w],
                         "start": pd.DatetimeIndex(per_ns, tz="UTC"), "factor": share})


def availability_lines(contracts: pd.DataFrame, factors: pd.DataFrame,
                       rules: PaymentRules | Mapping[str, PaymentRules],
                       period: str | None = None,
                       last_period_ratio: Mapping[str, object] | None = None) -> pd.DataFrame:
    """One availability line per contract and statement period.

    ``contracts``: contract_id, fsp, mo, product, contracted_mw, availability_price
    (GBP/MW/h).  ``factors``: contract_id, start (UTC period in service), factor in
    [0, 1] (the caller's availability factor, e.g. from :func:`availability_factors`);
    a period without a row is not in service and earns nothing.  Quantity (MW x h
    available) = contracted MW x 0.5 h x sum of factors, exact, rounded to 6 places;
    amount = quantity x price x multiplier, where the multiplier is the scaling of the
    contract's previous-period ratio through ``availability_scaling`` (1 without it or
    without history).  A (contract, period) given twice raises ``ValueError``.
    """
    c = contracts.set_index("contract_id")
    cid = factors["contract_id"].to_numpy(dtype=object)
    unknown = ~pd.Index(cid).isin(c.index)
    if unknown.any():
        raise ValueError(f"availability for unknown contracts: {sorted(set(cid[unknown]))[:5]}")
    ns = utc_ns(factors["start"], "start")
    if pd.DataFrame({"c": cid, "t": ns}).duplicated().any():
        raise ValueError("an availability factor is given twice for one contract-period")
    fu = factor_micro(factors["factor"].to_numpy())
    local_day = pd.DatetimeIndex(ns, tz="UTC").tz_convert(LONDON).tz_localize(None).normalize()
    labels = _labels(local_day.to_numpy(), period)
    agg = pd.DataFrame({"contract_id": cid, "period": labels, "f": fu}).groupby(
        ["contract_id", "period"], sort=True)["f"].sum()
    out = []
    for (contract, label), fsum in agg.items():
        row = c.loc[contract]
        rl = _rules_for(rules, row["product"])
        m = SCALE
        if rl.availability_scaling is not None and last_period_ratio is not None \
                and contract in last_period_ratio:
            r = _micro(_dec(last_period_ratio[contract]).quantize(MICRO, ROUND_HALF_UP))
            m = int(rl.availability_scaling.multiplier_micro(np.array([r]))[0])
        q = (_dec(row["contracted_mw"]) * Decimal(int(fsum)).scaleb(-6) * Decimal("0.5")
             ).quantize(MICRO, ROUND_HALF_UP)
        price = _dec(row["availability_price"])
        md = to_decimal_6(m)
        out.append((row["fsp"], row["mo"], contract, label, "availability",
                    f"{contract}/{label}", q, price, md, money(q * price * md)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)


def instruction_volumes(instructions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ordered Wh, paid Wh, ratio in millionths) per instruction, exactly rounded."""
    ordered = _round6(instructions["ordered_mwh"].to_numpy())
    paid = np.minimum(_round6(instructions["paid_mwh"].to_numpy()), ordered)
    return ordered, paid, ratio_micro(paid, ordered)


def _columns(instructions: pd.DataFrame):
    return [instructions[k].to_numpy(dtype=object) for k in ("fsp", "mo", "contract_id",
                                                             "instruction_id")]


def utilisation_lines(instructions: pd.DataFrame, contracts: pd.DataFrame,
                      rules: PaymentRules | Mapping[str, PaymentRules],
                      period: str | None = None) -> pd.DataFrame:
    """One line per instruction: min(delivered, instructed) MWh x utilisation price x
    tier multiplier of the instruction's delivery ratio.

    ``instructions`` is :attr:`Verification.instructions`; ``contracts`` gives
    utilisation_price (GBP/MWh) per contract_id.
    """
    c = contracts.set_index("contract_id")
    _ordered, paid, ratio = instruction_volumes(instructions)
    products = instructions["product"].to_numpy(dtype=object)
    mult = np.zeros(len(instructions), dtype=np.int64)
    for prod in pd.unique(products):
        sel = products == prod
        mult[sel] = _rules_for(rules, prod).utilisation_tiers.multiplier_micro(ratio[sel])
    price = c.loc[instructions["contract_id"], "utilisation_price"].to_numpy(dtype=object)
    label = _labels(instructions["settlement_date"], period)
    fsp, mo, cid, iid = _columns(instructions)
    out = []
    for i in range(len(instructions)):
        q = to_decimal_6(paid[i])
        p = _dec(price[i])
        m = to_decimal_6(mult[i])
        out.append((fsp[i], mo[i], cid[i], label[i], "utilisation", str(iid[i]),
                    q, p, m, money(q * p * m)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)


def penalty_lines(instructions: pd.DataFrame,
                  rules: PaymentRules | Mapping[str, PaymentRules],
                  period: str | None = None) -> pd.DataFrame:
    """Non-delivery charges per instruction, as negative amounts; no line when zero."""
    ordered, paid, ratio = instruction_volumes(instructions)
    products = instructions["product"].to_numpy(dtype=object)
    label = _labels(instructions["settlement_date"], period)
    fsp, mo, cid, iid = _columns(instructions)
    out = []
    for i in range(len(instructions)):
        pen = _rules_for(rules, products[i]).penalty
        if pen.shortfall_price and ratio[i] < _micro(pen.apply_below_ratio):
            q = to_decimal_6(ordered[i] - paid[i])
            if q:
                out.append((fsp[i], mo[i], cid[i], label[i], "penalty_shortfall", str(iid[i]),
                            q, pen.shortfall_price, ONE, -money(q * pen.shortfall_price)))
        if pen.failed_fee and ratio[i] < _micro(pen.failed_below_ratio):
            out.append((fsp[i], mo[i], cid[i], label[i], "penalty_failed", str(iid[i]),
                        Decimal(1), pen.failed_fee, ONE, -money(pen.failed_fee)))
    return pd.DataFrame(out, columns=LINE_COLUMNS)
