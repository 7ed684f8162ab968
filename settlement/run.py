"""A settlement run: readings, instructions and contracts in; verification, lines and
statements out.  The unit of work is a SHARD, a set of meters; a whole run is one shard
or many merged.

``settle_shard(inputs)`` settles the meters it is given: it validates their readings
(loaded from :meth:`SettlementInputs.history_start`, only as far back as the products'
baselines look), verifies every instruction on them, and prices the utilisation and
penalty lines of those instructions plus the availability lines it is given.
``merge(results)`` joins shard results; it is associative and order-independent (every
frame is put in one canonical order), so a Celery chord can merge in any grouping and
produce byte-identical statements.  A meter, an instruction or a contract-period in two
shards is refused, never paid twice.

Everything is pure: frames and dataclasses in, frames and dataclasses out.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from .baselines import ProductBaselines
from .calendar import GBCalendar
from .meter import MeterData
from .methodology import Methodology, history_start
from .payments import PaymentRules, availability_lines, penalty_lines, utilisation_lines
from .periods import HALF_HOUR_NS, LONDON, utc_ns
from .schema import DataError, Fields
from .statements import Statements, build_statements
from .verification import InstructionError, verify

__all__ = ["CONTRACT_COLUMNS", "RUN_INSTRUCTION_COLUMNS", "ProductTerms", "SettlementInputs",
           "ShardResult", "StatementPeriod", "merge", "settle_shard"]

CONTRACT_COLUMNS = ["contract_id", "fsp", "mo", "product", "contracted_mw",
                    "availability_price", "utilisation_price"]
RUN_INSTRUCTION_COLUMNS = ["instruction_id", "contract_id", "mpan", "start", "end", "mw",
                           "direction"]


@dataclass(frozen=True)
class StatementPeriod:
    """The statement period a run settles: settlement days ``first``..``last``
    (Europe/London dates), named ``label`` on every line (e.g. "2024-11")."""

    label: str
    first: date
    last: date

    def __post_init__(self):
        if self.last < self.first:
            raise ValueError(f"statement period {self.label!r} ends before it starts")

    def to_dict(self) -> dict:
        return {"label": self.label, "first": self.first.isoformat(), "last": self.last.isoformat()}


@dataclass(frozen=True)
class ProductTerms:
    """A product's settlement terms: its baseline methodology and payment rules, each
    versioned data."""

    methodology: Methodology
    payment: PaymentRules = field(default_factory=PaymentRules)

    def to_dict(self) -> dict:
        return {"methodology": self.methodology.to_dict(), "payment": self.payment.to_dict()}

    @classmethod
    def from_dict(cls, data) -> ProductTerms:
        f = Fields(data)
        errors = f.errors
        m = p = None
        try:
            m = Methodology.from_dict(f.value("methodology"))
        except DataError as e:
            errors.extend((f"methodology.{k}", v) for k, v in e.errors)
        try:
            p = PaymentRules.from_dict(f.value("payment"))
        except DataError as e:
            errors.extend((f"payment.{k}", v) for k, v in e.errors)
        f.unknown()
        if errors:
            raise DataError(errors, "product terms")
        return cls(m, p)


@dataclass
class SettlementInputs:
    """Everything one shard (or a whole run) settles.

    * ``contracts``: :data:`CONTRACT_COLUMNS` (prices ``Decimal``; GBP/MW/h and GBP/MWh),
      optional ``last_period_ratio`` (for availability scaling).
    * ``instructions``: :data:`RUN_INSTRUCTION_COLUMNS` plus optional ``measure``; FSP, MO
      and product come from the contract.  Each is settled in the period holding its
      first half hour (it may run past the period's last midnight).
    * ``readings``: mpan, start, import_kwh, export_kwh, version (all versions, or the
      latest only; the latest usable version of each half hour is read).
    * ``meters``: the shard's meters (mpan, optional devices, capacity_kw); default: every
      meter in the readings and instructions.
    * ``availability``: contract_id, start, factor (0..1) per contract-period in service.
    * ``past_events``: mpan, settlement_date of earlier events inside the history, which
      like-day baselines must skip.  ``nominations``: mpan, start, kwh, submitted_at.
    """

    period: StatementPeriod
    products: Mapping[str, ProductTerms]
    contracts: pd.DataFrame
    instructions: pd.DataFrame
    readings: pd.DataFrame
    meters: pd.DataFrame | None = None
    availability: pd.DataFrame | None = None
    past_events: pd.DataFrame | None = None
    nominations: pd.DataFrame | None = None
    region: str = "england_wales"
    extra_non_working: tuple[date, ...] = ()

    def products_used(self) -> list[str]:
        c = self.contracts.set_index("contract_id")["product"]
        used = c.reindex(self.instructions["contract_id"]).dropna()
        return sorted(set(used))

    def history_start(self) -> date:
        """First day of readings the run reads: the period's first day less the longest
        lookback of the run's products (see :func:`settlement.methodology.lookback`).

        A property of the run, not of a shard's instructions, so every shard reads the
        same window and a shard's result does not depend on how meters were grouped."""
        return history_start([t.methodology for t in self.products.values()], self.period.first)


@dataclass
class ShardResult:
    """What a shard (or a merge of shards) settled, every frame in canonical order.

    ``meters``: mpan, readings (half hours with a usable reading), max_version and
    versions_sha256 (:meth:`settlement.meter.MeterGrid.versions_digest`: which version of
    every reading was read); ``periods``/``instructions``: the verification, with the
    methodology and payment-rule versions used; ``lines``: priced lines;
    ``reading_issues``: every reading not used and why.  ``timings`` is not an output.
    """

    period: StatementPeriod
    meters: pd.DataFrame
    periods: pd.DataFrame
    instructions: pd.DataFrame
    lines: pd.DataFrame
    reading_issues: pd.DataFrame
    readings: int
    timings: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def statements(self) -> Statements:
        return build_statements(self.lines)


def _str_key(s: pd.Series) -> pd.Series:
    return s.astype(str) if s.dtype == object or isinstance(s.dtype, pd.StringDtype) else s


def _canon(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, key=_str_key, kind="stable").reset_index(drop=True)


def _contracts(inputs: SettlementInputs) -> pd.DataFrame:
    c = inputs.contracts
    missing = [k for k in CONTRACT_COLUMNS if k not in c.columns]
    if missing:
        raise ValueError(f"contracts lack columns {missing}")
    dup = c["contract_id"].duplicated()
    if dup.any():
        raise ValueError(f"contract ids repeated: {c.loc[dup, 'contract_id'].tolist()[:5]}")
    unknown = sorted(set(c["product"]) - set(inputs.products))
    if unknown:
        raise ValueError(f"contracts name products without settlement terms: {unknown}")
    return c


def _instructions(inputs: SettlementInputs, contracts: pd.DataFrame, meters: pd.Index):
    ins = inputs.instructions.reset_index(drop=True)
    missing = [k for k in RUN_INSTRUCTION_COLUMNS if k not in ins.columns]
    if missing:
        raise ValueError(f"instructions lack columns {missing}")
    c = contracts.set_index("contract_id")
    problems = []
    ids = ins["instruction_id"].to_numpy(dtype=object)
    known = ins["contract_id"].isin(c.index).to_numpy()
    for i in np.nonzero(~known)[0]:
        problems.append({"instruction_id": ids[i], "field": "contract_id",
                         "message": f"unknown contract {ins['contract_id'].iloc[i]!r}"})
    out = ins.drop(columns=[k for k in ("fsp", "mo", "product") if k in ins.columns])
    for col in ("fsp", "mo", "product"):
        vals = c[col].reindex(ins["contract_id"]).to_numpy(dtype=object)
        if col in ins.columns:
            differs = known & (ins[col].to_numpy(dtype=object) != vals)
            for i in np.nonzero(differs)[0]:
                problems.append({"instruction_id": ids[i], "field": col,
                                 "message": f"{ins[col].iloc[i]!r} differs from its contract's "
                                            f"{vals[i]!r}"})
        out[col] = vals
    s = utc_ns(ins["start"], "start", allow_nat=True)
    day = pd.DatetimeIndex(s, tz="UTC").tz_convert(LONDON).tz_localize(None).normalize().date \
        if len(s) else np.array([], dtype=object)
    p = inputs.period
    for i in range(len(ins)):
        if pd.notna(day[i]) and not p.first <= day[i] <= p.last:
            problems.append({"instruction_id": ids[i], "field": "start", "message":
                             f"settlement day {day[i]} is outside statement period {p.label} "
                             f"({p.first}..{p.last}): settle it in its own period"})
    off = ~ins["mpan"].isin(meters).to_numpy()
    for i in np.nonzero(off)[0]:
        problems.append({"instruction_id": ids[i], "field": "mpan",
                         "message": f"meter {ins['mpan'].iloc[i]!r} is not in this shard"})
    if problems:
        raise InstructionError(problems)
    return out


def _last_day(inputs: SettlementInputs) -> date:
    e = utc_ns(inputs.instructions["end"], "end", allow_nat=True)
    e = e[e != np.iinfo(np.int64).min]
    if not len(e):
        return inputs.period.last
    last = pd.Timestamp(int(e.max()) - HALF_HOUR_NS, tz="UTC").tz_convert(LONDON).date()
    return max(inputs.period.last, last)


def _meters(inputs: SettlementInputs) -> pd.DataFrame:
    if inputs.meters is not None:
        m = inputs.meters
        if m["mpan"].duplicated().any():
            raise ValueError("a meter is listed twice in the shard")
        return m
    names = pd.unique(pd.concat([inputs.readings["mpan"].astype(object),
                                 inputs.instructions["mpan"].astype(object)]))
    return pd.DataFrame({"mpan": sorted(names, key=str)})


def settle_shard(inputs: SettlementInputs, *, digests: bool = True) -> ShardResult:
    """Settle one shard of meters (see the module docstring).

    Raises :class:`InstructionError` (every bad instruction listed), ``ValueError`` for
    malformed contracts, meters or availability, and
    :class:`~settlement.periods.SettlementPeriodError` for unusable timestamp columns.
    Readings with problems are not raised: they are reported in ``reading_issues``.
    ``digests=False`` skips the per-meter SHA-256 of reading versions.
    """
    tm: dict[str, float] = {}
    t0 = time.perf_counter()
    contracts = _contracts(inputs)
    meters = _meters(inputs)
    meter_ids = pd.Index(meters["mpan"])
    stray = ~inputs.readings["mpan"].isin(meter_ids)
    if stray.any():
        raise ValueError(f"readings for meters not in this shard: "
                         f"{sorted(set(inputs.readings.loc[stray, 'mpan'].astype(str)))[:5]}")
    ins = _instructions(inputs, contracts, meter_ids)
    window = (inputs.history_start(), _last_day(inputs))
    data, report = MeterData.validate(inputs.readings, window=window)
    tm["validate"] = time.perf_counter() - t0

    t = time.perf_counter()
    grid = data.to_grid()
    if not meter_ids.isin(grid.points).all():
        grid = data.to_grid(points=meter_ids)
    tm["grid"] = time.perf_counter() - t

    t = time.perf_counter()
    cal = GBCalendar(inputs.region, inputs.extra_non_working)
    used = inputs.products_used()
    baselines = ProductBaselines({p: inputs.products[p].methodology.method(meters, inputs.nominations)
                                  for p in used})
    inner: dict[str, float] = {}
    ver = verify(grid, ins, baselines, cal, timings=inner, past_events=inputs.past_events)
    tm["baselines"] = inner.get("baselines", 0.0)
    tm["verify"] = time.perf_counter() - t - tm["baselines"]

    t = time.perf_counter()
    rules = {p: terms.payment for p, terms in inputs.products.items()}
    label = inputs.period.label
    lines = [utilisation_lines(ver.instructions, contracts, rules, label),
             penalty_lines(ver.instructions, rules, label)]
    if inputs.availability is not None and len(inputs.availability):
        lines.append(_availability(inputs, contracts, rules))
    lines = pd.concat([x for x in lines if len(x)] or [lines[0]], ignore_index=True)
    tm["payments"] = time.perf_counter() - t

    t = time.perf_counter()
    mversion = {p: inputs.products[p].methodology.version for p in inputs.products}
    pversion = {p: inputs.products[p].payment.version for p in inputs.products}
    periods, per_ins = ver.periods, ver.instructions
    for f in (periods, per_ins):
        f["methodology_version"] = f["product"].map(mversion).astype(np.int64)
        f["payment_version"] = f["product"].map(pversion).astype(np.int64)
    gp = grid.point_index(meter_ids)
    vgrid = grid.version[gp]
    mframe = pd.DataFrame({"mpan": meter_ids.to_numpy(dtype=object),
                           "readings": (vgrid > 0).sum(axis=1).astype(np.int64),
                           "max_version": vgrid.max(axis=1, initial=0).astype(np.int64)})
    mframe["versions_sha256"] = ([grid.versions_digest(int(i)) for i in gp] if digests
                                 else None)
    issues = report.issues.drop(columns=["row"])
    issues["mpan"] = issues["mpan"].astype(object)
    res = ShardResult(
        period=inputs.period,
        meters=_canon(mframe, ["mpan"]),
        periods=_canon(periods, ["instruction_id", "start"]),
        instructions=_canon(per_ins, ["instruction_id"]),
        lines=_canon(lines, ["fsp", "mo", "period", "kind", "contract_id", "reference"]),
        reading_issues=_canon(issues, ["mpan", "start", "version", "issue"]),
        readings=len(inputs.readings), timings=tm)
    tm["outputs"] = time.perf_counter() - t
    return res


def _availability(inputs, contracts, rules) -> pd.DataFrame:
    a = inputs.availability
    ns = utc_ns(a["start"], "start")
    day = pd.DatetimeIndex(ns, tz="UTC").tz_convert(LONDON).tz_localize(None).normalize()
    p = inputs.period
    out = (day < pd.Timestamp(p.first)) | (day > pd.Timestamp(p.last))
    if out.any():
        raise ValueError(f"{int(out.sum())} availability factors lie outside statement period "
                         f"{p.label} ({p.first}..{p.last})")
    ratio = None
    if "last_period_ratio" in contracts.columns:
        r = contracts.set_index("contract_id")["last_period_ratio"].dropna()
        ratio = r.to_dict()
    return availability_lines(contracts, a, rules, p.label, ratio)


def merge(results: Iterable[ShardResult]) -> ShardResult:
    """Join shard results into one (whose ``statements`` are the run's statements).

    Associative and order-independent: ``merge([a, b, c])``, ``merge([merge([c, a]), b])``
    and every other grouping give equal frames and byte-identical statements.  Raises
    ``ValueError`` if the results are for different periods, or a meter, an instruction
    or a line appears in two of them.
    """
    rs = list(results)
    if not rs:
        raise ValueError("nothing to merge")
    period = rs[0].period
    if any(r.period != period for r in rs):
        raise ValueError("shard results of different statement periods")
    meters = pd.concat([r.meters for r in rs], ignore_index=True)
    if meters["mpan"].duplicated().any():
        raise ValueError(f"meters settled in two shards: "
                         f"{meters.loc[meters['mpan'].duplicated(), 'mpan'].tolist()[:5]}")
    instructions = pd.concat([r.instructions for r in rs], ignore_index=True)
    if instructions["instruction_id"].duplicated().any():
        raise ValueError("an instruction was settled in two shards")
    lines = pd.concat([r.lines for r in rs], ignore_index=True)
    keys = ["fsp", "mo", "period", "kind", "contract_id", "reference"]
    if lines.duplicated(keys).any():
        raise ValueError("a line (e.g. a contract's availability) was settled in two shards")
    timings: dict[str, float] = {}
    for r in rs:
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return ShardResult(
        period=period,
        meters=_canon(meters, ["mpan"]),
        periods=_canon(pd.concat([r.periods for r in rs], ignore_index=True),
                       ["instruction_id", "start"]),
        instructions=_canon(instructions, ["instruction_id"]),
        lines=_canon(lines, keys),
        reading_issues=_canon(pd.concat([r.reading_issues for r in rs], ignore_index=True),
                              ["mpan", "start", "version", "issue"]),
        readings=sum(r.readings for r in rs), timings=timings)
