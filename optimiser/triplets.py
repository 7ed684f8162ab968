"""Columns and rows gathered as coordinate triplets, assembled once into HiGHS's row-wise
(CSR) arrays: the advice and dispatch builders share this and add their own names.

Building row families as numpy triplets and sorting once is what keeps model building
cheap next to the solve (a per-row API call would cost more than many solves).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Triplets:
    """The coordinate store under a model builder."""

    def __init__(self) -> None:
        self.ncols = 0
        self.nrows = 0
        self.cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = []
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []

    def put_rows(self, lo: Any, hi: Any, terms: Any, n: int) -> slice:
        """Append ``n`` rows with bounds ``lo``/``hi`` (scalars or arrays) and ``terms``, an
        iterable of (local row, column, coefficient) arrays; the rows' global slice."""
        first = self.nrows
        for r, c, v in terms:
            r = np.asarray(r, np.int64)
            self.r.append(r + first)
            self.c.append(np.asarray(c, np.int64))
            self.v.append(np.broadcast_to(np.asarray(v, float), r.shape))
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (n,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (n,)))
        self.nrows += n
        return slice(first, first + n)

    def arrays(self, start_dtype: type = np.int64) -> dict[str, np.ndarray]:
        """col_lb, col_ub, col_cost, integer, row_lo, row_hi and the CSR start, index and
        value (explicit zeros dropped, entries of a row in insertion order)."""

        def cat(xs: list[np.ndarray], dt: Any = float) -> np.ndarray:
            return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

        r, c, v = cat(self.r, np.int64), cat(self.c, np.int32), cat(self.v)
        keep = v != 0
        r, c, v = r[keep], c[keep], v[keep]
        order = np.argsort(r, kind="stable")
        start = np.zeros(self.nrows + 1, dtype=start_dtype)
        np.cumsum(np.bincount(r, minlength=self.nrows), out=start[1:])
        return {"col_lb": cat([x[0] for x in self.cols]),
                "col_ub": cat([x[1] for x in self.cols]),
                "col_cost": cat([x[2] for x in self.cols]),
                "integer": cat([np.full(len(x[0]), x[3]) for x in self.cols], bool),
                "row_lo": cat(self.lo), "row_hi": cat(self.hi),
                "start": start, "index": c[order], "value": v[order]}
