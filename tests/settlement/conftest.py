"""Fixtures for the settlement tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def pc1_kw() -> np.ndarray:
    return pd.read_csv(DATA / "elexon_profile_class1_winter_weekday_kw.csv")["demand_kw"].to_numpy()
