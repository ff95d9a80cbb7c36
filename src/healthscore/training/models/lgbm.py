"""LightGBM with native categoricals, a budgeted search of its settings, early stopping on
the validation period and exact TreeSHAP contributions."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from healthscore.training import search
from healthscore.training.metrics import log_loss
from healthscore.training.models.base import ChurnModel, FeatureInfo
from healthscore.training.settings import LightGBMConfig
from healthscore.training.transforms import sigmoid

log = logging.getLogger(__name__)
CONTRIBUTION_CHUNK = 100_000
# From this many rows contributions go through the TreeSHAP replay: it saved 0.24 ms of CPU a
# row on the 100k world's model (348 trees), and its kernels compile once after an install
# (about 5 s; numba caches them), which a small run (the demo's 4,000 accounts) never earns back.
REPLAY_MIN_ROWS = 20_000


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
        """TreeSHAP, bit for bit the booster's native contributions (equal to shap's
        TreeExplainer; the last column is the expected value), on ``num_threads`` threads:
        replayed once per tree decision pattern (:mod:`.treeshap`, 3-4x less CPU) from
        ``REPLAY_MIN_ROWS`` rows, or through ``pred_contrib`` for fewer rows or a booster the
        replay does not reproduce, in chunks of
        ``CONTRIBUTION_CHUNK`` rows so memory stays bounded."""
        forest = None
        if len(x) >= REPLAY_MIN_ROWS:
            from healthscore.training.models import treeshap  # numba: imported when used

            forest = treeshap.forest_of(self.booster_, self.best_iteration_)
        if forest is not None:
            contrib = treeshap.contributions(
                forest, treeshap.dense_rows(x, self.booster_.pandas_categorical),
                self.config.num_threads)
            return (float(contrib[0, -1]) if len(contrib) else 0.0), contrib[:, :-1]
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
                "shap_ms_per_row_est": round(self.shap_cost_ * search.MS_PER_COST_UNIT, 4)}
