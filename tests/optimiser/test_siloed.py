"""Siloed comparator: markets in gate-closure order, conflicts counted and dropped."""

from __future__ import annotations

import pytest
from opt_helpers import asset, bid, need, snap

from optimiser import clear, load_snapshot
from optimiser.siloed import clear_siloed


def test_conflict_counted_and_later_award_dropped():
    # both MOs buy the same 2 MW asset; the ESO market closes first (gate_closure), so the
    # DSO award is the conflict and its need is left unmet
    doc = snap([asset("A", up=2), asset("C", up=2)],
               [need("D", [2], mo="DSO", gate_closure="2026-05-31T12:00:00Z"),
                need("E", [2], zone="GB", mo="ESO", priority=2, penalty=300,
                     gate_closure="2026-05-31T09:00:00Z")],
               [bid("BD", "A", "D", [2], 10), bid("BE", "A", "E", [2], 5),
                bid("BC", "C", "D", [2], 30)])
    s = load_snapshot(doc)
    r = clear_siloed(s)
    assert r.markets == ["ESO", "DSO"]
    assert r.conflicts == 1 and r.conflict_mw == 2.0
    assert r.unmet_by_priority == {1: 1.0, 2: 0.0}
    central = clear(s)
    assert central.objective < r.objective
    assert sum(x.unmet_mwh for x in central.stages) == 0


def test_merit_order_and_min_mw():
    doc = snap([asset("A", up=3), asset("C", up=3)], [need("N", [2])],
               [bid("BA", "A", "N", [3], 20), bid("BC", "C", "N", [3], 10, min_mw=1)])
    r = clear_siloed(load_snapshot(doc))
    assert r.awards == [("BC", 0, 2.0)]
    assert r.objective == pytest.approx(2 * 0.5 * 10)
    assert r.conflicts == 0
