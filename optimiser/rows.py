"""The clearing model as the decomposition works on it: sparse rows and current column bounds.

`RowView` holds a `MatrixModel`'s rows in CSR form with rows appended after them (the holds
of the stages solved so far), and the column bounds as they stand (columns fixed during a
stage, holds at 0). The decomposition (`decompose.Decomposer`, which adds the LP relaxation),
its blocks (`blocks.py`), column generation (`colgen.py`) and the descent (`descent.py`) all
read the model through this one public API, so none of them depends on another's internals.

Row-wise lookups (`entries`, `row_of_entries`) and the column-wise one (`rows_of_cols`) are
cached until a row is added: components, labels and activities need them several times a
stage.
"""

from __future__ import annotations

import numpy as np

from .model import MatrixModel
from .tolerances import MIP_FEAS_TOL, NUM_EPS


class RowView:
    """A model's rows (CSR, holds appended) and column bounds; see the module docstring.

    Attributes (read-only outside `add_row` / `set_bounds`):
        mm: the model.
        lb, ub: current column bounds (copies of the model's, then changed by `set_bounds`).
        ints: indexes of the integer columns.
        start, index, value: the rows in CSR form (row r's entries are start[r]:start[r+1]).
        row_lo, row_hi: row bounds (-inf / inf where open).
    """

    def __init__(self, mm: MatrixModel):
        self.mm = mm
        self.lb = mm.col_lb.copy()
        self.ub = mm.col_ub.copy()
        self.ints = np.flatnonzero(mm.integer).astype(np.int32)
        self.start = mm.start.astype(np.int64)
        self.index = mm.index.astype(np.int64)
        self.value = mm.value
        self.row_lo = mm.row_lo
        self.row_hi = mm.row_hi
        self._row_of: np.ndarray | None = None
        self._by_col: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def nrows(self) -> int:
        return len(self.row_lo)

    def add_row(self, cols: np.ndarray, vals: np.ndarray, hi: float) -> None:
        """Append the row `vals @ x[cols] <= hi` (a hold)."""
        n = len(cols)
        self.index = np.concatenate([self.index, np.asarray(cols, np.int64)])
        self.value = np.concatenate([self.value, np.asarray(vals, float)])
        self.start = np.append(self.start, self.start[-1] + n)
        self.row_lo = np.append(self.row_lo, -np.inf)
        self.row_hi = np.append(self.row_hi, float(hi))

    def set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lb[cols] = lo
        self.ub[cols] = hi

    def moving(self) -> np.ndarray:
        """Columns whose bounds leave them room to move (bool per column)."""
        return self.ub - self.lb > NUM_EPS

    # -- lookups -------------------------------------------------------------------------
    def entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry positions of `rows` and the position in `rows` of each."""
        cnt = np.diff(self.start)[rows]
        ent = np.repeat(self.start[rows], cnt) + (np.arange(int(cnt.sum()))
                                                  - np.repeat(np.cumsum(cnt) - cnt, cnt))
        return ent, np.repeat(np.arange(len(rows)), cnt)

    def row_of_entries(self) -> np.ndarray:
        """Row of every matrix entry (cached until a row is added)."""
        if self._row_of is None or len(self._row_of) != len(self.index):
            self._row_of = np.repeat(np.arange(self.nrows), np.diff(self.start))
        return self._row_of

    def rows_of_cols(self, cols: np.ndarray) -> np.ndarray:
        """Rows with an entry in `cols`, sorted (a column-wise index, cached until a row is
        added)."""
        if self._by_col is None or self._by_col[0] != self.nrows:
            rows = self.row_of_entries()
            o = np.argsort(self.index, kind="stable")
            self._by_col = (self.nrows, self.index[o], rows[o])
        _, ci, ri = self._by_col
        a = np.searchsorted(ci, cols, side="left")
        b = np.searchsorted(ci, cols, side="right")
        cnt = b - a
        pos = np.repeat(a, cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt,
                                                                         cnt))
        return np.unique(ri[pos])

    # -- solutions and prices ------------------------------------------------------------
    def activity(self, x: np.ndarray) -> np.ndarray:
        """Every row's activity at `x`."""
        return np.bincount(self.row_of_entries(), weights=self.value * x[self.index],
                           minlength=self.nrows)

    def feasible(self, x: np.ndarray, tol: float = MIP_FEAS_TOL) -> bool:
        """`x` within the bounds, integral and within every row, to `tol`."""
        if np.any(x < self.lb - tol) or np.any(x > self.ub + tol):
            return False
        ints = x[self.ints]
        if np.any(np.abs(ints - np.round(ints)) > tol):
            return False
        act = self.activity(x)
        return not bool(np.any((act < self.row_lo - tol) | (act > self.row_hi + tol)))

    def clip_prices(self, rows: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Prices of `rows` with the sign their bound allows: a `>=` row's price is >= 0, a
        `<=` row's <= 0 (an equality row keeps either)."""
        lo, hi = self.row_lo[rows], self.row_hi[rows]
        lam = np.where(np.isfinite(lo), lam, np.minimum(lam, 0.0))
        return np.where(np.isfinite(hi), lam, np.maximum(lam, 0.0))
