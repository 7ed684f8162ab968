"""Who sees and writes which meter data: FSP its own, agents what they are granted while
the grant lasts, an MO the meters of assets holding its contracts, the regulator all;
another participant's meter point, grant or submission answers 404."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select

from flexplatform.audit import AuditEvent
from flexplatform.competition.models import Bid, ClearingRound, Contract, Market, Need
from tests.helpers import new_mpan
from tests.reporting.conftest import API, DAY, add_meter, csv_text, iso, post_csv

GRANTS = f"{API}/meter-data-grants"


def _readings(client, mpan, who):
    return client.get(f"{API}/meter-points/{mpan}/readings", headers=who.h,
                      params={"start": iso(DAY), "end": iso(DAY + dt.timedelta(days=1))})


def _award(db, mo_id, fsp_id, asset_id) -> None:
    """A contract between the MO and the asset (as clearing would store it)."""
    t = DAY
    market = Market(mo_id=mo_id, name="m", gate_open_at=t, gate_close_at=t,
                    delivery_start=t, delivery_end=t + dt.timedelta(hours=1), status="cleared")
    db.add(market)
    db.flush()
    need = Need(market_id=market.id, product_code="sustain", zone_code="CMZ_NORTH",
                direction="up", mw=[1.0], max_availability_price=Decimal(10),
                utilisation_price_cap=Decimal(100), unmet_penalty=Decimal(0))
    rnd = ClearingRound(market_ids=[str(market.id)], status="done")
    db.add_all([need, rnd])
    db.flush()
    bid = Bid(fsp_id=fsp_id, asset_id=uuid.UUID(asset_id), need_id=need.id,
              market_id=market.id, mw=[1.0], availability_price=Decimal(5),
              utilisation_price=Decimal(50), status="accepted")
    db.add(bid)
    db.flush()
    db.add(Contract(round_id=rnd.id, bid_id=bid.id, need_id=need.id, market_id=market.id,
                    asset_id=bid.asset_id, fsp_id=fsp_id, mo_id=mo_id, product_code="sustain",
                    direction="up", period_start=t, mw=1.0,
                    availability_price=Decimal(5), utilisation_price=Decimal(50)))
    db.commit()


def test_meter_points_and_readings_of_another_answer_404(client, db, make_party, zones):
    a = make_party("fsp")
    mine = add_meter(client, a)
    b, mo, mda = make_party("fsp"), make_party("mo"), make_party("mda")
    reg, admin = make_party("regulator"), make_party("admin")
    r = post_csv(client, a, csv_text([(mine.mpan, iso(DAY), "1", "0")]))
    sub = r.json()["submission_id"]
    for who in (b, mo, mda):
        assert client.get(f"{API}/meter-points/{mine.mpan}", headers=who.h).status_code == 404
        assert _readings(client, mine.mpan, who).status_code == 404
        assert client.get(f"{API}/meter-points", headers=who.h).json()["total"] == 0
        assert client.get(f"{API}/meter-submissions/{sub}", headers=who.h).status_code in (403, 404)
    # Another FSP can neither register a meter point on the asset nor write to the meter.
    r = client.post(f"{API}/meter-points", headers=b.h, json={
        "mpan": new_mpan(), "asset_id": mine.asset_id, "measures": "import"})
    assert r.status_code == 404
    r = post_csv(client, b, csv_text([(mine.mpan, iso(DAY), "2", "0")]))
    assert r.status_code == 422 and r.json()["errors"][0]["issue"] == "unknown_mpan"
    # Oversight reads everything and writes nothing.
    for who in (reg, admin):
        assert _readings(client, mine.mpan, who).json()["total"] == 1
        assert client.get(f"{API}/meter-submissions/{sub}", headers=who.h).status_code == 200
        assert post_csv(client, who, csv_text([])).status_code == 403
    assert client.get(f"{API}/meter-submissions/{sub}", headers=a.h).json()["stored"] == 1


def test_mo_reads_meters_of_assets_holding_its_contracts(client, db, make_party, zones):
    fsp = make_party("fsp")
    contracted, other = add_meter(client, fsp), add_meter(client, fsp)
    mo, rival = make_party("mo"), make_party("mo")
    post_csv(client, fsp, csv_text([(m.mpan, iso(DAY), "1", "0") for m in (contracted, other)]))
    _award(db, mo.id, fsp.id, contracted.asset_id)
    assert _readings(client, contracted.mpan, mo).json()["total"] == 1
    assert _readings(client, other.mpan, mo).status_code == 404
    assert _readings(client, contracted.mpan, rival).status_code == 404
    listed = client.get(f"{API}/meter-points", headers=mo.h).json()
    assert [m["mpan"] for m in listed["items"]] == [contracted.mpan]
    assert post_csv(client, mo, csv_text([])).status_code == 403  # an MO never submits


def test_meter_data_agent_grant_lifecycle(client, db, make_party, zones):
    fsp = make_party("fsp")
    one, two = add_meter(client, fsp), add_meter(client, fsp)
    mda = make_party("mda")
    # Granted for one meter point only.
    r = client.post(GRANTS, json={"agent_id": str(mda.id), "mpan": one.mpan}, headers=fsp.h)
    assert r.status_code == 201, r.text
    g1 = r.json()
    assert g1["mpan"] == one.mpan and g1["fsp_id"] == str(fsp.id)
    assert client.post(GRANTS, json={"agent_id": str(mda.id), "mpan": one.mpan},
                       headers=fsp.h).status_code == 409
    ok = post_csv(client, mda, csv_text([(one.mpan, iso(DAY), "1", "0")]))
    assert ok.status_code == 201, ok.text
    r = post_csv(client, mda, csv_text([(two.mpan, iso(DAY), "1", "0")]))
    assert r.json()["errors"][0]["issue"] == "unknown_mpan"
    assert _readings(client, one.mpan, mda).json()["total"] == 1
    assert _readings(client, two.mpan, mda).status_code == 404
    # Then for every meter point of the FSP, present and future.
    g2 = client.post(GRANTS, json={"agent_id": str(mda.id)}, headers=fsp.h).json()
    three = add_meter(client, fsp)
    r = post_csv(client, mda, csv_text([(m.mpan, iso(DAY), "2", "0") for m in (two, three)]))
    assert r.status_code == 201
    assert client.get(f"{API}/meter-points", headers=mda.h).json()["total"] == 3
    mine = client.get(GRANTS, headers=mda.h).json()
    assert {g["id"] for g in mine["items"]} == {g1["id"], g2["id"]}
    # Revoked: no more writing or reading; the readings it sent stay.
    for g in (g1, g2):
        r = client.post(f"{GRANTS}/{g['id']}/revoke", headers=fsp.h)
        assert r.status_code == 200 and r.json()["revoked_at"]
    r = post_csv(client, mda, csv_text([(one.mpan, iso(DAY), "5", "0")]))
    assert r.status_code == 422
    assert _readings(client, one.mpan, mda).status_code == 404
    assert _readings(client, one.mpan, fsp).json()["total"] == 1
    assert client.get(GRANTS, params={"active": "true"}, headers=fsp.h).json()["total"] == 0
    actions = db.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "meter_data_grant")).all()
    assert actions == ["meter.grant.create", "meter.grant.create", "meter.grant.revoke",
                       "meter.grant.revoke"]


def test_another_fsp_as_agent_and_grant_rules(client, db, make_party, zones):
    owner, agg = make_party("fsp"), make_party("fsp")
    meter = add_meter(client, owner)
    mo, reg = make_party("mo"), make_party("regulator")
    for bad in (mo.id, owner.id, uuid.uuid4()):
        r = client.post(GRANTS, json={"agent_id": str(bad)}, headers=owner.h)
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/agent_id"
    g = client.post(GRANTS, json={"agent_id": str(agg.id)}, headers=owner.h).json()
    assert post_csv(client, agg, csv_text([(meter.mpan, iso(DAY), "1", "0")])).status_code == 201
    # The grant is the owner's: the agent, another FSP and the regulator cannot revoke it.
    stranger = make_party("fsp")
    for who in (agg, stranger):
        assert client.post(f"{GRANTS}/{g['id']}/revoke", headers=who.h).status_code == 404
    assert client.post(f"{GRANTS}/{g['id']}/revoke", headers=reg.h).status_code == 403
    assert client.get(f"{GRANTS}/{g['id']}", headers=stranger.h).status_code == 404
    assert client.get(f"{GRANTS}/{g['id']}", headers=reg.h).status_code == 200
    # A grant for someone else's meter point is refused as not found.
    r = client.post(GRANTS, json={"agent_id": str(agg.id), "mpan": meter.mpan},
                    headers=stranger.h)
    assert r.status_code == 404


def test_meter_point_registration_rules(client, make_party, zones):
    fsp = make_party("fsp")
    m = add_meter(client, fsp)
    a2 = client.post(f"{API}/assets", json={"name": "B", "mpan": new_mpan(), "zone": "CMZ_NORTH",
                                            "technology": "battery", "up_mw": 1.0,
                                            "down_mw": 1.0}, headers=fsp.h).json()
    body = {"asset_id": a2["id"], "measures": "export"}
    assert client.post(f"{API}/meter-points", json=body | {"mpan": m.mpan},
                       headers=fsp.h).status_code == 422  # already a meter point
    r = client.post(f"{API}/meter-points", json=body | {"mpan": "1400000000000"}, headers=fsp.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/mpan"
    # Another asset's own MPAN cannot meter this one; its own MPAN can.
    from tests.helpers import asset_body

    a3 = client.post(f"{API}/assets", json=asset_body(), headers=fsp.h).json()
    r = client.post(f"{API}/meter-points", json=body | {"mpan": a3["mpan"]}, headers=fsp.h)
    assert r.status_code == 422 and "another asset" in r.text
    r = client.post(f"{API}/meter-points", json=body | {"mpan": a2["mpan"]}, headers=fsp.h)
    assert r.status_code == 201 and r.json()["measures"] == "export"
    client.post(f"{API}/assets/{a3['id']}/decommission", headers=fsp.h)
    r = client.post(f"{API}/meter-points", headers=fsp.h,
                    json={"asset_id": a3["id"], "measures": "both", "mpan": a3["mpan"]})
    assert r.status_code == 409
    got = client.get(f"{API}/meter-points/{a2['mpan']}", headers=fsp.h).json()
    assert got["asset_id"] == a2["id"] and got["fsp_id"] == str(fsp.id)
    r = client.get(f"{API}/meter-points", params={"asset_id": a2["id"]}, headers=fsp.h)
    assert r.json()["total"] == 1
