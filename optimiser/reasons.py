"""Reason codes and their texts: the one table of why an engine decided against an offer.

These codes feed the rationale an MO must disclose, so they are a stable, documented list
(docs/market-formulation.md), and the platform shows participants the texts given here
(`REASON_TEXT`, imported by `flexplatform.competition.clearing`). Codes are grouped by the
stage that decides them; each group is a dict of code -> text, so a code cannot exist without
its text. An engine that needs new codes (the dispatch engine) adds its own group here and to
`REASON_TEXT`.

Pure Python: the platform imports this module without loading the solver. How the clearing
assigns the competition codes is `rejections.py`.
"""

from __future__ import annotations

# -- ineligibility: decided before the solve, from the snapshot alone ------------------------
NEED_NOT_FOUND = "need_not_found"
ASSET_NOT_FOUND = "asset_not_found"
ZONE_MISMATCH = "zone_mismatch"
DIRECTION_NOT_SUPPORTED = "direction_not_supported"
AVAILABILITY_PRICE_ABOVE_CAP = "availability_price_above_cap"
UTILISATION_PRICE_ABOVE_CAP = "utilisation_price_above_cap"
ALL_OR_NOTHING_UNAVAILABLE = "all_or_nothing_unavailable"
NO_DELIVERABLE_PERIODS = "no_deliverable_periods"

INELIGIBLE: dict[str, str] = {
    NEED_NOT_FOUND: "the need it names is not in the clearing",
    ASSET_NOT_FOUND: "the asset it names is not in the clearing",
    ZONE_MISMATCH: "asset outside the need's zone",
    DIRECTION_NOT_SUPPORTED: "asset cannot move in the need's direction",
    AVAILABILITY_PRICE_ABOVE_CAP: "availability price above the need's cap",
    UTILISATION_PRICE_ABOVE_CAP: "utilisation price above the need's cap",
    ALL_OR_NOTHING_UNAVAILABLE: "the all-or-nothing block includes a period the asset is "
                                "unavailable",
    NO_DELIVERABLE_PERIODS: "no period where the bid, the need and the asset all allow MW",
}

# -- competition: decided by the clearing, from the awards -----------------------------------
OUTCOMPETED = "outcompeted"
CAPACITY_USED = "capacity_used_by_other_awards"
STACKING_CONFLICT = "stacking_conflict"
DIRECTION_CONFLICT = "direction_conflict"
EXCLUSIVE_GROUP = "exclusive_group"
PRIMACY = "primacy"
INDIVISIBLE = "indivisible_not_economic"
NOT_SELECTED_UNPROVEN = "not_selected_unproven"

COMPETITION: dict[str, str] = {
    OUTCOMPETED: "price above the need-period's marginal cost: cheaper offers met the need",
    CAPACITY_USED: "the asset's capacity went to other awards",
    STACKING_CONFLICT: "the asset was awarded an incompatible product in the same period",
    DIRECTION_CONFLICT: "the asset was awarded the opposite direction in the same period",
    EXCLUSIVE_GROUP: "another bid of its exclusive group was accepted",
    PRIMACY: "a higher-priority need took the asset",
    INDIVISIBLE: "its minimum MW or all-or-nothing block did not pay against divisible offers",
    NOT_SELECTED_UNPROVEN: "the clearing stopped at its time limit before this bid was proven "
                           "unneeded (the round's mip_gap says how far from proven it was)",
}

REASON_TEXT: dict[str, str] = {**INELIGIBLE, **COMPETITION}
REASONS: tuple[str, ...] = tuple(REASON_TEXT)

# -- dispatch: why a contract was not called for a request (dispatch-snapshot-v1) ----------
UNAVAILABLE = "unavailable"
CAPACITY_IN_USE = "capacity_in_use"
ENERGY_LIMIT = "energy_limit"
RUN_LIMIT = "run_limit"
ZONE_CONFLICT = "zone_conflict"
NOT_NEEDED = "not_needed"

DISPATCH: dict[str, str] = {
    UNAVAILABLE: "the FSP declared the asset unavailable in that direction",
    CAPACITY_IN_USE: "fixed instructions or other calls took the asset's or the contract's "
                     "MW",
    ENERGY_LIMIT: "the asset's energy over the snapshot was used up",
    RUN_LIMIT: "calling it would have run the asset longer than its maximum run",
    ZONE_CONFLICT: "a local request in the asset's zone calls the opposite direction",
    STACKING_CONFLICT: "the asset carries an instruction under an incompatible product in "
                       "that period",
    DIRECTION_CONFLICT: "the asset carries an instruction in the opposite direction in that "
                        "period",
    OUTCOMPETED: "the request was served more cheaply without it",
    NOT_NEEDED: "nothing of the request was left to serve",
}
DISPATCH_REASONS: tuple[str, ...] = tuple(DISPATCH)
# the new codes join the platform's table (and REASONS); shared codes keep the clearing's
# wording there
REASON_TEXT.update({k: v for k, v in DISPATCH.items() if k not in REASON_TEXT})
REASONS = tuple(REASON_TEXT)
