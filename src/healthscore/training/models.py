"""The three churn models behind one interface.

Every model maps a feature frame to a *raw score* ``z`` (log-odds for logistic and LightGBM,
the rule-based health score for the scorecard), has a monotone ``raw_to_proba(z)``, and can
split ``z`` exactly into per-feature contributions: ``z = base + contributions.sum(axis=1)``.
Calibration (:mod:`healthscore.training.calibration`) and driver points build on that.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.errors import ModelError
from healthscore.training.settings import LightGBMConfig, LogisticConfig, ScorecardConfig

log = logging.getLogger(__name__)
CONTRIBUTION_CHUNK = 100_000


@dataclass(frozen=True)
class FeatureInfo:
    """What a model needs to know about an input column."""

    name: str
    dimension: str
    direction: int  # +1 higher is healthier, -1 higher is riskier, 0 neutral
    categorical: bool


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, numerically safe."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy with p clipped to [1e-6, 1 - 1e-6]."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class ChurnModel(ABC):
    """Common interface: fit on train (validation for tuning), raw score, contributions."""

    name: str = "model"

    def __init__(self, features: list[FeatureInfo], seed: int = 0) -> None:
        self.features = features
        self.seed = seed
        self.levels_: dict[str, list[str]] | None = None

    @property
    def feature_names(self) -> list[str]:
        """Input columns, in order."""
        return [f.name for f in self.features]

    def _check_fitted(self) -> None:
        if self.levels_ is None:
            raise ModelError(f"the {self.name} model is used before fit(); call fit first")

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise ModelError(f"the feature frame lacks {len(missing)} model input(s): {missing}")

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select and type the input columns; categories fixed to the training levels."""
        self._check_columns(frame)
        x = frame[self.feature_names].copy()
        for f in self.features:
            if f.categorical:
                levels = self.levels_[f.name] if self.levels_ else None
                x[f.name] = pd.Categorical(x[f.name].astype("string").astype(object),
                                           categories=levels)
            else:
                x[f.name] = pd.to_numeric(x[f.name], errors="coerce").astype(float)
        return x

    def fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray
            ) -> ChurnModel:
        """Fit on the training rows; the validation rows may be used for tuning/stopping."""
        self._check_columns(x)
        self.levels_ = {
            f.name: sorted(x[f.name].dropna().astype(str).unique().tolist())
            for f in self.features if f.categorical
        }
        self._fit(self.prepare(x), np.asarray(y, dtype=int), self.prepare(x_val),
                  np.asarray(y_val, dtype=int))
        return self

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        """The model's raw score for each row."""
        self._check_fitted()
        return self._raw(self.prepare(x))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Uncalibrated churn probability."""
        return self.raw_to_proba(self.raw_score(x))

    def contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]:
        """(base, phi) with raw_score = base + phi.sum(axis=1); phi has one column per feature."""
        self._check_fitted()
        return self._contributions(self.prepare(x))

    @abstractmethod
    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray
             ) -> None: ...

    @abstractmethod
    def _raw(self, x: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """Map raw scores to (uncalibrated) churn probabilities."""

    @abstractmethod
    def _contributions(self, x: pd.DataFrame) -> tuple[float, np.ndarray]: ...

    def params(self) -> dict[str, object]:
        """Parameters worth logging."""
        return {}


class ScorecardModel(ChurnModel):
    """The rule-based health score customer-success teams use today (the baseline).

    Subscore per directional numeric feature: clamp((v - low) / (high - low), 0, 1), flipped
    when higher is riskier; missing values score 0.5 (neutral). Dimension subscore = mean of
    its features; health = 100 x sum_d w_d x subscore_d. Its churn probability is a logistic
    fit of the label on that health, on the training rows.
    """

    name = "scorecard"

    def __init__(self, features: list[FeatureInfo], config: ScorecardConfig, seed: int = 0):
        super().__init__([f for f in features if f.direction != 0 and not f.categorical], seed)
        self.config = config

    def _subscores(self, x: pd.DataFrame) -> np.ndarray:
        v = x.to_numpy(dtype=float)
        s = np.clip((v - self.low_) / (self.high_ - self.low_), 0, 1)
        s = np.where(self.sign_ > 0, s, 1 - s)
        return np.where(np.isnan(v), 0.5, s)

    def _fit(self, x, y, x_val, y_val) -> None:
        qlo, qhi = self.config.quantiles
        low = x.quantile(qlo).to_numpy(dtype=float).copy()  # writable under copy-on-write
        high = x.quantile(qhi).to_numpy(dtype=float).copy()
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
        self.a_, self.b_ = _fit_logistic_1d(score / 100, y)

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


def _fit_logistic_1d(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
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


class LogisticModel(ChurnModel):
    """Median imputation with missing indicators, scaling, one-hot, L2 logistic regression;
    C chosen on the validation period by log loss. No class reweighting by default: the
    calibration step keeps probabilities honest either way."""

    name = "logistic"

    def __init__(self, features: list[FeatureInfo], config: LogisticConfig, seed: int = 0):
        super().__init__(features, seed)
        self.config = config

    def _pipeline(self, c: float):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric = [f.name for f in self.features if not f.categorical]
        categorical = [f.name for f in self.features if f.categorical]
        prep = ColumnTransformer([
            ("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True,
                                                       keep_empty_features=True)),
                              ("scale", StandardScaler())]), numeric),
            ("cat", Pipeline([("impute", SimpleImputer(strategy="constant",
                                                       fill_value="missing")),
                              ("onehot", OneHotEncoder(handle_unknown="ignore",
                                                       sparse_output=False))]), categorical),
        ], sparse_threshold=0.0)
        weight = None if self.config.class_weight == "none" else "balanced"
        model = LogisticRegression(C=c, max_iter=3000, class_weight=weight)
        return Pipeline([("prep", prep), ("model", model)])

    @staticmethod
    def _as_object(x: pd.DataFrame) -> pd.DataFrame:
        x = x.copy()
        for col in x.columns:
            if isinstance(x[col].dtype, pd.CategoricalDtype):
                x[col] = x[col].astype(object).where(x[col].notna(), np.nan)
        return x

    def _fit(self, x, y, x_val, y_val) -> None:
        x, x_val = self._as_object(x), self._as_object(x_val)
        best = None
        for c in self.config.c_grid:
            pipe = self._pipeline(c).fit(x, y)
            loss = log_loss(y_val, pipe.predict_proba(x_val)[:, 1])
            log.debug("logistic C=%g validation log loss %.5f", c, loss)
            if best is None or loss < best[0]:
                best = (loss, c, pipe)
        assert best is not None
        _, self.c_, self.pipeline_ = best
        design = self.pipeline_.named_steps["prep"].transform(x)
        self.design_mean_ = design.mean(axis=0)
        self.owner_ = self._column_owners()

    def _column_owners(self) -> np.ndarray:
        """Index of the input feature behind each design-matrix column.

        Numeric columns (and their missing indicators) come first, one per numeric input in
        order of the imputer's output; then the one-hot columns, one block per categorical
        input in order, as many columns as its encoder has categories. Taken from the fitted
        transformers, never from column names (a category level may look like a feature name).
        """
        prep = self.pipeline_.named_steps["prep"]
        index = {name: i for i, name in enumerate(self.feature_names)}
        owners: list[int] = []
        numeric = [f.name for f in self.features if not f.categorical]
        if numeric:
            imputer = prep.named_transformers_["num"].named_steps["impute"]
            owners += [index[name] for name in numeric]
            if imputer.indicator_ is not None:
                owners += [index[numeric[j]] for j in imputer.indicator_.features_]
        categorical = [f.name for f in self.features if f.categorical]
        if categorical:
            encoder = prep.named_transformers_["cat"].named_steps["onehot"]
            for name, levels in zip(categorical, encoder.categories_, strict=True):
                owners += [index[name]] * len(levels)
        if len(owners) != len(prep.get_feature_names_out()):
            raise ModelError("logistic design columns do not match the model inputs")
        return np.array(owners)

    def _raw(self, x) -> np.ndarray:
        return self.pipeline_.decision_function(self._as_object(x))

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """Churn probability from log-odds."""
        return sigmoid(np.asarray(z))

    def _contributions(self, x) -> tuple[float, np.ndarray]:
        """Exact linear SHAP: beta_j (x_j - E[x_j]) per design column, summed per feature."""
        model = self.pipeline_.named_steps["model"]
        design = self.pipeline_.named_steps["prep"].transform(self._as_object(x))
        beta = model.coef_[0]
        per_column = (design - self.design_mean_) * beta
        phi = np.zeros((len(x), len(self.features)))
        np.add.at(phi.T, self.owner_, per_column.T)
        return float(model.intercept_[0] + self.design_mean_ @ beta), phi

    def params(self) -> dict[str, object]:
        return {"C": self.c_, "class_weight": self.config.class_weight}


class LightGBMModel(ChurnModel):
    """LightGBM with native categoricals, early stopping on validation, optional monotone
    constraints from each feature's direction, deterministic given the seed."""

    name = "lightgbm"

    def __init__(self, features: list[FeatureInfo], config: LightGBMConfig, seed: int = 0):
        super().__init__(features, seed)
        self.config = config

    def _fit(self, x, y, x_val, y_val) -> None:
        import lightgbm as lgb

        cfg = self.config
        constraints = [-f.direction if cfg.monotone and not f.categorical else 0
                       for f in self.features]
        params = {
            "objective": "binary", "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves, "max_depth": cfg.max_depth,
            "min_child_samples": cfg.min_child_samples, "subsample": cfg.subsample,
            "subsample_freq": 1, "colsample_bytree": cfg.colsample_bytree,
            "reg_lambda": cfg.reg_lambda, "seed": self.seed, "deterministic": True,
            "force_row_wise": True, "num_threads": cfg.num_threads, "verbosity": -1,
            "monotone_constraints": constraints, "monotone_constraints_method": "advanced",
        }
        train = lgb.Dataset(x, y, categorical_feature="auto", free_raw_data=False)
        valid = lgb.Dataset(x_val, y_val, reference=train)
        self.booster_ = lgb.train(
            params, train, num_boost_round=cfg.n_estimators, valid_sets=[valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or cfg.n_estimators)

    def _raw(self, x) -> np.ndarray:
        return self.booster_.predict(x, raw_score=True, num_iteration=self.best_iteration_)

    def raw_to_proba(self, z: np.ndarray) -> np.ndarray:
        """Churn probability from log-odds."""
        return sigmoid(np.asarray(z))

    def _contributions(self, x) -> tuple[float, np.ndarray]:
        """TreeSHAP through the booster's native contributions (equal to shap's
        TreeExplainer; the last column is the expected value), in chunks of
        ``CONTRIBUTION_CHUNK`` rows so memory stays bounded, on ``num_threads`` threads."""
        phi = np.empty((len(x), len(self.features)))
        base = 0.0
        for start in range(0, len(x), CONTRIBUTION_CHUNK):
            contrib = self.booster_.predict(x.iloc[start:start + CONTRIBUTION_CHUNK],
                                            pred_contrib=True,
                                            num_iteration=self.best_iteration_,
                                            num_threads=self.config.num_threads)
            phi[start:start + len(contrib)] = contrib[:, :-1]
            base = float(contrib[0, -1])
        return base, phi

    def params(self) -> dict[str, object]:
        return {**self.config.model_dump(), "best_iteration": self.best_iteration_}


def make_model(name: str, features: list[FeatureInfo], config, seed: int) -> ChurnModel:
    """Instantiate a model by name from the training config."""
    if name == "scorecard":
        return ScorecardModel(features, config.scorecard, seed)
    if name == "logistic":
        return LogisticModel(features, config.logistic, seed)
    if name == "lightgbm":
        return LightGBMModel(features, config.lightgbm, seed)
    raise ModelError(f"unknown model {name!r}; known: scorecard, logistic, lightgbm")
