"""Bad input and other participants' objects on the settlement endpoints: RFC 9457
problems naming the field, 404 for what is not the caller's, nothing written."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from flexplatform.competition.models import Market
from flexplatform.reporting.settlement_models import SettlementRun, SettlementSettings

API = "/api/v1"
T = dt.datetime(2025, 1, 15, 17, tzinfo=dt.UTC)


@pytest.fixture
def market(db, make_party):
    mo, other, fsp, admin = (make_party(r) for r in ("mo", "mo", "fsp", "admin"))
    m = Market(mo_id=mo.id, name="m", gate_open_at=T, gate_close_at=T, delivery_start=T,
               delivery_end=T + dt.timedelta(hours=1), status="cleared")
    db.add(m)
    db.commit()
    return {"mo": mo, "other": other, "fsp": fsp, "admin": admin, "id": str(m.id)}


def _problem(r, status, *fields):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    got = {e["field"] for e in r.json().get("errors", [])}
    for f in fields:
        assert any(g.endswith(f) for g in got), (f, got)


def test_runs_refuse_bad_input_and_foreign_markets(client, db, market):
    body = {"market_id": market["id"], "day": "2025-01-15"}
    _problem(client.post(f"{API}/settlement-runs", headers=market["mo"].h,
                         json=body | {"day": "2025-13-01"}), 422, "day")
    _problem(client.post(f"{API}/settlement-runs", headers=market["mo"].h,
                         json=body | {"market_id": str(uuid.uuid4())}), 404)
    _problem(client.post(f"{API}/settlement-runs", headers=market["other"].h, json=body), 404)
    _problem(client.post(f"{API}/settlement-runs", headers=market["fsp"].h, json=body), 403)
    assert db.scalar(select(func.count()).select_from(SettlementRun)) == 0


def test_settings_are_validated_and_private(client, db, market):
    url = f"{API}/markets/{market['id']}/settlement-settings"
    got = client.get(url, headers=market["mo"].h)
    assert got.status_code == 200 and got.json()["period"] == "monthly"
    _problem(client.get(url, headers=market["other"].h), 404)
    _problem(client.put(url, headers=market["admin"].h, json={"vat_rate": "1.5"}), 422,
             "vat_rate")
    _problem(client.put(url, headers=market["admin"].h, json={"period": "yearly"}), 422,
             "period")
    bad = {"payment_rules": {"version": 0, "utilisation_tiers": [], "colour": "red"}}
    _problem(client.put(url, headers=market["admin"].h, json=bad), 422, "payment_rules.version")
    assert db.scalar(select(func.count()).select_from(SettlementSettings)) == 0
    ok = client.put(url, headers=market["admin"].h, json={"period": "weekly", "vat_rate": "0.05"})
    assert ok.status_code == 200 and Decimal(ok.json()["vat_rate"]) == Decimal("0.05")


def test_reads_refuse_bad_ranges_and_unknown_ids(client, market):
    _problem(client.get(f"{API}/verifications", headers=market["fsp"].h,
                        params={"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"}),
             422, "end")
    _problem(client.get(f"{API}/verifications", headers=market["fsp"].h,
                        params={"start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00:00Z"}),
             422, "start")
    for path in ("statements", "invoices", "disputes", "settlement-runs"):
        who = market["mo"]
        _problem(client.get(f"{API}/{path}/{uuid.uuid4()}", headers=who.h), 404)
    _problem(client.post(f"{API}/statements/{uuid.uuid4()}/disputes", headers=market["fsp"].h,
                         json={"line_no": 1, "reason": "x", "amount_claimed": "1.001"}), 422,
             "amount_claimed")


def test_statement_periods():
    from flexplatform.reporting.settle_inputs import statement_period

    m = statement_period("monthly", dt.date(2024, 2, 10))
    assert (m.label, m.first, m.last) == ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    w = statement_period("weekly", dt.date(2025, 1, 1))
    assert (w.label, w.first, w.last) == ("2025-W01", dt.date(2024, 12, 30), dt.date(2025, 1, 5))
    d = statement_period("daily", dt.date(2025, 3, 30))
    assert (d.label, d.first, d.last) == ("2025-03-30",) + (dt.date(2025, 3, 30),) * 2


def _dispute(db, market, deadline):
    from flexplatform.reporting.settlement_models import Dispute, Statement

    run = SettlementRun(market_id=uuid.UUID(market["id"]), mo_id=market["mo"].id,
                        period_label="2025-01", period_first=dt.date(2025, 1, 1),
                        period_last=dt.date(2025, 1, 31), status="done")
    db.add(run)
    db.flush()
    st = Statement(run_id=run.id, market_id=run.market_id, mo_id=market["mo"].id,
                   fsp_id=market["fsp"].id, period_label="2025-01", status="disputed",
                   availability=Decimal("1.00"), utilisation=Decimal("0.00"),
                   penalties=Decimal("0.00"), net=Decimal("1.00"))
    db.add(st)
    db.flush()
    d = Dispute(statement_id=st.id, line_no=1, fsp_id=market["fsp"].id, mo_id=market["mo"].id,
                reason="r", amount_claimed=Decimal("1.00"), response_deadline=deadline)
    db.add(d)
    db.commit()
    return d


def test_reminders_before_and_after_the_deadline_once_each(client, db, market):
    from flexplatform.notifications import Notification
    from flexplatform.reporting import disputes

    now = dt.datetime.now(dt.UTC)
    near = _dispute(db, market, now + dt.timedelta(hours=3))
    assert disputes.remind(db) == 1
    assert disputes.remind(db) == 1  # again: deduplicated
    kinds = [(n.participant_id, n.kind) for n in db.scalars(select(Notification))]
    assert kinds == [(market["mo"].id, "dispute.deadline_near")]
    near.response_deadline = now - dt.timedelta(minutes=1)
    db.commit()
    disputes.remind(db)
    db.commit()
    passed = {n.participant_id for n in db.scalars(select(Notification).where(
        Notification.kind == "dispute.deadline_passed"))}
    assert passed == {market["mo"].id, market["fsp"].id, market["admin"].id}
    # an unanswered dispute past its deadline may be escalated by the FSP
    r = client.post(f"{API}/disputes/{near.id}/escalation", headers=market["fsp"].h,
                    json={"reason": "no answer in time"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert client.post(f"{API}/disputes/{near.id}/escalation", headers=market["other"].h,
                       json={"reason": "x"}).status_code == 404
