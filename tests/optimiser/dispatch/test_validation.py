"""Invalid snapshots are refused as a whole with every problem listed; the CLI exits 2."""

from __future__ import annotations

import json

import pytest
from dispatch_cases import asset, contract, request, snapshot
from typer.testing import CliRunner

from flexplatform.cli import app
from optimiser.dispatch import SnapshotError, solve, validate


def _good() -> dict:
    return snapshot(2, [asset("A1"), asset("A2", zone="Z2")],
                    [contract("C1", "A1", [1.0, 1.0])], [request("R1", [1.0, 1.0])])


def test_valid_snapshot_has_no_problems():
    assert validate(_good()) == []


def test_every_problem_is_listed():
    s = _good()
    s["assets"][1]["id"] = "A1"                      # duplicate id
    s["assets"][0]["up_mw"] = -1                     # negative MW
    s["contracts"].append(contract("C2", "NOPE", [1.0, 1.0]))      # unknown asset
    s["contracts"].append(contract("C3", "A1", [1.0]))             # wrong length
    s["requests"].append(request("R2", [1.0, -2.0]))               # negative MW
    s["instructions"] = [{"id": "I1", "contract": "C9", "period": 5, "mw": 1.0}]
    s["availability"] = [{"asset": "A1", "direction": "sideways", "mw": [1.0, 1.0]}]
    s["rules"]["primacy"] = "random"
    problems = validate(s)
    text = "\n".join(problems)
    for expected in ("assets[1].id (id A1): duplicate id", "assets[0].up_mw (id A1): must be >= 0",
                     "contracts[1].asset (id C2): unknown asset 'NOPE'",
                     "contracts[2].mw (id C3): must have 2 values",
                     "requests[1].mw (id R2): values must be finite numbers >= 0",
                     "instructions[0].contract (id I1): unknown contract 'C9'",
                     "instructions[0].period (id I1): must be a period index",
                     "availability[0].direction", "rules.primacy"):
        assert expected in text, (expected, problems)
    assert len(problems) >= 9
    with pytest.raises(SnapshotError) as e:
        solve(s)
    assert isinstance(e.value, ValueError) and e.value.problems == problems


def test_not_an_object():
    assert validate([1, 2]) == ["$: snapshot must be a JSON object"]


def test_duplicate_availability_entry():
    s = _good()
    s["availability"] = [{"asset": "A1", "direction": "up", "mw": [1.0, 1.0]}] * 2
    assert any("duplicate entry" in p for p in validate(s))


def _cli(*args: str):
    return CliRunner().invoke(app, ["dispatch", *args])


def test_cli_writes_result_and_exits_0(tmp_path):
    snap, out = tmp_path / "s.json", tmp_path / "r.json"
    snap.write_text(json.dumps(_good()))
    p = _cli(str(snap), "--out", str(out), "--gap", "0.001", "--time-limit", "10")
    assert p.exit_code == 0, p.output
    assert "status" in p.output and "instructions" in p.output
    res = json.loads(out.read_text())
    assert res["status"] == "optimal" and len(res["instructions"]) == 2


def test_cli_exits_2_on_invalid_and_unreadable(tmp_path):
    bad = _good()
    bad["contracts"][0]["asset"] = "NOPE"
    bad["requests"][0]["mw"] = [1.0]
    snap, out = tmp_path / "s.json", tmp_path / "r.json"
    snap.write_text(json.dumps(bad))
    p = _cli(str(snap), "--out", str(out))
    assert p.exit_code == 2
    assert "unknown asset 'NOPE'" in p.output and "must have 2 values" in p.output
    assert not out.exists()
    snap.write_text("{not json")
    assert _cli(str(snap), "--out", str(out)).exit_code == 2
