"""Small statistics shared by training and serving (no pipeline stage of its own)."""

from __future__ import annotations

import numpy as np


def wilson_interval(successes: float, trials: float, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion (NaN for no trials)."""
    if trials <= 0:
        return np.nan, np.nan
    phat = successes / trials
    centre = (phat + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(phat * (1 - phat) / trials + z * z / (4 * trials * trials)) / (
        1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
