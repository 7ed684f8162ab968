"""Payments: availability, utilisation with performance tiers, penalties, net.

Rounding follows :mod:`settlement.rounding` (stated once there).  Heavy maths stays in
arrays; ``Decimal`` appears only once per line (per contract and period for availability,
per instruction for utilisation and penalties), one object per distinct value.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .periods import HALF_HOUR_NS, LONDON, utc_ns
from .rounding import (
    MICRO,
    SCALE,
    as_decimal,
    decimals,
    money,
    pence,
    ratio_micro,
    round6,
    round_half_away,
    to_decimal_6,
    to_micro,
)
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
    "instruction_lines",
    "money",
    "penalty_lines",
    "ratio_micro",
    "round_half_away",
    "to_decimal_6",
    "utilisation_lines",
]

LINE_COLUMNS = ["fsp", "mo", "contract_id", "period", "kind", "reference", "quantity_mwh",
                "unit_price", "multiplier", "amount"]


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
            to_micro(d)
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
        out = np.full(r.shape, to_micro(self.tiers[-1].m_upper), dtype=np.int64)
        for tr in self.tiers:
            lo, hi, mlo, mhi = (to_micro(v) for v in (tr.lower, tr.upper, tr.m_lower, tr.m_upper))
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


def factor_micro(values) -> np.ndarray:
    """Availability factors in [0, 1] as millionths (rounded half up to 6 places)."""
    v = np.asarray(values)
    if v.dtype == object:
        out = np.array([to_micro(as_decimal(x).quantize(MICRO, ROUND_HALF_UP)) for x in v], dtype=np.int64)
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


def _lines(fsp, mo, cid, label, kind, reference, q, q_places, price, m_u, pence) -> pd.DataFrame:
    n = len(pence)
    kinds = np.full(n, kind, dtype=object) if isinstance(kind, str) else kind
    return pd.DataFrame({
        "fsp": fsp, "mo": mo, "contract_id": cid, "period": label, "kind": kinds,
        "reference": reference, "quantity_mwh": decimals(q, q_places),
        "unit_price": np.asarray(price, dtype=object), "multiplier": decimals(m_u, 6),
        "amount": decimals(pence, 2)}, columns=LINE_COLUMNS)


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
    codes, names = pd.factorize(factors["contract_id"].to_numpy(dtype=object), sort=True)
    unknown = ~pd.Index(names).isin(c.index)
    if unknown.any():
        raise ValueError(f"availability for unknown contracts: {sorted(names[unknown])[:5]}")
    ns = utc_ns(factors["start"], "start")
    order = np.lexsort((ns, codes))
    if ((np.diff(codes[order]) == 0) & (np.diff(ns[order]) == 0)).any():
        raise ValueError("an availability factor is given twice for one contract-period")
    fu = factor_micro(factors["factor"].to_numpy())
    if period is None:
        local_day = pd.DatetimeIndex(ns, tz="UTC").tz_convert(LONDON).tz_localize(None).normalize()
        labels = _labels(local_day.to_numpy(), None)
    else:
        labels = np.full(len(codes), period, dtype=object)
    lab_codes, lab_names = pd.factorize(labels, sort=True)
    group = codes * len(lab_names) + lab_codes
    present, ginv = np.unique(group, return_inverse=True)
    agg = np.zeros(len(present), dtype=np.int64)
    np.add.at(agg, ginv, fu)  # exact integer sums of millionths
    keys = pd.DataFrame({"contract_id": names[present // len(lab_names)],
                         "period": lab_names[present % len(lab_names)]})
    rows = c.loc[keys["contract_id"]]
    mult = np.full(len(agg), SCALE, dtype=np.int64)
    for i, (contract, product) in enumerate(zip(keys["contract_id"], rows["product"], strict=True)):
        rl = _rules_for(rules, product)
        if rl.availability_scaling is not None and last_period_ratio is not None \
                and contract in last_period_ratio:
            r = to_micro(as_decimal(last_period_ratio[contract]).quantize(MICRO, ROUND_HALF_UP))
            mult[i] = int(rl.availability_scaling.multiplier_micro(np.array([r]))[0])
    # MW x h = contracted MW x 0.5 x sum of factors: exact, then 6 places half up (rule 1)
    q = [int((as_decimal(mw) * Decimal(int(f)).scaleb(-6) * Decimal("0.5")).quantize(
        MICRO, ROUND_HALF_UP).scaleb(6)) for mw, f in zip(rows["contracted_mw"], agg, strict=True)]
    price = [as_decimal(x) for x in rows["availability_price"]]
    return _lines(rows["fsp"].to_numpy(dtype=object), rows["mo"].to_numpy(dtype=object),
                  keys["contract_id"].to_numpy(dtype=object), keys["period"].to_numpy(dtype=object),
                  "availability", [f"{a}/{b}" for a, b in zip(keys["contract_id"], keys["period"],
                                                              strict=True)],
                  q, 6, price, mult, pence(q, mult, price))


def instruction_volumes(instructions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ordered Wh, paid Wh, ratio in millionths) per instruction, exactly rounded."""
    ordered = round6(instructions["ordered_mwh"].to_numpy())
    paid = np.minimum(round6(instructions["paid_mwh"].to_numpy()), ordered)
    return ordered, paid, ratio_micro(paid, ordered)


class _Instructions:
    """The per-instruction arrays both utilisation and penalty lines need, made once."""

    def __init__(self, instructions: pd.DataFrame, rules, period: str | None):
        self.n = len(instructions)
        self.ordered, self.paid, self.ratio = instruction_volumes(instructions)
        self.fsp, self.mo, self.cid = (instructions[k].to_numpy(dtype=object)
                                       for k in ("fsp", "mo", "contract_id"))
        self.ref = instructions["instruction_id"].astype(str).to_numpy(dtype=object)
        self.label = _labels(instructions["settlement_date"], period)
        self.codes, names = pd.factorize(instructions["product"].to_numpy(dtype=object))
        self.rules = [_rules_for(rules, n) for n in names]

    def per_product(self, get, dtype=object) -> np.ndarray:
        """``get(rules)`` of each instruction's product (one call per product)."""
        vals = np.empty(len(self.rules), dtype=dtype)
        vals[:] = [get(r) for r in self.rules]
        return vals[self.codes]

    def lines(self, parts) -> pd.DataFrame:
        """One frame of lines from (rows, kind, q, price, multiplier, pence) parts."""
        parts = [pt for pt in parts if len(pt[2])]
        if not parts:
            return _no_lines()
        rows = np.concatenate([np.arange(self.n)[pt[0]] for pt in parts])
        cat = [np.concatenate([np.asarray(pt[k], dtype=object if k == 3 else None)
                               for pt in parts]) for k in (2, 3, 4, 5)]
        kinds = np.concatenate([np.full(len(pt[2]), pt[1], dtype=object) for pt in parts])
        return _lines(self.fsp[rows], self.mo[rows], self.cid[rows], self.label[rows], kinds,
                      self.ref[rows], cat[0], 6, cat[1], cat[2], cat[3])


def _utilisation(x: _Instructions, contracts: pd.DataFrame) -> tuple:
    mult = np.zeros(x.n, dtype=np.int64)
    for k, rl in enumerate(x.rules):
        sel = x.codes == k
        mult[sel] = rl.utilisation_tiers.multiplier_micro(x.ratio[sel])
    price = contracts.set_index("contract_id")["utilisation_price"].reindex(x.cid).to_numpy(
        dtype=object)
    return (slice(None), "utilisation", x.paid, price, mult, pence(x.paid, mult, price))


def _penalties(x: _Instructions) -> list[tuple]:
    below = x.per_product(lambda r: to_micro(r.penalty.apply_below_ratio), np.int64)
    price = x.per_product(lambda r: r.penalty.shortfall_price)
    charged = x.per_product(lambda r: bool(r.penalty.shortfall_price), bool)
    failed_below = x.per_product(lambda r: to_micro(r.penalty.failed_below_ratio), np.int64)
    fee = x.per_product(lambda r: r.penalty.failed_fee)
    has_fee = x.per_product(lambda r: bool(r.penalty.failed_fee), bool)
    short = x.ordered - x.paid
    s = np.nonzero(charged & (x.ratio < below) & (short > 0))[0]
    f = np.nonzero(has_fee & (x.ratio < failed_below))[0]
    one_s = np.full(len(s), SCALE, dtype=np.int64)
    one_f = np.full(len(f), SCALE, dtype=np.int64)
    return [(s, "penalty_shortfall", short[s], price[s], one_s, -pence(short[s], one_s, price[s])),
            (f, "penalty_failed", one_f, fee[f], one_f, -pence(one_f, one_f, fee[f]))]


def utilisation_lines(instructions: pd.DataFrame, contracts: pd.DataFrame,
                      rules: PaymentRules | Mapping[str, PaymentRules],
                      period: str | None = None) -> pd.DataFrame:
    """One line per instruction: min(delivered, instructed) MWh x utilisation price x
    tier multiplier of the instruction's delivery ratio.

    ``instructions`` is :attr:`Verification.instructions`; ``contracts`` gives
    utilisation_price (GBP/MWh) per contract_id.
    """
    x = _Instructions(instructions, rules, period)
    return x.lines([_utilisation(x, contracts)])


def penalty_lines(instructions: pd.DataFrame,
                  rules: PaymentRules | Mapping[str, PaymentRules],
                  period: str | None = None) -> pd.DataFrame:
    """Non-delivery charges per instruction, as negative amounts; no line when zero."""
    x = _Instructions(instructions, rules, period)
    return x.lines(_penalties(x))


def instruction_lines(instructions: pd.DataFrame, contracts: pd.DataFrame,
                      rules: PaymentRules | Mapping[str, PaymentRules],
                      period: str | None = None) -> pd.DataFrame:
    """Utilisation and penalty lines together (the per-instruction arrays made once)."""
    x = _Instructions(instructions, rules, period)
    return x.lines([_utilisation(x, contracts), *_penalties(x)])


def _no_lines() -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(dtype=object) for k in LINE_COLUMNS})
