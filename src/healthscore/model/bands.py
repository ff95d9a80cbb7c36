"""Health bands on the 0-100 scale: ``[low, high)``, the last band also holding its ``high``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from healthscore.errors import ParameterError
from healthscore.settings import Section


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


def segment_band_index(health: np.ndarray, bands: Sequence[Band],
                       segments: np.ndarray | Sequence[str] | None = None,
                       segment_bands: Mapping[str, Sequence[Band]] | None = None
                       ) -> np.ndarray:
    """Position in ``bands`` of each health value, a row of a segment that ``segment_bands``
    names banded by that segment's own edges (same band names, in the same order), every
    other row by ``bands``."""
    values = np.asarray(health, dtype=float)
    index = band_index(values, bands)
    if segments is None or not segment_bands:
        return index
    names = [b.name for b in bands]
    labels = np.asarray(segments).astype(str)
    for segment, own in segment_bands.items():
        if [b.name for b in own] != names:
            raise ParameterError(f"bands of segment {segment!r}", f"the band names {names}",
                                 [b.name for b in own])
        rows = labels == segment
        if rows.any():
            index[rows] = band_index(values[rows], own)
    return index


def assign_band(health: np.ndarray, bands: Sequence[Band] = DEFAULT_BANDS) -> np.ndarray:
    """Band name of each health value: band ``[low, high)``, the last band also holds ``high``.

    With :data:`DEFAULT_BANDS` health 25 is "At risk", 50 "Moderate", 75 and 100 "Healthy".
    """
    names = np.array([b.name for b in bands], dtype=object)
    return names[band_index(health, bands)]


def assign_segment_band(health: np.ndarray, bands: Sequence[Band],
                        segments: np.ndarray | Sequence[str] | None = None,
                        segment_bands: Mapping[str, Sequence[Band]] | None = None
                        ) -> np.ndarray:
    """Band name of each health value, by its segment's own bands where ``segment_bands``
    has them (see :func:`segment_band_index`)."""
    names = np.array([b.name for b in bands], dtype=object)
    return names[segment_band_index(health, bands, segments, segment_bands)]


def health_range_label(band: Band, is_last: bool) -> str:
    """Human-readable range: ``"25–49"`` for ``[25, 50)``; ``"75–100"`` for the top band."""
    if is_last:
        return f"{band.low:g}–{min(band.high, 100):g}"
    if float(band.high).is_integer():
        return f"{band.low:g}–{band.high - 1:g}"
    return f"{band.low:g}–<{band.high:g}"


class BandConfig(Section):
    """A health band [low, high) on the 0-100 scale (the top band includes 100)."""

    name: str
    low: Annotated[float, Field(ge=0, le=100)]
    high: Annotated[float, Field(ge=0, le=100)]


def default_bands() -> list[BandConfig]:
    """Healthy 75-100 / Moderate 50-74 / At risk 25-49 / Critical 0-24."""
    return [
        BandConfig(name="Critical", low=0, high=25),
        BandConfig(name="At risk", low=25, high=50),
        BandConfig(name="Moderate", low=50, high=75),
        BandConfig(name="Healthy", low=75, high=100),
    ]


def check_tiling(bands: Sequence[BandConfig]) -> None:
    """Bands must cover 0-100 without gaps or overlaps (raises ``ValueError`` for pydantic)."""
    edges = sorted((b.low, b.high) for b in bands)
    if not edges or edges[0][0] != 0 or edges[-1][1] != 100 or any(
        a[1] != b[0] for a, b in zip(edges, edges[1:], strict=False)
    ):
        raise ValueError(f"bands must tile 0-100 without gaps or overlaps; got {edges}")


def bands_from_config(configs: Sequence[BandConfig]) -> tuple[Band, ...]:
    """Configured bands as :class:`Band` values, lowest first (the last band also holds its
    ``high``, so a top band ending at 100 holds health 100)."""
    return tuple(Band(b.name, b.low, b.high) for b in sorted(configs, key=lambda b: b.low))


def healthiest_band(bands: Sequence[Band]) -> str:
    """The name of the band with the highest health."""
    return max(bands, key=lambda b: b.low).name


def _strictly_ascending(edges: Sequence[float]) -> list[float]:
    """Health edges clipped to (0, 100), rounded to 0.1 and nudged up where two coincide."""
    out: list[float] = []
    for raw in edges:
        edge = float(np.clip(raw, 0.5, 99.5))
        if out and edge <= out[-1]:
            edge = min(out[-1] + 0.5, 99.9)
        out.append(round(edge, 1))
    return out


def band_thresholds_by_lift(p: np.ndarray, lifts: tuple[float, ...] = (3.0, 1.5, 1.0)
                            ) -> list[float]:
    """Health thresholds (ascending) where the churn probability is ``lift`` times the
    population's mean: ``100 (1 - lift * mean(p))`` for each lift, highest lift first, clipped
    to (0, 100) and kept strictly ascending."""
    base = float(np.mean(p))
    return _strictly_ascending([100.0 * (1.0 - lift * base) for lift in lifts])


def band_thresholds_by_share(p: np.ndarray, shares: Sequence[float] = (0.05, 0.15, 0.35)
                             ) -> list[float]:
    """Health thresholds (ascending) below which the given cumulative shares of the population
    fall: the riskiest ``shares[0]`` of accounts are below the first, and so on."""
    health = 100.0 * (1.0 - np.asarray(p, dtype=float))
    return _strictly_ascending([float(np.quantile(health, q)) for q in shares])


def default_named_bands(edges: Sequence[float]) -> tuple[Band, ...]:
    """The default band names with three inner health ``edges`` (ascending)."""
    cuts = [0.0, *edges, 100.0001]
    return tuple(Band(b.name, cuts[k], cuts[k + 1]) for k, b in enumerate(DEFAULT_BANDS))
