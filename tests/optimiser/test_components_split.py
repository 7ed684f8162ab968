"""Component split: independent parts cleared apart (and in a pool) equal the whole."""

from __future__ import annotations

import pytest
from checker import check
from opt_helpers import EXACT, asset, bid, need, snap

from optimiser import ClearingResult, clear, clear_components, load_snapshot, merge_results
from optimiser.components import split_components


def _two_markets():
    return snap([asset("A", up=2, zone="Z1"), asset("C", up=2, zone="Z2"),
                 asset("E", up=1, zone="Z2")],
                [need("N1", [1, 2], zone="Z1"), need("N2", [2, 1], zone="Z2"),
                 need("N3", [1, 1], zone="Z3")],
                [bid("B1", "A", "N1", [2, 2], 10, min_mw=1.5),
                 bid("B2", "C", "N2", [2, 2], 12, exclusive_group="G"),
                 bid("B3", "E", "N2", [1, 1], 8, exclusive_group="G"),
                 bid("B4", "A", "N2", [1, 1], 8),          # zone mismatch: ineligible
                 bid("B5", "Q", "N1", [1, 1], 8)], T=2)     # unknown asset


def test_split_finds_independent_parts():
    parts = split_components(load_snapshot(_two_markets()))
    assert sorted(sorted(n.id for n in p.needs) for p in parts) == [["N1"], ["N2"], ["N3"]]
    assert sorted(b.id for p in parts for b in p.bids) == ["B1", "B2", "B3", "B4", "B5"]


def test_components_equal_monolithic():
    doc = _two_markets()
    s = load_snapshot(doc)
    mono = clear(s, EXACT).to_dict()
    parts = [clear(p, EXACT) for p in split_components(s)]
    merged = merge_results(parts).to_dict()
    assert check(doc, merged) == []
    assert merged["objective"] == pytest.approx(mono["objective"])
    def key(d):
        return sorted((a["bid"], a["period"], a["mw"]) for a in d["awards"])
    assert key(merged) == key(mono)
    assert sorted(map(str, merged["rejected"])) == sorted(map(str, mono["rejected"]))
    assert merged["stages"] == mono["stages"]


def test_merge_survives_json_round_trip():
    s = load_snapshot(_two_markets())
    parts = [ClearingResult.from_dict(clear(p, EXACT).to_dict()) for p in split_components(s)]
    assert merge_results(parts).objective == pytest.approx(clear(s, EXACT).objective)


def test_merge_status_worst_wins():
    a = ClearingResult(status="optimal", objective=1.0, mip_gap=0.0)
    b = ClearingResult(status="feasible", objective=2.0, mip_gap=0.01)
    assert merge_results([a, b]).status == "feasible"
    assert merge_results([a, b]).mip_gap == 0.01
    assert merge_results([a, ClearingResult(status="error", message="x")]).status == "error"


def test_clear_components_process_pool_matches():
    from optimiser.generate import generate

    doc = generate(150, seed=5, eso=False)
    doc["rules"]["primacy"] = "weighted"   # keep it quick; primacy is covered elsewhere
    s = load_snapshot(doc)
    assert len(split_components(s)) > 1
    opts = EXACT.__class__(time_limit=60, mip_rel_gap=1e-7)
    par = clear_components(s, opts, processes=2).to_dict()
    mono = clear(s, opts).to_dict()
    assert par["status"] == mono["status"] == "optimal"
    assert check(doc, par) == []
    assert par["objective"] == pytest.approx(mono["objective"], rel=1e-5)
