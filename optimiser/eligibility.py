"""Which asset may serve which need: the zone and direction rules, one definition each.

The clearing (`problem.py`), the platform's bid validation and its opportunity catalogue all
decide "can this asset serve this need?" and must never disagree: a bid the platform accepts
as eligible must not be rejected by the clearing for a rule the FSP was never told about.
The dispatch engine uses the same rules.

Pure Python (no numpy import), so the platform can import it without loading the solver;
`zone_serves` and `can_move` also work elementwise on numpy arrays.
"""

from __future__ import annotations

from typing import Any

GB = "GB"  # the zone code of a GB-wide need: any asset of any zone may serve it
UP, DOWN, BOTH = "up", "down", "both"


def zone_serves(need_zone: Any, asset_zone: Any) -> Any:
    """Whether an asset in `asset_zone` may serve a need for `need_zone`.

    A need is served from its own zone, or from any zone when it is GB-wide (`GB`). On numpy
    arrays of zone codes, elementwise (a bool array).
    """
    return (need_zone == GB) | (need_zone == asset_zone)


def capability(up_mw: float | None, down_mw: float | None, direction: str) -> float:
    """MW an asset can move in `direction` (`up`, `down`, or `both`: the larger of the two).

    Raises:
        ValueError: for any other direction.
    """
    up, down = float(up_mw or 0.0), float(down_mw or 0.0)
    if direction == UP:
        return up
    if direction == DOWN:
        return down
    if direction == BOTH:
        return max(up, down)
    raise ValueError(f"unknown direction {direction!r} (use up, down or both)")


def can_move(capability_mw: Any) -> Any:
    """Whether a capability (MW, from `capability`) lets the asset serve that direction at all:
    any positive MW. On numpy arrays, elementwise."""
    return capability_mw > 0
