"""The MILP against brute force on tiny requests: need subsets x price levels x on/off
periods, each an LP in the MW (oracle.py); and every advice it returns obeys every rule."""

from __future__ import annotations

import pytest
from advice_helpers import tiny_options, tiny_requests
from hypothesis import HealthCheck, given, settings
from oracle import brute_force, check_advice

from optimiser.advice import advise, load_advice_request


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=tiny_requests(), opts=tiny_options())
def test_objective_equals_brute_force(doc, opts):
    res = advise(doc, opts)
    assert res.status == "optimal"
    best = brute_force(doc, opts)
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert check_advice(load_advice_request(doc), res, opts) == []
    # kW rounding only ever lowers the value, by little
    assert float(res.expected.total) <= best + 0.02
