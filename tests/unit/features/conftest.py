"""Fixtures for the feature tests."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_world import tiny_frames


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    """Fresh copies of the tiny world's tables."""
    return tiny_frames()
