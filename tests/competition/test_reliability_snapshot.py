"""A round's snapshot carries reliability posteriors from verified delivery when the rules
set a confidence level (version 2), and stays version 1 otherwise
(flexplatform/competition/reliability.py, docs/probabilistic.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from tests.competition.conftest import live, mode  # noqa: F401  (fixtures)
from tests.reporting.settle_setup import API, EVENT, HH, build


def _verified(c, h) -> int:
    r = c.get(f"{API}/verifications", headers=h, params={
        "start": EVENT.isoformat(), "end": (EVENT + 8 * HH).isoformat()})
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


def test_round_snapshot_carries_posteriors_only_with_confidence_levels(
        live, monkeypatch):  # noqa: F811
    import time

    from sqlalchemy import select

    from flexplatform.competition import clearing, reliability
    from flexplatform.competition import rules as rules_svc
    from flexplatform.competition.models import Bid, ClearingRound, Need
    from flexplatform.db import unit_of_work
    from flexplatform.registration.models import Asset
    from optimiser import clear, load_snapshot
    from optimiser.reliability import posterior

    c = live["client"]
    w = build(c, seq=7)
    t0 = time.monotonic()
    while _verified(c, w.h["reg"]) < 4:  # verification runs as the readings arrive
        assert time.monotonic() - t0 < 60, "no verifications"
        time.sleep(0.2)
    with unit_of_work() as s:
        market = uuid.UUID(w.market_id)
        need = s.scalar(select(Need).where(Need.market_id == market))
        assets = {str(a.fsp_id): a for a in s.scalars(select(Asset).where(
            Asset.fsp_id.in_([uuid.UUID(w.ids["fsp"]), uuid.UUID(w.ids["fsp2"])])))}
        full, half = assets[w.ids["fsp"]], assets[w.ids["fsp2"]]
        hist = reliability.delivery_history(s, [full.id, half.id], EVENT + dt.timedelta(days=1))
        assert sorted(hist[full.id]) == [(500.0, 500.0)] * 2
        assert sorted(hist[half.id]) == [(500.0, 250.0)] * 2
        # nothing verified before the window
        assert reliability.delivery_history(s, [full.id], EVENT - dt.timedelta(days=1)) == {}
        for a in (full, half):
            s.add(Bid(fsp_id=a.fsp_id, asset_id=a.id, need_id=need.id, market_id=market,
                      mw=[1.0] * 8, availability_price=Decimal("9"),
                      utilisation_price=Decimal("100"), status="submitted"))
        rnd = ClearingRound(market_ids=[w.market_id], created_at=EVENT + dt.timedelta(days=1))
        s.add(rnd)
        s.flush()

        v1 = clearing.build_snapshot(s, rnd)  # the default rules: no level
        assert v1["version"] == 1
        assert all("reliability_alpha" not in a for a in v1["assets"])
        assert {a["reliability"] for a in v1["assets"]} == {full.reliability}

        levels = rules_svc.DEFAULT_RULES.model_copy(update={"confidence": {"sustain": 0.9}})
        monkeypatch.setattr(rules_svc, "in_force", lambda session, at=None: (None, levels))
        v2 = clearing.build_snapshot(s, rnd)
        assert v2["version"] == 2 and v2["rules"]["confidence"] == {"sustain": 0.9}
        by_id = {a["id"]: a for a in v2["assets"]}
        want = posterior([(500.0, 250.0)] * 2, technology="industrial_dsr")
        got = by_id[str(half.id)]
        assert got["reliability_alpha"] == pytest.approx(want.alpha)
        assert got["reliability_beta"] == pytest.approx(want.beta)
        assert by_id[str(full.id)]["reliability"] > got["reliability"]
        res = clear(load_snapshot(v2))  # a valid version-2 snapshot, cleared with its level
        assert res.to_dict()["version"] == 2 and res.delivery
        assert all(d["confidence"] == 0.9 for d in res.delivery)
        s.rollback()
