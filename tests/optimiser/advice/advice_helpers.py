"""Small advice-request builders for hand-worked tests.

With no history and no utilisation cap, a need's win curve is the prior alone: P = 1 up to
75% of its availability cap, then falling linearly to 0 at the cap, so the best price is
0.75 x cap with P = 1 and the expected value is 0.75 x cap GBP per MW-hour offered.
"""

from __future__ import annotations

from optimiser.advice import AdviceOptions, EstimatorSettings

EXACT = AdviceOptions(time_limit=30, mip_rel_gap=1e-9)


def periods(T: int) -> list[str]:
    return [f"2026-06-01T{(30 * i) // 60:02d}:{(30 * i) % 60:02d}:00Z" for i in range(T)]


def asset(up=2.0, down=0.0, zone="Z1", technology="battery", **kw) -> dict:
    return {"id": kw.pop("id", "A1"), "zone": zone, "technology": technology, "up_mw": up,
            "down_mw": down, **kw}


def need(id, mw, direction="up", zone="Z1", product="secure", cap=40.0, **kw) -> dict:
    return {"id": id, "product": product, "zone": zone, "direction": direction,
            "mw": list(mw), "max_availability_price": cap, **kw}


def request(a: dict, needs: list[dict], T: int | None = None, pairs=(), history=(),
            products=None, carbon_price=0.0) -> dict:
    T = T if T is not None else (len(needs[0]["mw"]) if needs else 1)
    return {"version": 1, "period_minutes": 30, "periods": periods(T), "asset": a,
            "needs": needs, "products": products or {},
            "rules": {"incompatible_products": [list(p) for p in pairs],
                      "carbon_price": carbon_price},
            "history": list(history)}


def tiny_requests():
    """Hypothesis strategy: random requests small enough to enumerate (<= 3 needs x 2
    periods), touching every rule: zones, directions, technology, availability, energy,
    runs, reliability, costs, stacking pairs, thin and rich history. Choices are weighted
    so that most needs are eligible and the interesting part (what they compete for) is
    exercised; every ineligible case still comes up. (Drawn from a seeded
    `random.Random`: hypothesis's own random values lean to the extremes, which would make
    most tiny requests ineligible; the seed keeps every failure reproducible.)"""
    import random

    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        rnd = random.Random(draw(st.integers(0, 2**32 - 1)))

        def pick(options, weights=None):
            return rnd.choices(options, weights=weights)[0]
        T = pick([1, 2], [1, 3])
        nN = pick([1, 2, 3], [1, 2, 2])
        energy = pick([None, 1.0, 0.5], [2, 1, 1])
        a = {"id": "A1", "zone": "Z1", "technology": pick(["battery", "ev"], [4, 1]),
             "up_mw": pick([2.0, 1.0, 0.0], [3, 2, 1]),
             "down_mw": pick([1.0, 2.0, 0.0], [2, 2, 1]),
             "energy_mwh": energy, "max_run_periods": pick([None, 1], [1, 1]),
             "reliability": pick([1.0, 0.8], [2, 1]),
             "availability_cost": pick([0.0, 12.0], [3, 1]),
             "utilisation_cost": pick([0.0, 50.0], [2, 1]),
             "unavailable_periods": pick([[], [0]], [5, 1])}
        if energy is not None:
            a["initial_energy_mwh"] = pick([None, 0.0, energy])
        needs = [{"id": f"N{j}", "product": pick(["p", "q"]),
                  "zone": pick(["Z1", "GB", "Z2"], [4, 3, 1]),
                  "direction": pick(["up", "down"], [3, 1]),
                  "mw": [pick([1.0, 2.0, 0.5, 0.0], [3, 2, 2, 1]) for _ in range(T)],
                  "max_availability_price": pick([40.0, 20.0, 10.0, None], [3, 3, 1, 1]),
                  "utilisation_price_cap": pick([None, 40.0, 300.0]),
                  "expected_utilisation": pick([None, 0.2])}
                 for j in range(nN)]
        history = []
        if pick([True, False]):
            history.append({"product": "p", "zone": "Z1", "direction": "up",
                            "accepted_prices": rnd.sample([5.0, 15.0, 25.0, 35.0],
                                                          rnd.randint(0, 4)),
                            "rejected_prices": rnd.sample([0.0, 20.0, 40.0], rnd.randint(0, 3)),
                            "bidders": [rnd.randint(0, 2) for _ in range(rnd.randint(0, 4))]})
        if pick([True, False]):
            history.append({"product": "q", "accepted_prices": [8.0, 12.0, 16.0],
                            "accepted_utilisation_prices": [60.0, 90.0],
                            "utilisation": [0.1, 0.3]})
        pairs = pick([[], [("p", "q")], [("p", "p")]])
        products = pick([{}, {"q": {"allowed_technologies": ["ev"]}}], [3, 1])
        return request(a, needs, T=T, pairs=pairs, history=history, products=products,
                       carbon_price=pick([0.0, 80.0]))
    return build()


def tiny_options():
    from hypothesis import strategies as st

    return st.builds(lambda g, p: AdviceOptions(time_limit=30, mip_rel_gap=1e-9,
                                                min_expected_gbp=g, min_win_probability=p,
                                                estimators=EstimatorSettings(price_levels=2)),
                     st.sampled_from([0.0, 1.0, 5.0]), st.sampled_from([0.05, 0.6]))
