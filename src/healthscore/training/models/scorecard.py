"""The scorecard: the rule-based health score customer-success teams use today (the
baseline), with a logistic link from its health to a churn probability."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.errors import HealthscoreError
from healthscore.training.models.base import ChurnModel, FeatureInfo
from healthscore.training.settings import ScorecardConfig
from healthscore.training.transforms import fit_logistic_1d, sigmoid


class ScorecardError(HealthscoreError):
    """The scorecard has no feature to score: none has a declared or learned direction."""

    def __init__(self, n_features: int) -> None:
        super().__init__(
            f"the scorecard has no feature left: none of the {n_features} model inputs is "
            "numeric with a direction declared (registry or features.directions) or learned "
            "on the training rows beyond noise (|z| >= 2 for the rank association with "
            "churn). Declare directions in features.directions, add informative features, or "
            "drop scorecard from training.models.")


class ScorecardModel(ChurnModel):
    """The rule-based health score customer-success teams use today (the baseline).

    Subscore per directional numeric feature: clamp((v - low) / (high - low), 0, 1), flipped
    when higher is riskier; missing values score 0.5 (neutral). Dimension subscore = mean of
    its features; health = 100 x sum_d w_d x subscore_d. Its churn probability is a logistic
    fit of the label on that health, on the training rows.
    """

    name = "scorecard"

    def __init__(self, features: list[FeatureInfo], config: ScorecardConfig, seed: int = 0):
        directed = [f for f in features if f.direction != 0 and not f.categorical]
        if not directed:
            raise ScorecardError(len(features))
        super().__init__(directed, seed)
        self.config = config

    def _subscores(self, x: pd.DataFrame) -> np.ndarray:
        v = x.to_numpy(dtype=float)
        s = np.clip((v - self.low_) / (self.high_ - self.low_), 0, 1)
        s = np.where(self.sign_ > 0, s, 1 - s)
        return np.where(np.isnan(v), 0.5, s)

    def _fit(self, x, y, x_val, y_val) -> None:
        qlo, qhi = self.config.quantiles
        # both quantiles in one pass (the same values as one call each); writable copies
        low, high = x.quantile([qlo, qhi]).to_numpy(dtype=float).copy()
        for i, name in enumerate(self.feature_names):
            if name in self.config.bounds:
                low[i], high[i] = self.config.bounds[name]
        width = np.where(np.isnan(high - low) | (high - low <= 0), 1.0, high - low)
        self.low_ = np.nan_to_num(low)
        self.high_ = self.low_ + width
        self.sign_ = np.array([f.direction for f in self.features])
        dims = sorted({f.dimension for f in self.features})
        self.dimensions_ = dims
        self.member_ = np.array([[f.dimension == d for f in self.features] for d in dims], float)
        self.member_ /= self.member_.sum(axis=1, keepdims=True)
        sub = self._subscores(x)
        per_dim = sub @ self.member_.T
        self.weights_ = self._weights(per_dim, y, dims)
        score = per_dim @ self.weights_ * 100
        self.mean_subscores_ = sub.mean(axis=0)
        # churn probability from the score: 1-D logistic fit by Newton's method
        self.a_, self.b_ = fit_logistic_1d(score / 100, y)

    def _weights(self, per_dim: np.ndarray, y: np.ndarray, dims: list[str]) -> np.ndarray:
        spec = self.config.weights
        if isinstance(spec, dict):
            w = np.array([float(spec.get(d, 0.0)) for d in dims])
        elif spec == "equal":
            w = np.ones(len(dims))
        else:
            retained = 1 - y
            w = np.array([
                max(np.corrcoef(per_dim[:, i], retained)[0, 1], 0.0)
                if per_dim[:, i].std() > 0 else 0.0 for i in range(len(dims))
            ])
            w = np.nan_to_num(w)
        if w.sum() <= 0:
            w = np.ones(len(dims))
        return w / w.sum()

    def _feature_weights(self) -> np.ndarray:
        return (self.weights_ @ self.member_) * 100

    def _raw(self, x) -> np.ndarray:
        return self._subscores(x) @ self._feature_weights()

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """Churn probability from the rule-based health score."""
        return sigmoid(self.a_ + self.b_ * np.asarray(z) / 100)

    def _contributions(self, x) -> tuple[float, np.ndarray]:
        w = self._feature_weights()
        phi = (self._subscores(x) - self.mean_subscores_) * w
        return float(self.mean_subscores_ @ w), phi

    def params(self) -> dict[str, object]:
        return {f"weight_{d}": round(float(w), 4) for d, w in zip(self.dimensions_, self.weights_,
                                                                  strict=True)}
