"""The three churn models behind one interface.

Every model maps a feature frame to a *raw score* ``z`` (log-odds for logistic and LightGBM,
the rule-based health score for the scorecard), has a monotone ``raw_to_proba(z)``, and can
split ``z`` exactly into per-feature contributions: ``z = base + contributions.sum(axis=1)``.
Calibration (:mod:`healthscore.training.calibration`) and driver points build on that.

One module per model: :mod:`.base` (the interface, :class:`FeatureInfo`), :mod:`.scorecard`,
:mod:`.logistic` and :mod:`.lgbm`; :func:`make_model` builds one by name. Fitted models pickled
before the split name this module (``healthscore.training.models.LogisticModel``): the names
below keep them loadable.
"""

from __future__ import annotations

from healthscore.errors import ModelError
from healthscore.training.models.base import ChurnModel, FeatureInfo
from healthscore.training.models.lgbm import CONTRIBUTION_CHUNK, LightGBMModel
from healthscore.training.models.logistic import LogisticModel, fit_bounded_logistic
from healthscore.training.models.scorecard import ScorecardError, ScorecardModel
from healthscore.training.transforms import sigmoid

__all__ = [
    "CONTRIBUTION_CHUNK", "ChurnModel", "FeatureInfo", "LightGBMModel", "LogisticModel",
    "ScorecardError", "ScorecardModel", "fit_bounded_logistic", "make_model", "sigmoid",
]


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
