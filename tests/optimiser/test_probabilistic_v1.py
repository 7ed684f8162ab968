"""Version-1 snapshots clear exactly as before the probabilistic extension.

The results in data/v1_golden were recorded by the clearing as it was on main before any
probabilistic code existed (commit 8661424), on generated markets with varied reliabilities
so that the coverage coefficients matter. Every published field except timing must match
exactly: same awards, prices, reasons, unmet, stages, costs and gap.
"""

import gzip
import json
from pathlib import Path

import pytest

from optimiser import ClearingOptions, clear, load_snapshot

GOLDEN = sorted((Path(__file__).parent / "data" / "v1_golden").glob("*.json.gz"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.name.split(".")[0] for p in GOLDEN])
def test_v1_snapshot_clears_exactly_as_before(path):
    case = json.loads(gzip.decompress(path.read_bytes()))
    res = clear(load_snapshot(case["snapshot"]),
                ClearingOptions(time_limit=60, threads=1)).to_dict()
    res.pop("timing")
    assert res == case["result"]
    assert res["version"] == 1 and "delivery" not in res
