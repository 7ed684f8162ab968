"""Secondary trading over the API: offers checked as they come, the clearing engine picking
them, the MO's consent, contracts and payments; a participant not party to a transfer or
offer gets a 404. Clearing is driven through the service (the task's steps) on the test's
own transaction, so each test stays fast on both backends; tests/competition/
test_transfers_live.py runs the same path through the Celery task."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import asset_body

API = "/api/v1"
PRICE = Decimal("20")


def _start() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return (now + dt.timedelta(days=2)).replace(hour=16, minute=0, second=0, microsecond=0)


def _asset(client, party, **over) -> str:
    r = client.post(f"{API}/assets", json=asset_body(**over), headers=party.h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _contracts(db, market_id, need_id, asset_id, fsp_id, mo_id, mw, start, *, product="sustain",
               direction="up", n=4, price=PRICE) -> list[int]:
    """Awards as a clearing round would have stored them (one bid, one contract a period)."""
    from flexplatform.competition.models import Bid, BidStatus, ClearingRound, Contract

    rnd = ClearingRound(status="done", market_ids=[str(market_id)])
    bid = Bid(fsp_id=fsp_id, asset_id=asset_id, need_id=need_id, market_id=market_id,
              mw=[mw] * n, availability_price=price, utilisation_price=Decimal("200"),
              status=BidStatus.accepted)
    db.add_all([rnd, bid])
    db.flush()
    rows = [Contract(round_id=rnd.id, bid_id=bid.id, need_id=need_id, market_id=market_id,
                     asset_id=asset_id, fsp_id=fsp_id, mo_id=mo_id, product_code=product,
                     direction=direction, period_start=start + dt.timedelta(minutes=30 * i),
                     mw=mw, availability_price=price, utilisation_price=Decimal("200"))
            for i in range(n)]
    db.add_all(rows)
    db.commit()
    return [c.id for c in rows]


@pytest.fixture
def market(client, db, make_party, zones) -> dict[str, Any]:
    """An MO's market, a holder with 2 MW contracted for four periods, two would-be takers,
    an FSP and an MO with nothing to do with it."""
    mo, other_mo = make_party("mo"), make_party("mo")
    holder, taker1, taker2, outsider = (make_party("fsp") for _ in range(4))
    reg = make_party("regulator")
    start = _start()
    now = dt.datetime.now(dt.UTC)
    r = client.post(f"{API}/markets", headers=mo.h, json={
        "name": "North sustain", "gate_open_at": (now - dt.timedelta(hours=1)).isoformat(),
        "gate_close_at": (now + dt.timedelta(hours=1)).isoformat(),
        "delivery_start": start.isoformat(),
        "delivery_end": (start + dt.timedelta(hours=2)).isoformat(), "open": True,
        "needs": [{"product": "sustain", "zone": "CMZ_NORTH", "direction": "up",
                   "mw": [2.0] * 4, "max_availability_price": "60",
                   "utilisation_price_cap": "500", "expected_utilisation": 0.1,
                   "unmet_penalty": "1000"}]})
    assert r.status_code == 201, r.text
    m = r.json()
    need_id = uuid.UUID(m["needs"][0]["id"])
    a0 = _asset(client, holder)
    a1 = _asset(client, taker1, name="Taker one")
    a2 = _asset(client, taker2, name="Taker two", technology="industrial_dsr", energy_mwh=None)
    ids = _contracts(db, uuid.UUID(m["id"]), need_id, uuid.UUID(a0), holder.id, mo.id, 2.0,
                     start)
    return {"mo": mo, "other_mo": other_mo, "holder": holder, "taker1": taker1,
            "taker2": taker2, "outsider": outsider, "reg": reg, "market_id": m["id"],
            "need_id": need_id, "start": start, "contracts": ids, "a0": a0, "a1": a1,
            "a2": a2}


def _transfer(client, m, **over) -> dict[str, Any]:
    body = {"contracts": [{"contract_id": i} for i in m["contracts"]],
            "reason": "inverter outage", "offer_deadline":
            (m["start"] - dt.timedelta(hours=3)).isoformat(), **over}
    r = client.post(f"{API}/transfers", headers=m["holder"].h, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _offer(client, party, tid, asset, mw, price, **over):
    return client.post(f"{API}/transfers/{tid}/offers", headers=party.h, json={
        "asset_id": asset, "mw": mw, "price": str(price), **over})


def _clear(db, tid) -> dict[str, Any]:
    """What workers.trading.clear_transfer does, on the test's transaction."""
    from flexplatform.competition import transfer_clearing
    from flexplatform.competition.transfer_models import Transfer
    from workers.tasks import _solve

    t = db.get(Transfer, uuid.UUID(tid))
    db.refresh(t)
    snap = transfer_clearing.prepare(db, t.clearing_id)
    result = _solve(snap)
    assert transfer_clearing.store(db, t.clearing_id, result)
    assert not transfer_clearing.store(db, t.clearing_id, result)  # a redelivery: no-op
    db.commit()
    return result


def _codes(r) -> list[tuple[str, str]]:
    return [(e["field"], e["rule"]) for e in r.json()["errors"]]


def test_transfer_creation_checks(client, db, market):
    m = market
    t = _transfer(client, m, contracts=[{"contract_id": m["contracts"][0], "mw": 1.5},
                                        {"contract_id": m["contracts"][1]}])
    assert t["status"] == "open" and [x["mw"] for x in t["items"]] == [1.5, 2.0]
    assert t["max_price"] == "60.0000" and t["consent"] == "automatic"
    # The same contract cannot be on offer twice; another FSP's contract looks like none.
    again = client.post(f"{API}/transfers", headers=m["holder"].h, json={
        "contracts": [{"contract_id": m["contracts"][1]}], "reason": "again",
        "offer_deadline": t["offer_deadline"]})
    assert again.status_code == 409 and _codes(again) == [("contracts.0.contract_id",
                                                           "contract_in_transfer")]
    theirs = client.post(f"{API}/transfers", headers=m["taker1"].h, json={
        "contracts": [{"contract_id": m["contracts"][2]}], "reason": "not mine",
        "offer_deadline": t["offer_deadline"]})
    assert theirs.status_code == 422 and _codes(theirs) == [("contracts.0.contract_id",
                                                             "contract_not_found")]
    late = client.post(f"{API}/transfers", headers=m["holder"].h, json={
        "contracts": [{"contract_id": m["contracts"][2], "mw": 3}], "reason": "too much",
        "offer_deadline": (m["start"] + dt.timedelta(hours=1)).isoformat()})
    assert late.status_code == 422 and _codes(late) == [("contracts.0.mw", "over_contract")]
    late = client.post(f"{API}/transfers", headers=m["holder"].h, json={
        "contracts": [{"contract_id": m["contracts"][2]}], "reason": "after delivery",
        "offer_deadline": (m["start"] + dt.timedelta(hours=2)).isoformat()})
    assert late.status_code == 422 and late.headers["content-type"].startswith(
        "application/problem+json")
    assert _codes(late) == [("offer_deadline", "deadline_after_delivery")]
    twin = _contracts(db, uuid.UUID(m["market_id"]), m["need_id"], uuid.UUID(m["a0"]),
                      m["holder"].id, m["mo"].id, 0.5, m["start"] + dt.timedelta(hours=1), n=1)
    two = client.post(f"{API}/transfers", headers=m["holder"].h, json={
        "contracts": [{"contract_id": m["contracts"][2]}, {"contract_id": twin[0]}],
        "reason": "two for one period", "offer_deadline": t["offer_deadline"]})
    assert two.status_code == 422 and _codes(two) == [("contracts.1.contract_id",
                                                       "one_per_period")]
    # Withdrawn, the contract may be offered again.
    w = client.post(f"{API}/transfers/{t['id']}/withdraw", headers=m["holder"].h)
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    assert client.post(f"{API}/transfers/{t['id']}/withdraw",
                       headers=m["holder"].h).status_code == 409
    _transfer(client, m)


def test_every_offer_checked(client, db, market, monkeypatch):
    from flexplatform.competition import rules as rules_svc
    from flexplatform.competition.schemas import Rules
    from flexplatform.operations.models import AvailabilityDeclaration

    m = market
    t = _transfer(client, m)
    tid, s = t["id"], m["start"]
    # An asset in the wrong zone; one that cannot move up (so not prequalified either).
    south = _asset(client, m["taker1"], name="South", zone="CMZ_SOUTH")
    down = _asset(client, m["taker1"], name="Down only", up_mw=0.0)
    r = _offer(client, m["taker1"], tid, south, [1] * 4, 25)
    assert r.status_code == 422 and _codes(r) == [("asset_id", "zone_mismatch")]
    r = _offer(client, m["taker1"], tid, down, [1] * 4, 25)
    assert r.status_code == 422
    assert {x[1] for x in _codes(r)} >= {"not_prequalified", "direction_not_supported"}
    r = _offer(client, m["taker1"], tid, m["a1"], [1] * 3, 61)
    assert r.status_code == 422 and set(_codes(r)) == {("mw", "profile_length"),
                                                       ("price", "above_price_cap")}
    r = _offer(client, m["taker1"], tid, m["a1"], [3, 1, 1, 1], 25)
    assert r.status_code == 422 and _codes(r) == [("mw.0", "over_transfer")]
    r = _offer(client, m["taker2"], tid, m["a1"], [1] * 4, 25)  # someone else's asset
    assert r.status_code == 422 and _codes(r) == [("asset_id", "asset_not_found")]
    r = _offer(client, m["holder"], tid, m["a0"], [1] * 4, 25)
    assert r.status_code == 409 and _codes(r) == [("asset_id", "own_transfer")]

    # What taker1's asset already holds: 1.5 MW up in period 0, 1 MW down in period 1, a
    # dynamic award in period 3 (made incompatible with sustain below); declared 0.5 MW
    # available in period 2.
    a1 = uuid.UUID(m["a1"])
    _contracts(db, uuid.UUID(m["market_id"]), m["need_id"], a1, m["taker1"].id, m["mo"].id,
               1.5, s, n=1)
    _contracts(db, uuid.UUID(m["market_id"]), m["need_id"], a1, m["taker1"].id, m["mo"].id,
               1.0, s + dt.timedelta(minutes=30), n=1, direction="down")
    _contracts(db, uuid.UUID(m["market_id"]), m["need_id"], a1, m["taker1"].id, m["mo"].id,
               0.2, s + dt.timedelta(minutes=90), n=1, product="dynamic")
    db.add(AvailabilityDeclaration(asset_id=a1, fsp_id=m["taker1"].id, direction="up",
                                   period_start=s + dt.timedelta(minutes=60), mw=0.5))
    db.commit()
    monkeypatch.setattr(rules_svc, "DEFAULT_RULES", Rules(
        incompatible_products=[("dynamic", "sustain")], primacy="lexicographic",
        pricing="pay_as_bid", carbon_price=50.0))
    r = _offer(client, m["taker1"], tid, m["a1"], [1, 1, 1, 1], 25)
    assert r.status_code == 409, r.text
    assert sorted(_codes(r)) == [("mw.0", "capacity_already_awarded"),
                                 ("mw.1", "direction_conflict"),
                                 ("mw.2", "declared_availability"),
                                 ("mw.3", "stacking_conflict")]
    assert all(e["pointer"].startswith("/mw/") for e in r.json()["errors"])
    ok = _offer(client, m["taker1"], tid, m["a1"], [0.5, 0, 0.5, 0], 25)
    assert ok.status_code == 201, ok.text
    dup = _offer(client, m["taker1"], tid, m["a1"], [0.5, 0, 0.5, 0], 24)
    assert dup.status_code == 409 and _codes(dup) == [("asset_id", "duplicate_offer")]
    # Withdrawn before the deadline, the asset may offer again.
    oid = ok.json()["id"]
    assert client.post(f"{API}/transfer-offers/{oid}/withdraw",
                       headers=m["taker2"].h).status_code == 404
    assert client.post(f"{API}/transfer-offers/{oid}/withdraw",
                       headers=m["taker1"].h).json()["status"] == "withdrawn"
    assert _offer(client, m["taker1"], tid, m["a1"], [0.5, 0, 0.5, 0], 24).status_code == 201


def test_cleared_by_the_engine_and_completed(client, db, market):
    from flexplatform.audit import AuditEvent
    from flexplatform.competition.models import Bid, Contract
    from flexplatform.competition.transfer_models import TransferClearing
    from optimiser import clear, load_snapshot

    m = market
    t = _transfer(client, m)
    tid = t["id"]
    o1 = _offer(client, m["taker1"], tid, m["a1"], [2] * 4, 25).json()["id"]
    o2 = _offer(client, m["taker2"], tid, m["a2"], [1] * 4, 18).json()["id"]
    # Before the deadline the holder and MO see no offers; each taker only its own.
    assert client.get(f"{API}/transfers/{tid}/offers", headers=m["holder"].h).status_code == 403
    assert client.get(f"{API}/transfer-offers/{o1}", headers=m["holder"].h).status_code == 404
    mine = client.get(f"{API}/transfers/{tid}/offers", headers=m["taker2"].h).json()
    assert [o["id"] for o in mine] == [o2]
    board = client.get(f"{API}/transfers/board", headers=m["outsider"].h).json()
    assert [b["id"] for b in board["items"]] == [tid] and "holder_id" not in board["items"][0]

    closed = client.post(f"{API}/transfers/{tid}/close", headers=m["holder"].h)
    assert closed.status_code == 200 and closed.json()["status"] == "clearing"
    assert _offer(client, m["outsider"], tid, m["a1"], [1] * 4, 10).status_code == 404
    assert _offer(client, m["taker1"], tid, m["a1"], [1] * 4, 10).status_code == 409
    result = _clear(db, tid)
    assert result["status"] == "optimal"

    done = client.get(f"{API}/transfers/{tid}", headers=m["holder"].h).json()
    assert done["status"] == "completed" and done["covered"] == [2.0] * 4
    offers = {o["id"]: o for o in client.get(f"{API}/transfers/{tid}/offers",
                                              headers=m["holder"].h).json()}
    # Merit order: all of the cheaper 1 MW, the rest from the dearer one.
    assert offers[o2]["status"] == "accepted" and offers[o2]["awarded"] == [1.0] * 4
    assert offers[o1]["status"] == "accepted" and offers[o1]["awarded"] == [1.0] * 4

    olds = db.scalars(select(Contract).where(Contract.id.in_(m["contracts"]))).all()
    db.expire_all()
    assert {c.status for c in olds} == {"transferred"}
    new = db.scalars(select(Contract).where(Contract.transfer_id == uuid.UUID(tid))).all()
    assert len(new) == 8 and {c.transferred_from_id for c in new} == set(m["contracts"])
    assert {c.fsp_id for c in new} == {m["taker1"].id, m["taker2"].id}
    assert {c.availability_price for c in new} == {PRICE}  # the MO's price is unchanged
    assert {db.get(Bid, c.bid_id).status.value for c in new} == {"accepted"}

    # Who pays whom: taker1 asked 5 above the original price, the holder pays it
    # (5 x 1 MW x 0.5 h = 2.50 a period); taker2 asked 2 below, it pays the holder 1.00.
    pays = client.get(f"{API}/transfer-payments?transfer_id={tid}",
                      headers=m["holder"].h).json()
    assert pays["total"] == 8
    by = {(p["payer_id"], p["payee_id"], p["amount"]) for p in pays["items"]}
    assert by == {(str(m["holder"].id), str(m["taker1"].id), "2.5000"),
                  (str(m["taker2"].id), str(m["holder"].id), "1.0000")}
    assert client.get(f"{API}/transfer-payments", headers=m["taker1"].h).json()["total"] == 4
    # What a settlement run does: collect the window's pending rows once.
    from flexplatform.competition.transfer_payments import mark_settled, payments_between

    window = (m["start"], m["start"] + dt.timedelta(hours=1))
    rows = payments_between(db, *window, participant_id=m["taker2"].id, lock=True)
    assert len(rows) == 2 and {r.amount for r in rows} == {Decimal("1.00")}
    assert mark_settled(db, [r.id for r in rows], "run-1") == 2
    assert mark_settled(db, [r.id for r in rows], "run-2") == 0
    db.commit()
    assert len(payments_between(db, *window)) == 2  # taker1's two are still pending
    assert len(payments_between(db, *window, status="settled")) == 2
    assert client.get(f"{API}/transfer-payments", headers=m["outsider"].h).json()["total"] == 0
    assert client.get(f"{API}/transfer-payments", headers=m["other_mo"].h).json()["total"] == 0
    # The MO's availability payments: still 2 MW a period at the original price, now to
    # the holders of record.
    awards = client.get(f"{API}/awards", headers=m["taker2"].h).json()
    assert awards["total"] == 4
    # A settlement run over the market pays the new contracts and never the old ones too.
    import json

    from flexplatform.reporting.settle_inputs import build_spec
    from flexplatform.reporting.settlement_models import SettlementRun

    day = m["start"].astimezone(dt.UTC).date()
    spec = json.dumps(build_spec(db, SettlementRun(
        id=uuid.uuid4(), created_at=dt.datetime.now(dt.UTC), market_id=uuid.UUID(m["market_id"]), mo_id=m["mo"].id, period_label="t",
        period_first=day - dt.timedelta(days=1), period_last=day + dt.timedelta(days=1)))
        ["contracts"], default=str)
    assert all(str(c.id) in spec for c in new)
    assert not any(f'"{c.id}"' in spec for c in olds)

    # The stored snapshot is the engine's own format and re-clears to the stored result.
    run = client.get(f"{API}/transfers/{tid}/clearing", headers=m["reg"].h).json()
    assert run["status"] == "done" and len(run["snapshot"]["bids"]) == 2
    assert run["snapshot"]["needs"][0]["id"] == tid
    again = clear(load_snapshot(run["snapshot"])).to_dict()
    assert sorted((a["bid"], a["period"], a["mw"]) for a in again["awards"]) == \
        sorted((a["bid"], a["period"], a["mw"]) for a in run["result"]["awards"])
    assert db.get(TransferClearing, uuid.UUID(run["id"])).snapshot_sha256 == \
        run["snapshot_sha256"]
    assert client.get(f"{API}/transfers/{tid}/clearing", headers=m["taker1"].h).status_code == 404
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == tid)))
    assert {"transfer.create", "transfer.close", "transfer.snapshot", "transfer.cleared",
            "transfer.completed"} <= actions


def test_not_party_gets_404(client, db, market):
    m = market
    tid = _transfer(client, m)["id"]
    oid = _offer(client, m["taker1"], tid, m["a1"], [1] * 4, 25).json()["id"]
    for who in (m["outsider"], m["other_mo"], m["taker2"]):
        assert client.get(f"{API}/transfers/{tid}", headers=who.h).status_code == 404
        assert client.get(f"{API}/transfers/{tid}/offers", headers=who.h).status_code == 404
        assert client.get(f"{API}/transfer-offers/{oid}", headers=who.h).status_code == 404
        assert client.get(f"{API}/transfers", headers=who.h).json()["total"] == 0
    for who in (m["outsider"], m["taker1"]):
        assert client.post(f"{API}/transfers/{tid}/withdraw", headers=who.h).status_code == 404
        assert client.post(f"{API}/transfers/{tid}/close", headers=who.h).status_code == 404
    assert client.post(f"{API}/transfers/{tid}/approve", headers=m["other_mo"].h,
                       json={}).status_code == 404
    r = client.put(f"{API}/markets/{m['market_id']}/transfer-settings",
                   headers=m["other_mo"].h, json={"consent": "approval"})
    assert r.status_code == 404
    # Parties see it: the offerer, the MO, oversight.
    for who in (m["taker1"], m["mo"], m["reg"]):
        assert client.get(f"{API}/transfers/{tid}", headers=who.h).status_code == 200
    assert client.get(f"{API}/transfer-offers/{oid}", headers=m["taker1"].h).status_code == 200


def test_mo_approval_and_expiry(client, db, market):
    from flexplatform.competition import transfer_clearing
    from flexplatform.competition.models import Contract

    m = market
    r = client.put(f"{API}/markets/{m['market_id']}/transfer-settings", headers=m["mo"].h,
                   json={"consent": "approval", "approval_minutes": 60})
    assert r.status_code == 200 and r.json()["consent"] == "approval"
    assert client.get(f"{API}/markets/{m['market_id']}/transfer-settings",
                      headers=m["holder"].h).json()["approval_minutes"] == 60
    first = [{"contract_id": i} for i in m["contracts"][:2]]
    t1 = _transfer(client, m, contracts=first)["id"]
    _offer(client, m["taker1"], t1, m["a1"], [2, 2], 30)
    client.post(f"{API}/transfers/{t1}/close", headers=m["holder"].h)
    _clear(db, t1)
    got = client.get(f"{API}/transfers/{t1}", headers=m["mo"].h).json()
    assert got["status"] == "awaiting_approval" and got["approval_deadline"]
    assert client.post(f"{API}/transfers/{t1}/approve", headers=m["other_mo"].h,
                       json={}).status_code == 404
    ok = client.post(f"{API}/transfers/{t1}/approve", headers=m["mo"].h,
                     json={"note": "fine by us"})
    assert ok.status_code == 200 and ok.json()["status"] == "completed", ok.text
    assert client.post(f"{API}/transfers/{t1}/approve", headers=m["mo"].h,
                       json={}).status_code == 409

    rest = [{"contract_id": i} for i in m["contracts"][2:]]
    t2 = _transfer(client, m, contracts=rest)["id"]
    _offer(client, m["taker2"], t2, m["a2"], [1, 1], 15)
    client.post(f"{API}/transfers/{t2}/close", headers=m["holder"].h)
    _clear(db, t2)
    deadline = dt.datetime.fromisoformat(client.get(
        f"{API}/transfers/{t2}", headers=m["mo"].h).json()["approval_deadline"])
    assert transfer_clearing.expire(db, deadline - dt.timedelta(seconds=1)) == []
    assert [str(x) for x in transfer_clearing.expire(db, deadline)] == [t2]
    db.commit()
    gone = client.get(f"{API}/transfers/{t2}", headers=m["taker2"].h).json()
    assert gone["status"] == "expired"
    db.expire_all()
    kept = db.scalars(select(Contract.status).where(Contract.id.in_(m["contracts"][2:]))).all()
    assert kept == ["active", "active"]  # the holder keeps the obligation
    offer = client.get(f"{API}/transfers/{t2}/offers", headers=m["taker2"].h).json()[0]
    assert offer["status"] == "lapsed"


def test_partial_cover_and_deadline_scan(client, db, market):
    """The deadline scan closes the transfer; 1 of 2 MW covered: a holder who asked for all
    keeps everything, one who allows part keeps the rest on a contract of its own."""
    from flexplatform.competition import transfer_clearing
    from flexplatform.competition.models import Contract

    m = market
    t1 = _transfer(client, m, contracts=[{"contract_id": m["contracts"][0]}],
                   allow_partial=False)["id"]
    t2 = _transfer(client, m, contracts=[{"contract_id": m["contracts"][1]}])["id"]
    t3 = _transfer(client, m, contracts=[{"contract_id": m["contracts"][2]}])["id"]
    _offer(client, m["taker2"], t1, m["a2"], [1], 15)
    _offer(client, m["taker2"], t2, m["a2"], [1], 15)
    deadline = m["start"] - dt.timedelta(hours=3)
    assert transfer_clearing.scan(db, deadline - dt.timedelta(seconds=1)) == []
    runs = transfer_clearing.scan(db, deadline)
    assert len(runs) == 3
    db.commit()
    _clear(db, t1)
    _clear(db, t2)
    _clear(db, t3)  # nobody offered
    got = client.get(f"{API}/transfers/{t3}", headers=m["holder"].h).json()
    assert got["status"] == "unfilled" and got["note"] == "no admissible offer"
    assert client.get(f"{API}/transfers/{t1}", headers=m["holder"].h).json()["status"] == \
        "unfilled"
    assert client.get(f"{API}/transfers/{t2}", headers=m["holder"].h).json()["status"] == \
        "completed"
    db.expire_all()
    assert db.get(Contract, m["contracts"][0]).status == "active"
    assert db.get(Contract, m["contracts"][1]).status == "transferred"
    split = db.scalars(select(Contract).where(
        Contract.transferred_from_id == m["contracts"][1])).all()
    assert sorted((c.fsp_id == m["holder"].id, c.mw) for c in split) == [(False, 1.0),
                                                                        (True, 1.0)]
    # A price 5 below the original: the taker pays the holder 5 x 1 MW x 0.5 h.
    pays = client.get(f"{API}/transfer-payments?transfer_id={t2}", headers=m["reg"].h).json()
    assert [(p["payer_id"], p["amount"]) for p in pays["items"]] == [
        (str(m["taker2"].id), "2.5000")]


def test_runs_are_leased_and_recovered(client, db, market):
    """A duplicate message finds the run leased and does nothing; a run whose worker died
    (lapsed lease) is started again by the scan, and failed after a second lost worker."""
    from flexplatform.competition import transfer_clearing
    from flexplatform.competition.transfer_models import Transfer, TransferClearing

    m = market
    tid = _transfer(client, m)["id"]
    _offer(client, m["taker1"], tid, m["a1"], [2] * 4, 25)
    client.post(f"{API}/transfers/{tid}/close", headers=m["holder"].h)
    t = db.get(Transfer, uuid.UUID(tid))
    db.refresh(t)
    cid = t.clearing_id
    now = dt.datetime.now(dt.UTC)
    assert transfer_clearing.scan(db, now) == [cid]  # queued: its message may be lost
    snap = transfer_clearing.prepare(db, cid)
    assert snap and transfer_clearing.prepare(db, cid) is None  # leased: a duplicate
    run = db.get(TransferClearing, cid)
    assert transfer_clearing.scan(db, now) == []
    later = run.lease_expires_at + dt.timedelta(seconds=1)
    assert transfer_clearing.scan(db, later) == [cid]  # the worker died: start again
    assert transfer_clearing.prepare(db, cid, later) == snap  # the frozen snapshot
    transfer_clearing.scan(db, db.get(TransferClearing, cid).lease_expires_at
                           + dt.timedelta(seconds=1))
    db.commit()
    assert db.get(TransferClearing, cid).status == "failed"
    assert client.get(f"{API}/transfers/{tid}", headers=m["holder"].h).json()["status"] == \
        "failed"
