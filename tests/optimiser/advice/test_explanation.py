"""The explanation tells the truth: each reason code is checked against the advice by an
independent test (oracle.py), on hand-made cases and on random tiny requests."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from advice_helpers import EXACT, asset, need, request, tiny_options, tiny_requests
from hypothesis import HealthCheck, given, settings
from oracle import band_ok, best_addition, eligible_levels, incompatible

from optimiser.advice import MEANING, REASONS, AdviceOptions, advise, load_advice_request
from optimiser.advice.estimators import EstimatorSettings, estimate_need
from optimiser.advice.explain import Outcome, blocked_reasons
from optimiser.advice.problem import prepare

ROOM = 1e-4  # 0.1 kW: less room counts as none


def _reason(res, need_id, code):
    na = next(n for n in res.not_advised if n.need == need_id)
    return next(r for r in na.reasons if r.code == code)


def test_every_code_has_a_meaning():
    assert set(REASONS) == set(MEANING)


def test_pre_solve_codes():
    a = asset(up=2.0, down=0.0, availability_cost=5.0, utilisation_cost=100.0,
              unavailable_periods=[1])
    needs = [
        need("ZONE", [1, 1], zone="Z9"),
        need("DIR", [1, 1], direction="down"),
        need("BOTH", [1, 1], direction="down", zone="Z9"),
        need("TECH", [1, 1], product="restore"),
        need("UNAV", [0, 1]),
        need("NOREF", [1, 1], cap=None, product="novel"),
        need("ACAP", [1, 1], cap=4.0),
        need("UCAP", [1, 1], utilisation_price_cap=50.0),
        need("EMPTY", [0, 0]),
        need("TINY", [0.001, 0]),
    ]
    res = advise(request(a, needs, products={"restore": {"allowed_technologies": ["generator"]}}),
                 EXACT)
    assert res.reasons("ZONE") == ("zone_mismatch",)
    assert res.reasons("DIR") == ("direction_not_supported",)
    assert res.reasons("BOTH") == ("zone_mismatch", "direction_not_supported")
    assert res.reasons("TECH") == ("product_not_qualified",)
    assert "generator" in _reason(res, "TECH", "product_not_qualified").text
    assert res.reasons("UNAV") == ("asset_unavailable",)
    assert _reason(res, "UNAV", "asset_unavailable").periods == (1,)
    assert res.reasons("NOREF") == ("no_price_reference",)
    assert res.reasons("ACAP") == ("price_cap_below_cost",)
    assert "£4.00/MW/h" in _reason(res, "ACAP", "price_cap_below_cost").text
    assert res.reasons("UCAP") == ("price_cap_below_cost",)
    assert "utilisation cap £50.00/MWh" in _reason(res, "UCAP", "price_cap_below_cost").text
    assert res.reasons("EMPTY") == ("not_worth_it",)
    assert res.reasons("TINY") == ("not_worth_it",)
    assert "below the £1.00 threshold" in _reason(res, "TINY", "not_worth_it").text
    assert res.bids == ()


def test_not_worth_it_when_the_chance_is_too_low():
    hist = [{"product": "secure", "accepted_prices": [10.0], "rejected_prices": [0.0] * 20}]
    doc = request(asset(), [need("N1", [1.0])], history=hist)
    res = advise(doc, AdviceOptions(min_win_probability=0.5))
    assert res.reasons("N1") == ("not_worth_it",)
    assert "below the 50% asked for" in _reason(res, "N1", "not_worth_it").text
    assert advise(doc, AdviceOptions(min_win_probability=0.05)).bid("N1") is not None


def test_post_solve_codes_name_the_periods_and_the_needs_that_took_them():
    a = asset(up=2.0, down=2.0, max_run_periods=3)
    needs = [need("BEST", [2, 2, 2, 0, 0], cap=100.0),
             need("CAP", [1, 1, 0, 0, 0], cap=30.0),
             need("DOWN", [0, 1, 0, 0, 0], direction="down", cap=30.0),
             need("STACK", [0, 0, 1, 0, 0], product="dynamic", cap=30.0),
             need("RUN", [0, 0, 0, 1, 0], product="sustain", cap=30.0)]
    res = advise(request(a, needs, pairs=[("secure", "dynamic")]), EXACT)
    assert [b.need for b in res.bids] == ["BEST"]
    r = _reason(res, "CAP", "capacity_used")
    assert r.periods == (0, 1) and r.needs == ("BEST",) and "2 MW of up" in r.text
    r = _reason(res, "DOWN", "direction_conflict")
    assert r.periods == (1,) and r.needs == ("BEST",)
    r = _reason(res, "STACK", "stacking_conflict")
    assert r.periods == (2,) and r.needs == ("BEST",)
    assert "may not be stacked with dynamic" in r.text
    assert res.reasons("RUN") == ("run_limit",)
    assert _reason(res, "RUN", "run_limit").periods == (3,)


def test_energy_limit_and_partial_not_worth_it():
    a = asset(up=2.0, energy_mwh=1.0)  # no recharge: 1 MWh in all
    needs = [need("BEST", [2, 0, 0], cap=100.0), need("LATER", [0, 0, 2], cap=30.0)]
    res = advise(request(a, needs), EXACT)
    assert res.bid("BEST").mwh == pytest.approx(1.0)
    r = _reason(res, "LATER", "energy_limit")
    assert r.periods == (2,) and "however the recharging is planned" in r.text


def test_within_mip_gap_only_when_the_bound_does_not_prove_it():
    req = load_advice_request(request(asset(up=2.0), [need("N1", [1.0])]))
    prob = prepare(req, EstimatorSettings(), 0.05, 1.0)
    out = Outcome(prob, np.zeros(prob.nx))  # pretend the solver advised nothing
    rs = blocked_reasons(prob, out, 0, None, 0.05)
    assert [r.code for r in rs] == ["within_mip_gap"] and "5.00%" in rs[0].text
    rs = blocked_reasons(prob, out, 0, 0.5, 0.05)  # bound: at most £0.50 more anywhere
    assert [r.code for r in rs] == ["not_worth_it"] and "bound proves" in rs[0].text
    rs = blocked_reasons(prob, out, 0, None, 0.05, slack=1.0)  # 1 MW-period lost to rounding
    assert [r.code for r in rs] == ["not_worth_it"] and "to the watt" in rs[0].text


def test_advised_bid_numbers_add_up():
    hist = [{"product": "secure", "zone": "Z1", "direction": "up",
             "accepted_prices": [30, 35, 38, 40, 40], "rejected_prices": [40, 0],
             "accepted_utilisation_prices": [200.0], "utilisation": [0.05, 0.1],
             "bidders": [0, 0, 1, 2]}]
    a = asset(up=2.0, reliability=0.9, availability_cost=2.0, utilisation_cost=20.0)
    doc = request(a, [need("N1", [0, 1.5, 1.5, 1.0], utilisation_price_cap=300.0)],
                  history=hist)
    res = advise(doc, EXACT)
    b = res.bid("N1")
    req = load_advice_request(doc)
    est = estimate_need(req, req.needs[0], {g.key: g for g in req.history}, EstimatorSettings())
    p = float(est.curve(float(b.availability_price), est.adder, 0.9)[0])
    assert b.win_probability == pytest.approx(p)
    assert float(b.availability_price) <= 40.0
    assert b.utilisation_price == Decimal("200.00")
    assert b.mw == (0.0, pytest.approx(1.5 / 0.9, abs=1e-6), pytest.approx(1.5 / 0.9, abs=1e-6),
                    pytest.approx(1.0 / 0.9, abs=1e-6))
    mwh = sum(b.mw) * 0.5
    assert b.mwh == pytest.approx(mwh)
    eu = b.expected_utilisation
    assert float(b.expected.availability) == pytest.approx(p * float(b.availability_price) * mwh,
                                                          abs=0.005)
    assert float(b.expected.utilisation) == pytest.approx(p * 0.9 * eu * 200.0 * mwh, abs=0.005)
    assert float(b.expected.cost) == pytest.approx(p * (2.0 + 0.9 * eu * 20.0) * mwh, abs=0.005)
    e = b.expected
    assert e.total == e.availability + e.utilisation - e.cost
    assert res.expected.total == e.total
    assert [(w.first_period, w.last_period) for w in b.windows] == [(1, 2), (3, 3)]
    assert b.windows[0].start == "2026-06-01T00:30:00Z" and b.windows[0].end == \
        "2026-06-01T01:30:00Z"
    assert sum(lv.chosen for lv in b.levels) == 1
    chosen = next(lv for lv in b.levels if lv.chosen)
    assert chosen.price == b.availability_price
    assert all(lv.expected_total <= chosen.expected_total for lv in b.levels if lv.offered)
    assert b.basis["prices"] == {"group": "secure/Z1/up", "observations": 7}
    assert "N1" in b.text and f"£{b.availability_price}/MW/h" in b.text
    d = res.to_dict()
    assert d["bids"][0]["expected"]["total_gbp"] == str(e.total)
    assert isinstance(d["bids"][0]["availability_price"], str)


def _check_claims(req, res, opts):
    a = req.asset
    T = req.n_periods
    idx = {n.id: i for i, n in enumerate(req.needs)}
    U, D = np.zeros(T), np.zeros(T)
    at: dict[int, list[str]] = {}
    for b in res.bids:
        n = req.needs[idx[b.need]]
        for t, m in enumerate(b.mw):
            if m > 0:
                (U if n.direction == "up" else D)[t] += m
                at.setdefault(t, []).append(b.need)
    committed = (U > 0) | (D > 0)
    levels = eligible_levels(req, opts)
    seen = [b.need for b in res.bids] + [n.need for n in res.not_advised]
    assert sorted(seen) == sorted(n.id for n in req.needs)
    for na in res.not_advised:
        i = idx[na.need]
        n = req.needs[i]
        d_used, o_used = (U, D) if n.direction == "up" else (D, U)
        cap = a.cap(n.direction)
        assert na.reasons, na.need
        pre = i not in levels
        for r in na.reasons:
            assert r.code in REASONS and r.text
            code = r.code
            if code == "zone_mismatch":
                assert n.zone not in ("GB", a.zone)
            elif code == "direction_not_supported":
                assert cap <= 0
            elif code == "product_not_qualified":
                assert a.technology not in req.technologies_for(n.product)
            elif code == "asset_unavailable":
                assert all(n.mw[t] <= 0 or t in a.unavailable_periods for t in range(T))
            elif code == "no_price_reference":
                assert n.max_availability_price is None
            elif code == "price_cap_below_cost":
                assert pre
            elif code == "capacity_used":
                assert all(d_used[t] >= cap - ROOM - 1e-9 for t in r.periods)
            elif code == "direction_conflict":
                assert all(o_used[t] > 0 for t in r.periods)
            elif code == "stacking_conflict":
                for t in r.periods:
                    assert any(incompatible(req, n.product, req.needs[idx[m]].product)
                               for m in at.get(t, []))
            elif code == "run_limit":
                for t in r.periods:
                    run = committed.copy()
                    run[t] = True
                    lo = hi = t
                    while lo > 0 and run[lo - 1]:
                        lo -= 1
                    while hi < T - 1 and run[hi + 1]:
                        hi += 1
                    assert not committed[t] and hi - lo + 1 > a.max_run_periods
            elif code == "energy_limit":
                for t in r.periods:
                    U2, D2 = U.copy(), D.copy()
                    (U2 if n.direction == "up" else D2)[t] += ROOM
                    c2 = committed.copy()
                    c2[t] = True
                    assert not band_ok(req, U2, D2, c2)
            elif code == "not_worth_it" and not pre:
                worth = max(opts.min_expected_gbp, 0.01)  # a penny is the least worth
                assert best_addition(req, res, n.id, opts) < worth + 1e-6
            elif code == "within_mip_gap":
                pytest.fail("an exact solve never leaves a need to the gap")
        if not pre and "not_worth_it" not in na.codes:
            # blocked in every period: not even 0.1 kW fits anywhere
            vmax = max(levels[i])
            assert best_addition(req, res, n.id, opts) <= vmax * ROOM * T + 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=tiny_requests(), opts=tiny_options())
def test_every_reason_is_true(doc, opts):
    res = advise(doc, opts)
    assert res.status == "optimal"
    _check_claims(load_advice_request(doc), res, opts)
