"""Bootstrap intervals: percentile intervals of several metrics over the same row resamples,
and the paired bootstrap that says whether one model beats another on the same rows."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from healthscore.training.metrics.checks import check_inputs, check_n_boot
from healthscore.training.metrics.point import Metric, has_both_classes

_BOOTSTRAP_BLOCK_CELLS = 4_000_000  # cap on one block of the resample index matrix


def bootstrap_index_blocks(n: int, n_boot: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Resample row indices (with replacement) as blocks of a ``n_boot x n`` matrix.

    One ``np.random.default_rng(seed)`` draws every block in order, so the same
    ``(n, n_boot, seed)`` always yields the same indices; blocks bound the memory used.
    """
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, _BOOTSTRAP_BLOCK_CELLS // max(n, 1))
    for start in range(0, n_boot, rows_per_block):
        yield rng.integers(0, n, size=(min(rows_per_block, n_boot - start), n))


def _percentile_interval(values: list[float], alpha: float) -> tuple[float, float]:
    finite = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, metrics: Mapping[str, Metric],
                        n_boot: int = 200, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Percentile bootstrap intervals of several metrics over the same row resamples.

    Resamples with a single class are skipped (ranking metrics are undefined there). Returns
    columns metric, estimate (on all rows), low and high (the ``alpha/2`` and ``1 - alpha/2``
    percentiles); low and high are NaN when no resample was usable (e.g. ``n_boot=0``).
    """
    y_arr, p_arr = check_inputs(y, p)
    check_n_boot(n_boot, alpha)
    samples: dict[str, list[float]] = {name: [] for name in metrics}
    for block in bootstrap_index_blocks(len(y_arr), n_boot, seed):
        for rows in block:
            y_b = y_arr[rows]
            if not has_both_classes(y_b):
                continue
            p_b = p_arr[rows]
            for name, metric in metrics.items():
                samples[name].append(float(metric(y_b, p_b)))
    records = []
    for name, metric in metrics.items():
        low, high = _percentile_interval(samples[name], alpha)
        records.append({"metric": name, "estimate": float(metric(y_arr, p_arr)),
                        "low": low, "high": high})
    return pd.DataFrame(records, columns=["metric", "estimate", "low", "high"])


def paired_bootstrap_difference(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, metric: Metric,
                                n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                                *, higher_is_better: bool = True) -> dict[str, float | str]:
    """Is model B better than model A on ``metric``? Paired bootstrap on the same rows.

    Both models are scored on identical resamples (single-class resamples skipped). Returns
    estimate ``metric(y, p_b) - metric(y, p_a)``, the percentile interval low/high of that
    difference and a verdict: "better" when the interval lies above 0, "worse" when below,
    otherwise "no significant difference". Pass ``higher_is_better=False`` for losses (Brier,
    log loss) to flip the verdict; the difference keeps its sign.
    """
    y_arr, a = check_inputs(y, p_a)
    _, b = check_inputs(y_arr, p_b)
    check_n_boot(n_boot, alpha)
    differences: list[float] = []
    for block in bootstrap_index_blocks(len(y_arr), n_boot, seed):
        for rows in block:
            y_s = y_arr[rows]
            if has_both_classes(y_s):
                differences.append(float(metric(y_s, b[rows]) - metric(y_s, a[rows])))
    low, high = _percentile_interval(differences, alpha)
    if low > 0:
        verdict = "better" if higher_is_better else "worse"
    elif high < 0:
        verdict = "worse" if higher_is_better else "better"
    else:  # interval contains 0, or NaN when no resample was usable
        verdict = "no significant difference"
    return {"estimate": float(metric(y_arr, b) - metric(y_arr, a)), "low": low, "high": high,
            "verdict": verdict}
