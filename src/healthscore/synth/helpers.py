"""Small helpers of the synthetic world: integer days and months, random days, positions."""

from __future__ import annotations

import datetime as dt

import numpy as np

from healthscore.data.settings import SynthConfig


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _day(date: dt.date) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def _date(day: int) -> dt.date:
    return np.datetime64(int(day), "D").astype(dt.date)


def _month_of(day: int | np.ndarray) -> np.ndarray:
    """Months since 1970-01 of integer days."""
    return np.asarray(day, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(
        np.int64)


def _month_day(month: int | np.ndarray, dom: np.ndarray | int) -> np.ndarray:
    """Day number of day-of-month ``dom`` (clipped to the month's length) in ``month``."""
    month = np.asarray(month, dtype=np.int64)
    first = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (month + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.minimum(dom, nxt - first) - 1


def period_starts(start_date: dt.date, months: int) -> np.ndarray:
    """Day numbers of the ``months + 1`` period boundaries ``start_date + m months``."""
    start = _day(start_date)
    dom = int(start - _month_day(_month_of(start), 1)) + 1
    return _month_day(_month_of(start) + np.arange(months + 1), dom)


def world_end_date(config: SynthConfig) -> dt.date:
    """Last day covered by the world: ``start_date + months - 1 day``."""
    return _date(int(period_starts(config.start_date, config.months)[-1]) - 1)


def _dates(days: np.ndarray) -> np.ndarray:
    """Integer days (``_NO_DATE`` for null) as ``datetime64[ms]``."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ms]")


def _within(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform random day in ``[lo, hi)`` per row (``lo`` when the range is empty)."""
    span = np.maximum(hi - lo, 1)
    return lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)


def _positions(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated (the position of a row within its group)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def _scheduled(anchor_month: np.ndarray, anchor_dom: np.ndarray, every: np.ndarray, k_min: int,
               p0: int, p1: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether a date ``anchor + k months`` (k >= k_min, k % every == 0) lies in [p0, p1)."""
    has = np.zeros(len(anchor_month), dtype=bool)
    day = np.zeros(len(anchor_month), dtype=np.int64)
    for month in sorted({int(_month_of(p0)), int(_month_of(p1 - 1))}):
        k = month - anchor_month
        candidate = _month_day(month, anchor_dom)
        ok = (k >= k_min) & (k % every == 0) & (candidate >= p0) & (candidate < p1) & ~has
        day = np.where(ok, candidate, day)
        has |= ok
    return has, day

