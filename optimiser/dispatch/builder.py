"""The dispatch model's container (`Model`) and its builder: columns, named row families.

Rows are added as numpy triplets per family, each row named lazily (`family[key]`, the key
computed only when a name is asked for: a 20,000-asset model has millions of rows). The
families themselves are `model.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..triplets import Triplets
from .problem import Problem, blocked

INF = np.inf


@dataclass
class Model:
    col_lb: np.ndarray
    col_ub: np.ndarray
    col_cost: np.ndarray
    integer: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    blocks: dict[str, slice]
    families: dict[str, list[slice]]
    row_keys: list[tuple[str, slice, list]] = field(default_factory=list)
    # the kept candidate calls: index into the problem's y arrays, one per y column
    y_cand: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def ncols(self) -> int:
        return len(self.col_lb)

    @property
    def nrows(self) -> int:
        return len(self.row_lo)

    @property
    def nints(self) -> int:
        return int(self.integer.sum())

    def row_name(self, i: int) -> str:
        for fam, sl, keys in self.row_keys:
            if sl.start <= i < sl.stop:
                return f"{fam}[{keys(i - sl.start) if callable(keys) else keys[i - sl.start]}]"
        raise IndexError(i)


class Builder(Triplets):
    """Collects columns and named row families; `y` columns are the kept candidates."""

    def __init__(self, prob: Problem, families: tuple[str, ...]):
        super().__init__()
        self.prob = prob
        self.families_on = families
        self.blocks: dict[str, slice] = {}
        self.fam: dict[str, list[slice]] = {}
        self.row_keys: list = []
        self.stats: dict[str, int] = {}
        keep = np.ones(len(prob.y_c), dtype=bool)
        for name, mask in blocked(prob).items():
            if name in families:
                self.stats[f"dropped_{name}"] = int((mask & keep).sum())
                keep &= ~mask
        self.y_cand = np.flatnonzero(keep)
        T = prob.T
        yc, yt = prob.y_c[self.y_cand], prob.y_t[self.y_cand]
        # contract-periods with calls: Y[c,t] is the sum over the ct group
        self.ct_key, self.y_ct = np.unique(yc * T + yt, return_inverse=True) if len(yc) \
            else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self.ct_c = self.ct_key // T
        self.ct_t = self.ct_key % T
        self.ct_U = prob.c_U[self.ct_c, self.ct_t]
        self.ct_on = np.full(len(self.ct_key), -1, np.int64)  # on/off binary, if any

    # -- construction ---------------------------------------------------------------------
    def add_cols(self, name: str, lb, ub, cost, integer: bool) -> int:
        lb = np.asarray(lb, float)
        n = len(lb)
        first = self.ncols
        self.cols.append((lb, np.broadcast_to(np.asarray(ub, float), (n,)).copy(),
                          np.broadcast_to(np.asarray(cost, float), (n,)).copy(), integer))
        old = self.blocks.get(name)
        self.blocks[name] = slice(old.start if old else first, first + n)
        self.ncols += n
        return first

    def add_rows(self, family: str, lo, hi, terms, keys) -> None:
        """terms: (local row, column, coefficient) arrays; `keys` names each row (a list, or
        a function of the local row index, evaluated only when a name is asked for)."""
        n = len(np.atleast_1d(lo)) if np.ndim(lo) else 0
        if n == 0:
            return
        sl = self.put_rows(lo, hi, terms, n)
        self.fam.setdefault(family, []).append(sl)
        self.row_keys.append((family, sl, keys))

    def finish(self) -> Model:
        a = self.arrays(np.int64)
        return Model(a["col_lb"], a["col_ub"], a["col_cost"], a["integer"], a["row_lo"],
                     a["row_hi"], a["start"], a["index"], a["value"], self.blocks, self.fam,
                     self.row_keys, self.y_cand, self.stats)

    # -- accessors ------------------------------------------------------------------------
    @property
    def y0(self) -> int:
        return self.blocks["y"].start

    def ct_sum(self, ct_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(local row, y column) terms of `Y[c,t]` for the contract-periods `ct_rows`
        (row k of the result sums the calls of ct_rows[k])."""
        pos = np.full(len(self.ct_key), -1, np.int64)
        pos[ct_rows] = np.arange(len(ct_rows))
        yi = np.flatnonzero(pos[self.y_ct] >= 0)
        return pos[self.y_ct[yi]], self.y0 + yi

    def link(self, family: str, ct_rows: np.ndarray, z: np.ndarray, up: np.ndarray,
             keys) -> None:
        """`Y[c,t] <= U[c,t] * z` (up) or `Y[c,t] <= U[c,t] * (1 - z)` (not up) per
        contract-period, through its on/off binary where it has one (`on <= z`, tighter)."""
        n = len(ct_rows)
        if n == 0:
            return
        on = self.ct_on[ct_rows]
        hasb = on >= 0
        U = self.ct_U[ct_rows]
        up = np.asarray(up, bool)
        # with an on/off binary: on - z <= 0 | on + z <= 1
        ib = np.flatnonzero(hasb)
        self.add_rows(family, np.full(len(ib), -INF), np.where(up[ib], 0.0, 1.0),
                      [(np.arange(len(ib)), on[ib], 1.0),
                       (np.arange(len(ib)), z[ib], np.where(up[ib], -1.0, 1.0))],
                      sub_keys(keys, ib))
        iy = np.flatnonzero(~hasb)
        lr, yc = self.ct_sum(ct_rows[iy])
        self.add_rows(family, np.full(len(iy), -INF), np.where(up[iy], 0.0, U[iy]),
                      [(lr, yc, 1.0), (np.arange(len(iy)), z[iy],
                                       np.where(up[iy], -U[iy], U[iy]))],
                      sub_keys(keys, iy))


def sub_keys(keys, sel: np.ndarray):
    """The names of the rows `sel` of a family named by `keys` (a list or a function)."""
    if callable(keys):
        return lambda i: keys(int(sel[i]))
    return [keys[i] for i in sel]


def group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys, inverse index and counts, in one sort."""
    if len(keys) == 0:
        e = np.zeros(0, np.int64)
        return e, e, e
    return np.unique(keys, return_inverse=True, return_counts=True)
