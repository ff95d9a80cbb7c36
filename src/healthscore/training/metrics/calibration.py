"""Calibration metrics: equal-width probability bins, the expected calibration error, and the
ROC, precision-recall and calibration curve points (data only; plots draw them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from healthscore.errors import ParameterError
from healthscore.training.metrics.checks import check_inputs

CALIBRATION_BINS = 10


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
