"""Validation metrics of a churn model: ranking, calibration, thresholds, bands and intervals.

Every function takes plain arrays: ``y`` (1 = churned within the horizon, 0 = retained) and
``p`` (calibrated churn probability in [0, 1]); optionally ``arr`` (annual revenue per row) and
``segment`` (a label per row). Health is computed exactly as serving computes it
(:func:`healthscore.model.artifact.health_from_probability`: ``100 (1 - p)`` rounded to one
decimal), so the at-risk flag and the health bands count the accounts a user would see in each
band. Nothing here plots or talks to MLflow; :mod:`healthscore.training.plots` and
:mod:`healthscore.tracking` do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from healthscore.errors import ParameterError
from healthscore.model.artifact import health_from_probability
from healthscore.model.bands import (
    DEFAULT_BANDS,
    Band,
    band_index,
    health_range_label,
)

Metric = Callable[[np.ndarray, np.ndarray], float]

LOG_LOSS_EPS = 1e-6
CALIBRATION_BINS = 10
MLFLOW_NAME = re.compile(r"^[\w\-\. /]+$")
_BOOTSTRAP_BLOCK_CELLS = 4_000_000  # cap on one block of the resample index matrix


# --------------------------------------------------------------------------------------------
# input checks


def check_inputs(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and probabilities; return them as ``int`` and ``float`` 1-D arrays.

    Raises :class:`ParameterError` when the arrays differ in length, are empty or not 1-D,
    when ``p`` holds NaN or values outside [0, 1], or when ``y`` holds values other than 0/1.
    """
    y_arr, p_arr = np.asarray(y), np.asarray(p)
    if y_arr.ndim != 1:
        raise ParameterError("y", "a 1-D array of labels", f"an array of shape {y_arr.shape}")
    if p_arr.ndim != 1:
        raise ParameterError("p", "a 1-D array of probabilities",
                             f"an array of shape {p_arr.shape}")
    if len(y_arr) != len(p_arr):
        raise ParameterError("p", f"an array of the same length as y ({len(y_arr)} rows)",
                             f"{len(p_arr)} rows")
    if len(y_arr) == 0:
        raise ParameterError("y", "a non-empty array of labels", "an empty array")
    try:
        p_float = p_arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise ParameterError("p", "numeric probabilities", f"dtype {p_arr.dtype}") from exc
    n_nan = int(np.isnan(p_float).sum())
    if n_nan:
        raise ParameterError("p", "free of NaN", f"{n_nan} NaN value(s)")
    if p_float.min() < 0 or p_float.max() > 1:
        outside = int(((p_float < 0) | (p_float > 1)).sum())
        raise ParameterError("p", "probabilities in [0, 1]",
                             f"{outside} value(s) outside, from {p_float.min():g} "
                             f"to {p_float.max():g}")
    y_int = _binary_labels(y_arr)
    if y_int is None:
        shown = [str(v) for v in pd.unique(pd.Series(y_arr.ravel(), dtype=object))[:5]]
        raise ParameterError("y", "binary labels (0 = retained, 1 = churned)",
                             f"values {shown}")
    return y_int, p_float


def _binary_labels(y: np.ndarray) -> np.ndarray | None:
    """``y`` as 0/1 ints, or None when it holds anything else (NaN, 2, "yes", ...)."""
    if y.dtype.kind not in "biufO":
        return None
    try:
        values = y.astype(float)
    except (TypeError, ValueError):
        return None
    if not np.isin(values, (0.0, 1.0)).all():
        return None
    return values.astype(int)


def _check_arr(arr: np.ndarray, n: int) -> np.ndarray:
    values = np.asarray(arr, dtype=float)
    if values.ndim != 1 or len(values) != n:
        raise ParameterError("arr", f"a 1-D array with one value per row ({n} rows)",
                             f"shape {values.shape}")
    bad = int((~np.isfinite(values) | (values < 0)).sum())
    if bad:
        raise ParameterError("arr", "finite, non-negative annual revenue per row",
                             f"{bad} NaN, infinite or negative value(s)")
    return values


def _check_fraction(name: str, value: float, low_open: bool = True) -> None:
    ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        raise ParameterError(name, "a number in (0, 1]" if low_open else "a number in [0, 1]",
                             value)


def _check_n_boot(n_boot: int, alpha: float) -> None:
    if not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ParameterError("n_boot", "an int >= 0", n_boot)
    if not 0 < alpha < 1:
        raise ParameterError("alpha", "a number in (0, 1)", alpha)


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0/0 (and x/0) defined as 0.0."""
    return float(numerator / denominator) if denominator else 0.0


# --------------------------------------------------------------------------------------------
# calibration


def calibration_bin_index(p: np.ndarray, n_bins: int = CALIBRATION_BINS) -> np.ndarray:
    """Equal-width bin of each probability: bin ``k`` holds ``k/n_bins <= p < (k+1)/n_bins``.

    Computed as ``floor(p * n_bins)``; ``p = 1`` falls in the last bin.
    """
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ParameterError("n_bins", "an int >= 1", n_bins)
    index = np.floor(np.asarray(p, dtype=float) * n_bins).astype(int)
    return np.clip(index, 0, n_bins - 1)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins.

    Bins split [0, 1] into ``n_bins`` equal intervals ``[k/n_bins, (k+1)/n_bins)``, the last one
    closed (see :func:`calibration_bin_index`). ECE is the sum over non-empty bins of
    ``(bin size / n) * |mean(y in bin) - mean(p in bin)|``.
    """
    y_arr, p_arr = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    index = calibration_bin_index(p_arr, n_bins)
    count = np.bincount(index, minlength=n_bins)
    gap = np.abs(np.bincount(index, weights=y_arr, minlength=n_bins)
                 - np.bincount(index, weights=p_arr, minlength=n_bins))
    # count * |mean(y) - mean(p)| / n  ==  |sum(y) - sum(p)| / n  for each bin
    return float(gap[count > 0].sum() / len(p_arr))


# --------------------------------------------------------------------------------------------
# decisions at a threshold and at the top of the ranking


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
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "true_negative_rate": _ratio(tn, tn + fp),
        "accuracy": _ratio(tp + tn, n),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "flagged_share": _ratio(tp + fp, n),
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
        _check_fraction("fractions", fraction)
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
    arr_values = _check_arr(arr, len(y_arr))
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


# --------------------------------------------------------------------------------------------
# health bands


def band_table(y: np.ndarray, p: np.ndarray, arr: np.ndarray | None = None,
               bands: Sequence[Band] = DEFAULT_BANDS) -> pd.DataFrame:
    """Accounts, churners and churn rate per health band, lowest health first.

    Columns: band, health_range, accounts, churners, churn_rate (NaN for an empty band), arr
    (sum per band; only when ``arr`` is given) and share_of_accounts. Every band has a row.
    """
    y_arr = np.asarray(y, dtype=float)
    index = band_index(health_from_probability(p), bands)
    size = len(bands)
    accounts = np.bincount(index, minlength=size)
    churners = np.bincount(index, weights=y_arr, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        churn_rate = np.where(accounts > 0, churners / np.maximum(accounts, 1), np.nan)
    table = pd.DataFrame({
        "band": [b.name for b in bands],
        "health_range": [health_range_label(b, i == size - 1) for i, b in enumerate(bands)],
        "accounts": accounts.astype(int),
        "churners": churners.astype(int),
        "churn_rate": churn_rate,
    })
    if arr is not None:
        table["arr"] = np.bincount(index, weights=_check_arr(arr, len(y_arr)), minlength=size)
    table["share_of_accounts"] = accounts / len(y_arr)
    return table


# --------------------------------------------------------------------------------------------
# ranking and probability metrics


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


# --------------------------------------------------------------------------------------------
# bootstrap


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
    _check_n_boot(n_boot, alpha)
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
    _check_n_boot(n_boot, alpha)
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


# --------------------------------------------------------------------------------------------
# curves (data only)


def curves(y: np.ndarray, p: np.ndarray) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall and calibration curve points, for plotting elsewhere.

    ``roc``: fpr, tpr. ``pr``: recall, precision. ``calibration``: one row per equal-width bin
    (10 bins, see :func:`calibration_bin_index`) with bin, mean_predicted, observed_rate (NaN
    for an empty bin) and count.
    """
    y_arr, p_arr = check_inputs(y, p)
    fpr, tpr, _ = roc_curve(y_arr, p_arr)
    precision, recall, _ = precision_recall_curve(y_arr, p_arr)
    index = calibration_bin_index(p_arr, CALIBRATION_BINS)
    count = np.bincount(index, minlength=CALIBRATION_BINS)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(index, weights=p_arr, minlength=CALIBRATION_BINS) / count
        observed = np.bincount(index, weights=y_arr, minlength=CALIBRATION_BINS) / count
    return {
        "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "pr": pd.DataFrame({"recall": recall, "precision": precision}),
        "calibration": pd.DataFrame({"bin": np.arange(CALIBRATION_BINS),
                                     "mean_predicted": mean_predicted,
                                     "observed_rate": observed, "count": count}),
    }


# --------------------------------------------------------------------------------------------
# the whole evaluation


def metric_slug(name: object) -> str:
    """Lower-case name with every run of other characters than letters/digits as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_") or "blank"


def unique_slugs(names: Sequence[object]) -> list[str]:
    """:func:`metric_slug` of each name; a repeated slug gets ``_2``, ``_3``, ... in order."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        slug = metric_slug(name)
        seen[slug] = seen.get(slug, 0) + 1
        out.append(slug if seen[slug] == 1 else f"{slug}_{seen[slug]}")
    return out


@dataclass
class Evaluation:
    """Held-out evaluation of one model: overall, per segment, per band, with intervals."""

    overall: dict[str, float]
    by_segment: pd.DataFrame
    bands: pd.DataFrame
    intervals: pd.DataFrame

    def flat_metrics(self, prefix: str) -> dict[str, float]:
        """Every finite metric under an MLflow-valid name starting with ``prefix``.

        Names: ``{prefix}_{metric}``; ``{prefix}_seg_{segment}_{metric}``;
        ``{prefix}_{metric}_ci_low`` / ``_ci_high``; ``{prefix}_band_{band}_churn_rate``.
        Segment and band names are slugged (lower case, other characters as ``_``; two segments
        with the same slug get ``_2``, ... in sorted order); NaNs are dropped.
        """
        if not MLFLOW_NAME.match(prefix):
            raise ParameterError("prefix", "letters, digits, '_', '-', '.', ' ' or '/'", prefix)
        out: dict[str, float] = {f"{prefix}_{k}": v for k, v in self.overall.items()}
        metric_columns = [c for c in self.by_segment.columns if c != "segment"]
        segments = self.by_segment.to_dict("records")
        slugs = unique_slugs([row["segment"] for row in segments])
        for slug, row in zip(slugs, segments, strict=True):
            out |= {f"{prefix}_seg_{slug}_{c}": row[c] for c in metric_columns}
        for row in self.intervals.to_dict("records"):
            out[f"{prefix}_{row['metric']}_ci_low"] = row["low"]
            out[f"{prefix}_{row['metric']}_ci_high"] = row["high"]
        for row in self.bands.to_dict("records"):
            out[f"{prefix}_band_{metric_slug(row['band'])}_churn_rate"] = row["churn_rate"]
        return {k: float(v) for k, v in out.items() if v is not None and not math.isnan(v)}


def segment_table(y: np.ndarray, p: np.ndarray, segment: np.ndarray | None,
                  arr: np.ndarray | None = None, health_threshold: float = 50.0,
                  ) -> pd.DataFrame:
    """:func:`scalar_metrics` per segment, one row each, segments in sorted order."""
    if segment is None:
        return pd.DataFrame(columns=["segment"])
    labels = np.asarray(segment).astype(str)
    if labels.ndim != 1 or len(labels) != len(y):
        raise ParameterError("segment", f"a 1-D array with one label per row ({len(y)} rows)",
                             f"shape {labels.shape}")
    records = []
    for name in sorted(set(labels.tolist())):
        rows = labels == name
        records.append({"segment": name, **scalar_metrics(
            y[rows], p[rows], None if arr is None else arr[rows], health_threshold)})
    return pd.DataFrame(records)


def evaluate(y: np.ndarray, p: np.ndarray, *, arr: np.ndarray | None = None,
             segment: np.ndarray | None = None, health_threshold: float = 50.0,
             bands: Sequence[Band] = DEFAULT_BANDS, n_boot: int = 200,
             seed: int = 0) -> Evaluation:
    """Evaluate churn probabilities against outcomes: overall, by segment, by band, intervals.

    Intervals are percentile bootstraps (``n_boot`` resamples, ``seed``) of roc_auc, pr_auc and
    recall at ``health_threshold``; ``n_boot=0`` leaves their low/high NaN.
    """
    y_arr, p_arr = check_inputs(y, p)
    arr_values = None if arr is None else _check_arr(arr, len(y_arr))
    interval_metrics: dict[str, Metric] = {
        "roc_auc": roc_auc, "pr_auc": pr_auc, "recall": recall_at_threshold(health_threshold),
    }
    return Evaluation(
        overall=scalar_metrics(y_arr, p_arr, arr_values, health_threshold),
        by_segment=segment_table(y_arr, p_arr, segment, arr_values, health_threshold),
        bands=band_table(y_arr, p_arr, arr_values, bands),
        intervals=bootstrap_intervals(y_arr, p_arr, interval_metrics, n_boot, seed),
    )
