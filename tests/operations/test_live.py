"""The dispatch path on committed data: the API's request runs the dispatch task in-process
and on a real Celery worker (``tests/competition/conftest.py`` ``live``), a rejection is
re-dispatched by the task it enqueues, and a run started twice stores its instructions
once."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.competition.conftest import live, mode  # noqa: F401  (fixtures)
from tests.helpers import Party
from tests.operations.conftest import HALF, seed

API = "/api/v1"


@pytest.fixture
def world(live):  # noqa: F811
    from flexplatform.audit import Actor
    from flexplatform.auth import Principal
    from flexplatform.db import unit_of_work
    from flexplatform.governance.models import Zone, ZoneKind
    from flexplatform.registration.schemas import ParticipantCreate, TermsCreate
    from flexplatform.registration.service import (
        accept_terms,
        create_participant,
        create_terms,
    )

    with unit_of_work() as s:
        s.add(Zone(code="CMZ_NORTH", name="North", kind=ZoneKind.cmz, dso="NGED"))
        tv = create_terms(s, TermsCreate(version="L-1", title="t", body="b"), Actor.system())
        n = iter(range(1000))

        def make_party(role: str) -> Party:
            i = next(n)
            p, key = create_participant(s, ParticipantCreate(
                role=role, legal_name=f"{role} {i} Ltd",
                billing_contact={"name": "b", "email": f"b{i}@example.org"}), Actor.system())
            s.flush()
            if role in ("mo", "fsp"):
                accept_terms(s, tv.version, Principal(participant=p, key_prefix="t"))
            return Party(id=p.id, role=role, key=key)

        out = seed(s, make_party)
    return {**live, **out}


def _wait(c, who, rid: str, want: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    end = time.time() + timeout
    while time.time() < end:
        r = c.get(f"{API}/utilisation-requests/{rid}", headers=who.h).json()
        if r["status"] in want:
            return r
        time.sleep(0.2)
    raise AssertionError(f"request {rid} still {r['status']}")


def test_request_to_redispatch_through_the_task(world):
    from sqlalchemy import func, select

    from flexplatform.db import unit_of_work
    from flexplatform.operations.models import DispatchRun, Instruction
    from tests.competition.conftest import run_task

    c, w = world["client"], world
    start = w["start"]
    r = c.post(f"{API}/utilisation-requests", headers=w["mo1"].h, json={
        "need_id": str(w["needs"]["mo1"]), "period_start": start.isoformat(),
        "period_end": (start + HALF).isoformat(), "mw": 2.0})
    assert r.status_code == 201, r.text
    d = _wait(c, w["mo1"], r.json()["id"], ("dispatched",))
    [ins] = d["instructions"]
    assert ins["asset_id"] == str(w["assets"][0])
    ack = c.post(f"{API}/instructions/{ins['id']}/ack", headers=w["fsp1"].h,
                 json={"decision": "reject", "reason": "outage"})
    assert ack.status_code == 200
    end = time.time() + 60
    while time.time() < end:
        d = c.get(f"{API}/utilisation-requests/{d['id']}", headers=w["mo1"].h).json()
        if any(i["status"] == "issued" for i in d["instructions"]):
            break
        time.sleep(0.2)
    live_now = [i for i in d["instructions"] if i["status"] == "issued"]
    assert live_now and str(w["assets"][0]) not in {i["asset_id"] for i in live_now}
    with unit_of_work() as s:
        runs = s.scalars(select(DispatchRun).order_by(DispatchRun.created_at)).all()
        assert [x.trigger for x in runs] == ["event", "redispatch"]
        assert all(x.status == "done" and x.snapshot_sha256 and x.result_sha256 for x in runs)
        before = s.scalar(select(func.count()).select_from(Instruction))
        first = runs[0].id
    # A redelivered message for a stored run does nothing.
    run_task("flex.operations.dispatch_run", run_id=str(first))
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Instruction)) == before


def test_lapsed_run_is_restarted_by_the_sweep_and_stored_once(world):
    from sqlalchemy import func, select

    from flexplatform.db import unit_of_work, utcnow
    from flexplatform.operations import runs
    from flexplatform.operations.models import DispatchRun, Instruction, UtilisationRequest
    from tests.competition.conftest import run_task

    w = world
    with unit_of_work() as s:
        from flexplatform.competition.models import Market, Need

        need = s.get(Need, w["needs"]["mo1"])
        m = s.get(Market, need.market_id)
        req = UtilisationRequest(mo_id=m.mo_id, market_id=m.id, need_id=need.id,
                                 product_code="dynamic", zone_code="CMZ_NORTH", direction="up",
                                 period_start=w["start"], period_end=w["start"] + HALF, mw=1.0,
                                 covered_mw=[0.0])
        s.add(req)
        s.flush()
        run = runs.queue_run(s, "event", w["start"], w["start"] + HALF, [req.id])
        s.info.pop("after_commit", None)  # the message is "lost"
        rid = run.id
    # A worker took it and died: running, lease lapsed.
    with unit_of_work() as s:
        snap = runs.prepare(s, rid)
        assert snap is not None
        s.get(DispatchRun, rid).lease_expires_at = utcnow()
    run_task("flex.operations.sweep")
    run_task("flex.operations.dispatch_run", run_id=str(rid))  # and a duplicate message
    end = time.time() + 60
    while time.time() < end:
        with unit_of_work() as s:
            r = s.get(DispatchRun, rid)
            if r.status == "done":
                break
        time.sleep(0.2)
    with unit_of_work() as s:
        r = s.get(DispatchRun, rid)
        assert r.status == "done" and r.attempts == 2
        n = s.scalar(select(func.count()).select_from(Instruction).where(
            Instruction.run_id == rid))
        assert n == 1
        assert s.get(UtilisationRequest, uuid.UUID(str(req.id))).status == "dispatched"
