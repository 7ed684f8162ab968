"""`flexplatform clear` wraps the optimiser's CLI: exit codes and the result file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flexplatform.cli import app

SNAP = {
    "version": 1, "period_minutes": 30,
    "periods": ["2026-06-01T16:00:00Z", "2026-06-01T16:30:00Z"],
    "assets": [{"id": "A1", "fsp": "F1", "zone": "Z1", "technology": "battery",
                "up_mw": 2.0, "down_mw": 2.0}],
    "needs": [{"id": "N1", "mo": "DSO1", "product": "sustain", "zone": "Z1", "direction": "up",
               "priority": 1, "mw": [1.0, 3.0], "max_availability_price": 60.0,
               "utilisation_price_cap": 500.0, "expected_utilisation": 0.0,
               "unmet_penalty": 1000.0}],
    "bids": [{"id": "B1", "asset": "A1", "need": "N1", "mw": [2.0, 2.0],
              "availability_price": 12.0, "utilisation_price": 100.0}],
    "rules": {"incompatible_products": [], "primacy": "lexicographic", "pricing": "pay_as_bid",
              "carbon_price": 0.0},
}


def test_clear_writes_result(tmp_path):
    snap, out = tmp_path / "s.json", tmp_path / "r.json"
    snap.write_text(json.dumps(SNAP))
    r = CliRunner().invoke(app, ["clear", str(snap), "--out", str(out), "--time-limit", "10"])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["status"] == "optimal"
    # 1 MW then 2 MW awarded (capability 2), 1 MW unmet in period 2.
    assert sorted((a["period"], a["mw"]) for a in res["awards"]) == [(0, 1.0), (1, 2.0)]
    assert res["unmet"] == [{"need": "N1", "period": 1, "mw": 1.0}]


def test_clear_invalid_snapshot_exit_2(tmp_path):
    bad = dict(SNAP, bids=[dict(SNAP["bids"][0], mw=[1.0])])
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(bad))
    r = CliRunner().invoke(app, ["clear", str(snap)])
    assert r.exit_code == 2 and "B1" in r.output
