"""Robust per-column transforms for the linear model, fitted on the training rows only.

Event counts are heavy-tailed: on raw counts a handful of extreme accounts set the logistic
slope and everyone else sits near the intercept. Each numeric column gets ``log1p`` when it
is non-negative and skewed, then is clipped to extreme quantiles of the training rows, so a
value never seen in training cannot push the score past what the data supports.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def skewness(values: np.ndarray) -> float:
    """Sample skewness of the non-missing values (0 for a constant column)."""
    v = values[~np.isnan(values)]
    if len(v) < 3:
        return 0.0
    sd = v.std()
    return float(np.mean((v - v.mean()) ** 3) / sd**3) if sd > 0 else 0.0


class RobustColumns(TransformerMixin, BaseEstimator):
    """log1p for non-negative columns with skewness above ``skew_threshold``, then clipping
    to the ``clip_quantiles`` of the (transformed) training values. Missing values stay
    missing (the imputer after it handles them)."""

    def __init__(self, skew_threshold: float = 1.0,
                 clip_quantiles: tuple[float, float] = (0.001, 0.999)) -> None:
        self.skew_threshold = skew_threshold
        self.clip_quantiles = clip_quantiles

    def fit(self, x, y=None) -> RobustColumns:
        """Decide per column: log1p or not, and the clipping bounds."""
        v = np.asarray(x, dtype=float)
        self.log1p_ = np.array([
            bool(np.nanmin(col, initial=np.inf) >= 0 and skewness(col) > self.skew_threshold)
            for col in v.T
        ], dtype=bool)
        t = self._log(v)
        lo, hi = self.clip_quantiles
        with np.errstate(all="ignore"):
            empty = np.isnan(t).all(axis=0)
            safe = np.where(empty[None, :], 0.0, t)
            self.low_ = np.nanquantile(safe, lo, axis=0)
            self.high_ = np.nanquantile(safe, hi, axis=0)
        self.n_features_in_ = v.shape[1]
        return self

    def _log(self, v: np.ndarray) -> np.ndarray:
        out = v.copy()
        out[:, self.log1p_] = np.log1p(np.clip(v[:, self.log1p_], 0, None))
        return out

    def transform(self, x) -> np.ndarray:
        """Transformed copy of ``x``."""
        t = self._log(np.asarray(x, dtype=float))
        return np.clip(t, self.low_, self.high_)

    def get_feature_names_out(self, input_features=None):
        """Names pass through unchanged (one output column per input column)."""
        return np.asarray(input_features if input_features is not None
                          else [f"x{i}" for i in range(self.n_features_in_)], dtype=object)
