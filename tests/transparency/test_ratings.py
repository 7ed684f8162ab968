"""Ratings from declarations, instructions and verifications; who sees them; reliability."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from flexplatform.transparency import ratings
from flexplatform.transparency.monitoring_rules import stage_model
from tests.transparency.monitoring_world import API, HH, T0

pytestmark = pytest.mark.skipif(stage_model("reporting", "Verification") is None
                                or stage_model("operations", "Instruction") is None,
                                reason="operations and reporting stages not merged")
NOW = T0 + dt.timedelta(days=2)


def _rated(world, db, performances, acked_late=0):
    """An asset with len(performances) contracted, instructed and verified half-hours."""
    from flexplatform.operations.models import (
        AvailabilityDeclaration,
        DispatchRun,
        Instruction,
        UtilisationRequest,
    )

    V = stage_model("reporting", "Verification")
    fsp = world.make_party("fsp")
    a = world.asset(fsp, reliability=0.9)
    n_p = len(performances)
    m, n, r = world.market(T0, periods=n_p)
    b = world.bid(m, n, a, 10.0)
    run = DispatchRun(trigger="event")
    req = UtilisationRequest(mo_id=m.mo_id, market_id=m.id, need_id=n.id, product_code="sustain",
                             zone_code="CMZ_NORTH", direction="up", period_start=T0,
                             period_end=T0 + n_p * HH, mw=1.0)
    db.add_all([run, req])
    db.flush()
    for k, p in enumerate(performances):
        t = T0 + k * HH
        c = world.award(r, m, n, b, a, t)
        db.add(AvailabilityDeclaration(asset_id=a.id, fsp_id=fsp.id, direction="up",
                                       period_start=t, mw=0.5 if k == 0 else 1.0,
                                       declared_at=t - dt.timedelta(days=1)))
        created = t - dt.timedelta(minutes=20)
        late = k < acked_late
        ins = Instruction(run_id=run.id, request_id=req.id, contract_id=c.id, asset_id=a.id,
                          fsp_id=fsp.id, mo_id=m.mo_id, product_code="sustain", direction="up",
                          period_start=t, period_end=t + HH, mw=1.0, status="accepted",
                          created_at=created, ack_deadline=created + dt.timedelta(minutes=5),
                          acked_at=created + dt.timedelta(minutes=10 if late else 2))
        db.add(ins)
        db.flush()
        db.add(V(instruction_id=str(ins.id), period_start=t, version=1, fsp_id=fsp.id,
                 mo_id=m.mo_id, contract_id=c.id, mpan="x", ordered_kwh=500,
                 delivered_kwh=500 * p, performance=p, reading_versions={}, methodology="t",
                 status="verified"))
    db.flush()
    return fsp, a, m


def test_rating_components_and_reliability_fed(world, db):
    fsp, a, _ = _rated(world, db, [1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0], acked_late=2)
    rs = ratings.refresh(db, now=NOW)
    ar = next(r for r in rs if r.subject_kind == "asset")
    assert ar.delivery == pytest.approx(0.875)
    assert ar.availability == pytest.approx((0.5 + 7) / 8)
    assert ar.response == pytest.approx(0.75) and ar.median_ack_s == 120
    assert ar.instructed_periods == 8 and ar.contracted_periods == 8
    observed = 0.875 * (7.5 / 8)
    expected = round((4 * 0.9 + 8 * observed) / 12, 4)
    assert ar.reliability == pytest.approx(expected) and a.reliability == pytest.approx(expected)
    assert ar.details["registered_reliability"] == 0.9
    fr = next(r for r in rs if r.subject_kind == "fsp")
    assert fr.subject_id == fsp.id and fr.delivery == pytest.approx(0.875)
    # A second refresh shrinks toward the registered value, not the already-fed one.
    ratings.refresh(db, now=NOW)
    assert a.reliability == pytest.approx(expected)


def test_too_little_evidence_leaves_reliability_alone(world, db):
    _, a, _ = _rated(world, db, [0.2, 0.2])
    (ar,) = [r for r in ratings.refresh(db, now=NOW) if r.subject_kind == "asset"]
    assert ar.delivery == pytest.approx(0.2) and ar.reliability is None and a.reliability == 0.9


def test_who_sees_which_rating(client, world, db, make_party):
    fsp, a, _m = _rated(world, db, [1.0, 0.5, 1.0, 1.0])
    ratings.refresh(db, now=NOW)
    db.commit()
    other_fsp, other_mo, reg = make_party("fsp"), make_party("mo"), make_party("regulator")
    path = f"{API}/assets/{a.id}/rating"
    assert client.get(path, headers=fsp.h).json()["delivery"] == pytest.approx(0.875)
    assert client.get(path, headers=world.mo.h).status_code == 200  # the asset bid to it
    assert client.get(path, headers=reg.h).status_code == 200
    for who in (other_fsp, other_mo):
        assert client.get(path, headers=who.h).status_code == 404
        assert client.get(f"{API}/participants/{fsp.id}/rating", headers=who.h).status_code == 404
        assert client.get(f"{API}/ratings", headers=who.h).json()["total"] == 0
    assert client.get(f"{API}/participants/{fsp.id}/rating", headers=world.mo.h).status_code == 200
    assert client.get(f"{API}/ratings", headers=fsp.h).json()["total"] == 2
    assert client.get(f"{API}/assets/{uuid.uuid4()}/rating", headers=reg.h).status_code == 404
    assert client.get(path).status_code == 401
