"""System-wide flexibility market clearing (market-snapshot-v1), pure: no database, no web.

Public API: `load_snapshot` -> `Snapshot`; `clear` / `clear_components` -> `ClearingResult`.
The rule modules (`reasons`, `eligibility`, `tolerances`) are pure Python; the names below are
loaded on first use, so the platform can import those rules without loading numpy or HiGHS.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .clearing import clear
    from .components import clear_components, merge_results, split_components
    from .result import ClearingOptions, ClearingResult
    from .snapshot import Snapshot, SnapshotError, load_snapshot

_HOME = {
    "clear": "clearing", "clear_components": "components", "merge_results": "components",
    "split_components": "components", "ClearingOptions": "result", "ClearingResult": "result",
    "Snapshot": "snapshot", "SnapshotError": "snapshot", "load_snapshot": "snapshot",
}

__all__ = [
    "ClearingOptions", "ClearingResult", "Snapshot", "SnapshotError", "clear",
    "clear_components", "load_snapshot", "merge_results", "split_components",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function (and monkeypatch sees it)
    return value
