"""The cost of an award, one definition: what the objective minimises and the result reports.

Per MW and hour of availability awarded, a bid costs its availability price, plus its
utilisation price times the need's expected utilisation, plus the carbon price times the
asset's emission factor times that expected utilisation (the MWh it is expected to deliver).
The model's objective (`problem.py`), the result's cost split (`extract.py`), the siloed
comparator and the reasons all read these terms from here, so the published `cost` always
adds up to what was minimised.
"""

from __future__ import annotations

import numpy as np

TERMS = ("availability", "utilisation_expected", "carbon")


def cost_terms(availability_price: np.ndarray, utilisation_price: np.ndarray,
               expected_utilisation: np.ndarray, emission_t_per_mwh: np.ndarray,
               carbon_price: float) -> dict[str, np.ndarray]:
    """Each term of the cost per MW per hour (GBP/MW/h), elementwise over awards or bids.

    Parameters:
        availability_price, utilisation_price: the bid's prices.
        expected_utilisation: of the bid's need (0..1).
        emission_t_per_mwh: of the bid's asset.
        carbon_price: GBP per tonne (the round's rules).
    """
    return {"availability": availability_price,
            "utilisation_expected": expected_utilisation * utilisation_price,
            "carbon": carbon_price * emission_t_per_mwh * expected_utilisation}


def unit_cost(terms: dict[str, np.ndarray]) -> np.ndarray:
    """The cost per MW per hour: the sum of `cost_terms`."""
    return terms["availability"] + terms["utilisation_expected"] + terms["carbon"]


def award_costs(mwh: np.ndarray, terms: dict[str, np.ndarray]) -> dict[str, float]:
    """GBP of each term for awards of `mwh` (aligned with `terms`), unrounded."""
    return {k: float(mwh @ terms[k]) for k in TERMS}
