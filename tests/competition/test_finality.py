"""A timed-out solve never becomes the market result by itself.

Found by trying the running API: at the time limit a 2,000-asset round stored ``feasible``
with gap 0.961, no awards and every need unmet, and its markets were cleared. A result is
final only when optimal or within the configured gap; otherwise it is solved once more with
twice the time, then held for an admin, who releases it with a reason or re-runs it longer.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from sqlalchemy import func, select

from flexplatform.competition.finality import is_final
from tests.competition.conftest import run_task
from tests.competition.hard_market import build

API = "/api/v1"


@pytest.mark.parametrize("result, max_gap, final", [
    ({"status": "optimal", "mip_gap": 0.0}, 0.01, True),
    ({"status": "optimal", "mip_gap": None}, 0.01, True),
    ({"status": "feasible", "mip_gap": 0.01}, 0.01, True),
    ({"status": "feasible", "mip_gap": 0.0100001}, 0.01, False),
    ({"status": "feasible", "mip_gap": 0.961}, 0.01, False),
    ({"status": "feasible", "mip_gap": None}, 0.01, False),
    ({"status": "feasible", "mip_gap": None}, 1.0, True),
    ({"status": "feasible", "mip_gap": 0.3}, 0.5, True),
    ({"status": "infeasible", "mip_gap": None}, 1.0, False),
    ({"status": "error"}, 1.0, False),
])
def test_finality_rule(result, max_gap, final):
    assert is_final(result, max_gap) is final


def _round(c, admin, rid, until=("held", "done", "failed"), timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rnd = c.get(f"{API}/clearings/{rid}", headers=admin).json()
        if rnd["status"] in until:
            return rnd
        time.sleep(0.2)
    raise AssertionError(f"round {rid} still {rnd['status']}")


def _counts(rid):
    from flexplatform.competition.models import Contract, Market
    from flexplatform.db import unit_of_work

    with unit_of_work() as s:
        contracts = s.scalar(select(func.count()).select_from(Contract)
                             .where(Contract.round_id == uuid.UUID(rid)))
        markets = sorted(m.value for m in s.scalars(select(Market.status)))
    return contracts, markets


def _held_round(live, monkeypatch):
    """A hard market cleared with a 0.05 s limit: re-run at 0.1 s, then held."""
    from flexplatform.competition import clearing
    from flexplatform.db import reset_runtime, unit_of_work

    monkeypatch.setenv("FLEX_SOLVER_TIME_LIMIT", "0.05")
    reset_runtime()
    with unit_of_work() as s:
        world = build(s, n_assets=100)
    with unit_of_work() as s:
        (rid,) = clearing.close_gates(s, now=world["gate"] + dt.timedelta(seconds=1))
    rid = str(rid)
    run_task("flex.competition.clear_round", round_id=rid)
    return world, rid, _round(live["client"], world["admin"], rid)


def test_a_result_short_of_final_is_rerun_then_held_then_released(live, monkeypatch):
    c = live["client"]
    world, rid, rnd = _held_round(live, monkeypatch)
    admin, dso = world["admin"], world["dso"]
    assert rnd["status"] == "held", rnd
    assert rnd["time_limit_s"] == pytest.approx(0.1)  # the re-run had twice the time
    assert "a final result needs optimal" in rnd["hold_reason"]
    assert _counts(rid) == (0, ["closed", "closed"])  # no contract; markets stay closed
    actions = [e["action"] for e in c.get(f"{API}/audit/events?entity_id={rid}",
                                          headers=admin).json()]
    assert actions == ["clearing.queued", "clearing.rerun", "clearing.held"]
    for who in (admin, dso, world["eso"]):
        kinds = [n["kind"] for n in c.get(f"{API}/notifications", headers=who).json()]
        assert kinds == ["clearing.held"], kinds
    # The held result is the regulator's and admin's to see, not yet the market's.
    assert c.get(f"{API}/clearings/{rid}/result", headers=dso).status_code == 409
    held = c.get(f"{API}/clearings/{rid}/result", headers=admin).json()
    assert held["status"] == "feasible" and not is_final(held)
    assert c.get(f"{API}/markets/{world['markets'][0]}/schedule",
                 headers=dso).status_code == 409

    # An admin releases it as it is, and says why.
    r = c.post(f"{API}/clearings/{rid}/release", headers=admin, json={"reason": "ok"})
    assert r.status_code == 422  # a reason is at least a few words
    r = c.post(f"{API}/clearings/{rid}/release", headers=admin,
               json={"reason": "gap accepted for this test market"})
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    contracts, markets = _counts(rid)
    assert contracts > 0 and markets == ["cleared", "cleared"]
    events = c.get(f"{API}/audit/events?entity_id={rid}", headers=admin).json()
    release = next(e for e in events if e["action"] == "clearing.release")
    assert release["data"]["reason"] == "gap accepted for this test market"
    assert release["actor_role"] == "admin"
    assert events[-1]["action"] == "clearing.done"
    assert c.post(f"{API}/clearings/{rid}/release", headers=admin,
                  json={"reason": "twice"}).status_code == 409


def test_an_admin_reruns_a_held_round_with_a_longer_limit(live, monkeypatch):
    c = live["client"]
    world, rid, rnd = _held_round(live, monkeypatch)
    admin = world["admin"]
    assert rnd["status"] == "held"
    r = c.post(f"{API}/clearings/{rid}/rerun", headers=admin,
               json={"time_limit_s": 0.1, "reason": "same limit again"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/time_limit_s"
    assert c.post(f"{API}/clearings/{rid}/rerun", headers=world["dso"],
                  json={"time_limit_s": 60, "reason": "not mine"}).status_code == 403
    r = c.post(f"{API}/clearings/{rid}/rerun", headers=admin,
               json={"time_limit_s": 60, "reason": "give the solver a minute"})
    assert r.status_code == 200, r.text
    done = _round(c, admin, rid, until=("done", "failed", "held"))
    assert done["status"] == "done", done
    assert done["solver_status"] == "optimal" or is_final(
        c.get(f"{API}/clearings/{rid}/result", headers=admin).json())
    contracts, markets = _counts(rid)
    assert contracts > 0 and markets == ["cleared", "cleared"]
    rerun = [e for e in c.get(f"{API}/audit/events?entity_id={rid}", headers=admin).json()
             if e["action"] == "clearing.rerun"]
    assert [e["actor_role"] for e in rerun] == ["system", "admin"]
    assert rerun[-1]["data"]["time_limit_s"] == 60
