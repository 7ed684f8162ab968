"""History groups from past records, the result's JSON, and the worked example of the docs."""

from __future__ import annotations

import json
from pathlib import Path

from advice_helpers import asset, need, request

from optimiser.advice import advise, history_groups, load_advice_request

EXAMPLE = Path(__file__).parent / "data" / "worked_example.json"


def test_history_groups_at_every_fallback_level():
    bids = [{"product": "secure", "zone": "Z1", "direction": "up", "availability_price": 10,
             "accepted": True, "utilisation_price": 200},
            {"product": "secure", "zone": "Z2", "direction": "up", "availability_price": 30,
             "accepted": False}]
    needs = [{"product": "secure", "zone": "Z1", "direction": "up", "bidders": 0}]
    contracts = [{"product": "secure", "zone": "Z1", "direction": "up", "utilisation": 0.05}]
    gs = history_groups(bids, needs, contracts)
    by = {(g["product"], g["zone"], g["direction"]): g for g in gs}
    assert set(by) == {("secure", "Z1", "up"), ("secure", "Z2", "up"), ("secure", None, "up"),
                       ("secure", None, None)}
    assert by[("secure", "Z1", "up")]["accepted_prices"] == [10.0]
    assert by[("secure", "Z1", "up")]["accepted_utilisation_prices"] == [200.0]
    assert by[("secure", None, "up")]["rejected_prices"] == [30.0]
    assert by[("secure", None, None)]["bidders"] == [0]
    assert by[("secure", None, None)]["utilisation"] == [0.05]
    doc = request(asset(), [need("N1", [1.0])], history=gs)
    assert len(load_advice_request(doc).history) == 4   # valid as a request's history


def test_result_to_dict_is_json():
    res = advise(request(asset(up=2.0), [need("N1", [1.0, 1.0]),
                                         need("N2", [1.0, 0.0], zone="Z9")]))
    d = json.loads(res.to_json())
    assert d["version"] == 1 and d["status"] == "optimal" and d["asset"] == "A1"
    assert set(d["expected"]) == {"availability_gbp", "utilisation_gbp", "cost_gbp", "total_gbp"}
    b = d["bids"][0]
    assert b["need"] == "N1" and b["mw"] == [1.0, 1.0]
    assert b["windows"] == [{"first_period": 0, "last_period": 1,
                             "start": "2026-06-01T00:00:00Z", "end": "2026-06-01T01:00:00Z",
                             "mw": 1.0}]
    assert d["not_advised"] == [{"need": "N2", "codes": ["zone_mismatch"], "reasons": [
        {"code": "zone_mismatch", "text": "N2 is for zone Z9; the asset is in Z1"}]}]
    assert set(d["timing"]) == {"build_s", "solve_s", "explain_s"}
    assert d["model"]["candidates"] == 1


def test_no_needs_no_advice():
    res = advise(request(asset(), [], T=2))
    assert res.status == "optimal" and res.bids == () and res.not_advised == ()
    assert str(res.expected.total) == "0.00"


def test_worked_example_of_the_docs():
    """docs/advice.md walks through this request: keep the two in step."""
    res = advise(EXAMPLE)
    assert res.status == "optimal"
    assert [b.need for b in res.bids] == ["MORW-DYN-W25", "NESO-QR-0115", "MORW-LTU-0115"]
    assert res.reasons("MORW-SEC-W25") == ("stacking_conflict", "energy_limit")
    assert res.reasons("STAY-SEC-W25") == ("zone_mismatch",)
    assert res.reasons("MORW-RES-W25") == ("product_not_qualified",)
    dyn = res.bid("MORW-DYN-W25")
    assert str(dyn.availability_price) == "12.28" and round(dyn.win_probability, 2) == 0.64
    assert str(res.expected.total) == "104.86"
    assert str(dyn.expected.total) == "90.11" and dyn.mw[2] == 0.736842
