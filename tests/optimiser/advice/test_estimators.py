"""The estimators on small histories, worked by hand (formulas: docs/advice.md)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimiser.advice.estimators import (
    EstimatorSettings,
    expected_utilisation,
    fallback_chain,
    pick_group,
    price_levels,
    utilisation_price,
    win_curve,
)
from optimiser.advice.request import HistoryGroup

S = EstimatorSettings()  # prior weight 3, min 5 observations, prior 75-100% of the cap


def test_prior_only_is_flat_then_linear_to_the_cap():
    c = win_curve(None, None, 40.0, S)
    p = c(np.array([0.0, 20.0, 30.0, 35.0, 40.0, 40.01]))
    assert p.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0, 0.0])


def test_prior_with_two_competitors_squares_the_survival():
    g = HistoryGroup("p", bidders=(2, 2, 2))
    c = win_curve(None, g, 40.0, S)
    assert c(35.0)[0] == pytest.approx(0.25)  # (1 - F)^2 with F = 0.5


def test_needs_nobody_bid_on_are_won_at_any_price_under_the_cap():
    g = HistoryGroup("p", bidders=(0, 0, 0, 1))
    c = win_curve(None, g, 40.0, S)
    q0 = 3 / (4 + 3)
    assert c.q0 == pytest.approx(q0)
    assert c(40.0)[0] == pytest.approx(q0)      # contested: prior 0 at the cap
    assert c(35.0)[0] == pytest.approx(q0 + (1 - q0) * 0.5)
    assert c(41.0)[0] == 0.0                    # above the cap: ineligible


def test_empirical_curve_by_hand():
    """accepted 10, 20, 30; rejected 25; m = 3; cap 40 (prior 1 up to 30, 0.5 at 35)."""
    g = HistoryGroup("p", accepted_prices=(10.0, 20.0, 30.0), rejected_prices=(25.0,))
    c = win_curve(g, None, 40.0, S)
    assert c(20.0)[0] == pytest.approx((2 + 3) / (2 + 0 + 3))
    assert c(26.0)[0] == pytest.approx((1 + 3) / (1 + 1 + 3))
    assert c(35.0)[0] == pytest.approx((0 + 3 * 0.5) / (0 + 1 + 3))


def test_reliability_and_carbon_raise_the_price_the_clearing_sees():
    g = HistoryGroup("p", accepted_prices=(10.0, 20.0, 30.0), rejected_prices=(25.0,))
    c = win_curve(g, None, 40.0, S)
    # at 20.8 with reliability 0.8 the clearing compares 26 per delivered MW
    assert c(20.8, 0.0, 0.8)[0] == pytest.approx(c(26.0)[0])
    assert c(20.0, 6.0, 1.0)[0] == pytest.approx(c(26.0)[0])
    assert c(39.0, 0.0, 0.8)[0] == pytest.approx(c(48.75)[0]) or c(48.75)[0] == 0.0


def test_without_cap_the_scale_is_the_highest_price_seen_and_no_reference_is_none():
    g = HistoryGroup("p", accepted_prices=(10.0, 50.0), rejected_prices=(60.0,))
    c = win_curve(g, None, None, S)
    assert c.scale == 60.0 and c.cap is None
    assert win_curve(None, None, None, S) is None
    assert win_curve(HistoryGroup("p", bidders=(1,)), None, None, S) is None


@settings(max_examples=80, deadline=None)
@given(acc=st.lists(st.floats(0, 100), max_size=12), rej=st.lists(st.floats(0, 100), max_size=8),
       bid=st.lists(st.integers(0, 4), max_size=8), cap=st.one_of(st.none(), st.floats(1, 100)))
def test_win_probability_is_a_probability_and_never_rises_with_price(acc, rej, bid, cap):
    g = HistoryGroup("p", accepted_prices=tuple(acc), rejected_prices=tuple(rej),
                     bidders=tuple(bid))
    c = win_curve(g, g, cap, S)
    if c is None:
        assert cap is None and not acc and not rej
        return
    prices = np.linspace(0, 120, 241)
    p = c(prices, 2.0, 0.9)
    assert np.all((p >= -1e-12) & (p <= 1 + 1e-12))
    assert np.all(np.diff(p) <= 1e-12)


def test_fallback_chain_and_thin_groups():
    chain = fallback_chain("secure", "Z1", "up")
    assert chain == (("secure", "Z1", "up"), ("secure", None, "up"), ("secure", None, None))
    thin = HistoryGroup("secure", "Z1", "up", accepted_prices=(10.0, 12.0))
    rich = HistoryGroup("secure", None, "up", accepted_prices=(1, 2, 3), rejected_prices=(4, 5))
    groups = {g.key: g for g in (thin, rich)}
    g, basis = pick_group(groups, chain, "prices", 5)
    assert g is rich and basis.group == "secure/*/up" and basis.observations == 5
    g, basis = pick_group({thin.key: thin}, chain, "prices", 5)
    assert g is thin and basis.observations == 2           # thin, but the best there is
    g, basis = pick_group({}, chain, "prices", 5)
    assert g is None and basis.group is None and basis.observations == 0
    g, _ = pick_group(groups, chain, "utilisation", 5)
    assert g is None                                        # no group has utilisation


def test_expected_utilisation_shrinks_toward_the_stated_value():
    g = HistoryGroup("p", utilisation=(0.02, 0.05))
    assert expected_utilisation(g, None, S) == pytest.approx((0.07 + 3 * 0.04) / 5)
    assert expected_utilisation(g, 0.2, S) == pytest.approx((0.07 + 3 * 0.2) / 5)
    assert expected_utilisation(None, 0.2, S) == pytest.approx(0.2)
    assert expected_utilisation(None, None, S) == pytest.approx(0.04)


def test_utilisation_price_median_cap_cost():
    g = HistoryGroup("p", accepted_utilisation_prices=(100.0, 300.0, 200.0))
    assert utilisation_price(g, None, 0.0) == 200.0
    assert utilisation_price(g, 150.0, 0.0) == 150.0          # never above the cap
    assert utilisation_price(g, None, 250.0) == 250.0         # never below cost
    assert utilisation_price(None, 500.0, 10.0) == 500.0      # no history: the cap
    assert utilisation_price(None, None, 10.0) == 10.0        # neither: no margin


def test_price_levels_prior_only():
    c = win_curve(None, None, 40.0, S)
    lv = price_levels(c, 0.0, 40.0, 0.0, 0.0, 1.0, S)
    best = next(x for x in lv if x.label == "best")
    assert best.price == 30.0 and best.win_probability == 1.0 and best.value_per_mwh == 30.0
    assert lv[-1].label == "cap" and lv[-1].price == 40.0 and lv[-1].win_probability == 0.0
    assert [x.price for x in lv] == sorted(x.price for x in lv)


@settings(max_examples=60, deadline=None)
@given(acc=st.lists(st.floats(1, 60), min_size=1, max_size=10),
       rej=st.lists(st.floats(0, 60), max_size=6), lo=st.floats(0, 20),
       margin=st.floats(-5, 20), rel=st.sampled_from([1.0, 0.85]))
def test_price_levels_are_pennies_in_range_and_best_is_best(acc, rej, lo, margin, rel):
    g = HistoryGroup("p", accepted_prices=tuple(acc), rejected_prices=tuple(rej))
    c = win_curve(g, None, 60.0, S)
    lv = price_levels(c, lo, 60.0, margin, 0.0, rel, S)
    assert 1 <= len(lv) <= S.price_levels
    for x in lv:
        assert lo - 1e-9 <= x.price <= 60.0
        assert abs(round(x.price * 100) - x.price * 100) < 1e-6
        assert x.value_per_mwh == pytest.approx(x.win_probability * (x.price + margin))
    best = next(x for x in lv if x.label == "best")
    # no penny price does better than the best level by more than the grid's resolution
    # on the prior's smooth part (the steps of the empirical part are scanned exactly)
    grid = np.arange(np.ceil(lo * 100), 6001) / 100
    v = c(grid, 0.0, rel) * (grid + margin)
    assert best.value_per_mwh >= v.max() - 0.03 * max(1.0, abs(v.max()))
