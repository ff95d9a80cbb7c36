"""Rolling-origin backtest: refit at each origin, evaluate on the period that follows."""

from __future__ import annotations

import logging

import pandas as pd

from healthscore.errors import ParameterError
from healthscore.model.artifact import FeatureMeta
from healthscore.progress import Progress
from healthscore.training.settings import TrainingConfig
from healthscore.training.splits import TEST, TRAIN, VALIDATION, BacktestPlan, backtest_plan
from healthscore.training.train import evaluate_model, fit_health_model

log = logging.getLogger(__name__)


def backtest(frame: pd.DataFrame, metas: list[FeatureMeta], config: TrainingConfig,
             horizon_days: int, seed: int, progress: Progress | None = None
             ) -> tuple[pd.DataFrame, BacktestPlan]:
    """Rolling origin: refit at each origin, evaluate on the following period.

    Returns one row per (fold, model) with the test period and the headline metrics, and the
    plan saying how many folds fit and why the others did not.
    """
    frame = frame[frame["label_observed"].astype(bool)]
    plan = backtest_plan(frame["snapshot_date"], horizon_days, config.split, config.backtest)
    if not plan.folds:
        raise ParameterError("training.backtest", "at least one fold with enough history",
                             plan.summary())
    log.info(plan.summary())
    rows = []
    total = len(plan.folds) * len(config.models)
    for number, split in zip(plan.numbers, plan.folds, strict=True):
        assignment = split.assign(frame["snapshot_date"])
        train, valid, test = (frame[assignment == s] for s in (TRAIN, VALIDATION, TEST))
        for name in config.models:
            model = fit_health_model(name, train, valid, metas, config, horizon_days, seed)
            evaluation, _ = evaluate_model(model, test, config, seed, n_boot=0)
            rows.append({"fold": number, "model": name, "test_start": split.test_start,
                         "test_end": split.test_end, "train_rows": len(train),
                         "test_rows": len(test), **evaluation.overall})
            if progress:
                progress("backtest", len(rows), total)
    return pd.DataFrame(rows), plan
