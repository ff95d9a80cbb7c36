"""Point metrics of one set of rows: ranking (ROC-AUC, PR-AUC), probability (log loss, Brier),
decisions at the at-risk threshold, the top of the ranking, ARR at risk and the health bands.

Health is computed exactly as serving computes it
(:func:`healthscore.model.artifact.health_from_probability`: ``100 (1 - p)`` rounded to one
decimal), so the at-risk flag and the health bands count the accounts a user would see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from healthscore.errors import ParameterError
from healthscore.model.artifact import health_from_probability
from healthscore.model.bands import (
    DEFAULT_BANDS,
    Band,
    health_range_label,
    segment_band_index,
)
from healthscore.training.metrics.calibration import expected_calibration_error
from healthscore.training.metrics.checks import check_arr, check_fraction, ratio

Metric = Callable[[np.ndarray, np.ndarray], float]
LOG_LOSS_EPS = 1e-6


def at_risk_flags(p: np.ndarray, health_threshold: float = 50.0) -> np.ndarray:
    """True where an account is flagged at risk: health (as served) below the threshold."""
    if not 0 <= health_threshold <= 100:
        raise ParameterError("health_threshold", "a number in [0, 100]", health_threshold)
    return health_from_probability(p) < health_threshold


def classification_at_threshold(y: np.ndarray, p: np.ndarray,
                                health_threshold: float = 50.0) -> dict[str, float]:
    """Confusion-matrix rates when accounts with health below the threshold are flagged.

    Health is ``100 (1 - p)`` rounded to one decimal as in serving, so flagged means
    ``p > 1 - threshold/100`` up to that rounding. Returns precision, recall (share of churners
    flagged), true_negative_rate, accuracy, f1 and flagged_share. A ratio with a zero
    denominator (e.g. precision when nothing is flagged) is defined as 0.0.
    """
    y_bool = np.asarray(y).astype(bool)
    flagged = at_risk_flags(p, health_threshold)
    tp = int(np.sum(flagged & y_bool))
    fp = int(np.sum(flagged & ~y_bool))
    fn = int(np.sum(~flagged & y_bool))
    tn = int(np.sum(~flagged & ~y_bool))
    n = len(y_bool)
    return {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "true_negative_rate": ratio(tn, tn + fp),
        "accuracy": ratio(tp + tn, n),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "flagged_share": ratio(tp + fp, n),
    }


def recall_at_threshold(health_threshold: float = 50.0) -> Metric:
    """A ``metric(y, p)`` giving the recall of churners flagged below ``health_threshold``."""

    def recall(y: np.ndarray, p: np.ndarray) -> float:
        return classification_at_threshold(y, p, health_threshold)["recall"]

    return recall


def rank_descending(score: np.ndarray) -> np.ndarray:
    """Row order by score, highest first; ties keep their original order."""
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")


def _fraction_label(fraction: float) -> str:
    return f"{fraction * 100:g}".replace(".", "_") + "pct"


def top_k_recall_lift(y: np.ndarray, p: np.ndarray,
                      fractions: Sequence[float] = (0.05, 0.10, 0.20)) -> dict[str, float]:
    """Recall and lift among the riskiest ``ceil(f * n)`` rows for each fraction ``f``.

    Rows are sorted by ``p`` descending (ties in original order). ``recall_top_{pct}`` is the
    share of all churners found in the top rows; ``lift_top_{pct}`` is the churn rate in the top
    rows over the overall churn rate. Both are NaN when there are no churners at all.
    Keys look like ``recall_top_10pct`` (``0.025`` gives ``recall_top_2_5pct``).
    """
    y_arr = np.asarray(y, dtype=float)
    n = len(y_arr)
    ordered = y_arr[rank_descending(p)]
    cumulative = np.cumsum(ordered)
    churners = cumulative[-1]
    out: dict[str, float] = {}
    for fraction in fractions:
        check_fraction("fractions", fraction)
        k = max(1, math.ceil(round(fraction * n, 9)))  # round: 0.1 * 30 is 3.0000000000000004
        caught = cumulative[k - 1]
        label = _fraction_label(fraction)
        out[f"recall_top_{label}"] = float(caught / churners) if churners else math.nan
        out[f"lift_top_{label}"] = float((caught / k) / (churners / n)) if churners else math.nan
    return out


def arr_at_risk_capture(y: np.ndarray, p: np.ndarray, arr: np.ndarray,
                        top_n: Sequence[int] = (50, 100)) -> dict[str, float]:
    """How much churned revenue, and how many churners, the top-N by ARR at risk catch.

    Accounts are ranked by expected ARR loss ``p * arr`` (ties in original order). For each N
    (all rows when there are fewer than N): ``arr_recall_top_{N}`` is the share of churned ARR
    in the top N, and ``recall_top_{N}_by_arr_at_risk`` the share of churners in it. Each is
    NaN when its denominator (churned ARR, churners) is zero.
    """
    y_arr = np.asarray(y, dtype=float)
    arr_values = check_arr(arr, len(y_arr))
    order = rank_descending(np.asarray(p, dtype=float) * arr_values)
    churned_arr = np.cumsum((y_arr * arr_values)[order])
    churners = np.cumsum(y_arr[order])
    out: dict[str, float] = {}
    for n_top in top_n:
        if not isinstance(n_top, int | np.integer) or n_top < 1:
            raise ParameterError("top_n", "positive ints", n_top)
        last = min(int(n_top), len(y_arr)) - 1
        out[f"arr_recall_top_{n_top}"] = (
            float(churned_arr[last] / churned_arr[-1]) if churned_arr[-1] else math.nan)
        out[f"recall_top_{n_top}_by_arr_at_risk"] = (
            float(churners[last] / churners[-1]) if churners[-1] else math.nan)
    return out


def band_table(y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None,
               bands: Sequence[Band] = DEFAULT_BANDS, segments: np.ndarray | None = None,
               segment_bands: Mapping[str, Sequence[Band]] | None = None) -> pd.DataFrame:
    """Accounts, churners and churn rate per health band, lowest health first.

    Columns: band, health_range, accounts, churners, churn_rate (NaN for an empty band), arr
    (sum per band; only when ``arr`` is given) and share_of_accounts. Every band has a row.
    With ``segment_bands``, a row of a listed segment (``segments``, one per row) is banded by
    its segment's edges and health_range says "per segment".
    """
    y_arr = np.asarray(y, dtype=float)
    index = segment_band_index(health_from_probability(p), bands, segments, segment_bands)
    by_segment = segments is not None and bool(segment_bands)
    size = len(bands)
    accounts = np.bincount(index, minlength=size)
    churners = np.bincount(index, weights=y_arr, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        churn_rate = np.where(accounts > 0, churners / np.maximum(accounts, 1), np.nan)
    table = pd.DataFrame({
        "band": [b.name for b in bands],
        "health_range": ["per segment" if by_segment else health_range_label(b, i == size - 1)
                         for i, b in enumerate(bands)],
        "accounts": accounts.astype(int),
        "churners": churners.astype(int),
        "churn_rate": churn_rate,
    })
    if arr is not None:
        table["arr"] = np.bincount(index, weights=check_arr(arr, len(y_arr)), minlength=size)
    table["share_of_accounts"] = accounts / len(y_arr)
    return table


def has_both_classes(y: np.ndarray) -> bool:
    """True when ``y`` holds at least one churner and one retained account."""
    y_arr = np.asarray(y)
    return len(y_arr) > 0 and y_arr.min() != y_arr.max()


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when ``y`` has one class only."""
    return float(roc_auc_score(y, p)) if has_both_classes(y) else math.nan


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve); NaN with one class only."""
    return float(average_precision_score(y, p)) if has_both_classes(y) else math.nan


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood, with ``p`` clipped to ``[1e-6, 1 - 1e-6]``."""
    y_arr = np.asarray(y, dtype=float)
    q = np.clip(np.asarray(p, dtype=float), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return float(-np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log(1 - q)))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between probability and outcome."""
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def scalar_metrics(y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None,
                   health_threshold: float = 50.0) -> dict[str, float]:
    """Every scalar metric of one set of rows (inputs already checked)."""
    y_arr = np.asarray(y, dtype=int)
    out: dict[str, float] = {
        "n_rows": float(len(y_arr)),
        "n_churners": float(y_arr.sum()),
        "churn_rate": float(y_arr.mean()),
        "roc_auc": roc_auc(y_arr, p),
        "pr_auc": pr_auc(y_arr, p),
        "log_loss": log_loss(y_arr, p),
        "brier": brier_score(y_arr, p),
        "ece": expected_calibration_error(y_arr, p),
    }
    out |= classification_at_threshold(y_arr, p, health_threshold)
    out |= top_k_recall_lift(y_arr, p)
    if arr is not None:
        out |= arr_at_risk_capture(y_arr, p, arr)
    return out
