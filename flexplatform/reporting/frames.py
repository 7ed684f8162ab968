"""Shard results as bytes (Arrow IPC) and back, exactly.

A shard task stores its :class:`settlement.ShardResult` for the merge task rather than
returning it through the result backend: frames of Decimals and tz-aware instants do not
survive JSON, and a chord's merge should read the database, not task results. Arrow
keeps floats, integers and instants bit for bit; Decimal columns travel as their exact
strings (so ``1.500000`` stays ``1.500000``) and categoricals as strings.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from settlement import ShardResult, StatementPeriod

FRAMES = ("meters", "periods", "instructions", "lines", "reading_issues")


def _encode(df: pd.DataFrame) -> tuple[pa.Table, list[str]]:
    df = df.copy()
    decimals = []
    for c in df.columns:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            df[c] = col.astype(object).where(col.notna(), None)
            col = df[c]
        if col.dtype == object and len(col) and any(isinstance(v, Decimal) for v in col):
            decimals.append(c)
            df[c] = [None if v is None else str(v) for v in col]
        elif col.dtype == object:
            df[c] = [None if v is None or (isinstance(v, float) and v != v) else str(v)
                     for v in col]
    return pa.Table.from_pandas(df, preserve_index=False), decimals


def dumps(res: ShardResult) -> bytes:
    buf = io.BytesIO()
    meta = {"period": res.period.to_dict(), "readings": res.readings, "decimals": {}}
    tables = {}
    for name in FRAMES:
        t, dec = _encode(getattr(res, name))
        tables[name] = t
        meta["decimals"][name] = dec
    head = json.dumps(meta, sort_keys=True).encode()
    buf.write(len(head).to_bytes(4, "big"))
    buf.write(head)
    for name in FRAMES:
        sink = io.BytesIO()
        with ipc.new_stream(sink, tables[name].schema) as w:
            w.write_table(tables[name])
        b = sink.getvalue()
        buf.write(len(b).to_bytes(8, "big"))
        buf.write(b)
    return buf.getvalue()


def loads(data: bytes) -> ShardResult:
    n = int.from_bytes(data[:4], "big")
    meta = json.loads(data[4:4 + n])
    pos = 4 + n
    frames = {}
    for name in FRAMES:
        size = int.from_bytes(data[pos:pos + 8], "big")
        pos += 8
        df = ipc.open_stream(pa.BufferReader(data[pos:pos + size])).read_all().to_pandas()
        pos += size
        for c in meta["decimals"][name]:
            df[c] = pd.Series([None if v is None else Decimal(v) for v in df[c]], dtype=object)
        frames[name] = df
    p = meta["period"]
    period = StatementPeriod(p["label"], dt.date.fromisoformat(p["first"]),
                             dt.date.fromisoformat(p["last"]))
    return ShardResult(period=period, readings=meta["readings"], **frames)
