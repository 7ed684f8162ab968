"""The system-wide dispatch engine (dispatch-snapshot-v1): pure, HiGHS, no platform imports.

`validate(snapshot)` lists every problem of a snapshot; `solve(snapshot, mip_rel_gap=...,
time_limit=...)` returns the result document; `SnapshotError` (a ValueError) carries the
problems of an invalid one. docs/dispatch.md has the formulation and the reason codes.
"""

from .engine import solve
from .snapshot import SnapshotError, validate

__all__ = ["SnapshotError", "solve", "validate"]
