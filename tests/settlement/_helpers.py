"""Builders for the settlement tests: tiny frames written by hand."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from settlement.periods import period_starts

DATA = Path(__file__).parent / "data"


def readings(mpan: str, first: date, last: date, value, export=0.0) -> pd.DataFrame:
    """Readings for every period of first..last; ``value(day, period)`` -> kWh import
    (or a constant)."""
    rows = []
    d = first
    while d <= last:
        for i, s in enumerate(period_starts(d), start=1):
            v = value(d, i) if callable(value) else value
            e = export(d, i) if callable(export) else export
            rows.append((mpan, s, float(v), float(e)))
        d += timedelta(days=1)
    f = pd.DataFrame(rows, columns=["mpan", "start", "import_kwh", "export_kwh"])
    f["start"] = pd.to_datetime(f["start"], utc=True)
    return f


def instruction(iid, mpan, start, end, mw, direction="turn_down", product="p", contract="C1",
                fsp="F1", mo="M1", measure="import") -> dict:
    return {"instruction_id": iid, "mpan": mpan, "start": pd.Timestamp(start),
            "end": pd.Timestamp(end), "mw": mw, "direction": direction, "product": product,
            "contract_id": contract, "fsp": fsp, "mo": mo, "measure": measure}




def small_run(first=date(2024, 10, 21), last=date(2024, 10, 31), meters=6, *, digits=None):
    """A small but complete run: `meters` meters (two FSPs, two MOs, three contracts), a
    BL01 product with a short lookback (so history is 10 days), an AssetCapacity
    product, instructions on several days including the 50-period 27 Oct 2024 and two
    that overlap, and availability factors.  Meter k reads 10 + k + (day % 3) kWh."""
    from decimal import Decimal

    import numpy as np

    from settlement.methodology import Methodology
    from settlement.payments import PaymentRules, PenaltyTerms, PerformanceTiers, Tier
    from settlement.run import ProductTerms, SettlementInputs, StatementPeriod

    products = {
        "dfs": ProductTerms(Methodology.from_dict({"kind": "BL01", "version": 3, "params": {
            "y": 3, "non_working_y": 2, "lookback_days": 10}}),
            PaymentRules(penalty=PenaltyTerms(shortfall_price=Decimal("40")), version=2)),
        "cap": ProductTerms(Methodology.from_dict({"kind": "AssetCapacity", "version": 1}),
                            PaymentRules(PerformanceTiers([Tier(0, "0.9", 0, "0.9"),
                                                           Tier("0.9", 1, 1, 1)]))),
    }
    mpans = [f"M{k}" for k in range(meters)]
    hist = first - timedelta(days=10)
    frames = []
    for k, m in enumerate(mpans):
        def value(d, p, k=k):
            v = 10.0 + k + d.toordinal() % 3
            if (d, p) in DIPS.get(k, ()):
                v -= 6.0
            return v
        frames.append(readings(m, hist, last, value))
    r = pd.concat(frames, ignore_index=True)
    r["version"] = 1
    contracts = pd.DataFrame({
        "contract_id": ["C1", "C2", "C3"], "fsp": ["F1", "F1", "F2"], "mo": ["MA", "MB", "MA"],
        "product": ["dfs", "dfs", "cap"],
        "contracted_mw": [Decimal("0.012"), Decimal("0.008"), Decimal("0.01")],
        "availability_price": [Decimal("4.50"), Decimal("3.25"), Decimal("6.00")],
        "utilisation_price": [Decimal("250"), Decimal("180.50"), Decimal("300")]})
    ins = pd.DataFrame([
        instruction("i1", "M0", "2024-10-22 16:00Z", "2024-10-22 17:00Z", 0.01, contract="C1"),
        instruction("i2", "M1", "2024-10-23 16:00Z", "2024-10-23 16:30Z", 0.012, contract="C1"),
        instruction("i3", "M2", "2024-10-27 00:00Z", "2024-10-27 02:00Z", 0.004, contract="C2"),
        instruction("i4", "M3", "2024-10-29 17:00Z", "2024-10-29 18:00Z", 0.006, contract="C2"),
        instruction("i5", "M3", "2024-10-29 17:30Z", "2024-10-29 18:30Z", 0.006, contract="C2"),
        instruction("i6", "M4", "2024-10-30 17:00Z", "2024-10-30 18:00Z", 0.01, contract="C3"),
    ]).drop(columns=["fsp", "mo", "product"])
    meters_f = pd.DataFrame({"mpan": mpans, "capacity_kw": [40.0] * meters})
    starts = pd.date_range("2024-10-21 16:00Z", "2024-10-31 19:30Z", freq="30min")
    starts = starts[(starts.hour >= 16) & (starts.hour < 20)]
    avail = pd.concat([pd.DataFrame({"contract_id": c, "start": starts,
                                     "factor": np.resize(f, len(starts))})
                       for c, f in (("C1", [1.0, 0.5]), ("C2", [1.0]), ("C3", [0.75, 1.0, 0.0]))],
                      ignore_index=True)
    return SettlementInputs(StatementPeriod("2024-10b", first, last), products, contracts, ins, r,
                            meters=meters_f, availability=avail)


# (meter -> {(day, period)}): the instructed half hours where meter k turns down 6 kWh
DIPS = {
    0: {(date(2024, 10, 22), p) for p in (35, 36)},
    1: {(date(2024, 10, 23), 35)},
    2: {(date(2024, 10, 27), p) for p in (3, 4, 5, 6)},
    3: {(date(2024, 10, 29), p) for p in (36, 37, 38)},
}
