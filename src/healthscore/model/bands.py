"""Health bands on the 0-100 scale: ``[low, high)``, the last band also holding its ``high``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from healthscore.errors import ParameterError


@dataclass(frozen=True)
class Band:
    """A health band covering ``[low, high)`` on the 0-100 health scale.

    The last band of a sequence also includes its ``high`` edge, so a top band ending at 100
    holds the accounts with health exactly 100.
    """

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ParameterError(f"band {self.name!r}", "a range with low < high",
                                 (self.low, self.high))


DEFAULT_BANDS: tuple[Band, ...] = (
    Band("Critical", 0, 25),
    Band("At risk", 25, 50),
    Band("Moderate", 50, 75),
    Band("Healthy", 75, 100.0001),
)


def check_bands(bands: Sequence[Band]) -> None:
    """Raise :class:`ParameterError` unless bands are non-empty, ascending and contiguous."""
    if not bands:
        raise ParameterError("bands", "a non-empty sequence of Band", list(bands))
    for lower, upper in zip(bands, bands[1:], strict=False):
        if lower.high != upper.low:
            raise ParameterError(
                "bands", "ascending bands where each band starts where the previous ends",
                f"{lower.name!r} ends at {lower.high:g} but {upper.name!r} starts at "
                f"{upper.low:g}")


def band_index(health: np.ndarray, bands: Sequence[Band] = DEFAULT_BANDS) -> np.ndarray:
    """Position in ``bands`` of each health value: ``[low, high)``, the last band closed."""
    check_bands(bands)
    values = np.asarray(health, dtype=float)
    lows = np.array([b.low for b in bands], dtype=float)
    index = np.searchsorted(lows, values, side="right") - 1
    outside = (index < 0) | (values > bands[-1].high) | np.isnan(values)
    if outside.any():
        raise ParameterError(
            "health", f"values covered by the bands [{bands[0].low:g}, {bands[-1].high:g}]",
            f"{int(outside.sum())} value(s) outside, e.g. {values[outside][0]:g}")
    return index


def assign_band(health: np.ndarray, bands: Sequence[Band] = DEFAULT_BANDS) -> np.ndarray:
    """Band name of each health value: band ``[low, high)``, the last band also holds ``high``.

    With :data:`DEFAULT_BANDS` health 25 is "At risk", 50 "Moderate", 75 and 100 "Healthy".
    """
    names = np.array([b.name for b in bands], dtype=object)
    return names[band_index(health, bands)]


def health_range_label(band: Band, is_last: bool) -> str:
    """Human-readable range: ``"25–49"`` for ``[25, 50)``; ``"75–100"`` for the top band."""
    if is_last:
        return f"{band.low:g}–{min(band.high, 100):g}"
    if float(band.high).is_integer():
        return f"{band.low:g}–{band.high - 1:g}"
    return f"{band.low:g}–<{band.high:g}"
