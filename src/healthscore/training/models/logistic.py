"""Logistic regression with robust transforms, missing indicators and one-hot categories,
its penalty chosen on the validation period and coefficient signs bounded by earned
directions (fitted by L-BFGS-B)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from healthscore.errors import ModelError
from healthscore.training.metrics import log_loss
from healthscore.training.models.base import ChurnModel, FeatureInfo
from healthscore.training.settings import LogisticConfig
from healthscore.training.transforms import sigmoid

log = logging.getLogger(__name__)


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

        from healthscore.training.transforms import RobustColumns, column_median

        numeric = [f.name for f in self.features if not f.categorical]
        categorical = [f.name for f in self.features if f.categorical]
        cfg = self.config
        robust = (RobustColumns(cfg.skew_threshold, cfg.clip_quantiles)
                  if cfg.transform == "robust"
                  else FunctionTransformer(feature_names_out="one-to-one"))
        prep = ColumnTransformer([
            ("num", Pipeline([("robust", robust),
                              ("impute", SimpleImputer(strategy=column_median, add_indicator=True,
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
        x = x.copy(deep=False)  # a new frame for the converted columns, the others shared
        for col in x.columns:
            if isinstance(x[col].dtype, pd.CategoricalDtype):
                x[col] = x[col].astype(object).where(x[col].notna(), np.nan)
        return x

    def _fit(self, x, y, x_val, y_val) -> None:
        from sklearn.pipeline import Pipeline

        same = x_val is x  # the refit validates on its own rows: one design matrix
        x = self._as_object(x)
        x_val = x if same else self._as_object(x_val)
        template = self._pipeline(self.config.c_grid[0])
        # The preparation does not depend on C: fit it once, then walk the C grid from the
        # strongest penalty up, each fit warm-started from the previous coefficients.
        prep = template.named_steps["prep"]
        design = prep.fit_transform(x, y)  # fit() alone would build it too, and drop it
        design_val = design if same else prep.transform(x_val)
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
    ``offset``: a fixed term added to each row's log-odds. Returns [w..., intercept].

    The fit runs on one BLAS thread, whatever the machine: a product summed in another
    order by more threads moves the optimiser's path, so the same data gave slightly
    different coefficients on machines with different core counts; and on a busy machine
    the threads wait for each other (the demo's logistic fits took 2.6x as long with two).
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

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
    with threadpool_limits(limits=1, user_api="blas"):
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
