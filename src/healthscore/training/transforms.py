"""Robust per-column transforms for the linear model, fitted on the training rows only.

Event counts are heavy-tailed: on raw counts a handful of extreme accounts set the logistic
slope and everyone else sits near the intercept. A numeric column that is non-negative and
skewed is a candidate for ``log1p``; with the label at hand it gets it only when churn is at
least as well explained on the log scale as on the raw one (a one-variable logistic fit on the
training rows), because some skewed columns (days since an event, contract ages) act linearly:
on the realistic saas world, logging every skewed column cost the logistic model 0.04 ROC-AUC.
Every column is then clipped to extreme quantiles of the training rows, so a value never seen
in training cannot push the score past what the data supports.
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


MAX_CHOICE_ROWS = 50_000  # rows (a fixed sample) the raw-or-log choice is made on


def log_scale_fits_better(values: np.ndarray, y: np.ndarray) -> bool:
    """True when a one-variable logistic regression of ``y`` on log1p(values) has at least
    the likelihood of the same fit on the raw values (both clipped to their 0.1/99.9 %
    quantiles and standardised; missing values left out)."""
    present = ~np.isnan(values)
    x, labels = values[present], y[present].astype(float)
    if len(x) > MAX_CHOICE_ROWS:
        take = np.random.default_rng(0).choice(len(x), MAX_CHOICE_ROWS, replace=False)
        x, labels = x[take], labels[take]
    if len(x) < 3 or labels.min() == labels.max():
        return True
    return _loglik_1d(np.log1p(np.clip(x, 0, None)), labels) >= _loglik_1d(x, labels)


def column_median(values: np.ndarray) -> float:
    """The median of one column's observed values, 0.0 for a column without any: the number
    ``SimpleImputer(strategy="median", keep_empty_features=True)`` computes (the mean of the
    two middle values), found by partitioning one column at a time instead of sorting the whole
    masked matrix (5x faster on 300k rows x 107 columns). The imputer calls it with each
    column's observed values."""
    return float(np.median(values)) if values.size else 0.0


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, numerically safe."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def fit_logistic_1d(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Maximum-likelihood (a, b) of P(y=1) = sigmoid(a + b x) by Newton's method."""
    a, b = 0.0, 0.0
    design = np.column_stack([np.ones_like(x), x])
    for _ in range(iterations):
        p = sigmoid(a + b * x)
        grad = design.T @ (y - p)
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def _loglik_1d(x: np.ndarray, y: np.ndarray) -> float:
    """Log-likelihood of the maximum-likelihood one-variable logistic fit on ``x`` clipped to
    its 0.1/99.9 % quantiles and standardised."""
    lo, hi = np.quantile(x, [0.001, 0.999])
    z = np.clip(x, lo, hi)
    if z.std() == 0:
        return -np.inf
    z = (z - z.mean()) / z.std()
    a, b = fit_logistic_1d(z, y, iterations=30)
    p = np.clip(sigmoid(a + b * z), 1e-12, 1 - 1e-12)
    return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


class RobustColumns(TransformerMixin, BaseEstimator):
    """log1p for non-negative columns with skewness above ``skew_threshold``, then clipping
    to the ``clip_quantiles`` of the (transformed) training values. Missing values stay
    missing (the imputer after it handles them)."""

    def __init__(self, skew_threshold: float = 1.0,
                 clip_quantiles: tuple[float, float] = (0.001, 0.999)) -> None:
        self.skew_threshold = skew_threshold
        self.clip_quantiles = clip_quantiles

    def fit(self, x, y=None) -> RobustColumns:
        """Decide per column: log1p or not, and the clipping bounds. With labels ``y`` a
        skewed candidate keeps log1p only when it explains churn at least as well as the raw
        column does (:func:`log_scale_fits_better`)."""
        v = np.asarray(x, dtype=float)
        self.log1p_ = np.array([
            bool(np.nanmin(col, initial=np.inf) >= 0 and skewness(col) > self.skew_threshold
                 and (y is None or log_scale_fits_better(col, np.asarray(y))))
            for col in v.T
        ], dtype=bool)
        t = self._log(v)
        lo, hi = self.clip_quantiles
        with np.errstate(all="ignore"):
            empty = np.isnan(t).all(axis=0)
            safe = np.where(empty[None, :], 0.0, t) if empty.any() else t
            # both quantiles in one pass: each column's NaNs are dropped once, not twice
            self.low_, self.high_ = np.nanquantile(safe, [lo, hi], axis=0)
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
