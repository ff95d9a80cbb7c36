"""The expansion readiness model (``training.expansion``): the churn machinery on
``label_expansion``, carried inside every churn model of the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from healthscore.errors import ParameterError
from healthscore.features.registry import Direction
from healthscore.model.artifact import FeatureMeta
from healthscore.training.settings import TrainingConfig

if TYPE_CHECKING:
    from healthscore.training.train import ModelResult, TrainingRun

log = logging.getLogger(__name__)


def expansion_result(frame: pd.DataFrame, metas: list[FeatureMeta], config: TrainingConfig,
                     horizon_days: int, seed: int, train_and_evaluate: Callable[..., TrainingRun]
                     ) -> tuple[ModelResult | None, list[str]]:
    """The expansion readiness model: ``training.expansion.model`` trained and evaluated on
    ``label_expansion`` exactly as a churn model is (its own split, learned directions,
    search, calibration and refit), with its test evaluation.

    ``train_and_evaluate``: the trainer of :mod:`healthscore.training.train` (passed in, so
    this module does not import it back). Returns (result or None, notes); None with a note
    saying why when it cannot be fitted."""
    cfg = config.expansion
    if "label_expansion" not in frame.columns:
        return None, ["training.expansion: the feature rows carry no label_expansion, so the "
                      "expansion readiness model was not fitted."]
    expansion_config = config.model_copy(update={
        "label": "label_expansion", "models": [cfg.model],
        "survival": config.survival.model_copy(update={"enabled": False}),
        "expansion": cfg.model_copy(update={"enabled": False})})
    # declared directions say which way is healthy (less churn), not which way expands:
    # the expansion model learns every direction on its own training rows
    learned = [replace(m, direction=Direction.LEARNED.value, direction_source="learned")
               for m in metas]
    started = time.perf_counter()
    try:
        run = train_and_evaluate(frame, learned, expansion_config, horizon_days, seed)
    except ParameterError as error:  # e.g. no expansion in a period: say so, go on
        log.warning("expansion readiness model not fitted: %s", error)
        return None, [f"training.expansion: the expansion readiness model was not fitted: "
                      f"{error}"]
    result = run.results[cfg.model]
    result.seconds = time.perf_counter() - started
    log.info("expansion readiness (%s): test ROC-AUC %.3f in %.1fs", cfg.model,
             result.test.overall["roc_auc"], result.seconds)
    return result, []


def attach_expansion(results: Iterable[ModelResult], expansion: ModelResult) -> None:
    """Carry the expansion readiness model inside every churn model of ``results``: the
    registered one in the registered models, its evaluation fit in the evaluation fits."""
    for result in results:
        evaluated = expansion.evaluated_model or expansion.health_model
        for model, carried in ((result.evaluated_model, evaluated),
                               (result.health_model, expansion.health_model)):
            if model is not None:
                model.expansion = carried
