"""CLI: exit codes, summary and result file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checker import check
from opt_helpers import asset, bid, need, snap

from optimiser.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, doc):
    p = tmp_path / "snap.json"
    p.write_text(json.dumps(doc))
    return p


def test_main_writes_result_and_returns_0(tmp_path, capsys):
    doc = snap([asset("A", up=1)], [need("N", [2])], [bid("B", "A", "N", [1], 10),
                                                     bid("X", "A", "N", [1], 999)])
    out = tmp_path / "res.json"
    assert main(_write(tmp_path, doc), out=out, time_limit=10, gap=0) == 0
    text = capsys.readouterr().out
    for word in ("status", "optimal", "objective", "awards", "unmet MWh, priority 1",
                 "rejected bids", "availability_price_above_cap", "build s", "solve s"):
        assert word in text
    res = json.loads(out.read_text())
    assert res["status"] == "optimal" and check(doc, res) == []


def test_main_invalid_snapshot_returns_2_listing_all(tmp_path, capsys):
    doc = snap([asset("A", up=-1)], [need("N", [1, 1])], [])
    doc["version"] = 3
    assert main(_write(tmp_path, doc)) == 2
    err = capsys.readouterr().err
    assert "version" in err and "up_mw" in err and "needs[0].mw" in err


def test_main_error_returns_1(tmp_path, monkeypatch):
    from optimiser import cli
    from optimiser.result import ClearingResult

    monkeypatch.setattr(cli, "clear", lambda *a, **k: ClearingResult(status="error",
                                                                     message="boom"))
    doc = snap([asset("A", up=1)], [need("N", [1])], [])
    assert main(_write(tmp_path, doc)) == 1


def test_python_dash_m(tmp_path):
    doc = snap([asset("A", up=1)], [need("N", [1])], [bid("B", "A", "N", [1], 10)])
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "optimiser", str(_write(tmp_path, doc)),
                        "--out", str(out), "--time-limit", "10", "--gap", "0.001"],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text())["awards"][0]["bid"] == "B"


def test_main_decomposed_method_prints_stage_gaps(tmp_path, capsys):
    doc = snap([asset("A", up=1, zone="Z1"), asset("C", up=1, zone="Z2")],
               [need("N1", [1], zone="Z1"), need("G", [1], zone="GB", priority=2)],
               [bid("B1", "A", "N1", [1], 10), bid("B2", "C", "G", [1], 5, min_mw=0.5)])
    out = tmp_path / "res.json"
    assert main(_write(tmp_path, doc), out=out, time_limit=10, gap=1e-6,
                method="decomposed") == 0
    text = capsys.readouterr().out
    assert "cost stage gap" in text
    res = json.loads(out.read_text())
    assert res["status"] == "optimal" and check(doc, res) == []
