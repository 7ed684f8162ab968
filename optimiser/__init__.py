"""System-wide flexibility market clearing (market-snapshot-v1), pure: no database, no web.

Public API: `load_snapshot` -> `Snapshot`; `clear` / `clear_components` -> `ClearingResult`.
"""

from .clearing import clear
from .components import clear_components, merge_results, split_components
from .result import ClearingOptions, ClearingResult
from .snapshot import Snapshot, SnapshotError, load_snapshot

__all__ = [
    "ClearingOptions", "ClearingResult", "Snapshot", "SnapshotError", "clear",
    "clear_components", "load_snapshot", "merge_results", "split_components",
]
