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

from healthscore.errors import HealthscoreError, ModelError
from healthscore.training.settings import LightGBMConfig, LogisticConfig, ScorecardConfig
from healthscore.training.transforms import fit_logistic_1d, sigmoid

log = logging.getLogger(__name__)
CONTRIBUTION_CHUNK = 100_000


@dataclass(frozen=True)
class FeatureInfo:
    """What a model needs to know about an input column."""

    name: str
    dimension: str
    direction: int  # +1 higher is healthier, -1 lower is healthier, 0 none (declared or learned)
    categorical: bool
    monotone: int = 0  # LightGBM constraint on "higher is healthier": only earned declarations


class ScorecardError(HealthscoreError):
    """The scorecard has no feature to score: none has a declared or learned direction."""

    def __init__(self, n_features: int) -> None:
        super().__init__(
            f"the scorecard has no feature left: none of the {n_features} model inputs is "
            "numeric with a direction declared (registry or features.directions) or learned "
            "on the training rows beyond noise (|z| >= 2 for the rank association with "
            "churn). Declare directions in features.directions, add informative features, or "
            "drop scorecard from training.models.")


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
        self.offsets_: pd.Series | None = None

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

    def fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray,
            offset: np.ndarray | None = None, offset_val: np.ndarray | None = None
            ) -> ChurnModel:
        """Fit on the training rows; the validation rows may be used for tuning/stopping.

        ``offset`` / ``offset_val``: a fixed log-odds term per row added to the model's raw
        score while fitting (the survival model's baseline hazard per interval); the fitted
        raw score leaves it out. Row labels (the frames' index) must identify the rows.
        """
        self._check_columns(x)
        self.offsets_ = None
        if offset is not None:
            both = pd.concat([pd.Series(np.asarray(offset, float), index=x.index),
                              pd.Series(np.asarray(offset_val, float), index=x_val.index)])
            self.offsets_ = both[~both.index.duplicated()]
        self.levels_ = {
            f.name: sorted(x[f.name].dropna().astype(str).unique().tolist())
            for f in self.features if f.categorical
        }
        self._fit(self.prepare(x), np.asarray(y, dtype=int), self.prepare(x_val),
                  np.asarray(y_val, dtype=int))
        self.offsets_ = None  # fitting data: not part of the fitted model
        return self

    def offset_of(self, x: pd.DataFrame) -> np.ndarray | None:
        """The fitting offset of the rows of ``x`` (None when fitted without offsets)."""
        if self.offsets_ is None:
            return None
        return self.offsets_.reindex(x.index).to_numpy(dtype=float)

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
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        from healthscore.training.transforms import RobustColumns

        numeric = [f.name for f in self.features if not f.categorical]
        categorical = [f.name for f in self.features if f.categorical]
        cfg = self.config
        robust = (RobustColumns(cfg.skew_threshold, cfg.clip_quantiles)
                  if cfg.transform == "robust"
                  else FunctionTransformer(feature_names_out="one-to-one"))
        prep = ColumnTransformer([
            ("num", Pipeline([("robust", robust),
                              ("impute", SimpleImputer(strategy="median", add_indicator=True,
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
        from sklearn.pipeline import Pipeline

        x, x_val = self._as_object(x), self._as_object(x_val)
        template = self._pipeline(self.config.c_grid[0])
        # The preparation does not depend on C: fit it once, then walk the C grid from the
        # strongest penalty up, each fit warm-started from the previous coefficients.
        prep = template.named_steps["prep"].fit(x, y)
        design, design_val = prep.transform(x), prep.transform(x_val)
        self.pipeline_ = Pipeline([("prep", prep), ("model", template.named_steps["model"])])
        self.owner_ = self._column_owners()
        lower, upper = self._coefficient_bounds(design.shape[1])
        weights = _balanced_weights(y) if self.config.class_weight == "balanced" else None
        start = getattr(self, "start_from", None)  # a refit starts from the chosen solution
        w = None
        if start is not None and start.coef_.shape[1] == design.shape[1]:
            w = np.r_[start.coef_[0], start.intercept_]
        offset, offset_val = self.offset_of(x), self.offset_of(x_val)
        best = None
        for c in sorted(self.config.c_grid):
            w = fit_bounded_logistic(design, y, c, lower, upper, w, weights, offset)
            z_val = design_val @ w[:-1] + w[-1] + (0.0 if offset_val is None else offset_val)
            loss = log_loss(y_val, sigmoid(z_val))
            log.debug("logistic C=%g validation log loss %.5f", c, loss)
            if best is None or loss < best[0]:
                best = (loss, c, _as_estimator(template.named_steps["model"], w, c))
        assert best is not None
        self.c_ = best[1]
        self.pipeline_ = Pipeline([("prep", prep), ("model", best[2])])
        at_bound = (best[2].coef_[0] == 0) & (np.isfinite(lower) | np.isfinite(upper))
        # features whose coefficient sits on its sign bound (0): no effect in this model
        self.sign_bound_ = [self.feature_names[i] for i in np.unique(self.owner_[at_bound])]
        grid = self.config.c_grid
        self.penalty_at_edge_ = len(grid) > 1 and self.c_ in (min(grid), max(grid))
        if self.penalty_at_edge_:
            log.warning("logistic: the chosen C=%g is on the edge of training.logistic.c_grid "
                        "%s; a value beyond it may fit better", self.c_, grid)
        self.design_mean_ = design.mean(axis=0)

    def _coefficient_bounds(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of each design column's churn coefficient: with ``signs: directed`` the
        value column of a feature with a direction (declared, or learned beyond noise) may
        only push churn the way that direction says (higher is healthier: <= 0); missing
        indicators and categories are free."""
        lower, upper = np.full(width, -np.inf), np.full(width, np.inf)
        if self.config.signs != "directed":
            return lower, upper
        numeric = [i for i, f in enumerate(self.features) if not f.categorical]
        for column, owner in enumerate(self.owner_[:len(numeric)]):
            sign = self.features[owner].direction
            if sign > 0:
                upper[column] = 0.0
            elif sign < 0:
                lower[column] = 0.0
        return lower, upper

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
        robust = self.pipeline_.named_steps["prep"].named_transformers_.get("num")
        logged = 0
        if robust is not None and hasattr(robust.named_steps["robust"], "log1p_"):
            logged = int(robust.named_steps["robust"].log1p_.sum())
        return {"C": self.c_, "class_weight": self.config.class_weight,
                "penalty_at_edge": bool(getattr(self, "penalty_at_edge_", False)),
                "transform": self.config.transform, "log1p_columns": logged}


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2 * np.maximum(counts, 1)))[y]


def fit_bounded_logistic(design: np.ndarray, y: np.ndarray, c: float, lower: np.ndarray,
                         upper: np.ndarray, start: np.ndarray | None = None,
                         weights: np.ndarray | None = None,
                         offset: np.ndarray | None = None) -> np.ndarray:
    """L2 logistic regression with box bounds on the coefficients (the intercept is free):
    minimise 0.5 |w|^2 + C sum_i s_i logloss_i (scikit-learn's objective) by L-BFGS-B.
    ``offset``: a fixed term added to each row's log-odds. Returns [w..., intercept]."""
    from scipy.optimize import minimize

    k = design.shape[1]
    y = np.asarray(y, dtype=float)
    s = np.ones(len(y)) if weights is None else weights
    shift = 0.0 if offset is None else np.asarray(offset, dtype=float)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ w[:k] + w[k] + shift
        loss = float(np.sum(s * (np.logaddexp(0.0, z) - y * z)))
        residual = s * (sigmoid(z) - y)
        grad = np.r_[c * (design.T @ residual) + w[:k], c * residual.sum()]
        return c * loss + 0.5 * float(w[:k] @ w[:k]), grad

    x0 = np.zeros(k + 1) if start is None else np.clip(start, np.r_[lower, -np.inf],
                                                       np.r_[upper, np.inf])
    bounds = [(None if np.isinf(lo) else lo, None if np.isinf(hi) else hi)
              for lo, hi in zip(np.r_[lower, -np.inf], np.r_[upper, np.inf], strict=True)]
    result = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 3000})
    return result.x


def _as_estimator(template, w: np.ndarray, c: float):
    """A fitted scikit-learn LogisticRegression holding coefficients ``w`` (intercept last)."""
    from sklearn.base import clone

    model = clone(template).set_params(C=c)
    model.coef_, model.intercept_ = w[None, :-1].copy(), w[-1:].copy()
    model.classes_, model.n_features_in_ = np.array([0, 1]), len(w) - 1
    model.n_iter_ = np.array([0])
    return model


class LightGBMModel(ChurnModel):
    """LightGBM with native categoricals, a budgeted search of its settings and early stopping
    on the validation period, monotone constraints only for earned declared directions,
    deterministic given the seed.

    ``fixed`` (settings and a round count, from an earlier fit's choice) skips the search and
    early stopping: the refit on every labelled row uses it.
    """

    name = "lightgbm"

    def __init__(self, features: list[FeatureInfo], config: LightGBMConfig, seed: int = 0,
                 fixed: dict[str, float | int] | None = None):
        super().__init__(features, seed)
        self.config = config
        self.fixed = fixed

    def _configured(self) -> dict[str, float | int]:
        cfg = self.config
        return {"num_leaves": cfg.num_leaves, "max_depth": cfg.max_depth,
                "min_child_samples": cfg.min_child_samples, "learning_rate": cfg.learning_rate,
                "colsample_bytree": cfg.colsample_bytree}

    def _params(self, settings: dict[str, float | int]) -> dict[str, object]:
        cfg = self.config
        constraints = [-f.monotone if cfg.monotone != "off" and not f.categorical else 0
                       for f in self.features]
        return {
            "objective": "binary", "subsample": cfg.subsample, "subsample_freq": 1,
            "reg_lambda": cfg.reg_lambda, "seed": self.seed, "deterministic": True,
            "force_row_wise": True, "num_threads": cfg.num_threads, "verbosity": -1,
            "monotone_constraints": constraints, "monotone_constraints_method": "advanced",
            **settings,
        }

    def _train(self, settings, x, y, x_val=None, y_val=None, rounds=None):
        import lightgbm as lgb

        train = lgb.Dataset(x, y, categorical_feature="auto", free_raw_data=False,
                            init_score=self.offset_of(x))
        if x_val is None:
            booster = lgb.train(self._params(settings), train, num_boost_round=int(rounds))
            return booster, int(rounds)
        valid = lgb.Dataset(x_val, y_val, reference=train, init_score=self.offset_of(x_val))
        booster = lgb.train(
            self._params(settings), train, num_boost_round=self.config.n_estimators,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(self.config.early_stopping_rounds, verbose=False)],
        )
        return booster, int(booster.best_iteration or self.config.n_estimators)

    def _search(self, x, y, x_val, y_val) -> tuple[dict[str, float | int], list]:
        from healthscore.training import search

        cfg = self.config.search
        candidates = search.candidate_settings(self._configured(), max(cfg.trials, 1),
                                               self.seed)
        if len(candidates) == 1:
            return candidates[0], []
        rows = search.sample_rows(len(x), cfg.sample_rows, self.seed)
        val_rows = search.sample_rows(len(x_val), cfg.sample_rows, self.seed + 1)
        xs, ys = x.iloc[rows], y[rows]
        xv, yv = x_val.iloc[val_rows], y_val[val_rows]
        trials = []
        for number, settings in enumerate(candidates, start=1):
            booster, rounds = self._train(settings, xs, ys, xv, yv)
            z = booster.predict(xv, num_iteration=rounds, raw_score=True)
            offset = self.offset_of(xv)
            loss = log_loss(yv, sigmoid(z if offset is None else z + offset))
            cost = search.tree_shap_cost(booster, rounds) * search.MS_PER_COST_UNIT
            cap = cfg.max_shap_ms_per_row
            trials.append(search.Trial(number, settings, rounds, loss, cost,
                                       cap is None or cost <= cap))
            log.debug("lightgbm trial %d %s: %d rounds, validation log loss %.5f, TreeSHAP "
                      "~%.3f ms/row", number, settings, rounds, loss, cost)
        chosen = search.choose(trials)
        log.info("lightgbm search: %d trials, chose trial %d %s", len(trials), chosen.number,
                 chosen.settings)
        return chosen.settings, trials

    def _fit(self, x, y, x_val, y_val) -> None:
        from healthscore.training import search

        if self.fixed is not None:
            settings = {k: v for k, v in self.fixed.items() if k != "rounds"}
            self.settings_, self.trials_ = settings, []
            self.booster_, self.best_iteration_ = self._train(settings, x, y,
                                                              rounds=self.fixed["rounds"])
        else:
            self.settings_, self.trials_ = self._search(x, y, x_val, y_val)
            self.booster_, self.best_iteration_ = self._train(self.settings_, x, y, x_val,
                                                              y_val)
        probe = x_val if len(x_val) else x
        self.shap_ms_per_row_ = search.measured_shap_ms_per_row(self.booster_, probe,
                                                                self.best_iteration_)
        self.shap_cost_ = search.tree_shap_cost(self.booster_, self.best_iteration_)

    def chosen(self) -> dict[str, float | int]:
        """The chosen settings and round count (what a refit reuses)."""
        return {**self.settings_, "rounds": self.best_iteration_}

    def trials_table(self) -> pd.DataFrame:
        """The search's trials, one row each (empty without a search)."""
        from healthscore.training import search

        if not self.trials_:
            return pd.DataFrame()
        chosen = next(t for t in self.trials_ if t.settings == self.settings_)
        return search.trials_table(self.trials_, chosen)

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
        cfg = self.config.model_dump(exclude={"search"})
        return {**cfg, **self.settings_, "best_iteration": self.best_iteration_,
                "search_trials": len(self.trials_), "refit": self.fixed is not None,
                "shap_ms_per_row": round(self.shap_ms_per_row_, 4),
                "shap_ms_per_row_est": round(self.shap_cost_ * _ms_per_cost_unit(), 4)}


def _ms_per_cost_unit() -> float:
    from healthscore.training.search import MS_PER_COST_UNIT

    return MS_PER_COST_UNIT


def make_model(name: str, features: list[FeatureInfo], config, seed: int,
               chosen_from: ChurnModel | None = None) -> ChurnModel:
    """Instantiate a model by name from the training config; with ``chosen_from`` (a fitted
    model of the same kind) it reuses that fit's chosen settings instead of choosing again."""
    if name == "scorecard":
        return ScorecardModel(features, config.scorecard, seed)
    if name == "logistic":
        logistic = config.logistic
        model = LogisticModel(features, logistic, seed)
        if chosen_from is not None:
            model.config = logistic.model_copy(update={"c_grid": [chosen_from.c_]})
            model.start_from = chosen_from.pipeline_.named_steps["model"]
        return model
    if name == "lightgbm":
        fixed = chosen_from.chosen() if chosen_from is not None else None
        return LightGBMModel(features, config.lightgbm, seed, fixed)
    raise ModelError(f"unknown model {name!r}; known: scorecard, logistic, lightgbm")
