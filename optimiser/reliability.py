"""An asset's reliability from its delivery history: a Beta posterior, pure Python.

Why a posterior and not a ratio: a new asset has no history and an asset with two good
events has proved little, yet the clearing must rely on both today. The Beta distribution is
the conjugate prior of a delivery probability, so the evidence adds to a per-technology
prior in closed form and the result says how much it rests on (`strength`).

Model (docs/probabilistic.md, Reliability): in a period it is called, asset `a` delivers
its award, or fails to (an outage, no response); it delivers with probability `r_a`, and
`r_a ~ Beta(alpha_a, beta_a)`. Each verified instruction-period is one observation: its
delivered share `s = min(delivered_mwh / instructed_mwh, 1)` (metered against baseline)
counts as `s` of a success and `1 - s` of a failure, so

    alpha = alpha_0 + sum_e s_e,    beta = beta_0 + sum_e (1 - s_e)

with the prior `(alpha_0, beta_0)` of the asset's technology (`TECHNOLOGY_PRIORS`, written as
a mean and a strength in events: alpha_0 = mean * strength). Every event weighs one whatever
its size: a 10 MW event is not ten times more evidence that the asset responds than a 1 MW
one, and MWh weighting would let one large event drown a record of small failures.

In one period the delivery of `a` is then Bernoulli with mean `E[r_a] = alpha / (alpha +
beta)` (the posterior predictive): `mean` is what the clearing's expected-value rule uses and
what the snapshot's `reliability` carries; `alpha` and `beta` travel with it (snapshot
version 2) so that a re-run, an audit or a simulation uses the same distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Prior:
    """A Beta prior written as what it means: a mean and a strength (in events)."""

    mean: float
    strength: float

    def __post_init__(self) -> None:
        if not 0.0 < self.mean < 1.0:
            raise ValueError(f"prior mean must be in (0, 1), got {self.mean}")
        if not self.strength > 0.0:
            raise ValueError(f"prior strength must be > 0, got {self.strength}")

    @property
    def alpha(self) -> float:
        return self.mean * self.strength

    @property
    def beta(self) -> float:
        return (1.0 - self.mean) * self.strength


# Priors per technology: the means are the fixed derating the generated markets and the demo
# used before (generate.TECH), the strengths how many events of evidence a prior is worth:
# weak (5-10 events), so that a few events of an asset's own history already move it
TECHNOLOGY_PRIORS: dict[str, Prior] = {
    "battery": Prior(0.97, 10.0),
    "generator": Prior(0.95, 10.0),
    "industrial_dsr": Prior(0.90, 8.0),
    "ev": Prior(0.85, 5.0),
    "heat_pump": Prior(0.80, 5.0),
    "domestic_dsr": Prior(0.80, 5.0),
}
DEFAULT_PRIOR = Prior(0.85, 4.0)  # unknown technology: a weak, middling prior


def prior_for(technology: str | None) -> Prior:
    return TECHNOLOGY_PRIORS.get(technology or "", DEFAULT_PRIOR)


@dataclass(frozen=True)
class Reliability:
    """A Beta(alpha, beta) posterior of an asset's delivery probability, and its evidence."""

    alpha: float
    beta: float
    events: int = 0               # instruction-periods observed
    instructed_mwh: float = 0.0
    delivered_mwh: float = 0.0    # counted up to the instructed MWh of each event

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """alpha + beta: the prior's strength plus the events observed."""
        return self.alpha + self.beta

    @property
    def variance(self) -> float:
        """Of the posterior of r (how uncertain the estimate is), not of one delivery."""
        s = self.strength
        return self.alpha * self.beta / (s * s * (s + 1.0))

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance)

    def snapshot_fields(self) -> dict[str, float]:
        """The asset fields of a version-2 market snapshot (docs/probabilistic.md)."""
        a, b = round(self.alpha, 6), round(self.beta, 6)
        return {"reliability": a / (a + b), "reliability_alpha": a, "reliability_beta": b}


def posterior(history: Iterable[tuple[float, float]], technology: str | None = None,
              prior: Prior | None = None) -> Reliability:
    """The posterior from `history`, pairs `(instructed_mwh, delivered_mwh)` per verified
    instruction-period; `prior` defaults to the technology's (`prior_for`).

    Events with nothing instructed carry no evidence and are skipped; a delivered share is
    clipped to [0, 1] (over-delivery is not more reliability, negative metering is a
    failure).

    Raises:
        ValueError: a value that is not a finite number.
    """
    p = prior or prior_for(technology)
    a, b = p.alpha, p.beta
    n = 0
    inst = deliv = 0.0
    for i, d in history:
        i, d = float(i), float(d)
        if not (math.isfinite(i) and math.isfinite(d)):
            raise ValueError(f"instructed and delivered MWh must be finite, got {i}, {d}")
        if i <= 0.0:
            continue
        s = min(max(d / i, 0.0), 1.0)
        a += s
        b += 1.0 - s
        n += 1
        inst += i
        deliv += s * i
    return Reliability(alpha=a, beta=b, events=n, instructed_mwh=inst, delivered_mwh=deliv)
