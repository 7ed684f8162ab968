"""A settlement run's inputs from the database, frozen as a spec, and its shards.

``build_spec`` reads contracts, instructions, availability factors, product terms and
the readings watermark once, when the run is taken, and stores them as the run
document's own tables (``settlement.document``). Shards rebuild their engine inputs from
that spec plus the readings of their meters ``as_of`` the watermark, so a shard
redelivered later, after new readings arrived, still computes the same result.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from flexplatform.competition.models import SUPERSEDED, Contract, Market
from flexplatform.config import get_settings
from flexplatform.reporting import methodologies, reads, sources
from flexplatform.reporting.settlement_models import SettlementRun, SettlementSettings
from settlement import (
    Invoicing,
    Methodology,
    PaymentRules,
    ProductTerms,
    SettlementInputs,
    StatementPeriod,
    VatTerms,
)
from settlement.document import table_from_json, table_to_json
from settlement.periods import day_start

DEFAULT_METHODOLOGY = {"kind": "BL01", "version": 1, "params": {}}
SHARD_METERS: int | None = None  # meters per shard task; None: the setting
MICRO = Decimal("0.000001")


def settings_for(session: Session, market_id: Any) -> SettlementSettings:
    """The market's settings row, or the defaults (not stored)."""
    row = session.get(SettlementSettings, market_id)
    if row is None:
        row = SettlementSettings(market_id=market_id, period="monthly",
                                 vat_rate=Decimal("0.2000"), payment_rules=None,
                                 response_days=10)
    return row


def statement_period(kind: str, day: dt.date) -> StatementPeriod:
    """The statement period of kind monthly | weekly | daily holding ``day``."""
    if kind == "daily":
        return StatementPeriod(day.isoformat(), day, day)
    if kind == "weekly":
        first = day - dt.timedelta(days=day.weekday())
        y, w, _ = first.isocalendar()
        return StatementPeriod(f"{y}-W{w:02d}", first, first + dt.timedelta(days=6))
    first = day.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return StatementPeriod(f"{day:%Y-%m}", first, nxt - dt.timedelta(days=1))


def utc_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return day_start(first), day_start(last + dt.timedelta(days=1))


def product_terms(session: Session, product: str, settings: SettlementSettings,
                  at: dt.datetime) -> ProductTerms:
    """The methodology in force (BL01 defaults if none was ever approved) and the
    market's payment rules (the engine's defaults: SSEN tiers, no penalties)."""
    row = methodologies.in_force(session, product, at)
    m = (methodologies.engine_methodology(row) if row is not None
         else Methodology.from_dict(DEFAULT_METHODOLOGY))
    rules = settings.payment_rules
    pay = PaymentRules.from_dict(rules) if rules else PaymentRules()
    return ProductTerms(m, pay)


def _dec(x: float) -> str:
    return str(Decimal(repr(float(x))))


def build_spec(session: Session, run: SettlementRun) -> dict[str, Any]:
    """Everything a shard needs except readings (see the module docstring)."""
    market = session.get(Market, run.market_id)
    assert market is not None
    st = settings_for(session, run.market_id)
    period = StatementPeriod(run.period_label, run.period_first, run.period_last)
    start, end = utc_bounds(period.first, period.last)
    contracts = session.scalars(select(Contract).where(
        Contract.market_id == run.market_id, Contract.period_start >= start,
        Contract.period_start < end, Contract.status.not_in(SUPERSEDED))
        .order_by(Contract.id)).all()
    by_id = {c.id: c for c in contracts}
    crow, arow, products = [], [], {}
    for c in contracts:
        crow.append({"contract_id": str(c.id), "fsp": str(c.fsp_id), "mo": str(c.mo_id),
                     "product": c.product_code, "contracted_mw": Decimal(_dec(c.mw)),
                     "availability_price": Decimal(c.availability_price),
                     "utilisation_price": Decimal(c.utilisation_price)})
        f = Decimal(_dec(min(1.0, max(0.0, sources.availability_factor(session, c)))))
        arow.append({"contract_id": str(c.id), "start": c.period_start,
                     "factor": f.quantize(MICRO, ROUND_HALF_UP)})
        if c.product_code not in products:
            products[c.product_code] = product_terms(session, c.product_code, st, end)
    ins = sources.instructions(session, start, end, contract_ids=set(by_id))
    meters = sources.asset_meters(session, {c.asset_id for c in contracts})
    irow, unmetered = [], []
    for i in ins:
        mp = meters.get(i.asset_id)
        if mp is None:
            unmetered.append(i.id)
            continue
        direction, measure = sources.engine_direction(i.direction, mp.measures)
        irow.append({"instruction_id": i.id, "contract_id": str(i.contract_id), "mpan": mp.mpan,
                     "start": i.start, "end": i.end, "mw": i.mw, "direction": direction,
                     "measure": measure})
    mrow = [{"mpan": mp.mpan} for mp in sorted(meters.values(), key=lambda m: m.mpan)]
    inputs = SettlementInputs(period=period, products=products,
                              contracts=_frame(crow, "contracts"),
                              instructions=_frame(irow, "instructions"),
                              readings=_frame([], "readings"),
                              meters=_frame(mrow, "meters"),
                              availability=_frame(arow, "availability"))
    # Earlier instructions on these meters still inside the baselines' history.
    hist = inputs.history_start()
    past = sources.instructions(session, day_start(hist), start, contract_ids=None)
    mpan_of = {a: m.mpan for a, m in meters.items()}
    prow = sorted({(mpan_of[p.asset_id], _local_day(p.start)) for p in past
                   if p.asset_id in mpan_of})
    pairs = sorted({(r["fsp"], r["mo"]) for r in crow})
    tag = run.id.hex[:8].upper()
    numbers = {pair: f"SB-{run.period_label}-{tag}-{k + 1:03d}" for k, pair in enumerate(pairs)}
    invoicing = Invoicing(issue_date=run.created_at.date(), vat=VatTerms(Decimal(st.vat_rate)),
                          numbers=numbers)
    return {
        "period": period.to_dict(), "history_start": hist.isoformat(),
        "readings_end": utc_bounds(period.first, _last_day(inputs))[1].isoformat(),
        "watermark": reads.watermark(session),
        "products": {k: v.to_dict() for k, v in sorted(products.items())},
        "invoicing": invoicing.to_dict(),
        "contracts": table_to_json(inputs.contracts, "contracts"),
        "instructions": table_to_json(inputs.instructions, "instructions"),
        "availability": table_to_json(inputs.availability, "availability"),
        "meters": table_to_json(inputs.meters, "meters"),
        "past_events": table_to_json(pd.DataFrame(prow, columns=["mpan", "settlement_date"]),
                                     "past_events"),
        "meter_ids": {mp.mpan: mp.id for mp in meters.values()},
        "shard_meters": SHARD_METERS or get_settings().settlement_shard_meters,
        "unmetered_instructions": unmetered,
    }


def _local_day(t: dt.datetime) -> dt.date:
    return pd.Timestamp(t).tz_convert("Europe/London").date()


def _last_day(inputs: SettlementInputs) -> dt.date:
    ends = inputs.instructions["end"] if len(inputs.instructions) else []
    last = inputs.period.last
    for e in ends:
        last = max(last, _local_day(pd.Timestamp(e) - pd.Timedelta(minutes=30)))
    return last


def _frame(rows: list[dict[str, Any]], name: str) -> pd.DataFrame:
    from settlement.document import TABLES

    cols = list(TABLES[name])
    df = pd.DataFrame(rows, columns=[c for c in cols if not rows or c in rows[0]] if rows
                      else [c for c, k in TABLES[name].items() if not k.endswith("?")])
    for c in df.columns:
        if TABLES[name][c].rstrip("?") == "ts":
            df[c] = pd.to_datetime(df[c], utc=True)
    return df


def shard_plan(spec: dict[str, Any]) -> list[list[str]]:
    """Meters per shard: mpan order, the spec's ``shard_meters`` each (at least one
    shard); frozen with the spec, so every worker cuts the run the same way."""
    mpans = sorted(spec["meter_ids"])
    if not mpans:
        return [[]]
    size = int(spec["shard_meters"])
    n = math.ceil(len(mpans) / size)
    return [mpans[k * size:(k + 1) * size] for k in range(n)]


def _products(spec: dict[str, Any]) -> dict[str, ProductTerms]:
    return {k: ProductTerms.from_dict(v) for k, v in spec["products"].items()}


def shard_inputs(session: Session, spec: dict[str, Any], mpans: list[str] | None,
                 with_availability: bool) -> SettlementInputs:
    """Engine inputs of one shard (``mpans``; None: the whole run)."""
    p = spec["period"]
    period = StatementPeriod(p["label"], dt.date.fromisoformat(p["first"]),
                             dt.date.fromisoformat(p["last"]))
    meters = table_from_json(spec["meters"], "meters")
    ins = table_from_json(spec["instructions"], "instructions")
    past = table_from_json(spec["past_events"], "past_events")
    if mpans is not None:
        keep = set(mpans)
        meters = meters[meters["mpan"].isin(keep)].reset_index(drop=True)
        ins = ins[ins["mpan"].isin(keep)].reset_index(drop=True)
        past = past[past["mpan"].isin(keep)].reset_index(drop=True)
    ids = [spec["meter_ids"][m] for m in meters["mpan"]]
    lo = day_start(dt.date.fromisoformat(spec["history_start"]))
    hi = dt.datetime.fromisoformat(spec["readings_end"])
    readings = reads.readings_frame(session, ids, lo, hi, as_of=spec["watermark"] or 0)
    readings = readings.drop(columns=["submission_id"])
    readings["mpan"] = readings["mpan"].astype(object)
    avail = table_from_json(spec["availability"], "availability") if with_availability else None
    return SettlementInputs(period=period, products=_products(spec),
                            contracts=table_from_json(spec["contracts"], "contracts"),
                            instructions=ins, readings=readings, meters=meters,
                            availability=avail, past_events=past)


def invoicing(spec: dict[str, Any]) -> Invoicing:
    return Invoicing.from_dict(spec["invoicing"])
