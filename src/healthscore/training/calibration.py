"""Probability calibration fitted on the validation period, so health = 100 (1 - p) means
what it says: of accounts at health 70, about 30 % churn within the horizon."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from healthscore.errors import ModelError


@dataclass
class Calibrator:
    """Monotone map from uncalibrated to calibrated churn probability.

    ``isotonic``: a non-decreasing step function (sklearn's IsotonicRegression, clipped).
    ``sigmoid``: Platt scaling on the log-odds of the uncalibrated probability.
    ``none``: identity.
    """

    method: str = "isotonic"
    fitted_: bool = field(default=False, init=False)

    def fit(self, p_raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on held-out (validation) rows."""
        p_raw, y = np.asarray(p_raw, float), np.asarray(y, int)
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.model_.fit(p_raw, y)
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            self.model_ = LogisticRegression(C=1e6, max_iter=1000)
            self.model_.fit(_logit(p_raw)[:, None], y)
        elif self.method != "none":
            raise ModelError(f"unknown calibration {self.method!r}; use isotonic/sigmoid/none")
        self.fitted_ = True
        return self

    def transform(self, p_raw: np.ndarray) -> np.ndarray:
        """Calibrated probability for each uncalibrated one."""
        if not self.fitted_:
            raise ModelError("the calibrator is used before fit()")
        p_raw = np.asarray(p_raw, float)
        if self.method == "isotonic":
            return np.clip(self.model_.predict(p_raw), 0.0, 1.0)
        if self.method == "sigmoid":
            return self.model_.predict_proba(_logit(p_raw)[:, None])[:, 1]
        return p_raw


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
