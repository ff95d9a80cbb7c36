"""Fit, calibrate and evaluate the configured models on an honest time split."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthscore.errors import ParameterError
from healthscore.features.registry import FeatureSpec, Kind
from healthscore.serving.bands import Band
from healthscore.serving.drift import build_reference
from healthscore.serving.model import FeatureMeta, HealthModel
from healthscore.training.calibration import Calibrator
from healthscore.training.metrics import Evaluation, evaluate
from healthscore.training.models import FeatureInfo, make_model
from healthscore.training.settings import TrainingConfig
from healthscore.training.splits import (
    TEST,
    TRAIN,
    VALIDATION,
    BacktestPlan,
    TimeSplit,
    backtest_plan,
    plan_split,
    random_split,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def feature_meta(specs: list[FeatureSpec]) -> list[FeatureMeta]:
    """Freeze registry facts about the model inputs into the artifact."""
    return [
        FeatureMeta(s.name, s.dimension.value, s.direction.value, s.unit, s.description,
                    s.explain, s.kind is Kind.CATEGORICAL, s.parameter)
        for s in specs
    ]


def _infos(metas: list[FeatureMeta]) -> list[FeatureInfo]:
    signs = {"higher_is_healthier": 1, "higher_is_riskier": -1}
    return [FeatureInfo(m.name, m.dimension, signs.get(m.direction, 0), m.categorical)
            for m in metas]


def bands_of(config: TrainingConfig) -> list[Band]:
    """The configured health bands, lowest first."""
    return [Band(b.name, b.low, b.high) for b in sorted(config.bands, key=lambda b: b.low)]


@dataclass
class ModelResult:
    """One fitted model and its held-out evaluation."""

    name: str
    health_model: HealthModel
    test: Evaluation
    test_rows: pd.DataFrame  # account_id, snapshot_date, segment, arr, y, p
    validation_pr_auc: float
    params: dict[str, object]
    seconds: float


@dataclass
class TrainingRun:
    """Every model of one training session on one split."""

    results: dict[str, ModelResult]
    split_kind: str  # "time", "account" or "random"
    split: TimeSplit | None
    sizes: dict[str, int]
    positives: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> ModelResult:
        """The model with the best validation PR-AUC (test is never used to choose)."""
        return max(self.results.values(), key=lambda r: r.validation_pr_auc)


def assign_splits(frame: pd.DataFrame, config: TrainingConfig, horizon_days: int, seed: int,
                  ) -> tuple[pd.Series, TimeSplit | None]:
    """The part of every labelled row and the time split, if the rows were split by time
    (see :func:`split_rows`)."""
    assignment, _, split, _ = split_rows(frame, config, horizon_days, seed)
    return assignment, split


def split_rows(frame: pd.DataFrame, config: TrainingConfig, horizon_days: int, seed: int,
               ) -> tuple[pd.Series, str, TimeSplit | None, list[str]]:
    """Split labelled rows by time, by account when the history is too short (see
    :func:`plan_split`), or stratified at random when there are no dates.

    Returns (part of every row, split kind, the time split if any, notes to show)."""
    if "snapshot_date" in frame.columns and frame["snapshot_date"].notna().all():
        assignment, plan = plan_split(frame, config.label, horizon_days, config.split, seed)
        return assignment, plan.kind, plan.time, plan.notes
    return (random_split(frame[config.label].astype(int), seed), "random", None,
            ["No snapshot dates: stratified random split (60/20/20); results may be "
             "optimistic compared with a time split."])


SPLIT_NAMES = {"account": "by account 60/20/20", "random": "random 60/20/20"}


def split_description(run: TrainingRun) -> dict[str, str]:
    """The parts of a run's split for the CLI, the report and MLflow params."""
    return run.split.describe() if run.split else {"kind": SPLIT_NAMES[run.split_kind]}


def fit_health_model(name: str, train: pd.DataFrame, valid: pd.DataFrame,
                     metas: list[FeatureMeta], config: TrainingConfig, horizon_days: int,
                     seed: int) -> HealthModel:
    """Fit one model on ``train``; tune, stop early and calibrate on ``valid``; store the
    training rows' binned distribution in the artifact for drift checks."""
    y_train = train[config.label].astype(int).to_numpy()
    y_valid = valid[config.label].astype(int).to_numpy()
    for part, y in (("training", y_train), ("validation", y_valid)):
        if len(np.unique(y)) < 2:
            raise ParameterError(f"{part} rows", "rows of both classes (churned and retained)",
                                 f"{len(y)} rows, {int(y.sum())} positive")
    model = make_model(name, _infos(metas), config, seed).fit(train, y_train, valid, y_valid)
    calibrator = Calibrator(config.calibration).fit(model.predict_proba(valid), y_valid)
    used = set(model.feature_names)
    health_model = HealthModel(model, calibrator, [m for m in metas if m.name in used],
                               config.label, horizon_days, {"model": name, "seed": seed})
    health_model.reference = build_reference(health_model, train, seed=seed)
    return health_model


def evaluate_predictions(predictions: pd.DataFrame, config: TrainingConfig, seed: int,
                         n_boot: int | None = None) -> Evaluation:
    """Evaluate scored rows as training does: ``y`` and ``p`` columns, optionally ``arr`` and
    ``segment`` (a run's logged ``tables/test_predictions.parquet`` has them all), with the
    configured at-risk threshold, bands and bootstrap (``n_boot`` overrides it)."""
    arr = predictions["arr"].fillna(0).to_numpy(float) if "arr" in predictions else None
    segment = (predictions["segment"].astype(str).to_numpy() if "segment" in predictions
               else None)
    return evaluate(predictions["y"].to_numpy(), predictions["p"].to_numpy(), arr=arr,
                    segment=segment, health_threshold=config.at_risk_threshold,
                    bands=bands_of(config),
                    n_boot=config.bootstrap if n_boot is None else n_boot, seed=seed)


def _evaluate(model: HealthModel, rows: pd.DataFrame, config: TrainingConfig, seed: int,
              n_boot: int | None = None) -> tuple[Evaluation, pd.DataFrame]:
    keep = [c for c in ("account_id", "snapshot_date", "segment", "arr") if c in rows]
    out = rows[keep].copy()
    out["y"] = rows[config.label].astype(int).to_numpy()
    out["p"] = model.predict_proba(rows)
    out = out.reset_index(drop=True)
    return evaluate_predictions(out, config, seed, n_boot), out


def informative_features(train: pd.DataFrame, metas: list[FeatureMeta]
                         ) -> tuple[list[FeatureMeta], list[str]]:
    """(features holding a value in some training row, names of the all-null ones): a column
    that is empty everywhere (an optional column the source left blank) teaches nothing and
    breaks the encoders."""
    keep = [m for m in metas if m.name not in train or train[m.name].notna().any()]
    return keep, [m.name for m in metas if m not in keep]


def train_and_evaluate(frame: pd.DataFrame, metas: list[FeatureMeta], config: TrainingConfig,
                       horizon_days: int, seed: int, progress: Progress | None = None
                       ) -> TrainingRun:
    """Split labelled rows, fit each configured model, evaluate on the untouched test period."""
    if config.label not in frame.columns:
        raise ParameterError("label column", f"present in the feature table ({config.label!r})",
                             "missing")
    if "label_observed" in frame.columns:
        frame = frame[frame["label_observed"].astype(bool)]
    assignment, kind, split, notes = split_rows(frame, config, horizon_days, seed)
    parts = {name: frame[assignment == name] for name in (TRAIN, VALIDATION, TEST)}
    metas, empty = informative_features(parts[TRAIN], metas)
    if empty:
        notes.append(f"Left out {len(empty)} feature(s) with no value in any training row: "
                     + ", ".join(empty))
        log.warning("features with no value in any training row are left out: %s",
                    ", ".join(empty))
    results: dict[str, ModelResult] = {}
    for i, name in enumerate(config.models):
        started = time.perf_counter()
        model = fit_health_model(name, parts[TRAIN], parts[VALIDATION], metas, config,
                                 horizon_days, seed)
        test, rows = _evaluate(model, parts[TEST], config, seed)
        valid, _ = _evaluate(model.__class__(model.model, _Identity(), model.features),
                             parts[VALIDATION], config, seed, n_boot=0)
        results[name] = ModelResult(name, model, test, rows, valid.overall["pr_auc"],
                                    model.model.params(), time.perf_counter() - started)
        log.info("%s: test ROC-AUC %.3f PR-AUC %.3f in %.1fs", name, test.overall["roc_auc"],
                 test.overall["pr_auc"], results[name].seconds)
        if progress:
            progress("train", i + 1, len(config.models))
    return TrainingRun(
        results, kind, split,
        {k: len(v) for k, v in parts.items()},
        {k: float(v[config.label].mean()) for k, v in parts.items() if len(v)}, notes,
    )


class _Identity:
    """No calibration: ranks on validation are judged before the calibrator fitted there."""

    def transform(self, p: np.ndarray) -> np.ndarray:
        return p


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
            evaluation, _ = _evaluate(model, test, config, seed, n_boot=0)
            rows.append({"fold": number, "model": name, "test_start": split.test_start,
                         "test_end": split.test_end, "train_rows": len(train),
                         "test_rows": len(test), **evaluation.overall})
            if progress:
                progress("backtest", len(rows), total)
    return pd.DataFrame(rows), plan
