"""One hand-worked case per constraint family of the advice MILP.

Every case passes with the full model, and fails when its family is taken out of the
build (`test_case_fails_without_its_family`), so no family can silently stop mattering.
Prior-only curves (advice_helpers): a need with cap C is worth 0.75 C per MW-hour at P = 1.
"""

from __future__ import annotations

import numpy as np
import pytest
from advice_helpers import EXACT, asset, need, request

from optimiser.advice import AdviceOptions, advise, load_advice_request
from optimiser.advice import model as advice_model
from optimiser.advice.estimators import EstimatorSettings
from optimiser.advice.model import build_model
from optimiser.advice.problem import prepare


def _mw(res, need_id):
    b = res.bid(need_id)
    return np.zeros(0) if b is None else np.array(b.mw)


def case_capacity():
    """Two up needs in one period, 2 MW each; a 2 MW asset: the better one only."""
    doc = request(asset(up=2.0), [need("N1", [2.0]), need("N2", [2.0], cap=20.0)])

    def check(res):
        assert res.bid("N1") is not None and res.bid("N2") is None
        assert _mw(res, "N1").tolist() == [2.0]
        assert res.reasons("N2") == ("capacity_used",)
    return doc, EXACT, check


def case_direction():
    """An up and a down need in the same period: one direction only."""
    doc = request(asset(up=2.0, down=2.0),
                  [need("N1", [1.0]), need("N2", [1.0], direction="down", cap=20.0)])

    def check(res):
        assert [b.need for b in res.bids] == ["N1"]
        assert res.reasons("N2") == ("direction_conflict",)
    return doc, EXACT, check


def case_commitment():
    """Longest run 1 period: a need over two periods gets one of them (the run rows read
    w, which only the commitment rows tie to the MW)."""
    doc = request(asset(up=2.0, max_run_periods=1), [need("N1", [1.0, 1.0])])

    def check(res):
        assert sorted(_mw(res, "N1").tolist()) == [0.0, 1.0]
    return doc, EXACT, check


def case_stacking():
    """Incompatible products in one period: one of them, though capacity would allow both."""
    doc = request(asset(up=4.0), [need("N1", [2.0], product="sustain"),
                                  need("N2", [2.0], product="dynamic", cap=20.0)],
                  pairs=[("sustain", "dynamic")])

    def check(res):
        assert [b.need for b in res.bids] == ["N1"]
        assert res.reasons("N2") == ("stacking_conflict",)
    return doc, EXACT, check


def case_stacking_same_product():
    """A product incompatible with itself: at most one of its needs per period."""
    doc = request(asset(up=4.0), [need("N1", [2.0], product="dfs"),
                                  need("N2", [2.0], product="dfs", cap=20.0)],
                  pairs=[("dfs", "dfs")])

    def check(res):
        assert [b.need for b in res.bids] == ["N1"]
        assert res.reasons("N2") == ("stacking_conflict",)
    return doc, EXACT, check


def case_energy():
    """1 MWh store, no recharge (down_mw 0): a 2 MW need over 3 periods gets 1 MWh."""
    doc = request(asset(up=2.0, energy_mwh=1.0), [need("N1", [2.0, 2.0, 2.0])])

    def check(res):
        b = res.bid("N1")
        assert b is not None and b.mwh == pytest.approx(1.0)
    return doc, EXACT, check


def case_run():
    """Longest run 2: a three-period need gets two periods."""
    doc = request(asset(up=2.0, max_run_periods=2), [need("N1", [1.0, 1.0, 1.0])])

    def check(res):
        assert (_mw(res, "N1") > 0).sum() == 2
    return doc, EXACT, check


def case_need_cap():
    """Reliability 0.8 against a 1 MW need: 1.25 MW offered (1 MW delivered), not 2."""
    doc = request(asset(up=2.0, reliability=0.8), [need("N1", [1.0])])

    def check(res):
        assert _mw(res, "N1").tolist() == [1.25]
    return doc, EXACT, check


def case_minimum_value():
    """N1 leaves 0.1 MW; N2 would earn 0.1 x 0.5 h x 30 = GBP 1.50 there, below GBP 10."""
    doc = request(asset(up=2.0), [need("N1", [1.9], cap=100.0), need("N2", [2.0])])
    opts = AdviceOptions(time_limit=30, mip_rel_gap=1e-9, min_expected_gbp=10.0)

    def check(res):
        assert [b.need for b in res.bids] == ["N1"]
        assert res.reasons("N2") == ("capacity_used", "not_worth_it") or \
            res.reasons("N2") == ("not_worth_it",)
    return doc, opts, check


def case_level_link():
    """The value is booked only on MW actually offered."""
    doc = request(asset(up=2.0), [need("N1", [2.0])])

    def check(res):
        assert res.bid("N1") is not None and res.bid("N1").mw == (2.0,)
        assert res.objective == pytest.approx(0.75 * 40 * 2 * 0.5)
    return doc, EXACT, check


CASES = {
    "capacity": case_capacity, "direction": case_direction, "commitment": case_commitment,
    "stacking": case_stacking, "energy": case_energy, "run": case_run,
    "need_cap": case_need_cap, "minimum_value": case_minimum_value,
    "level_link": case_level_link,
}
EXTRA = {"stacking": [case_stacking_same_product]}


@pytest.mark.parametrize("family", sorted(CASES))
def test_case_holds(family):
    for make in [CASES[family], *EXTRA.get(family, [])]:
        doc, opts, check = make()
        check(advise(doc, opts))


@pytest.mark.parametrize("family", sorted(CASES))
def test_case_fails_without_its_family(family, monkeypatch):
    monkeypatch.setattr(advice_model, f"define_{family}", lambda b: None)
    for make in [CASES[family], *EXTRA.get(family, [])]:
        doc, opts, check = make()
        with pytest.raises(AssertionError):
            check(advise(doc, opts))


def test_every_family_has_a_case():
    assert set(advice_model.FAMILY_ORDER) == set(CASES) | {"price_level"}


def _two_level_model():
    hist = [{"product": "secure", "accepted_prices": [30, 34, 36, 38, 40],
             "rejected_prices": [39, 40]}]
    req = load_advice_request(request(asset(up=2.0), [need("N1", [1.0])], history=hist))
    prob = prepare(req, EstimatorSettings(), 0.0, 0.0)
    assert (prob.q_cand == 0).sum() >= 2
    return build_model(prob)


def test_price_level_one_price_per_need():
    """Two levels of one need on at once break exactly the row `price_level[N1]`."""
    mm = _two_level_model()
    x = np.zeros(mm.ncols)
    z = mm.blocks["z"]
    x[z.start] = x[z.start + 1] = 1.0
    assert mm.violated(x) == ["price_level[N1]"]


def test_price_level_fails_without_its_family(monkeypatch):
    monkeypatch.setattr(advice_model, "define_price_level", lambda b: None)
    mm = _two_level_model()
    x = np.zeros(mm.ncols)
    z = mm.blocks["z"]
    x[z.start] = x[z.start + 1] = 1.0
    assert mm.violated(x) == []


def test_rows_carry_their_family_names():
    doc, _, _ = case_stacking()
    req = load_advice_request(doc)
    mm = build_model(prepare(req, EstimatorSettings(), 0.05, 1.0))
    h = mm.to_highs()
    names = {h.getRowName(i)[1] for i in range(mm.nrows)}
    assert "stacking_pair[sustain,dynamic,0]" in names
    assert {"capacity[up,0]", "need_cap[N1,0]", "commitment[N2,0]", "price_level[N1]",
            "stacking[dynamic,up,0]"} <= names
    assert len(names) == mm.nrows  # unique
    cols = {h.getColName(i)[1] for i in range(mm.ncols)}
    assert {"x[N1,0]", "w[up,0]", "s[dynamic,0]"} <= cols


def test_recharge_between_windows_restores_energy():
    """2 MWh store: 2 MW for an hour, two free periods to recharge, 2 MW for an hour again."""
    a = asset(up=2.0, down=2.0, energy_mwh=2.0)
    needs = [need("N1", [2, 2, 0, 0, 0, 0]), need("N2", [0, 0, 0, 0, 2, 2])]
    res = advise(request(a, needs), EXACT)
    assert res.bid("N1").mwh == pytest.approx(2.0) and res.bid("N2").mwh == pytest.approx(2.0)
    a["recharge_mw"] = 0.0
    res = advise(request(a, needs), EXACT)
    assert sum(b.mwh for b in res.bids) == pytest.approx(2.0)


def test_energy_is_robust_to_which_calls_come():
    """A charge (down) need then a discharge (up) need on an empty 1 MWh store: it must
    recharge in period 1 only if the down call did not come; both fit."""
    a = asset(up=2.0, down=2.0, energy_mwh=1.0, initial_energy_mwh=0.0)
    needs = [need("D", [2, 0, 0], direction="down", product="local_turn_up"),
             need("U", [0, 0, 2])]
    res = advise(request(a, needs), EXACT)
    assert res.bid("D").mwh == pytest.approx(1.0) and res.bid("U").mwh == pytest.approx(1.0)


def test_full_store_cannot_absorb_without_releasing_first():
    a = asset(up=2.0, down=2.0, energy_mwh=1.0, initial_energy_mwh=1.0)
    res = advise(request(a, [need("D", [2, 0], direction="down")]), EXACT)
    assert res.bid("D") is None and res.reasons("D") == ("energy_limit",)
    res = advise(request(a, [need("D", [0, 2], direction="down")]), EXACT)
    assert res.bid("D").mwh == pytest.approx(1.0)  # released in period 0 first
