"""Every monitoring rule fires on its planted case and stays quiet on an honest one."""

from __future__ import annotations

import datetime as dt

import pytest

from flexplatform.transparency import monitoring
from flexplatform.transparency.monitoring import Thresholds, Window
from flexplatform.transparency.monitoring_rules import RULES, stage_model
from tests.transparency.monitoring_world import HH, T0

W = Window(T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1))


def run(db, rule: str, window: Window = W) -> list:
    return RULES[rule](db, window, Thresholds())


def _contracted(world, fsp, start=T0, periods=2):
    a = world.asset(fsp)
    m, n, r = world.market(start, periods=periods)
    b = world.bid(m, n, a, 10.0)
    for k in range(periods):
        world.award(r, m, n, b, a, start + k * HH)
    return a, m, n, r


def _profile(days: int = 14, usual: float = 20.0, window: float = 20.0) -> dict:
    """14 days of a flat usual profile, and the baseline window (6 half-hours) on the day."""
    vals = {}
    for d in range(0, days + 1):
        for k in range(1, 7):
            vals[T0 - dt.timedelta(days=d) - k * HH] = window if d == 0 else usual + (d % 3)
    return vals


def test_baseline_inflation_fires_on_the_power_rinse(world, db):
    a, *_ = _contracted(world, world.make_party("fsp"))
    world.readings(a, _profile(window=60.0))  # consumption tripled before the event
    (f,) = run(db, "baseline_inflation")
    assert f.subject_id == str(a.id) and f.severity == "high"
    ev = f.evidence
    assert ev["baseline_window_mean_kwh"] == 60.0 and ev["usual_mean_kwh"] == 21.0
    assert ev["ratio"] == pytest.approx(60 / 21, abs=1e-3) and len(ev["usual_profile_days"]) == 14
    assert ev["contract_ids"] and ev["event_start"] == "2026-11-20T17:00:00Z"


def test_baseline_inflation_quiet_on_a_usual_day(world, db):
    a, *_ = _contracted(world, world.make_party("fsp"))
    world.readings(a, _profile(window=22.0))
    assert run(db, "baseline_inflation") == []


def test_bid_price_outlier_fires_against_own_history_and_peers(world, db):
    fsp, peer = world.make_party("fsp"), world.make_party("fsp")
    a, p = world.asset(fsp), world.asset(peer)
    past = T0 - dt.timedelta(days=10)
    for k in range(4):
        m, n, _ = world.market(past + k * dt.timedelta(days=1))
        world.bid(m, n, a, 10.0 + k, created_at=past + k * dt.timedelta(days=1))
        world.bid(m, n, p, 11.0, created_at=past + k * dt.timedelta(days=1))
    m, n, _ = world.market(T0)
    b = world.bid(m, n, a, 60.0, status="submitted", created_at=T0)
    (f,) = run(db, "bid_price_outlier")
    assert f.subject_id == str(a.id) and f.severity == "high"
    (row,) = f.evidence["bids"]
    assert row["bid_id"] == str(b.id)
    assert row["against"]["own_history"]["median"] == 11.5
    assert row["against"]["zone_peers"]["median"] == 11.0


def test_bid_price_outlier_quiet_within_range(world, db):
    fsp, peer = world.make_party("fsp"), world.make_party("fsp")
    a, p = world.asset(fsp), world.asset(peer)
    past = T0 - dt.timedelta(days=10)
    for k in range(4):
        m, n, _ = world.market(past + k * dt.timedelta(days=1))
        world.bid(m, n, a, 10.0, created_at=past + k * dt.timedelta(days=1))
        world.bid(m, n, p, 11.0, created_at=past + k * dt.timedelta(days=1))
    m, n, _ = world.market(T0)
    world.bid(m, n, a, 14.0, status="submitted", created_at=T0)
    assert run(db, "bid_price_outlier") == []


def _price_history(world, setter_share: float):
    big, small = world.make_party("fsp"), world.make_party("fsp")
    a, b = world.asset(big), world.asset(small)
    for k in range(4):
        m, n, r = world.market(T0 + k * dt.timedelta(hours=3), periods=2)
        hi, lo = world.bid(m, n, a, 40.0), world.bid(m, n, b, 20.0)
        for p in range(2):
            t = T0 + k * dt.timedelta(hours=3) + p * HH
            world.award(r, m, n, hi, a, t, 0.5)
            world.award(r, m, n, lo, b, t, 0.5)
            if (k * 2 + p) / 8 >= setter_share:  # the small FSP sets the rest
                lo2 = world.bid(m, n, b, 45.0)
                world.award(r, m, n, lo2, b, t, 0.1)
    return big


def test_price_setter_fires_when_one_fsp_sets_every_price(world, db):
    big = _price_history(world, 1.0)
    (f,) = run(db, "price_setter")
    assert f.subject_id == "CMZ_NORTH" and f.fsp_id == big.id
    assert f.evidence["set_by_fsp"] == 8 and f.evidence["share"] == 1.0
    assert len(f.evidence["needs"]) == 4


def test_price_setter_quiet_when_the_price_is_shared(world, db):
    _price_history(world, 0.5)
    assert run(db, "price_setter") == []


def test_persistent_unmet_fires_on_a_dry_zone(world, db):
    for k in range(3):
        _, n, r = world.market(T0 + k * dt.timedelta(hours=2), periods=1)
        world.outcome(r, n, T0 + k * dt.timedelta(hours=2), unmet=1.0)
    (f,) = run(db, "persistent_unmet")
    assert f.subject_id == "CMZ_NORTH/sustain/up" and f.severity == "high"
    assert len(f.evidence["unmet_needs"]) == 3 and f.evidence["unmet_mw_periods"] == 3.0


def test_persistent_unmet_quiet_when_needs_are_met(world, db):
    for k in range(3):
        _, n, r = world.market(T0 + k * dt.timedelta(hours=2), periods=1)
        world.outcome(r, n, T0 + k * dt.timedelta(hours=2), unmet=1.0 if k == 0 else 0.0)
    assert run(db, "persistent_unmet") == []


def test_auth_failure_burst_fires_on_repeated_bad_keys(client, db):
    from flexplatform.transparency.monitoring_models import AuthFailure

    for _ in range(12):
        r = client.get("/api/v1/markets", headers={"Authorization": "Bearer fpk_abc123.nope"})
        assert r.status_code == 401
    rows = db.query(AuthFailure).all()
    assert len(rows) == 12 and {r.reason for r in rows} == {"unknown"}
    assert all(r.prefix_hash and "abc123" not in r.prefix_hash for r in rows)
    now = rows[-1].at
    fs = run(db, "auth_failure_burst", Window(now - dt.timedelta(hours=1),
                                              now + dt.timedelta(seconds=1)))
    (f,) = fs
    assert f.subject_kind == "key" and f.evidence["burst"] == 12
    assert f.evidence["reasons"] == {"unknown": 12}


def test_auth_failure_burst_quiet_on_a_few_typos(client, db):
    from flexplatform.transparency.monitoring_models import AuthFailure

    for _ in range(3):
        client.get("/api/v1/markets", headers={"Authorization": "Bearer fpk_abc123.nope"})
    now = db.query(AuthFailure).all()[-1].at
    assert run(db, "auth_failure_burst", Window(now - dt.timedelta(hours=1),
                                                now + dt.timedelta(seconds=1))) == []


# --- rules on operations' and reporting's tables (run once those stages are merged) -------

ops = pytest.mark.skipif(stage_model("operations", "AvailabilityDeclaration") is None,
                         reason="operations stage not merged")
rep = pytest.mark.skipif(stage_model("reporting", "Verification") is None,
                         reason="reporting settlement not merged")


def _declare(db, a, t, mws, leads):
    AD = stage_model("operations", "AvailabilityDeclaration")
    for v, (mw, lead) in enumerate(zip(mws, leads, strict=True), start=1):
        db.add(AD(asset_id=a.id, fsp_id=a.fsp_id, direction="up", period_start=t, mw=mw,
                  version=v, declared_at=t - dt.timedelta(minutes=lead)))
    db.flush()


def _withholding_world(world, db, late: bool):
    a, _m, n, r = _contracted(world, world.make_party("fsp"), periods=6)
    for k, price in enumerate([10.0, 10.0, 10.0, 10.0, 90.0, 95.0]):
        world.outcome(r, n, T0 + k * HH, price=price)
    for k in (4, 5):  # the two dear periods
        _declare(db, a, T0 + k * HH, [1.0, 0.0], [1440, 30 if late else 600])
    return a


@ops
def test_withholding_fires_on_late_cuts_before_dear_periods(world, db):
    a = _withholding_world(world, db, late=True)
    (f,) = run(db, "withholding")
    assert f.subject_id == str(a.id) and f.evidence["cuts_high_priced"] == 2
    assert all(c["lead_minutes"] == 30 for c in f.evidence["cuts"])


@ops
def test_withholding_quiet_on_early_notice(world, db):
    _withholding_world(world, db, late=False)
    assert run(db, "withholding") == []


@ops
def test_repeated_conflicts_fire_and_stay_quiet(world, db):
    C = stage_model("operations", "Conflict")
    for k in range(3):
        db.add(C(kind="overlap", detected_by="scan", zone_code="CMZ_NORTH", parties=[],
                 period_start=T0 + k * HH, period_end=T0 + (k + 1) * HH,
                 dedupe_key=f"c{k}"))
    db.flush()
    (f,) = run(db, "repeated_conflicts")
    assert f.subject_id == "CMZ_NORTH" and len(f.evidence["conflicts"]) == 3
    assert run(db, "repeated_conflicts", Window(T0 - dt.timedelta(days=3),
                                                T0 - dt.timedelta(days=2))) == []


def _verified(world, db, performances):
    V = stage_model("reporting", "Verification")
    a, _m, _n, _r = _contracted(world, world.make_party("fsp"), periods=len(performances))
    from flexplatform.competition.models import Contract

    cs = db.query(Contract).filter(Contract.asset_id == a.id).order_by(Contract.period_start).all()
    for c, p in zip(cs, performances, strict=True):
        db.add(V(instruction_id=f"i-{c.id}", period_start=c.period_start, version=1,
                 fsp_id=a.fsp_id, mo_id=c.mo_id, contract_id=c.id, mpan="x", ordered_kwh=500,
                 delivered_kwh=500 * p, performance=p, reading_versions={}, methodology="t", status="verified"))
    db.flush()
    return a


@rep
def test_repeated_non_delivery_fires(world, db):
    a = _verified(world, db, [0.1, 0.2, 0.0, 1.0])
    (f,) = run(db, "repeated_non_delivery")
    assert f.subject_id == str(a.id) and f.evidence["short_periods"] == 3


@rep
def test_repeated_non_delivery_quiet(world, db):
    _verified(world, db, [0.9, 1.0, 0.3, 1.0])
    assert run(db, "repeated_non_delivery") == []


def test_evaluate_stores_each_case_once(world, db):
    for k in range(3):
        _, n, r = world.market(T0 + k * dt.timedelta(hours=2), periods=1)
        world.outcome(r, n, T0 + k * dt.timedelta(hours=2), unmet=1.0)
    first = monitoring.evaluate(db, W, ["persistent_unmet"])
    again = monitoring.evaluate(db, Window(W.start - HH, W.end), ["persistent_unmet"])
    assert len(first) == 1 and again == []


def test_old_auth_failures_are_pruned(db):
    from flexplatform.transparency.monitoring_models import AuthFailure

    db.add_all([AuthFailure(prefix_hash="a", reason="unknown", at=T0 - dt.timedelta(days=40)),
                AuthFailure(prefix_hash="a", reason="unknown", at=T0)])
    db.flush()
    assert monitoring.prune_auth_failures(db, now=T0) == 1
    assert db.query(AuthFailure).count() == 1
