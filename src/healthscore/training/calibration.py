"""Probability calibration fitted on the validation period, so health = 100 (1 - p) means
what it says: of accounts at health 70, about 30 % churn within the horizon."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from healthscore.errors import ModelError

# Health has one decimal: p below 0.0005 would read 100.0. 0.001 keeps it at most 99.9.
MIN_PROBABILITY = 0.001


@dataclass
class Calibrator:
    """Monotone map from uncalibrated to calibrated churn probability.

    ``isotonic``: *centered* isotonic regression (Oron & Flournoy, 2017): the pool-adjacent-
    violators fit of sklearn's IsotonicRegression, then a piecewise-linear map through each
    pooled block's centroid (mean uncalibrated p, churn rate), anchored at (0, 0) and (1, 1).
    It calibrates as well as the step function but is strictly increasing wherever the block
    rates differ, so accounts with different raw scores get different health and driver
    points never vanish inside a step.
    ``sigmoid``: Platt scaling on the log-odds of the uncalibrated probability.
    ``none``: identity.

    Every method's output is kept inside ``[bound, 1 - bound]`` with
    ``bound = max(1 / (2 n), MIN_PROBABILITY)`` for ``n`` calibration rows: a rate of exactly 0
    or 1 is never what n rows can support, and health (one decimal) then never reads exactly
    0 or 100 unless a hard stop sets it.
    """

    method: str = "isotonic"
    fitted_: bool = field(default=False, init=False)

    def fit(self, p_raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on held-out (validation) rows."""
        p_raw, y = np.asarray(p_raw, float), np.asarray(y, int)
        if self.method == "isotonic":
            self.knots_ = _centered_isotonic_knots(p_raw, y)
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            self.model_ = LogisticRegression(C=1e6, max_iter=1000)
            self.model_.fit(_logit(p_raw)[:, None], y)
        elif self.method != "none":
            raise ModelError(f"unknown calibration {self.method!r}; use isotonic/sigmoid/none")
        self.bound_ = max(0.5 / max(len(y), 1), MIN_PROBABILITY)
        self.fitted_ = True
        return self

    def transform(self, p_raw: np.ndarray) -> np.ndarray:
        """Calibrated probability for each uncalibrated one."""
        if not self.fitted_:
            raise ModelError("the calibrator is used before fit()")
        p_raw = np.asarray(p_raw, float)
        if self.method == "isotonic":
            x, p = self.knots_
            out = np.interp(np.clip(p_raw, 0.0, 1.0), x, p)
        elif self.method == "sigmoid":
            out = self.model_.predict_proba(_logit(p_raw)[:, None])[:, 1]
        else:
            out = p_raw
        bound = getattr(self, "bound_", 0.0)  # artifacts from before the bound: unbounded
        return np.clip(out, bound, 1.0 - bound)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _centered_isotonic_knots(p_raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x, p) of centered isotonic regression: one per pooled PAV block at its centroid,
    plus (0, 0) and (1, 1) where they keep the map non-decreasing."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(p_raw, kind="stable")
    x, target = p_raw[order], y[order].astype(float)
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit_transform(
        x, target)
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    counts = np.diff(np.r_[starts, len(x)])
    centre = np.add.reduceat(x, starts) / counts
    rate = fitted[starts]
    knots_x = np.r_[0.0, centre, 1.0]
    knots_p = np.r_[min(0.0, rate[0]), rate, max(1.0, rate[-1])]
    # Blocks can share a centroid only when their x ranges touch at one value: keep the last.
    keep = np.r_[np.diff(knots_x) > 0, True]
    return knots_x[keep], knots_p[keep]
