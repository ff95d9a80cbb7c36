"""Bootstrap intervals: percentile intervals of several metrics over the same row resamples,
and the paired bootstrap that says whether one model beats another on the same rows."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from healthscore.training.metrics.checks import check_inputs, check_n_boot
from healthscore.training.metrics.point import Metric, has_both_classes, pr_auc, roc_auc

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


class RankedRows:
    """Rows sorted once by score (highest first) and grouped by equal score, so that the ROC
    and precision-recall curves of a resample (``counts[i]`` copies of row ``i``) come from
    per-group counts instead of a sort of the resample: O(n) per resample, not O(n log n).

    The curves are scikit-learn's, number for number: its ``_binary_clf_curve`` counts true
    and false positives at each distinct score, highest first; here they are the same integers
    (exact in float64), and :meth:`roc_auc` / :meth:`average_precision` finish them with the
    same operations as ``roc_auc_score`` / ``average_precision_score``.
    """

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.order = np.argsort(-p, kind="stable")
        ranked = p[self.order]
        self.group = np.r_[0, np.cumsum(np.diff(ranked) != 0)]
        self.groups = int(self.group[-1]) + 1 if len(ranked) else 0
        self.positive = y[self.order].astype(float)

    def curve(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(false positives, true positives) at each distinct score of the resample holding
        ``counts[i]`` copies of row ``i``, cumulated from the highest score down."""
        c = counts[self.order].astype(float)
        rows = np.bincount(self.group, weights=c, minlength=self.groups)
        present = rows > 0
        tps = np.cumsum(np.bincount(self.group, weights=c * self.positive,
                                    minlength=self.groups)[present])
        return np.cumsum(rows[present]) - tps, tps

    @staticmethod
    def roc_auc(fps: np.ndarray, tps: np.ndarray) -> float:
        """``roc_auc_score`` from the curve (``roc_curve`` with ``drop_intermediate``)."""
        from sklearn.metrics import auc

        if fps.shape[0] > 2:
            keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)),
                                  True])[0]
            fps, tps = fps[keep], tps[keep]
        tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
        return float(auc(fps / fps[-1], tps / tps[-1]))

    @staticmethod
    def average_precision(fps: np.ndarray, tps: np.ndarray) -> float:
        """``average_precision_score`` from the curve (``precision_recall_curve``)."""
        ps = tps + fps
        precision = np.where(ps != 0, np.divide(tps, ps), 0.0)
        recall = tps / tps[-1]
        precision = np.concatenate((np.flip(precision), np.asarray([1.0])))
        recall = np.concatenate((np.flip(recall), np.asarray([0.0])))
        return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


# metrics :func:`bootstrap_intervals` computes from a resample's counts (the same values)
_FROM_CURVE = {roc_auc: RankedRows.roc_auc, pr_auc: RankedRows.average_precision}


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
    from_curve = {name: _FROM_CURVE[m] for name, m in metrics.items() if m in _FROM_CURVE}
    others = {name: m for name, m in metrics.items() if name not in from_curve}
    ranked = RankedRows(y_arr, p_arr) if from_curve and n_boot else None
    for block in bootstrap_index_blocks(len(y_arr), n_boot, seed):
        for rows in block:
            y_b = y_arr[rows]
            if not has_both_classes(y_b):
                continue
            if ranked is not None:
                fps, tps = ranked.curve(np.bincount(rows, minlength=len(y_arr)))
            p_b = p_arr[rows] if others else None
            for name in metrics:
                value = (from_curve[name](fps, tps) if name in from_curve
                         else others[name](y_b, p_b))
                samples[name].append(float(value))
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
