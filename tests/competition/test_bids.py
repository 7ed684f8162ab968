"""Markets and bids over the API (no clearing): lifecycle, bad input, rules, visibility."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from flexplatform.competition.models import Bid
from tests.helpers import asset_body

API = "/api/v1"
NOW = dt.datetime.now(dt.UTC)
START = (NOW + dt.timedelta(days=2)).replace(hour=17, minute=0, second=0, microsecond=0)


def market_body(**over):
    body = {"name": "Evening peak", "gate_open_at": (NOW - dt.timedelta(hours=1)).isoformat(),
            "gate_close_at": (NOW + dt.timedelta(days=1)).isoformat(),
            "delivery_start": START.isoformat(),
            "delivery_end": (START + dt.timedelta(hours=1)).isoformat(), "open": True,
            "needs": [{"product": "dynamic", "zone": "CMZ_NORTH", "direction": "up",
                       "mw": [1.0, 2.0], "max_availability_price": "50",
                       "utilisation_price_cap": "300", "expected_utilisation": 0.1,
                       "unmet_penalty": "900"}]}
    body.update(over)
    return body


@pytest.fixture
def world(client, make_party, zones):
    mo, fsp, other = make_party("mo"), make_party("fsp"), make_party("fsp")
    m = client.post(f"{API}/markets", json=market_body(), headers=mo.h)
    assert m.status_code == 201, m.text
    a = client.post(f"{API}/assets", json=asset_body(), headers=fsp.h).json()
    b = client.post(f"{API}/assets", json=asset_body(), headers=other.h).json()
    return {"mo": mo, "fsp": fsp, "other": other, "market": m.json(),
            "need": m.json()["needs"][0]["id"], "asset": a["id"], "other_asset": b["id"]}


def bid_body(w, **over):
    body = {"need_id": w["need"], "asset_id": w["asset"], "mw": [1.0, 1.0],
            "availability_price": "20", "utilisation_price": "150"}
    body.update(over)
    return body


def _bids(db):
    return db.scalar(select(func.count()).select_from(Bid))


@pytest.mark.parametrize("over, pointer, code", [
    ({"availability_price": "51"}, "/availability_price", "above_price_cap"),
    ({"utilisation_price": "301"}, "/utilisation_price", "above_price_cap"),
    ({"mw": [1.0, 5.0]}, "/mw/1", "over_capability"),
    ({"mw": [1.0]}, "/mw", "profile_length"),
    ({"mw": [-1.0, 1.0]}, "/mw/0", None),
    ({"mw": [0.0, 0.0]}, "/body", None),
    ({"mw": "lots"}, "/mw", None),
    ({"min_mw": 3.0}, "/body", None),
])
def test_bad_bids_are_4xx_and_store_nothing(client, world, db, over, pointer, code):
    before = _bids(db)
    r = client.post(f"{API}/bids", json=bid_body(world, **over), headers=world["fsp"].h)
    assert r.status_code == 422, r.text
    errs = r.json()["errors"]
    assert any(e["pointer"] == pointer for e in errs), errs
    if code:
        assert any(e.get("code") == code for e in errs)
    assert _bids(db) == before


def test_bid_on_anothers_asset_or_unknown_need(client, world, db):
    before = _bids(db)
    r = client.post(f"{API}/bids", json=bid_body(world, asset_id=world["other_asset"]),
                    headers=world["fsp"].h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "asset_not_found"
    import uuid

    r = client.post(f"{API}/bids", json=bid_body(world, need_id=str(uuid.uuid4())),
                    headers=world["fsp"].h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "need_not_found"
    assert _bids(db) == before


def test_bulk_bids_all_or_nothing(client, world, db):
    before = _bids(db)
    rows = [bid_body(world) for _ in range(50)]
    rows[7]["availability_price"] = "999"
    rows[9]["asset_id"] = world["other_asset"]
    r = client.post(f"{API}/bids/bulk", json={"bids": rows}, headers=world["fsp"].h)
    assert r.status_code == 422
    assert {e["pointer"] for e in r.json()["errors"]} >= {"/bids/7/availability_price",
                                                          "/bids/9/asset_id"}
    assert _bids(db) == before
    rows = [bid_body(world) for _ in range(500)]
    r = client.post(f"{API}/bids/bulk", json={"bids": rows}, headers=world["fsp"].h | {
        "Idempotency-Key": "bulk-1"})
    assert r.status_code == 201 and r.json()["created"] == 500
    again = client.post(f"{API}/bids/bulk", json={"bids": rows}, headers=world["fsp"].h | {
        "Idempotency-Key": "bulk-1"})
    assert again.json() == r.json() and again.headers["idempotent-replayed"] == "true"
    assert _bids(db) == before + 500
    other = client.post(f"{API}/bids/bulk", json={"bids": rows[:1]}, headers=world["fsp"].h | {
        "Idempotency-Key": "bulk-1"})
    assert other.status_code == 409


def test_amend_withdraw_and_visibility(client, world):
    fsp, other, mo = world["fsp"], world["other"], world["mo"]
    bid = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h).json()
    r = client.patch(f"{API}/bids/{bid['id']}", json={"availability_price": "15"}, headers=fsp.h)
    assert r.status_code == 200 and r.json()["status"] == "amended" and r.json()["version"] == 2
    assert client.patch(f"{API}/bids/{bid['id']}", json={"availability_price": "99"},
                        headers=fsp.h).status_code == 422
    assert client.patch(f"{API}/bids/{bid['id']}", json={"availability_price": "1"},
                        headers=other.h).status_code == 404
    assert client.post(f"{API}/bids/{bid['id']}/withdraw", headers=other.h).status_code == 404
    assert client.get(f"{API}/bids/{bid['id']}", headers=mo.h).status_code == 404  # gate open
    r = client.post(f"{API}/bids/{bid['id']}/withdraw", headers=fsp.h)
    assert r.json()["status"] == "withdrawn"
    assert client.post(f"{API}/bids/{bid['id']}/withdraw", headers=fsp.h).status_code == 409


def test_market_lifecycle_and_validation(client, make_party, zones):
    mo, mo2 = make_party("mo"), make_party("mo")
    r = client.post(f"{API}/markets", json=market_body(open=False), headers=mo.h)
    m = r.json()
    assert m["status"] == "draft"
    assert client.get(f"{API}/markets/{m['id']}").status_code == 404  # drafts are private
    assert client.post(f"{API}/markets/{m['id']}/open", headers=mo2.h).status_code == 404
    assert client.post(f"{API}/markets/{m['id']}/open", headers=mo.h).json()["status"] == "open"
    assert client.get(f"{API}/markets/{m['id']}").status_code == 200
    assert client.post(f"{API}/markets/{m['id']}/open", headers=mo.h).status_code == 409
    assert client.post(f"{API}/markets/{m['id']}/cancel", headers=mo.h).json()["status"] == \
        "cancelled"
    bad = market_body(needs=[{**market_body()["needs"][0], "mw": [1.0]}])
    r = client.post(f"{API}/markets", json=bad, headers=mo.h)
    assert r.status_code == 422 and "half-hour periods" in r.text
    bad = market_body(needs=[{**market_body()["needs"][0], "product": "dynamic",
                              "direction": "down"}])
    r = client.post(f"{API}/markets", json=bad, headers=mo.h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/needs/0/direction"
    r = client.post(f"{API}/markets", json=market_body(delivery_start=(
        START + dt.timedelta(minutes=10)).isoformat()), headers=mo.h)
    assert r.status_code == 422


def test_rules_need_two_admins_and_apply_forward(client, make_party):
    a1, a2 = make_party("admin"), make_party("admin")
    r = client.post(f"{API}/rules", headers=a1.h, json={
        "rules": {"incompatible_products": [["sustain", "dfs"]], "pricing": "pay_as_clear",
                  "carbon_price": 80},
        "rationale": "pay-as-clear trial",
        "effective_from": "2020-01-01T00:00:00Z"})
    assert r.status_code == 201
    v = r.json()["version"]
    assert client.get(f"{API}/rules/current").json()["rules"]["pricing"] == "pay_as_bid"
    assert client.post(f"{API}/rules/{v}/approve", headers=a1.h).status_code == 403
    r = client.post(f"{API}/rules/{v}/approve", headers=a2.h)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["effective_from"] > "2026"  # never retroactive
    cur = client.get(f"{API}/rules/current").json()
    assert cur["version"] == v and cur["rules"]["pricing"] == "pay_as_clear"
    assert client.post(f"{API}/rules/{v}/reject", headers=a2.h).status_code == 409


def test_round_clears_under_rules_in_force_at_gate_closure(client, make_party, zones, db):
    from flexplatform.competition import clearing
    from flexplatform.competition.models import ClearingRound, Need

    mo, a1, a2 = make_party("mo"), make_party("admin"), make_party("admin")
    m = client.post(f"{API}/markets", json=market_body(), headers=mo.h).json()
    assert m["needs"][0]["priority"] == 1  # DSO product under the default rules
    v = client.post(f"{API}/rules", headers=a1.h, json={
        "rules": {"product_priority": {"dynamic": 3}}}).json()["version"]
    client.post(f"{API}/rules/{v}/approve", headers=a2.h).raise_for_status()
    gate = dt.datetime.fromisoformat(m["gate_close_at"])
    (rid,) = clearing.close_gates(db, now=gate + dt.timedelta(seconds=1))
    db.flush()
    rnd = db.get(ClearingRound, rid)
    assert rnd.rule_set_version == v
    assert db.get(Need, uuid.UUID(m["needs"][0]["id"])).priority == 3
    snap = clearing.build_snapshot(db, rnd)
    assert [n["priority"] for n in snap["needs"]] == [3]
    assert clearing.close_gates(db, now=gate + dt.timedelta(seconds=2)) == [rid]  # still queued


def test_idempotency_key_matches_the_json_not_its_bytes(client, world, db):
    """The same bid with other spacing and key order replays; another body is a 409."""
    import json

    body = bid_body(world)
    h = world["fsp"].h | {"Idempotency-Key": "single-1", "content-type": "application/json"}
    first = client.post(f"{API}/bids", content=json.dumps(body), headers=h)
    assert first.status_code == 201, first.text
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=4)
    again = client.post(f"{API}/bids", content=spaced, headers=h)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = client.post(f"{API}/bids", json={**body, "availability_price": "11"}, headers=h)
    assert other.status_code == 409 and other.json()["idempotency_key"] == "single-1"


def test_bid_endpoints_declare_their_request_bodies(app):
    """Clients and fuzzers read the body schema from the OpenAPI document."""
    spec = app.openapi()
    for path in ("/api/v1/bids", "/api/v1/bids/bulk"):
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["required"] and "application/json" in body["content"], path


@pytest.mark.parametrize("patch, pointer", [
    ({"availability_price": None}, "/availability_price"),
    ({"utilisation_price": None}, "/utilisation_price"),
    ({"mw": None}, "/mw"),
    ({"min_mw": None}, "/min_mw"),
    ({"all_or_nothing": None}, "/all_or_nothing"),
    ({"mw": [0.0, 0.0]}, "/body"),
    ({"min_mw": 1.5}, "/body"),
])
def test_an_amendment_that_makes_a_bad_bid_is_a_422(client, world, db, patch, pointer):
    """Found as 500s: null for a price, or a profile that offers nothing."""
    bid = client.post(f"{API}/bids", json=bid_body(world), headers=world["fsp"].h).json()
    before = client.get(f"{API}/bids/{bid['id']}", headers=world["fsp"].h).json()
    r = client.patch(f"{API}/bids/{bid['id']}", json=patch, headers=world["fsp"].h)
    assert r.status_code == 422, r.text
    assert any(e["pointer"] == pointer for e in r.json()["errors"]), r.json()
    assert client.get(f"{API}/bids/{bid['id']}", headers=world["fsp"].h).json() == before


def test_exclusive_group_may_be_cleared_with_null(client, world):
    bid = client.post(f"{API}/bids", json=bid_body(world, exclusive_group="g"),
                      headers=world["fsp"].h).json()
    r = client.patch(f"{API}/bids/{bid['id']}", json={"exclusive_group": None},
                     headers=world["fsp"].h)
    assert r.status_code == 200 and r.json()["exclusive_group"] is None


def test_a_draft_market_is_an_unknown_need_to_an_fsp(client, make_party, zones):
    """Validation and submission say nothing of a draft: not its status, not its gates."""
    mo, fsp = make_party("mo"), make_party("fsp")
    draft = client.post(f"{API}/markets", json=market_body(open=False), headers=mo.h).json()
    asset = client.post(f"{API}/assets", json=asset_body(), headers=fsp.h).json()
    body = {"need_id": draft["needs"][0]["id"], "asset_id": asset["id"], "mw": [1.0, 1.0],
            "availability_price": "20", "utilisation_price": "150"}
    unknown = {**body, "need_id": str(uuid.uuid4())}
    v = client.post(f"{API}/bids/validate", json=body, headers=fsp.h).json()
    u = client.post(f"{API}/bids/validate", json=unknown, headers=fsp.h).json()
    assert [p["code"] for p in v["problems"]] == ["need_not_found"]
    assert v["problems"][0]["message"].replace(body["need_id"], "?") == \
        u["problems"][0]["message"].replace(unknown["need_id"], "?")
    assert "draft" not in str(v) and draft["gate_close_at"][:10] not in str(v)
    r = client.post(f"{API}/bids", json=body, headers=fsp.h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "need_not_found"


def test_cancelling_a_market_rejects_its_live_bids(client, world):
    fsp, mo = world["fsp"], world["mo"]
    live = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h).json()
    gone = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h).json()
    client.post(f"{API}/bids/{gone['id']}/withdraw", headers=fsp.h).raise_for_status()
    r = client.post(f"{API}/markets/{world['market']['id']}/cancel", headers=mo.h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    after = client.get(f"{API}/bids/{live['id']}", headers=fsp.h).json()
    assert after["status"] == "rejected"
    assert after["reasons"] == [{"code": "market_cancelled",
                                 "message": "the MO cancelled the market"}]
    assert client.get(f"{API}/bids/{gone['id']}", headers=fsp.h).json()["status"] == "withdrawn"
    late = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h)
    assert late.status_code == 422 and late.json()["errors"][0]["code"] == "gate_closed"


def test_a_suspended_fsp_cannot_bid_and_its_bids_are_excluded_at_gate_closure(
        client, world, make_party, db):
    from flexplatform.competition import clearing
    from flexplatform.competition.models import ClearingRound

    admin, fsp = make_party("admin"), world["fsp"]
    kept = client.post(f"{API}/bids", json=bid_body(world, asset_id=world["other_asset"]),
                       headers=world["other"].h).json()
    bid = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h).json()
    client.patch(f"/api/v1/participants/{fsp.id}", json={"status": "suspended"},
                 headers=admin.h).raise_for_status()
    r = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h)
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
    gate = dt.datetime.fromisoformat(world["market"]["gate_close_at"])
    (rid,) = clearing.close_gates(db, now=gate + dt.timedelta(seconds=1))
    db.flush()
    stored = db.get(Bid, uuid.UUID(bid["id"]))
    assert stored.status.value == "rejected"
    assert [x["code"] for x in stored.reasons] == ["participant_suspended"]
    snap = clearing.build_snapshot(db, db.get(ClearingRound, rid))
    assert [b["id"] for b in snap["bids"]] == [kept["id"]]
    assert db.get(Bid, uuid.UUID(kept["id"])).status.value == "submitted"


def test_decommissioned_assets_are_left_out_of_the_snapshot(client, world, db):
    from flexplatform.competition import clearing
    from flexplatform.competition.models import ClearingRound

    fsp = world["fsp"]
    bid = client.post(f"{API}/bids", json=bid_body(world), headers=fsp.h).json()
    kept = client.post(f"{API}/bids", json=bid_body(world, asset_id=world["other_asset"]),
                       headers=world["other"].h).json()
    client.post(f"{API}/assets/{world['asset']}/decommission", headers=fsp.h).raise_for_status()
    gate = dt.datetime.fromisoformat(world["market"]["gate_close_at"])
    (rid,) = clearing.close_gates(db, now=gate + dt.timedelta(seconds=1))
    db.flush()
    snap = clearing.build_snapshot(db, db.get(ClearingRound, rid))
    assert [b["id"] for b in snap["bids"]] == [kept["id"]]
    assert [a["id"] for a in snap["assets"]] == [world["other_asset"]]
    stored = db.get(Bid, uuid.UUID(bid["id"]))
    assert stored.status.value == "rejected"
    assert [x["code"] for x in stored.reasons] == ["asset_not_available"]


def test_validation_reports_conflicts_with_awards_already_held(client, world, db, make_party):
    """Event by event: a new bid checked against what the asset was already awarded."""
    from decimal import Decimal

    from flexplatform.competition.models import ClearingRound, Contract

    fsp, mo = world["fsp"], world["mo"]
    start = dt.datetime.fromisoformat(world["market"]["delivery_start"])
    rnd = ClearingRound(market_ids=[], status="done")
    db.add(rnd)
    db.flush()
    other_need = client.post(f"{API}/markets", headers=mo.h, json=market_body()).json()
    held = {"round_id": rnd.id, "bid_id": None, "need_id": uuid.UUID(other_need["needs"][0]["id"]),
            "market_id": uuid.UUID(other_need["id"]), "asset_id": uuid.UUID(world["asset"]),
            "fsp_id": fsp.id, "mo_id": mo.id, "availability_price": Decimal("10"),
            "utilisation_price": Decimal("100"), "status": "active"}
    prior = client.post(f"{API}/bids", headers=fsp.h, json=bid_body(
        world, need_id=other_need["needs"][0]["id"])).json()
    held["bid_id"] = uuid.UUID(prior["id"])

    def validate(mw):
        r = client.post(f"{API}/bids/validate", headers=fsp.h, json=bid_body(world, mw=mw))
        assert r.status_code == 200, r.text
        return r.json()

    assert validate([2.0, 2.0])["conflicts"] == []  # nothing held yet
    # 1.5 MW up already awarded in the first period (the asset moves 2 MW up).
    db.add(Contract(**held, product_code="sustain", direction="up", period_start=start,
                    mw=1.5))
    db.commit()
    v = validate([1.0, 2.0])
    assert v["eligible"]
    assert [c["code"] for c in v["conflicts"]] == ["capacity_already_awarded"]
    assert "1.5 MW already awarded" in v["conflicts"][0]["message"]
    assert validate([0.5, 2.0])["conflicts"] == []  # 1.5 + 0.5 fits
    # The opposite direction in the second period, and a product that cannot stack in it.
    half = start + dt.timedelta(minutes=30)
    db.add(Contract(**{**held, "bid_id": uuid.UUID(client.post(f"{API}/bids", headers=fsp.h,
                    json=bid_body(world, need_id=other_need["needs"][0]["id"])).json()["id"])},
                    product_code="sustain", direction="down", period_start=half, mw=1.0))
    db.commit()
    assert {c["code"] for c in validate([0.5, 1.0])["conflicts"]} == {"direction_conflict"}
    db.execute(Contract.__table__.delete().where(Contract.period_start == half))
    db.add(Contract(**held, product_code="quick_reserve", direction="up", period_start=half,
                    mw=0.5))
    db.commit()
    assert {c["code"] for c in validate([0.5, 1.0])["conflicts"]} == {"stacking_conflict"}
