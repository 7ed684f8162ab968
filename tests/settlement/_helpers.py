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


