"""Operations fixtures: a cleared market with contracts (written straight to the test's
database), and a queue that records what is enqueued so a test runs the dispatch task's
steps itself, on its own rolled-back connection."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import new_mpan

HALF = dt.timedelta(minutes=30)


def solver():
    """The real engine, as the worker calls it."""
    from optimiser.dispatch import solve

    return solve


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    import flexplatform.queue

    monkeypatch.setattr(flexplatform.queue, "enqueue",
                        lambda name, **kw: calls.append((name, kw)))
    return calls


def drain(db, queued) -> int:
    """Run every queued dispatch run (and any it queues) as the worker would."""
    from flexplatform.db import run_after_commit
    from flexplatform.operations import runs

    done = 0
    while True:
        todo = [kw["run_id"] for name, kw in queued if name == runs.RUN_TASK]
        queued[:] = [q for q in queued if q[0] != runs.RUN_TASK]
        if not todo:
            return done
        for rid in todo:
            snap = runs.prepare(db, uuid.UUID(rid))
            db.commit()
            if snap is None:
                continue
            runs.store(db, uuid.UUID(rid), solver()(snap), snap)
            db.commit()
            run_after_commit(db)
            done += 1


def next_half_hour(after: dt.datetime) -> dt.datetime:
    t = after.replace(second=0, microsecond=0)
    t = t.replace(minute=0) + (HALF if t.minute < 30 else 2 * HALF)
    return t


@pytest.fixture
def ops(db, make_party, zones) -> dict[str, Any]:
    """Two MOs, two FSPs and a regulator; four assets in CMZ_NORTH contracted 'dynamic' up
    to MO1 over 8 periods starting 2 h from now, and one to MO2 ('secure')."""
    return seed(db, make_party)


def seed(db, make_party) -> dict[str, Any]:
    from flexplatform.competition.models import (
        Bid,
        ClearingRound,
        Contract,
        Market,
        MarketStatus,
        Need,
        NeedDirection,
        RoundStatus,
    )
    from flexplatform.db import utcnow
    from flexplatform.registration.models import Asset

    now = utcnow()
    start = next_half_hour(now) + 4 * HALF
    n = 8
    mo1, mo2 = make_party("mo"), make_party("mo")
    fsp1, fsp2 = make_party("fsp"), make_party("fsp")
    reg = make_party("regulator")
    rnd = ClearingRound(market_ids=[], status=RoundStatus.done)
    db.add(rnd)
    db.flush()
    out: dict[str, Any] = {"mo1": mo1, "mo2": mo2, "fsp1": fsp1, "fsp2": fsp2, "reg": reg,
                           "start": start, "n": n, "assets": [], "needs": {}}

    def market(mo, product, direction="up"):
        m = Market(mo_id=mo.id, name=f"{product} market", status=MarketStatus.cleared,
                   gate_open_at=now - dt.timedelta(days=3), gate_close_at=now - dt.timedelta(days=2),
                   delivery_start=start, delivery_end=start + n * HALF, clearing_round_id=rnd.id)
        db.add(m)
        db.flush()
        need = Need(market_id=m.id, product_code=product, zone_code="CMZ_NORTH",
                    direction=NeedDirection(direction), mw=[5.0] * n,
                    max_availability_price=Decimal("100"), utilisation_price_cap=Decimal("500"),
                    unmet_penalty=Decimal("5000"))
        db.add(need)
        db.flush()
        return m, need

    m1, need1 = market(mo1, "dynamic")
    m2, need2 = market(mo2, "secure")
    out["needs"] = {"mo1": need1.id, "mo2": need2.id}
    specs = [(fsp1, 2.0, 100), (fsp1, 2.0, 120), (fsp2, 2.0, 110), (fsp2, 3.0, 300)]
    for k, (fsp, cap, price) in enumerate(specs):
        a = Asset(fsp_id=fsp.id, name=f"A{k}", mpan=new_mpan(), zone_code="CMZ_NORTH",
                  technology_code="battery", up_mw=cap, down_mw=cap, energy_mwh=None,
                  reliability=1.0)
        db.add(a)
        db.flush()
        out["assets"].append(a.id)
        for mkt, need, mo in ((m1, need1, mo1),) + (((m2, need2, mo2),) if k == 3 else ()):
            b = Bid(fsp_id=fsp.id, asset_id=a.id, need_id=need.id, market_id=mkt.id,
                    mw=[cap] * n, availability_price=Decimal("10"),
                    utilisation_price=Decimal(price), status="accepted")
            db.add(b)
            db.flush()
            for t in range(n):
                db.add(Contract(round_id=rnd.id, bid_id=b.id, need_id=need.id, market_id=mkt.id,
                                asset_id=a.id, fsp_id=fsp.id, mo_id=mo.id,
                                product_code=need.product_code, direction="up",
                                period_start=start + t * HALF, mw=cap,
                                availability_price=Decimal("10"),
                                utilisation_price=Decimal(price)))
    db.commit()
    return out
