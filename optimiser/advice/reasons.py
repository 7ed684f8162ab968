"""Why a need is not in the advice: the stable list of codes, each with its meaning.

An FSP acts on these (re-register in another zone, add energy, bid elsewhere), so a code is
given only when it is true of the advice returned: docs/advice.md states the test behind
each. The clearing's rejection reasons (`optimiser/reasons.py`) answer another question
(why a bid lost), so the lists are kept apart even where a word is shared.
"""

from __future__ import annotations

# decided before the solve, from the need and the asset alone
ZONE_MISMATCH = "zone_mismatch"
DIRECTION_NOT_SUPPORTED = "direction_not_supported"
PRODUCT_NOT_QUALIFIED = "product_not_qualified"
ASSET_UNAVAILABLE = "asset_unavailable"
NO_PRICE_REFERENCE = "no_price_reference"
PRICE_CAP_BELOW_COST = "price_cap_below_cost"
NOT_WORTH_IT = "not_worth_it"
# decided by the solve: what the advised bids leave for this need
STACKING_CONFLICT = "stacking_conflict"
CAPACITY_USED = "capacity_used"
DIRECTION_CONFLICT = "direction_conflict"
ENERGY_LIMIT = "energy_limit"
RUN_LIMIT = "run_limit"
WITHIN_MIP_GAP = "within_mip_gap"

MEANING = {
    ZONE_MISMATCH: "the need is zonal and the asset is in another zone",
    DIRECTION_NOT_SUPPORTED: "the asset has no capability in the need's direction",
    PRODUCT_NOT_QUALIFIED: "the asset's technology is not allowed for the need's product",
    ASSET_UNAVAILABLE: "the asset is unavailable in every period of the need",
    NO_PRICE_REFERENCE: "the need has no price cap and like needs have no price history",
    PRICE_CAP_BELOW_COST: "no price within the need's caps covers the asset's costs",
    NOT_WORTH_IT: "the expected value of a bid is below the threshold, or its chance of "
                  "winning too low",
    STACKING_CONFLICT: "an advised bid of an incompatible product takes those periods",
    CAPACITY_USED: "advised bids use all the asset's capability in that direction then",
    DIRECTION_CONFLICT: "the asset is advised to move the other way in those periods",
    ENERGY_LIMIT: "the energy the advised bids keep in reserve leaves no room",
    RUN_LIMIT: "committing those periods too would exceed the asset's longest run",
    WITHIN_MIP_GAP: "the solver stopped within its optimality gap; the need may still fit",
}

PRE_SOLVE = (ZONE_MISMATCH, DIRECTION_NOT_SUPPORTED, PRODUCT_NOT_QUALIFIED, ASSET_UNAVAILABLE,
             NO_PRICE_REFERENCE, PRICE_CAP_BELOW_COST, NOT_WORTH_IT)
POST_SOLVE = (STACKING_CONFLICT, CAPACITY_USED, DIRECTION_CONFLICT, ENERGY_LIMIT, RUN_LIMIT,
              NOT_WORTH_IT, WITHIN_MIP_GAP)
REASONS = tuple(dict.fromkeys(PRE_SOLVE + POST_SOLVE))
